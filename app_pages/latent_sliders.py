"""Latent sliders: start from a code, then move it one direction at a time and watch the decoding change."""

from __future__ import annotations

import random
import time

import streamlit as st

from gen_core.images import FIT_MODES, make_grid_image, png_bytes
from gen_core.latent import decode_to_pil
from gen_core.sampling import draw_codes
from ui.explore_widgets import (
    OPTIMISATION_NOTE, inversion_settings, latent_summary, remembered_latents, run_key, show_image, slider_axes,
    test_image_picker, uploaded_image,
)
from ui.state import active_dataset, require_active_run, user_errors
from ui.views.pictures import display_upscale, image_fingerprint, stack_images
from ui.views.slider_axes import MAX_DIMENSION_SLIDERS

IMAGE_WIDTH_PX = 280
SLIDER_COLUMNS = 2
SOURCES = ("Random code", "Test image", "Uploaded image")
AXES = ("Latent dimensions", "Principal directions")
CONTEXT = "sliders_context"  # session key: what the sliders were last set up for


def _slider_keys(axes) -> list[str]:
    return [f"sliders_{axes.kind}_{index}" for index in range(len(axes))]


def _set_sliders(axes, coords) -> None:
    for key, value in zip(_slider_keys(axes), coords):
        st.session_state[key] = float(value)


@st.fragment
def slider_panel(model, axes, start, context) -> None:
    """Only this part reruns when a slider moves: one decode, one image."""
    keys = _slider_keys(axes)
    if st.session_state.get(CONTEXT) != context or any(key not in st.session_state for key in keys):
        _set_sliders(axes, axes.coords_of(start))
        st.session_state[CONTEXT] = context
    controls, picture = st.columns([3, 2], gap="large")
    with controls:
        reset_column, random_column, _ = st.columns([1, 1, 2])
        reset_column.button("Reset", icon=":material/restart_alt:", key="sliders_reset",
                            on_click=lambda: _set_sliders(axes, axes.coords_of(start)),
                            help="Back to the starting code.")
        random_column.button("Randomise", icon=":material/casino:", key="sliders_randomise",
                             on_click=lambda: _set_sliders(axes, axes.random_coords(random.randrange(1_000_000))),
                             help="Random positions, about one standard deviation around the middle.")
        slider_columns, coords = st.columns(SLIDER_COLUMNS), []
        for index, (key, label, (low, high)) in enumerate(zip(keys, axes.labels, axes.ranges)):
            share = f"{axes.explained[index]:.0%} of the test codes' variance lies along it." if axes.explained \
                else None
            coords.append(slider_columns[index % SLIDER_COLUMNS].slider(
                label, min_value=low, max_value=high, step=(high - low) / 200, format="%.2f", key=key, help=share))
    latent = axes.latent_at(coords, start)
    started = time.perf_counter()
    image = decode_to_pil(model, latent, upscale=display_upscale(model.image_shape, IMAGE_WIDTH_PX))
    elapsed_ms = (time.perf_counter() - started) * 1000
    with picture:
        st.markdown("**Decoded image**")
        show_image(image, f"Decoded in {elapsed_ms:.1f} ms")
        st.download_button("Download PNG", png_bytes(image), file_name="latent-sliders.png", mime="image/png",
                           icon=":material/download:", key="sliders_download", on_click="ignore")


st.title("Latent sliders")
st.caption("Pick a starting code, then move through the latent space one direction at a time.")
run = require_active_run()
model = run.model
dataset = None
with user_errors("The test set could not be loaded: "):
    dataset = active_dataset()
summary = None
with user_errors("The test set could not be encoded: "):
    summary = latent_summary(run, dataset)

# -- where to start ---------------------------------------------------------------------------
st.subheader("Start from")
source = st.radio("Start from", SOURCES, horizontal=True, key="sliders_source", label_visibility="collapsed")
if not model.has_encoder and source != SOURCES[0]:
    st.info(f"A {run.family.upper()} {OPTIMISATION_NOTE}")
start, start_id, target = None, None, None
if source == SOURCES[0]:
    st.session_state.setdefault("sliders_seed", 0)
    seed = st.columns([1, 3])[0].number_input("Seed", min_value=0, max_value=999_999, step=1, key="sliders_seed",
                                              help="Each seed gives a different random starting code.")
    start, start_id = draw_codes(model, 1, int(seed))[0], ("random", int(seed))
else:
    steps = inversion_settings("sliders_inversion_steps") if not model.has_encoder else 0
    choose, show = st.columns(2, gap="large")
    with choose:
        if source == SOURCES[1] and dataset is not None:
            index = test_image_picker(dataset, "sliders_test", "Test image")
            target = dataset.test_images[index] if index is not None else None
        elif source == SOURCES[2]:
            fit = st.selectbox("Fit to the model's size by", FIT_MODES, key="sliders_fit")
            target = uploaded_image("Image to start from", "sliders_upload", model.image_shape, fit)
    with show:
        if target is None:
            st.info("Choose an image to start from its code.")
        else:
            found = remembered_latents(run, stack_images([target]), steps)
            if found is not None:
                start, start_id = found.latents[0], ("image", image_fingerprint(target), steps)
                how = "found by optimisation" if found.by_optimisation else "encoded and decoded"
                show_image(make_grid_image(stack_images([target, found.reconstructions[0]]), nrow=2,
                                           upscale=display_upscale(model.image_shape, 120)),
                           caption=f"The model's input, and its code {how} (MSE {float(found.errors[0]):.4f})")

# -- the sliders ------------------------------------------------------------------------------
if start is not None:
    st.subheader("Move the code")
    can_use_pca = summary is not None and model.latent_dim >= 2
    principal = False
    if can_use_pca:
        default_axes = 0 if model.latent_dim <= MAX_DIMENSION_SLIDERS else 1
        principal = st.radio("Sliders move along", AXES, index=default_axes, horizontal=True,
                             key="sliders_axes") == AXES[1]
    directions = min(model.latent_dim, MAX_DIMENSION_SLIDERS)
    if principal and model.latent_dim > 8:
        directions = st.columns([1, 3])[0].number_input("Directions shown", 8, directions, min(12, directions),
                                                        key="sliders_directions")
    if not principal and model.latent_dim > MAX_DIMENSION_SLIDERS:
        st.caption(f"Sliders for the first {MAX_DIMENSION_SLIDERS} of {model.latent_dim} dimensions; "
                   "the rest stay at the starting code.")
    if principal:
        st.caption("Principal directions of the encoded test set, largest spread first. Each slider spans three "
                   "standard deviations of the test codes either side of their mean"
                   + (" (at least the prior's ±3)." if model.is_variational else "."))
    with user_errors():
        axes = slider_axes(run, summary, principal, directions)
        slider_panel(model, axes, start, (run_key(run), start_id, axes.kind, len(axes)))
