"""Tiles: real next to generated tiles, a mosaic, a classroom quiz, and how evenly tiles cover an image."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import streamlit as st

from gen_core.data.tiles import load_tile_source
from gen_core.errors import GenCoreError
from gen_core.images import make_grid_image, png_bytes, to_pil
from gen_core.metrics.storage import stored_metrics
from gen_core.metrics.structure import stretch_like
from gen_core.run import layout
from gen_core.sampling import PRIOR, draw_images, prior_description
from ui import presentation, state, url_state
from ui.state import user_errors
from ui.url_state import UrlParam
from ui.views import tile_compare
from ui.views import tiles as tiles_view
from ui.text import plain
from ui.views.two_sample import c2st_sentence

QUIZ = "tiles_quiz"  # session_state: the viewer's TileQuiz (its round and score)
QUIZ_KEY = "tiles_quiz_for"  # which run / real pool / seed that quiz belongs to
QUIZ_GENERATED = 256  # generated tiles the quiz draws from
REAL_FROM = {"test": "the held-out test image(s)", "train": "the training images"}
TRAIN_HINT = ("Train one on the **Train** page with the **tiles** dataset, or from a terminal: "
              "`python -m gen_core train --model vae --dataset tiles --tile-size 32`.")


@st.cache_resource(show_spinner="Loading the embedded images…")
def _embedded_source():
    return load_tile_source(None)


@st.cache_data(show_spinner=False, max_entries=32)
def _generated(run_path: str, mtime: float, count: int, seed: int, _model):
    return draw_images(_model, count, seed)


@st.cache_data(show_spinner="Counting tile draws…", max_entries=16)
def _coverage(image_hw: tuple[int, int], tile_size: int, per_pixel: int):
    return tiles_view.compare_coverage(image_hw, tile_size, per_pixel)


@st.cache_data(show_spinner=False, max_entries=16)
def _preview_png(image_key: tuple, _image) -> bytes:
    return png_bytes(tiles_view.image_preview(_image))


def _weights_mtime(run) -> float:
    weights = Path(run.path) / layout.WEIGHTS_FILE
    return weights.stat().st_mtime if weights.exists() else 0.0


def _generated_for(run, count: int, seed: int):
    return _generated(str(run.path), _weights_mtime(run), count, seed, run.model)


def _active_run_or_none():
    try:
        return state.active_run()
    except GenCoreError as error:
        st.error(f"The active model could not be loaded: {error}")
        return None


def _explain_no_tile_model(run) -> None:
    if run is None:
        st.info("There is no trained model yet, so there are no generated tiles to show. "
                f"{TRAIN_HINT} The coverage heat map below needs no model.")
    else:
        trained_on = (run.config.get("data") or {}).get("name", "an unknown dataset")
        st.info(f"**{plain(run.name)}** was trained on **{plain(trained_on)}**, not on tiles of large images, so there "
                f"are no real and generated tiles to compare. {TRAIN_HINT} "
                "The coverage heat map below needs no model.")
    st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")


def _real_and_generated(run, real_pool, tile_size: int) -> None:
    st.caption("Nearest-neighbour zoom, so every pixel of a tile shows as a square.")
    with presentation.settings("How many tiles, seed, contrast"):
        count_column, seed_column, stretch_column = st.columns(3)
        count = count_column.select_slider("Tiles in each panel", [4, 8, 16, 32], value=16, key="tiles_pair_count")
        seed = seed_column.number_input("Seed", 0, 2**31 - 1, key="tiles_pair_seed")
        stretched = stretch_column.toggle("Same contrast stretch", value=True, key="tiles_pair_stretch",
                                          help="Every panel shows the real tiles' 1st to 99th percentile of "
                                               "intensity as black to white: faint structure becomes visible, "
                                               "and a flat tile still looks flat.")
    zoom = tiles_view.zoom_factor(tile_size, 128)
    real = tiles_view.pick_tiles(real_pool, count, seed)
    panels = tile_compare.tile_panels(run.model, real, _generated_for(run, count, seed), stretched)
    titles = ["**Real**", "**Reconstructed** (real tiles through the model)", f"**Generated** (from {prior_description(run.model)})"]
    shown = [(title, images) for title, images in zip(titles, (panels.real, panels.reconstructed, panels.generated))
             if images is not None]
    for column, (title, images) in zip(presentation.main_picture().columns(len(shown)), shown):
        with column:
            st.markdown(title)
            st.image(_grid(images, zoom), output_format="PNG")
    stretch_text = (f"shown with intensities {panels.stretch[0]:.2f} to {panels.stretch[1]:.2f} as black to white"
                    if panels.stretch else "shown as stored, 0 to 1")
    st.caption(f"All panels {stretch_text}. Contrast per tile (standard deviation of its pixels): real "
               f"{panels.contrast_real:.3f}, generated {panels.contrast_generated:.3f} "
               f"({panels.contrast_generated / max(panels.contrast_real, 1e-9):.0%} of real).")
    st.markdown("**Each generated tile above its nearest training tile** (is the model copying?)")
    with user_errors():
        nearest = _nearest_tiles(run, count, seed)
        pairs = tile_compare.interleave_rows(nearest.generated, nearest.nearest, 8)
        if panels.stretch:
            pairs = stretch_like(pairs, *panels.stretch)
        st.image(_grid(pairs, zoom, columns=8), output_format="PNG")
        st.caption(f"Rows alternate: generated, then the closest of the training tiles (mean squared difference per "
                   f"pixel, median {float(nearest.distances.median()):.4f}). A reconstruction of an unseen tile is "
                   f"typically {nearest.baseline:.4f} from its nearest training tile; {nearest.copies()} of "
                   f"{len(nearest.distances)} generated tiles are under a quarter of that, i.e. near copies.")


@st.cache_data(show_spinner="Finding each tile's nearest training tile…", max_entries=16)
def _nearest(run_path: str, mtime: float, count: int, seed: int, _run, _dataset):
    return tile_compare.nearest_real_tiles(_run.model, _generated_for(_run, count, seed), _dataset.train_images,
                                           _dataset.test_images)


def _nearest_tiles(run, count: int, seed: int):
    return _nearest(str(run.path), _weights_mtime(run), count, seed, run, state.active_dataset())


def _grid(tiles, zoom: int, columns: int = 4):
    return make_grid_image(tiles, nrow=columns, padding=4, upscale=zoom)


def _mosaic(run, tile_size: int) -> None:
    with presentation.settings("Grid size, seed"):
        side_column, seed_column, gaps_column = st.columns(3)
        side = side_column.select_slider("Grid", [4, 6, 8, 12, 16], value=8, format_func=lambda n: f"{n} x {n}",
                                         key="tiles_mosaic_side")
        seed = seed_column.number_input("Seed", 0, 2**31 - 1, 0, key="tiles_mosaic_seed")
        gaps = gaps_column.toggle("Gaps between tiles", value=False, key="tiles_mosaic_gaps")
    zoom = tiles_view.zoom_factor(tile_size * side, 640)
    mosaic = tiles_view.mosaic_image(_generated_for(run, side * side, seed), side, gaps=gaps, upscale=zoom)
    st.image(mosaic, caption=f"{side * side} generated {tile_size}x{tile_size} tiles, seed {seed}", output_format="PNG")
    st.download_button("Download PNG", partial(png_bytes, mosaic), file_name=f"{run.name}_mosaic_seed{seed}.png",
                       mime="image/png", icon=":material/download:", key="tiles_mosaic_download")


def _quiz_for(run, real_from: str, real_count: int, seed: int) -> tiles_view.TileQuiz:
    """The viewer's quiz, started afresh when the model, the real tiles or the seed change."""
    belongs_to = (str(run.path), real_from, seed)
    if st.session_state.get(QUIZ_KEY) != belongs_to or QUIZ not in st.session_state:
        st.session_state[QUIZ] = tiles_view.TileQuiz(real_count, QUIZ_GENERATED, seed=seed)
        st.session_state[QUIZ_KEY] = belongs_to
    return st.session_state[QUIZ]


