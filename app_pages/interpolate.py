"""Interpolate: two images, their codes, and the path between them in latent space."""

from __future__ import annotations

import streamlit as st

from gen_core.images import FIT_MODES, gif_bytes, to_pil
from gen_core.latent import INTERPOLATION_METHODS, decode_to_pil, interpolate, mix
from gen_core.models import family_label, sentence_start
from ui import presentation, url_state
from ui.compare import COMPARE_PARAM, compare_picker
from ui.components.browser_decoder import live_mix
from ui.explore_widgets import (OPTIMISATION_NOTE, drawn_image, inversion_settings, remembered_latents,
                                select_test_image, show_image, test_image_picker, uploaded_image)
from ui.state import active_dataset, require_active_run, user_errors
from ui.url_state import UrlParam
from ui.views.pictures import display_upscale, stack_images

SOURCES = {"test": "Test images", "upload": "Upload two images", "draw": "Draw two digits"}
METHOD_LABELS = {"lerp": "Straight line (lerp)", "slerp": "Great circle (slerp)"}
THUMB_PX = 140
MIX_PX = 200
GIF_PX = 224
FRAME_MS = (40, 60, 80, 120, 200, 400, 800)


def url_params(dataset) -> list[UrlParam]:
    last = len(dataset.test_images) - 1 if dataset is not None else 0
    return [UrlParam("src", "interp_source", "choice", choices=tuple(SOURCES)),
            UrlParam("a", "_url_interp_a", "int", 0, last), UrlParam("b", "_url_interp_b", "int", 0, last),
            UrlParam("frames", "interp_frames", "int", 3, 16),
            UrlParam("mix", "interp_mix", "int", 0, 100),
            UrlParam("path", "interp_mix_method", "choice", choices=INTERPOLATION_METHODS),
            UrlParam("anim", "interp_gif_method", "choice", choices=INTERPOLATION_METHODS),
            UrlParam("ms", "interp_frame_ms", "choice", choices=FRAME_MS), COMPARE_PARAM]


def _pick_images(dataset, image_shape):
    """The two endpoint images (C, H, W) and their test indices (None for uploads and drawings); None where
    missing."""
    source = st.radio("Images from", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="interp_source",
                      persist_state="page")
    fit = "crop"
    if source == "upload":
        fit = st.columns([1, 2])[0].selectbox(
            "Fit uploads to the model's size by", FIT_MODES, key="interp_fit", persist_state="page",
            help="crop: keep the centre; pad: keep everything; stretch: ignore the aspect ratio.")
    if source == "test" and dataset is None:
        st.warning("The test set is not available; upload two images instead.")
        return [None, None], [None, None]
    left, right = st.columns(2, gap="medium")
    images, indices = [], []
    for column, name, default_class, default_index in ((left, "A", 0, 0), (right, "B", 1, 1)):
        with column:
            if source == "test":
                index = test_image_picker(dataset, f"interp_{name.lower()}", f"Image {name}", default_class,
                                          default_index)
                images.append(dataset.test_images[index] if index is not None else None)
                indices.append(index)
            elif source == "draw":
                images.append(drawn_image(f"Draw image {name}", f"interp_draw_{name.lower()}", image_shape))
                indices.append(None)
            else:
                images.append(uploaded_image(f"Image {name}", f"interp_upload_{name.lower()}", image_shape, fit))
                indices.append(None)
    return images, indices


def _mix_row(model, start, end, method: str, percent: int, title: str | None) -> None:
    upscale = display_upscale(model.image_shape, presentation.scaled(MIX_PX))
    if title:
        st.markdown(f"**{title}**")
    ends_a, middle, ends_b = st.columns(3)
    # All three at one scale, so the mix can be compared with its ends pixel for pixel.
    show_image(decode_to_pil(model, start, upscale), "A", ends_a)
    show_image(to_pil(mix(model, start, end, percent, method)[0], upscale=upscale),
               f"{100 - percent}% A + {percent}% B", middle)
    show_image(decode_to_pil(model, end, upscale), "B", ends_b)


def _keep_mix(values) -> None:
    st.session_state["interp_mix"] = min(100, max(0, round(values[0])))


@st.fragment
def mix_panel(models_and_codes, publish_args, runs=()) -> None:
    """Moving the mix slider reruns only this part: one decode per model (none when the browser decodes)."""
    method = st.radio("Path", INTERPOLATION_METHODS, format_func=METHOD_LABELS.get, horizontal=True,
                      key="interp_mix_method", persist_state="page")
    if runs and live_mix(models_and_codes, runs, method, st.session_state.get("interp_mix", 50),
                         presentation.scaled(MIX_PX), on_release=_keep_mix):
        url_state.publish(*publish_args)  # the browser draws the mix; the released percent is in the link
        return
    # persist_state: the value outlives a rerun where this section is hidden (an upload swapped), so
    # the slider and the picture never disagree when it comes back
    percent = st.slider("Mix percent (0 = all A, 100 = all B)", 0, 100, key="interp_mix", persist_state="page")
    with user_errors("Mixing failed: "):
        for title, model, start, end in models_and_codes:
            _mix_row(model, start, end, method, percent, title)
    url_state.publish(*publish_args)
    url_state.link_box()  # drawn here, so it holds what this fragment's rerun just wrote


