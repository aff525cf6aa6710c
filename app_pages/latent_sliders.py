"""Latent sliders: start from a code, then move it one direction at a time and watch the decoding change."""

from __future__ import annotations

import random
import time
from functools import partial

import streamlit as st

from gen_core.images import FIT_MODES, gif_bytes, make_grid_image, png_bytes
from gen_core.latent import decode_latents, decode_to_pil
from gen_core.models import family_label, sentence_start
from gen_core.sampling import draw_codes
from ui import presentation, url_state
from ui.compare import COMPARE_PARAM, compare_picker
from ui.components.browser_decoder import live_sliders
from ui.explore_widgets import (OPTIMISATION_NOTE, class_slider_axes, drawn_image, inversion_settings, latent_summary,
                                remembered_latents, run_key, select_test_image, show_image, slider_axes,
                                test_image_picker, uploaded_image)
from ui.model_notes import training_note
from ui.state import active_dataset, require_active_run, user_errors
from ui.url_state import UrlParam
from ui.views.pictures import display_upscale, image_fingerprint, stack_images
from ui.text import plain
from ui.views.slider_axes import (MAX_CLASS_DIRECTIONS, MAX_DIMENSION_SLIDERS, class_pairs, default_class_pairs,
                                  most_used_dims, pairs_from_link, sweep_coords)

IMAGE_WIDTH_PX = 240
SLIDER_COLUMNS = 2
SOURCES = {"random": "Random code", "test": "Test image", "upload": "Uploaded image", "draw": "Drawing"}
AXES = {"dim": "Latent dimensions", "pc": "Principal directions", "dir": "Class directions"}
CONTEXT = "sliders_context"  # session key: what the sliders were last set up for
LINKED_COORDS = "_url_sliders_z"  # session key: slider positions a link asked for, used once
LINKED_PAIRS = "_url_sliders_dirs"  # session key: the class directions a link asked for (from, to, ...)
SWEEP_FRAMES = 24
FRAME_MS = (40, 60, 80, 120, 200, 400)


def url_params(model, dataset) -> list[UrlParam]:
    last = len(dataset.test_images) - 1 if dataset is not None else 0
    return [UrlParam("src", "sliders_source", "choice", choices=tuple(SOURCES)),
            UrlParam("seed", "sliders_seed", "int", 0, 999_999),
            UrlParam("test", "_url_sliders_test", "int", 0, last),
            UrlParam("axes", "sliders_axes", "choice", choices=tuple(AXES)),
            UrlParam("k", "sliders_directions", "int", 1, MAX_DIMENSION_SLIDERS),
            UrlParam("dims", "_url_sliders_dims", "ints", 1, model.latent_dim, max_items=MAX_DIMENSION_SLIDERS),
            UrlParam("z", LINKED_COORDS, "floats", -1e6, 1e6, max_items=MAX_DIMENSION_SLIDERS),
            UrlParam("dirs", LINKED_PAIRS, "ints", 0, 10_000, max_items=2 * MAX_CLASS_DIRECTIONS),
            UrlParam("sweep", "sliders_sweep", "int", 0, MAX_DIMENSION_SLIDERS),
            UrlParam("ms", "sliders_frame_ms", "choice", choices=FRAME_MS), COMPARE_PARAM]


def _slider_keys(axes) -> list[str]:
    return [f"sliders_{axes.kind}_{index}" for index in range(len(axes))]


def _set_sliders(axes, coords) -> None:
    for key, value, (low, high) in zip(_slider_keys(axes), coords, axes.ranges):
        st.session_state[key] = min(max(float(value), low), high)


def _starting_positions(axes, start) -> list[float]:
    """The starting code's positions, or (once) the ones a link asked for."""
    linked = st.session_state.pop(LINKED_COORDS, None)
    if linked is not None and len(linked) == len(axes):
        return linked
    return axes.coords_of(start)


@st.cache_data(show_spinner="Making the animation…", max_entries=16)
def _sweep_gif(path: str, mtime: float, context: str, coords: tuple, index: int, frame_ms: int, width_px: int,
               _model, _axes, _start) -> bytes:
    latents = [_axes.latent_at(moved, _start) for moved in sweep_coords(_axes, list(coords), index, SWEEP_FRAMES)]
    frames = decode_latents(_model, stack_images(latents))
    return gif_bytes(frames, duration_ms=frame_ms, boomerang=True,
                     upscale=display_upscale(_model.image_shape, width_px))


