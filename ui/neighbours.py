"""The k nearest training images of one image, in latent space and in pixel space, one row above the other.

Shown for a point of the Latent map, a generated sample and a drawing. The two rows answer two
questions: which training images the model files beside this one (latent space: neighbours that
look unlike it share what the code keeps), and which ones merely share its ink (pixel space). A
sample whose pixel neighbour is a near copy says the model memorised. The training set's codes are
encoded once per run (its weights' version) and shared by every session.
"""

from __future__ import annotations

import streamlit as st

from gen_core.images import to_pil
from gen_core.latent import NEIGHBOUR_METRICS, encode_dataset, latent_neighbours, pixel_neighbours
from ui import presentation
from ui.explore_widgets import run_key
from ui.state import user_errors
from ui.text import plain
from ui.views.pictures import display_upscale, image_fingerprint

METRIC_LABELS = {"euclidean": "Euclidean", "cosine": "Cosine (1 − cos of the angle)"}
COUNTS = (4, 8, 12, 16)
THUMB_PX = 100  # 112 px for a 28-pixel digit: a class and a stroke readable from the back row
SPACE_TITLES = {"latent": "Nearest in latent space (what the code keeps)",
                "pixel": "Nearest in pixel space (what shares the ink)"}


@st.cache_resource(show_spinner="Encoding the training set for the nearest neighbours…", max_entries=4)
def _training_codes(path: str, mtime: float, _model, _train_images):
    return encode_dataset(_model, _train_images)


def training_codes(run, dataset):
    """The codes of the run's training images (posterior means for a VAE), encoded once per run."""
    return _training_codes(*run_key(run), run.model, dataset.train_images)


@st.cache_data(show_spinner=False, max_entries=64)
def _nearest(path: str, mtime: float, query: tuple[str, str], metric: str, count: int, _run, _dataset, _image,
             _code) -> list:
    """Both rows' neighbours, once per run, query (image and code by content), metric and count: a page's
    rerun for another widget does not search the training set again."""
    rows = []
    if _run.model.has_encoder:
        query_code = encode_dataset(_run.model, _image[None])[0] if _code is None else _code
        rows.append(latent_neighbours(query_code, training_codes(_run, _dataset), _dataset.train_labels, count,
                                      metric))
    rows.append(pixel_neighbours(_image, _dataset.train_images, _dataset.train_labels, count, metric))
    return rows


def neighbour_caption(found, position: int, class_names) -> str:
    """``#index · class c · d = 0.123`` for the ``position``-th neighbour, as text."""
    index, distance = int(found.indices[position]), float(found.distances[position])
    label = "" if found.labels is None else int(found.labels[position])
    name = "" if label == "" else f" · class {class_names[label] if 0 <= label < len(class_names) else label}"
    return plain(f"#{index}{name} · d = {distance:.3g}")


def neighbours_panel(run, dataset, image, key: str, code=None) -> None:
    """The k nearest training images of ``image`` (C, H, W), in latent space (by ``code``, else its
    encoding; models without an encoder skip this row) and in pixel space, with a metric choice."""
    if dataset is None or len(dataset.train_images) == 0:
        st.info("The training images are not available, so there are no neighbours to show.")
        return
    with presentation.settings("Distance, how many"), st.container(horizontal=True, vertical_alignment="bottom"):
        metric = st.radio("Distance", NEIGHBOUR_METRICS, format_func=METRIC_LABELS.get, horizontal=True,
                          key=f"{key}_metric", width="content",
                          help="Euclidean: how far apart; cosine: how different in direction, whatever the length.")
        count = st.select_slider("How many", COUNTS, value=8, key=f"{key}_count", width=200)
    rows = []
    with user_errors("The nearest training images could not be found: "):
        query = (image_fingerprint(image), "" if code is None else image_fingerprint(code))
        rows = _nearest(*run_key(run), query, metric, int(count), run, dataset, image, code)
    upscale = display_upscale(dataset.train_images.shape[1:], presentation.scaled(THUMB_PX))
    for found in rows:
        st.markdown(f"**{SPACE_TITLES[found.space]}**")
        pictures = [to_pil(dataset.train_images[int(index)], upscale) for index in found.indices]
        st.image(pictures, caption=[neighbour_caption(found, position, dataset.class_names)
                                    for position in range(len(pictures))],
                 width=pictures[0].width, output_format="PNG")
    if not run.model.has_encoder:
        st.caption("This model has no encoder, so its training images have no codes to compare: pixel space only.")
    st.caption(f"{METRIC_LABELS[metric].split(' ')[0]} distance d to the query; #n is the training image's index "
               f"among the {len(dataset.train_images):,} training images.")