st.title("Interpolate")
st.caption("Find the codes of two images and walk the latent space from one to the other: every frame is "
           "the decoding of a code part of the way along the path.")
run = require_active_run()
model = run.model
dataset = None
with user_errors("The test set could not be loaded: "):
    dataset = active_dataset()
params = url_params(dataset)
st.session_state.setdefault("interp_source", "test")
st.session_state.setdefault("interp_frames", 8)
st.session_state.setdefault("interp_mix", 50)
st.session_state.setdefault("interp_frame_ms", 120)
# the animation's path widget comes after the mix panel's link box: known from the start, it is in that link too
st.session_state.setdefault("interp_gif_method", INTERPOLATION_METHODS[0])
linked = url_state.restore(params)
for name in ("a", "b"):
    if f"_url_interp_{name}" in linked and dataset is not None:
        select_test_image(dataset, f"interp_{name}", linked[f"_url_interp_{name}"])

with presentation.settings("Images, second model"):
    st.subheader("Two images")
    (image_a, image_b), (index_a, index_b) = _pick_images(dataset, model.image_shape)
    other = compare_picker(run)
publish_args = (params, {"_url_interp_a": index_a, "_url_interp_b": index_b})
steps = 0
if not model.has_encoder or (other is not None and not other.model.has_encoder):
    gan = run if not model.has_encoder else other
    st.info(f"{sentence_start(family_label(gan.family, in_sentence=True))} {OPTIMISATION_NOTE}")
    steps = inversion_settings("interp_inversion_steps")
if image_a is None or image_b is None:
    st.info("Choose two images to interpolate between.")
    url_state.publish(*publish_args)
    st.stop()
runs = [run] + ([other] if other is not None else [])
found = [remembered_latents(each, stack_images([image_a, image_b]), steps) for each in runs]
if any(result is None for result in found):
    st.stop()
titles = [each.name for each in runs] if other is not None else [None]

st.subheader("As the model sees them" if other is None else "As the models see them")
upscale = display_upscale(model.image_shape, THUMB_PX)
with presentation.settings("The two images, and as the model sees them"):
    for title, each, result in zip(titles, runs, found):
        how = "found by optimisation" if result.by_optimisation else "encoded and decoded"
        if title:
            st.markdown(f"**{title}**")
        columns = st.columns(4)
        for index, (name, image) in enumerate((("A", image_a), ("B", image_b))):
            show_image(to_pil(image, upscale), f"{name}: the model's input", columns[2 * index])
            show_image(decode_to_pil(each.model, result.latents[index], upscale),
                       f"{name} as the model redraws it ({how}; mean squared pixel difference "
                       f"{float(result.errors[index]):.4f})", columns[2 * index + 1])

st.subheader("Paths in latent space")
st.caption("A straight line between two codes can cut through the middle of the space, where a prior puts little "
           "mass; the great circle keeps codes at a typical length.")
with presentation.settings("Frames"):
    frames = st.slider("Frames", 3, 16, key="interp_frames", persist_state="page")
strips = {}
with presentation.main_picture(), user_errors("Interpolation failed: "):
    frame_px = presentation.strip_frame_px(frames)  # one line at 1024 wide; at least 120 px in the lecture view
    captions = [f"{round(100 * k / (frames - 1))}%" for k in range(frames)]
    for method in INTERPOLATION_METHODS:
        st.markdown(f"**{METHOD_LABELS[method]}**")
        for title, each, result in zip(titles, runs, found):
            strip = interpolate(each.model, result.latents[0], result.latents[1], frames, method)
            strips[(each.name, method)] = strip
            upscale = max(1, frame_px // int(each.model.image_shape[-1]))  # rounded down: never wider
            pictures = [to_pil(frame, upscale) for frame in strip]
            if title:
                st.caption(title)
            st.image(pictures, caption=captions, width=pictures[0].width, output_format="PNG")

st.subheader("Mix")
mix_panel([(title, each.model, result.latents[0], result.latents[1])
           for title, each, result in zip(titles, runs, found)], publish_args, runs)

st.subheader("Animation")
st.caption("Plays by itself, there and back: a GIF made once, so a room full of screens costs the server nothing.")
if strips:
    with presentation.settings("Animation settings"):
        method_column, speed_column = st.columns(2, vertical_alignment="bottom")
        gif_method = method_column.selectbox("Path", INTERPOLATION_METHODS, format_func=METHOD_LABELS.get,
                                             key="interp_gif_method", persist_state="page")
        frame_ms = speed_column.select_slider("Speed (milliseconds per frame)", FRAME_MS,
                                              key="interp_frame_ms", persist_state="page")
    columns = st.columns(len(runs))
    for column, title, each in zip(columns, titles, runs):
        with column, user_errors("The GIF could not be made: "):
            animation = gif_bytes(strips[(each.name, gif_method)], duration_ms=int(frame_ms), boomerang=True,
                                  upscale=display_upscale(each.model.image_shape, presentation.scaled(GIF_PX)))
            st.image(animation, caption=f"{title + ': ' if title else ''}{frames} frames, "
                                        f"{METHOD_LABELS[gif_method].lower()}")
            st.download_button("Download GIF", animation, file_name=f"{each.name}-{gif_method}.gif", mime="image/gif",
                               icon=":material/download:", key=f"interp_gif_download_{each.name}", on_click="ignore")
url_state.publish(*publish_args)
