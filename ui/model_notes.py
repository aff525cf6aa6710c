"""What a model's pictures show and whether they are worth showing: captions and notes pages share."""

from __future__ import annotations

import streamlit as st

from gen_core.models import family_class
from gen_core.quality import training_verdict


def grid_content(family: str) -> str:
    """What the sample grids saved during training hold (an autoencoder has no prior to sample)."""
    if not getattr(family_class(family), "has_prior", True):
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
        st.warning(f"**{run.name}**: {verdict}", icon=":material/hourglass_bottom:")