def _two_sample_note(run) -> None:
    """What the classifier two-sample test says about this model, beside the quiz."""
    sentence = c2st_sentence((stored_metrics(run.path).get(PRIOR) or {}).get("details"))
    if sentence:
        st.info(f"Can you beat a machine? In the two-sample test, {sentence}.", icon=":material/smart_toy:")
    else:
        st.caption("Not yet measured how often a classifier tells these tiles apart: score the model on the "
                   f"**Evaluate** page, or `python -m gen_core eval {run.name} --store`.")


def _quiz(run, real_pool, real_from: str, tile_size: int) -> None:
    _two_sample_note(run)
    about_column, seed_column = st.columns([3, 1], vertical_alignment="bottom")
    about_column.caption("One tile is real, one was generated, in random order. Which one is real? "
                         "The same quiz seed gives the same rounds on every screen.")
    seed = seed_column.number_input("Quiz seed", 0, 2**31 - 1, key="tiles_quiz_seed",
                                    help="Give the room a link with this seed (Link to this view below): "
                                         "everyone gets the same rounds.")
    quiz = _quiz_for(run, real_from, len(real_pool), seed)
    left, right = quiz.tiles(real_pool, _generated_for(run, QUIZ_GENERATED, seed))
    zoom = tiles_view.zoom_factor(tile_size, 320)
    real_side = quiz.current.real_side
    for column, side, tile in zip(st.columns(2), tiles_view.SIDES, (left, right)):
        with column:
            caption = side.title()
            if quiz.answered:
                caption += ": real" if side == real_side else ": generated"
            st.image(to_pil(tile, zoom), caption=caption, output_format="PNG")
            st.button(f"{side.title()} is real", key=f"tiles_quiz_{side}", on_click=quiz.submit, args=(side,),
                      disabled=quiz.answered, width=tile_size * zoom)
    if quiz.answered:
        if quiz.answer_was_correct:
            st.success(f"Correct: the {real_side} tile is real.")
        else:
            st.warning(f"Not this time: the {real_side} tile is real, the other one was generated.")
    score_column, next_column, reset_column = st.columns([2, 1, 1], vertical_alignment="bottom")
    score_column.metric("Your score", quiz.score_text, help="Correct answers / rounds answered")
    next_column.button("Next round", key="tiles_quiz_next", on_click=quiz.next_round,
                       type="primary" if quiz.answered else "secondary", width="stretch")
    reset_column.button("Reset score", key="tiles_quiz_reset", on_click=quiz.reset, width="stretch")


