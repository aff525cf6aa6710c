"""Widgets and caches the explore pages share: the encoded test set, picking a test image,
an image upload with its invert guess, a drawing, and codes for given images (with GAN inversion)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from gen_core.data import indices_of_class
from gen_core.errors import GenCoreError, ImageInputError
from gen_core.images import load_upload, looks_dark_on_light, to_pil
from gen_core.latent import class_mean_table, find_latents, summarise_latents
from gen_core.run import layout
from ui.components.drawing_pad import current_drawing, drawing_pad
from ui.views.pictures import display_upscale, image_fingerprint
from ui.views.slider_axes import class_direction_axes, dimension_axes, pca_axes

UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp"]
FOUND_MEMO = "explore_found_latents"  # session key: codes already found, per (run, image, steps)
FOUND_MEMO_SIZE = 24
MAX_KEPT_UPLOAD_BYTES = 20 * 1024 * 1024  # a larger upload is used while shown but not kept for later
OPTIMISATION_NOTE = ("has no encoder, so the codes for real images here are **found by optimisation**: "
                     "gradient descent on the latent code until the generator redraws the image as closely "
                     "as it can. The redrawn image shows how good that fit is.")


def show_image(picture, caption: str | None = None, container=None) -> None:
    """A PIL image at its own pixel size, as PNG: the browser neither stretches (blurs) it to fit a
    long caption nor re-encodes it as JPEG (which smears small digits), as st.image does by default."""
    (container or st).image(picture, caption=caption, width=picture.width, output_format="PNG")


def run_key(run) -> tuple[str, float]:
    """Identifies a run's weights: its folder and the weights' modification time."""
    weights = Path(run.path) / layout.WEIGHTS_FILE
    return str(run.path), weights.stat().st_mtime if weights.exists() else 0.0


@st.cache_resource(show_spinner="Encoding the test set…", max_entries=4)
def _cached_summary(path: str, mtime: float, _model, _images):
    return summarise_latents(_model, _images)


def latent_summary(run, dataset):
    """The encoded test set of an encoder model (cached per run), else None."""
    if dataset is None or not run.model.has_encoder:
        return None
    return _cached_summary(*run_key(run), run.model, dataset.test_images)


@st.cache_resource(show_spinner="Finding the principal directions…", max_entries=8)
def _cached_pca_axes(path: str, mtime: float, n_directions: int, prior: bool, _summary):
    return pca_axes(_summary, n_directions, prior=prior)


def slider_axes(run, summary, principal: bool, n_directions: int, dims: list[int] | None = None):
    """PCA directions of the test codes (cached), or one slider per latent dimension (``dims``)."""
    if principal and summary is not None:
        return _cached_pca_axes(*run_key(run), int(n_directions), run.model.has_prior, summary)
    return dimension_axes(run.model, summary, dims=dims)


@st.cache_resource(show_spinner=False, max_entries=16)
def _cached_class_axes(path: str, mtime: float, pairs: tuple, _summary, _labels, _class_names):
    table = class_mean_table(_summary.latents, _labels[: len(_summary.latents)], _class_names)
    return class_direction_axes(table, pairs, _summary.latents)


def class_slider_axes(run, summary, dataset, pairs):
    """Sliders along class directions ("4 → 9"), from the class means of the encoded test set (cached)."""
    return _cached_class_axes(*run_key(run), tuple((int(a), int(b)) for a, b in pairs), summary,
                              dataset.test_labels, list(dataset.class_names))


def _keep_in_range(key: str, low: int, high: int) -> None:
    """A number widget whose bounds moved keeps a valid value (set before it is drawn)."""
    st.session_state[key] = min(max(int(st.session_state.get(key, low)), low), high)


def test_image_picker(dataset, key: str, label: str, default_class: int | None = 0,
                      default_index: int = 0) -> int | None:
    """A test image chosen by class and position (or by raw index); returns its test-set index.

    ``default_index`` is the first choice when the test set has no classes (two pickers on one
    page should not both start at the same image).
    """
    labels, names = dataset.test_labels, dataset.class_names
    class_index = None
    if labels is not None and names:
        options = [None, *range(len(names))]
        st.session_state.setdefault(f"{key}_class", default_class if default_class in options else None)
        class_index = st.selectbox(f"{label}: class", options, key=f"{key}_class",
                                   format_func=lambda c: "any class (by test index)" if c is None else names[c])
    indices = indices_of_class(labels, class_index) if labels is not None else list(range(len(dataset.test_images)))
    if not indices:
        st.warning(f"The test set has no images of class {names[class_index]}.")
        return None
    first = 0 if class_index is None else 1
    st.session_state.setdefault(f"{key}_number", min(max(int(default_index), 0), len(indices) - 1) + first)
    _keep_in_range(f"{key}_number", first, len(indices) - 1 + first)
    what = (f"{label}: test index (0 to {len(indices) - 1})" if class_index is None
            else f"Which {names[class_index]!r} (1 to {len(indices)})")
    position = st.number_input(what, min_value=first, max_value=len(indices) - 1 + first, step=1, key=f"{key}_number")
    return indices[int(position) - first]


def select_test_image(dataset, key: str, index: int) -> None:
    """Point the picker ``key`` at test image ``index`` (by its class when the set has classes),
    before the picker is drawn; used when a link names the image."""
    labels = dataset.test_labels
    if labels is not None and dataset.class_names:
        label = int(labels[int(index)])
        st.session_state[f"{key}_class"] = label
        st.session_state[f"{key}_number"] = indices_of_class(labels, label).index(int(index)) + 1
    else:
        st.session_state[f"{key}_class"] = None
        st.session_state[f"{key}_number"] = int(index)


def _keep_upload(key: str) -> None:
    """The uploader's callback: remember the file, so a page section that hides the uploader for a
    while (another source chosen) finds it again; a removed file is forgotten."""
    upload = st.session_state.get(key)
    if upload is None:
        st.session_state.pop(f"{key}_kept", None)
    elif upload.size <= MAX_KEPT_UPLOAD_BYTES:
        st.session_state[f"{key}_kept"] = (upload.name, upload.getvalue(), upload.file_id)


def uploaded_image(label: str, key: str, image_shape, fit: str = "crop"):
    """An uploaded file as a model-ready (C, H, W) tensor, or None (with the reason shown).

    Invert is pre-ticked when a new file looks like dark strokes on a light page, the opposite
    of MNIST-style training data; the user can untick it. The file is kept for the session: when
    the uploader comes back empty after being hidden, the earlier file is used (and said so).
    """
    upload = st.file_uploader(label, type=UPLOAD_TYPES, key=key, on_change=_keep_upload, args=(key,))
    if upload is not None:
        name, data, file_id = upload.name, upload.getvalue(), upload.file_id
    elif f"{key}_kept" in st.session_state:
        name, data, file_id = st.session_state[f"{key}_kept"]
        st.caption(f"Using **{name}**, uploaded earlier; upload another file to replace it.")
    else:
        return None
    try:
        plain = load_upload(data, image_shape, invert=False, fit=fit)
    except ImageInputError as error:
        st.error(f"**{name}** could not be used: {error}")
        return None
    invert_key = f"{key}_invert"
    if st.session_state.get(f"{key}_file") != file_id:
        st.session_state[f"{key}_file"] = file_id
        st.session_state[invert_key] = looks_dark_on_light(plain)
    preview, controls = st.columns([1, 3], vertical_alignment="center")
    invert = controls.checkbox("Invert (dark drawing on a light background)", key=invert_key,
                               persist_state="page",
                               help="Pre-ticked when the image's border is light. MNIST-style models expect "
                                    "light strokes on black.")
    image = load_upload(data, image_shape, invert=True, fit=fit) if invert else plain
    show_image(to_pil(image, display_upscale(image_shape, 84)), "Model input", preview)
    return image


def drawn_image(label: str, key: str, image_shape):
    """A digit drawn on a pad as a model-ready (C, H, W) tensor, framed like the training digits, or
    None (an empty pad asks for a drawing, a refused one says why). Like an upload, the drawing is
    kept for the session while the pad is hidden."""
    drawing = current_drawing(key, image_shape)
    st.markdown(f"**{label}**")
    drawing_pad(key, drawing)
    if drawing.image is not None:
        show_image(to_pil(drawing.image, display_upscale(image_shape, 84)), "Model input: scaled and centred "
                                                                            "like the training digits")
    return drawing.image


def remembered_latents(run, images, steps: int = 200, restarts: int = 2):
    """Codes for ``images`` via ``find_latents``; a GAN's slow search runs once per input.

    Returns None (after showing why) when the engine refuses.
    """
    model = run.model
    memo = st.session_state.setdefault(FOUND_MEMO, {})
    memo_key = (run_key(run), image_fingerprint(images), 0 if model.has_encoder else (int(steps), int(restarts)))
    if memo_key in memo:
        return memo[memo_key]
    try:
        if model.has_encoder:
            found = find_latents(model, images)
        else:
            bar = st.progress(0.0, text="Searching the latent space for codes that redraw the images…")

            def report(fraction: float, message: str) -> None:
                bar.progress(min(max(fraction, 0.0), 1.0), text=message)

            found = find_latents(model, images, steps=steps, restarts=restarts, progress=report)
            bar.empty()
    except GenCoreError as error:
        st.error(f"Could not find codes for these images: {error}")
        return None
    while len(memo) >= FOUND_MEMO_SIZE:
        memo.pop(next(iter(memo)))
    memo[memo_key] = found
    return found


def inversion_settings(key: str, default_steps: int = 200) -> int:
    """The optimisation budget for a GAN's inversion (more steps: closer fit, slower)."""
    st.session_state.setdefault(key, default_steps)
    return int(st.columns([1, 3])[0].number_input("Optimisation steps", min_value=1, max_value=3000, step=50, key=key,
                               help="Adam steps on each latent code. More steps give a closer fit but take longer."))