def _slider_buttons(axes, start) -> None:
    with st.container(horizontal=True):
        st.button("Reset", icon=":material/restart_alt:", key="sliders_reset", help="Back to the starting code.",
                  on_click=lambda: _set_sliders(axes, axes.coords_of(start)))
        st.button("Randomise", icon=":material/casino:", key="sliders_randomise",
                  on_click=lambda: _set_sliders(axes, axes.random_coords(random.randrange(1_000_000))),
                  help="Random positions, about one standard deviation around the middle.")


def _sliders(axes) -> list[float]:
    # on a projector a few long sliders are easier to follow (and to grab) than two narrow rows
    count = 1 if presentation.is_on() and len(axes) <= 4 else SLIDER_COLUMNS
    slider_columns, coords = st.columns(count), []
    for index, (key, label, (low, high)) in enumerate(zip(_slider_keys(axes), axes.labels, axes.ranges)):
        share = f"{axes.explained[index]:.0%} of the test codes' variance lies along it." if axes.explained else None
        if axes.kind == "dir":
            share = "0: level with the first class's mean code along this direction; 1: with the second's."
        coords.append(slider_columns[index % count].slider(
            plain(label), min_value=low, max_value=high, step=(high - low) / 200, format="%.2f", key=key, help=share))
    return coords


def _sweep(run, axes, coords, start, context: str, width_px: int) -> None:
    """An animation of one slider swept end to end and back, the others held where they are."""
    with presentation.settings("Animation settings"):
        choice_column, speed_column = st.columns(2)
        choices = [None, *range(len(axes))]
        if st.session_state.get("sliders_sweep") not in choices:  # a link's slider that this model lacks
            st.session_state["sliders_sweep"] = None
        index = choice_column.selectbox("Animate a slider", choices, key="sliders_sweep",
                                        format_func=lambda i: "no animation" if i is None else axes.labels[i],
                                        help="Plays by itself: one slider moves end to end and back.")
        frame_ms = speed_column.select_slider("Speed (ms per frame)", FRAME_MS, key="sliders_frame_ms",
                                              disabled=index is None)
    if index is not None:
        with user_errors("The animation could not be made: "):
            st.image(_sweep_gif(*run_key(run), context, tuple(round(c, 4) for c in coords), int(index),
                                int(frame_ms), width_px, run.model, axes, start),
                     caption=f"{plain(axes.labels[index])} from {axes.ranges[index][0]:.2f} to "
                             f"{axes.ranges[index][1]:.2f}")


def _live_downloads(runs, latent, width_px: int) -> None:
    """A PNG of each picture the browser draws, decoded here only when the button is pressed."""
    def decoded_png(model) -> bytes:
        return png_bytes(decode_to_pil(model, latent, upscale=display_upscale(model.image_shape, width_px)))

    with st.container(horizontal=True):
        for each in runs:
            st.download_button("Download PNG" if len(runs) == 1 else f"Download {each.name}",
                               partial(decoded_png, each.model), file_name=f"{each.name}-latent-sliders.png",
                               mime="image/png", icon=":material/download:", on_click="ignore",
                               key=f"sliders_download_{each.name}")


def class_direction_picker(dataset, present, linked) -> list[tuple[int, int]]:
    """The class directions ("4 → 9") the sliders move along, up to four; a link's choice first."""
    if linked is not None:
        pairs, why = pairs_from_link(linked, present)
        if why:
            url_state.show_notices([f"dirs={','.join(map(str, linked))!r} ({why})"])
        else:
            st.session_state["sliders_dirs"] = pairs
    options = class_pairs(present)
    chosen = st.session_state.get("sliders_dirs")
    if chosen is None or not {tuple(pair) for pair in chosen} <= set(options):  # first visit, or another model
        st.session_state["sliders_dirs"] = default_class_pairs(present, dataset.class_names)
    names = dataset.class_names

    def pair_name(pair) -> str:
        return " → ".join(str(names[c]) if c < len(names) else str(c) for c in pair)

    return st.multiselect(f"Class directions (up to {MAX_CLASS_DIRECTIONS})", options, key="sliders_dirs",
                          max_selections=MAX_CLASS_DIRECTIONS, format_func=pair_name,
                          help="From one class's mean code towards another's, over the test set. Type to find a "
                               "pair, e.g. 4 → 9.")