def _image_sets(run, dataset) -> dict:
    """Name -> (TileSource, held-out names) of the image sets the heat map can use."""
    sets = {}
    if dataset is not None:
        sets["This model's images"] = (tiles_view.tile_source_of(dataset), tiles_view.held_out_names(dataset))
    if dataset is None or (run.config.get("data") or {}).get("path"):
        sets["Embedded images (scikit-image)"] = (_embedded_source(), [])
    return sets


def _coverage_section(run, dataset, default_tile: int) -> None:
    st.caption("A tile's corner drawn uniformly (naive) sees border pixels far less often than central ones. "
               "The equal-coverage placement used for training draws corners so that every pixel is equally "
               "likely to be seen. Both maps show how often each pixel was inside a drawn tile, relative to "
               "the average pixel (1.0 = average), over the same number of draws.")
    sets = _image_sets(run, dataset)
    set_name = st.radio("Images", list(sets), horizontal=True, key="tiles_cov_set") if len(sets) > 1 else next(iter(sets))
    source, held_out = sets[set_name]
    shapes = {name: tuple(image.shape[1:]) for name, image in zip(source.names, source.images)}
    image_column, tile_column, draws_column = st.columns(3)
    name = image_column.selectbox(
        "Image", source.names, key="tiles_cov_image",
        format_func=lambda n: f"{n} ({shapes[n][1]}x{shapes[n][0]}){' · held out' if n in held_out else ''}")
    tile_size = int(tile_column.number_input("Tile size (pixels)", 2, 4096, default_tile, key="tiles_cov_tile"))
    per_pixel = draws_column.select_slider("Tiles covering an average pixel", [10, 50, 200, 1000], value=200,
                                           key="tiles_cov_per_pixel",
                                           help="More draws, less noise: only the naive placement's uneven "
                                                "borders stay.")
    image_hw = shapes[name]
    if tile_size > min(image_hw):
        st.warning(f"A {tile_size}-pixel tile does not fit in {plain(name)}, which is "
                   f"{image_hw[1]}x{image_hw[0]} pixels.")
        return
    with user_errors():
        comparison = _coverage(image_hw, tile_size, per_pixel)
        image_key = (set_name, str(run.path) if dataset is not None else "", name, image_hw)
        _coverage_results(comparison, _preview_png(image_key, source.images[source.names.index(name)]))


