"""What a model's pictures show and whether they are worth showing: captions and notes pages share."""

from __future__ import annotations

import streamlit as st

from gen_core.metrics.features import dataset_key, load_or_train_feature_net, predict_classes
from gen_core.metrics.verdicts import class_mismatches, training_verdict
from gen_core.models import family_class
from ui.text import plain


def grid_content(family: str) -> str:
    """What the sample grids saved during training hold (an autoencoder has no prior to sample)."""
    model_class = family_class(family)
    if model_class is None:  # settings not written yet, or a family this version does not know
        return "what the run saved during training"
    if not model_class.has_prior:
        return "test images (top half) and their reconstructions (bottom half)"
    return "the same fixed random codes, decoded (so the epochs compare)"


def latest_grid_caption(family: str, grid_epoch: int, current_epoch: int | None = None) -> str:
    """A caption that says which epoch a grid is from, and that it is the newest one saved."""
    caption = f"Latest saved grid, after epoch {grid_epoch}: {grid_content(family)}"
    if current_epoch is not None and current_epoch > grid_epoch:
        caption += f". Training is in epoch {current_epoch}; grids are saved every few epochs"
    return caption + "."


def training_note(run) -> None:
    """A warning next to the pictures when the model is undertrained (None: say nothing)."""
    verdict = training_verdict(run.history, run.family)
    if verdict:
        st.warning(f"**{plain(run.name)}**: {verdict}", icon=":material/hourglass_bottom:")


@st.cache_resource(show_spinner="Loading the class checker (trained once per dataset, about 20 s)…", max_entries=4)
def _class_checker(key: str, _dataset):
    return load_or_train_feature_net(_dataset)


def class_check_notes(dataset, rows, row_classes, class_name) -> dict[int, str]:
    """Per row position: a note when a classifier calls most of that row's samples another class."""
    checked = {position: label for position, label in enumerate(row_classes) if label is not None}
    if not checked or not dataset.has_labels:
        return {}
    checker = _class_checker(dataset_key(dataset), dataset)
    predictions = {}
    for position, label in checked.items():
        predictions.setdefault(label, []).extend(predict_classes(checker.net, rows[position]).tolist())
    flagged = {mismatch.wanted: mismatch for mismatch in class_mismatches(predictions)}
    notes = {}
    for position, label in checked.items():
        if label in flagged:
            mismatch = flagged[label]
            notes[position] = (f"Most of these do not look like {plain(class_name(label))}: a classifier "
                               f"({checker.test_accuracy:.0%} right on real test images) calls "
                               f"{mismatch.share_seen_as:.0%} of them "
                               f"{plain(class_name(mismatch.most_seen_as))} and only "
                               f"{mismatch.share_as_wanted:.0%} {plain(class_name(label))}.")
    return notes