@st.fragment
def slider_panel(runs, axes, start, context, publish_args) -> None:
    """Only this part reruns when a slider moves: one decode per model shown."""
    if st.session_state.get(CONTEXT) != context or any(key not in st.session_state for key in _slider_keys(axes)):
        _set_sliders(axes, _starting_positions(axes, start))
        st.session_state[CONTEXT] = context
    width_px = presentation.scaled(IMAGE_WIDTH_PX if len(runs) == 1 else IMAGE_WIDTH_PX * 2 // 3)
    coords = [st.session_state[key] for key in _slider_keys(axes)]
    if live_sliders(runs, axes, start, coords, width_px, on_release=partial(_set_sliders, axes),
                    buttons=partial(_slider_buttons, axes, start)):
        _live_downloads(runs, axes.latent_at(coords, start), width_px)  # the pictures are drawn in the browser
        _sweep(runs[0], axes, coords, start, str(context), width_px)
        url_state.publish(publish_args[0], {**publish_args[1], LINKED_COORDS: [round(c, 4) for c in coords]})
        url_state.link_box()
        return
    controls, picture = st.columns([2, 3] if presentation.is_on() else [1, 1], gap="medium")
    with controls:
        _slider_buttons(axes, start)
        coords = _sliders(axes)
    latent = axes.latent_at(coords, start)
    with picture, presentation.main_picture():
        for column, each in zip(st.columns(len(runs)), runs):
            started = time.perf_counter()
            image = decode_to_pil(each.model, latent, upscale=display_upscale(each.model.image_shape, width_px))
            elapsed_ms = (time.perf_counter() - started) * 1000
            with column:
                st.markdown(f"**{each.name if len(runs) > 1 else 'Decoded image'}**")
                show_image(image, f"Decoded in {elapsed_ms:.1f} ms")
                st.download_button("Download PNG", partial(png_bytes, image),
                                   file_name=f"{each.name}-latent-sliders.png", mime="image/png",
                                   icon=":material/download:", on_click="ignore",
                                   key=f"sliders_download_{each.name}")
        _sweep(runs[0], axes, coords, start, str(context), width_px)
    params, overrides = publish_args
    url_state.publish(params, {**overrides, LINKED_COORDS: [round(c, 4) for c in coords]})
    url_state.link_box()  # drawn here, so it holds what this fragment's rerun just wrote


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
params = url_params(model, dataset)
for key, value in (("sliders_source", "random"), ("sliders_seed", 0), ("sliders_frame_ms", 80),
                   ("sliders_axes", "pc" if model.latent_dim > MAX_DIMENSION_SLIDERS and summary is not None
                    else "dim")):
    st.session_state.setdefault(key, value)
linked = url_state.restore(params)
if "_url_sliders_test" in linked and dataset is not None:
    select_test_image(dataset, "sliders_test", linked["_url_sliders_test"])
    st.session_state["sliders_source"] = "test"
if "_url_sliders_dims" in linked:
    st.session_state["sliders_dims"] = [d - 1 for d in linked["_url_sliders_dims"]]
if LINKED_COORDS in linked:
    st.session_state.pop(CONTEXT, None)  # set the sliders up afresh, from the link's positions

# -- where to start ---------------------------------------------------------------------------
start, start_id, target, test_index = None, None, None, None
with presentation.settings("Starting code, second model"):
    st.subheader("Start from")
    source = st.radio("Start from", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="sliders_source",
                      label_visibility="collapsed", persist_state="page")
    if not model.has_encoder and source != "random":
        st.info(f"{sentence_start(family_label(run.family, in_sentence=True))} {OPTIMISATION_NOTE}")
    if source == "random":
        seed = st.number_input("Seed", min_value=0, max_value=999_999, step=1, key="sliders_seed", width=200,
                               help="Each seed gives a different random starting code.")
        start, start_id = draw_codes(model, 1, int(seed))[0], ("random", int(seed))
    else:
        steps = inversion_settings("sliders_inversion_steps") if not model.has_encoder else 0
        choose, show = st.columns(2, gap="medium")
        with choose:
            if source == "test" and dataset is not None:
                test_index = test_image_picker(dataset, "sliders_test", "Test image")
                target = dataset.test_images[test_index] if test_index is not None else None
            elif source == "upload":
                fit = st.selectbox("Fit to the model's size by", FIT_MODES, key="sliders_fit", persist_state="page")
                target = uploaded_image("Image to start from", "sliders_upload", model.image_shape, fit)
            elif source == "draw":
                target = drawn_image("Draw the digit to start from", "sliders_draw", model.image_shape)
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
                               caption=f"The model's input, and how the model redraws it from its code ({how}; "
                                       f"mean squared pixel difference {float(found.errors[0]):.4f})")
    other = compare_picker(run, same_latent_dim=True)