def _coverage_results(comparison, preview_png: bytes) -> None:
    equal, naive = comparison.placements["equal"], comparison.placements["naive"]
    capped = " (capped)" if comparison.draws == tiles_view.MAX_DRAWS else ""
    st.caption(f"{comparison.draws:,} draws{capped} of a {comparison.tile_size}x{comparison.tile_size} tile: "
               f"each pixel was covered {comparison.mean_per_pixel:.0f} times on average.")
    image_column, metrics_column = st.columns([1, 2])
    image_column.image(preview_png, caption="The image", output_format="PNG")
    with metrics_column:
        for label, coverage in (("Equal-coverage", equal), ("Naive", naive)):
            cv_column, ratio_column = st.columns(2)
            cv_column.metric(f"{label}: coefficient of variation", f"{coverage.cv:.3f}",
                             help=f"Spread of the per-pixel counts over their mean; 0 is perfectly even. "
                                  f"With infinitely many draws: {coverage.exact_cv:.3f}.")
            ratio_column.metric(f"{label}: least / most seen pixel", f"{coverage.min_max_ratio:.3g}",
                                help=f"1 is perfectly even. With infinitely many draws: "
                                     f"{coverage.exact_min_max_ratio:.3g}.")
        st.caption(f"With infinitely many draws the equal placement's variation would be {equal.exact_cv:.3f} "
                   f"(naive {naive.exact_cv:.3f}); what is left above is the noise of a finite number of draws. "
                   "Exactly even is possible only when the tile size divides the image's sides.")
    st.plotly_chart(presentation.style_figure(tiles_view.coverage_figure(comparison)), width="stretch",
                    key="tiles_cov_maps")
    st.markdown("**Across the width** (each column's coverage, averaged over the rows)")
    st.plotly_chart(presentation.style_figure(tiles_view.profile_figure(comparison)), width="stretch",
                    key="tiles_cov_profile")


# ---------------------------------------------------------------------------- the page

URL_PARAMS = [UrlParam("seed", "tiles_pair_seed", "int", 0, 2**31 - 1),
              UrlParam("quiz", "tiles_quiz_seed", "int", 0, 2**31 - 1),
              UrlParam("real", "tiles_real_from", "choice", choices=tuple(REAL_FROM))]

st.title("Tiles")
st.caption("Models trained on tiles of large images (microscopy, textures): real tiles next to generated "
           "ones, a mosaic, a which-one-is-real quiz, and how evenly the tile placement sees an image.")

run = _active_run_or_none()
st.session_state.setdefault("tiles_pair_seed", 0)
st.session_state.setdefault("tiles_quiz_seed", 0)
url_state.restore(URL_PARAMS)
dataset = None
if run is not None and tiles_view.is_tile_run(run.config):
    with user_errors("The tiles this model was trained on could not be loaded: "):
        dataset = state.active_dataset()

if dataset is None:
    if run is None or not tiles_view.is_tile_run(run.config):
        _explain_no_tile_model(run)
    st.subheader("Coverage heat map")
    with presentation.main_picture():
        _coverage_section(run, None, 32)
else:
    tile_size = int(dataset.image_shape[-1])
    st.caption(f"**{plain(run.name)}** · {plain(run.family.upper())} · {plain(dataset.description)}")
    real_from = st.radio("Real tiles from", list(REAL_FROM), format_func=REAL_FROM.get, horizontal=True,
                         key="tiles_real_from",
                         help="The held-out image was never seen in training. Training images show what "
                              "the model learned from, which makes the quiz about quality, not content.")
    real_pool = dataset.test_images if real_from == "test" else dataset.train_images
    compare_tab, mosaic_tab, quiz_tab, coverage_tab = st.tabs(
        ["Real, reconstructed, generated", "Mosaic", "Which one is real?", "Coverage heat map"])
    with compare_tab:
        _real_and_generated(run, real_pool, tile_size)
    with mosaic_tab:
        _mosaic(run, tile_size)
    with quiz_tab:
        _quiz(run, real_pool, real_from, tile_size)
    with coverage_tab:
        _coverage_section(run, dataset, tile_size)
url_state.publish(URL_PARAMS)
url_state.link_box()
