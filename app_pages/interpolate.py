"""Interpolate: two images, their codes, and the path between them in latent space (seed 003's mixing app)."""

from __future__ import annotations

import streamlit as st

from gen_core.images import FIT_MODES, gif_bytes, to_pil
from gen_core.latent import INTERPOLATION_METHODS, decode_to_pil, interpolate, mix
from ui.explore_widgets import (
    OPTIMISATION_NOTE, inversion_settings, remembered_latents, show_image, test_image_picker, uploaded_image,
)
from ui.state import active_dataset, require_active_run, user_errors
from ui.views.pictures import display_upscale, stack_images

SOURCES = ("Test images", "Upload two images")
METHOD_LABELS = {"lerp": "Straight line (lerp)", "slerp": "Great circle (slerp)"}
THUMB_PX = 140
MIX_PX = 224


def _pick_images(dataset, image_shape):
    """The two endpoint images (C, H, W) from the test set or from uploads; None where missing."""
    source = st.radio("Images from", SOURCES, horizontal=True, key="interp_source")
    fit = "crop"
    if source == SOURCES[1]:
        fit = st.columns([1, 3])[0].selectbox("Fit uploads to the model's size by", FIT_MODES, key="interp_fit",
                           help="crop: keep the centre; pad: keep everything; stretch: ignore the aspect ratio.")
    if source == SOURCES[0] and dataset is None:
        st.warning("The test set is not available; upload two images instead.")
        return [None, None]
    left, right = st.columns(2, gap="large")
    picked = []
    for column, name, default_class in ((left, "A", 0), (right, "B", 1)):
        with column:
            if source == SOURCES[0]:
                index = test_image_picker(dataset, f"interp_{name.lower()}", f"Image {name}", default_class)
                picked.append(dataset.test_images[index] if index is not None else None)
            else:
                picked.append(uploaded_image(f"Image {name}", f"interp_upload_{name.lower()}", image_shape, fit))
    return picked


@st.fragment
def mix_panel(model, start, end) -> None:
    """Moving the mix slider reruns only this part: one decode."""
    method = st.radio("Path", INTERPOLATION_METHODS, format_func=METHOD_LABELS.get, horizontal=True,
                      key="interp_mix_method")
    percent = st.slider("Mix percent (0 = all A, 100 = all B)", 0, 100, 50, key="interp_mix")
    upscale = display_upscale(model.image_shape, MIX_PX)
    ends_a, middle, ends_b, _ = st.columns([1, 1, 1, 1])
    # All three at one scale, so the mix can be compared with its ends pixel for pixel.
    show_image(decode_to_pil(model, start, upscale), "A", ends_a)
    show_image(to_pil(mix(model, start, end, percent, method)[0], upscale=upscale),
               f"{100 - percent}% A + {percent}% B", middle)
    show_image(decode_to_pil(model, end, upscale), "B", ends_b)


st.title("Interpolate")
st.caption("Find the codes of two images and walk the latent space from one to the other: every frame is "
           "the decoding of a code part of the way along the path.")
run = require_active_run()
model = run.model
dataset = None
with user_errors("The test set could not be loaded: "):
    dataset = active_dataset()

st.subheader("Two images")
image_a, image_b = _pick_images(dataset, model.image_shape)
steps = 0
if not model.has_encoder:
    st.info(f"A {run.family.upper()} {OPTIMISATION_NOTE}")
    steps = inversion_settings("interp_inversion_steps")
if image_a is None or image_b is None:
    st.info("Choose two images to interpolate between.")
    st.stop()
found = remembered_latents(run, stack_images([image_a, image_b]), steps)
if found is None:
    st.stop()
start, end = found.latents[0], found.latents[1]

st.subheader("As the model sees them")
how = "found by optimisation" if found.by_optimisation else "encoded and decoded"
columns = st.columns(4)
upscale = display_upscale(model.image_shape, THUMB_PX)
for index, (name, image) in enumerate((("A", image_a), ("B", image_b))):
    show_image(to_pil(image, upscale), f"{name}: the model's input", columns[2 * index])
    show_image(decode_to_pil(model, found.latents[index], upscale),
               f"{name}: {how}, MSE {float(found.errors[index]):.4f}", columns[2 * index + 1])

st.subheader("Paths in latent space")
st.caption("A straight line between two codes can cut through the middle of the space, where a prior puts little "
           "mass; the great circle keeps codes at a typical length.")
frames = st.slider("Frames", 3, 16, 8, key="interp_frames")
strips = {}
with user_errors("Interpolation failed: "):
    frame_px = min(112, 1100 // frames)
    frame_upscale = display_upscale(model.image_shape, frame_px)
    captions = [f"{round(100 * k / (frames - 1))}%" for k in range(frames)]
    for method in INTERPOLATION_METHODS:
        strips[method] = interpolate(model, start, end, frames, method)
        st.markdown(f"**{METHOD_LABELS[method]}**")
        pictures = [to_pil(frame, frame_upscale) for frame in strips[method]]
        st.image(pictures, caption=captions, width=pictures[0].width, output_format="PNG")

st.subheader("Mix")
with user_errors("Mixing failed: "):
    mix_panel(model, start, end)

st.subheader("Animation")
if strips:
    method_column, options_column, speed_column = st.columns(3, vertical_alignment="bottom")
    gif_method = method_column.selectbox("Path", INTERPOLATION_METHODS, format_func=METHOD_LABELS.get,
                                         key="interp_gif_method")
    boomerang = options_column.checkbox("Boomerang (there and back)", value=True, key="interp_boomerang")
    frame_ms = speed_column.number_input("Milliseconds per frame", 20, 2000, 120, step=20, key="interp_frame_ms")
    with user_errors("The GIF could not be made: "):
        animation = gif_bytes(strips[gif_method], duration_ms=int(frame_ms), boomerang=boomerang,
                              upscale=display_upscale(model.image_shape, 168))
        st.image(animation, caption=f"{frames} frames, {METHOD_LABELS[gif_method].lower()}")
        st.download_button("Download GIF", animation, file_name=f"{run.name}-{gif_method}.gif", mime="image/gif",
                           icon=":material/download:", key="interp_gif_download", on_click="ignore")