params_overrides = {"_url_sliders_test": test_index}

# -- the sliders ------------------------------------------------------------------------------
if start is None:
    url_state.publish(params, params_overrides)
    st.stop()
st.subheader("Move the code")
training_note(run)
directions, dims, pairs = min(model.latent_dim, MAX_DIMENSION_SLIDERS), None, None
present = [] if summary is None or dataset is None or dataset.test_labels is None else \
    sorted({int(label) for label in dataset.test_labels[: len(summary.latents)].tolist()})
kinds = ["dim"] + (["pc"] if summary is not None and model.latent_dim >= 2 else []) + (["dir"] if len(present) >= 2
                                                                                          else [])
if st.session_state.get("sliders_axes") not in kinds:
    if st.session_state.get("sliders_axes") == "dir":
        st.info("Class directions need an encoder and a labelled test set; this model's has no classes, so the "
                "sliders move along its latent dimensions.")
    st.session_state["sliders_axes"] = "dim"
with presentation.settings("Which sliders"):
    kind = st.radio("Sliders move along", kinds, format_func=AXES.get, horizontal=True, key="sliders_axes",
                    persist_state="page") if len(kinds) > 1 else "dim"
    if kind == "pc" and model.latent_dim > 8:
        st.session_state["sliders_directions"] = min(st.session_state.get("sliders_directions", 12), directions)
        directions = st.number_input("Directions shown", 1, directions, key="sliders_directions", width=200)
    if kind == "dim" and model.latent_dim > MAX_DIMENSION_SLIDERS:
        st.session_state.setdefault("sliders_dims", most_used_dims(summary, model.latent_dim))
        dims = st.multiselect(f"Dimensions with a slider (up to {MAX_DIMENSION_SLIDERS} of {model.latent_dim})",
                              list(range(model.latent_dim)), key="sliders_dims", max_selections=MAX_DIMENSION_SLIDERS,
                              format_func=lambda d: f"z{d + 1}", persist_state="page",
                              help="The others stay at the starting code. The default is the dimensions the test "
                                   "codes spread along most: the ones that change the image.")
        if not dims:
            st.info("Choose at least one dimension to get sliders.")
            url_state.publish(params, params_overrides)
            st.stop()
    if kind == "dir":
        pairs = class_direction_picker(dataset, present, linked.get(LINKED_PAIRS))
        if not pairs:
            st.info("Choose at least one class direction to get sliders.")
            url_state.publish(params, params_overrides)
            st.stop()
if kind == "pc":
    st.caption("Principal directions of the encoded test set, largest spread first. Each slider spans three "
               "standard deviations of the test codes either side of their mean"
               + (" (at least the prior's ±3)." if model.is_variational else "."))
if kind == "dir":
    st.caption("Each slider moves the code from one class's mean code towards another's (0 level with the first "
               "class, 1 with the second), the test set's class means. A direction chosen after others keeps only "
               "its part at right angles to them (orthonormalised by a QR decomposition), so each slider moves the "
               "code in its own way and the others' positions stay put.")
with user_errors():
    axes = class_slider_axes(run, summary, dataset, pairs) if kind == "dir" else \
        slider_axes(run, summary, kind == "pc", directions, dims)
    params_overrides["_url_sliders_dims"] = [d + 1 for d in axes.dims] if dims else None
    params_overrides[LINKED_PAIRS] = [c for pair in axes.pairs for c in pair] or None
    slider_panel([run] + ([other] if other is not None else []), axes, start,
                 (run_key(run), start_id, axes.kind, tuple(axes.dims), tuple(axes.pairs), len(axes)),
                 (params, params_overrides))
