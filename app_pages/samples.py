"""Samples: what the active model draws, how its samples grew over training, how well it redraws real images."""

from __future__ import annotations

import math
import random

import streamlit as st

from gen_core.images import make_grid_image, png_bytes, side_by_side, to_pil
from gen_core.latent import decode_latents, per_image_mse, reconstructions
from gen_core.models import family_label, sentence_start
from gen_core.sampling import MAX_TEMPERATURE, draw_codes, draw_images
from ui import presentation, url_state
from ui.compare import COMPARE_PARAM, compare_picker
from ui.explore_widgets import run_key, show_image
from ui.model_notes import grid_content, training_note
from ui.neighbours import neighbours_panel
from ui.state import active_dataset, require_active_run, user_errors
from ui.url_state import UrlParam
from ui.views.pictures import display_upscale
from ui.views.samples import epoch_grid_image, epoch_grids, random_indices, reconstruction_rows, spread_evenly
from ui.text import plain

GRID_WIDTH_PX = 560
EPOCHS_SHOWN = 6
EPOCHS_PER_ROW = 3
COUNTS = (9, 16, 25, 36, 49, 64, 100)
URL_PARAMS = [UrlParam("seed", "samples_seed", "int", 0, 999_999),
              UrlParam("n", "samples_count", "choice", choices=COUNTS),
              UrlParam("temp", "samples_temperature", "float", 0.0, MAX_TEMPERATURE),
              UrlParam("rseed", "samples_recon_seed", "int", 0, 999_999), COMPARE_PARAM]


def _fresh_seed(key: str) -> None:
    st.session_state[key] = random.randrange(1_000_000)


@st.cache_data(show_spinner=False, max_entries=32)
def _sample_png(path: str, mtime: float, count: int, seed: int, temperature: float, _model) -> bytes:
    images = draw_images(_model, count, seed, temperature=temperature)
    columns = math.ceil(math.sqrt(count))
    upscale = max(1, GRID_WIDTH_PX // (columns * images.shape[-1]))
    return png_bytes(make_grid_image(images, nrow=columns, upscale=upscale))


@st.cache_data(show_spinner=False, max_entries=32)
def _reconstruction_png(path: str, mtime: float, count: int, seed: int, _model, _images) -> tuple[bytes, float]:
    chosen = _images[random_indices(len(_images), count, seed)]
    redrawn = reconstructions(_model, chosen)
    upscale = max(1, GRID_WIDTH_PX // (8 * chosen.shape[-1]))
    grid = side_by_side(reconstruction_rows(chosen, redrawn, per_row=8), upscale=upscale)
    return png_bytes(grid), float(per_image_mse(redrawn, chosen).mean())


def _same_codes_note(run, other) -> str:
    if run.model.latent_dim != other.model.latent_dim:
        return (f"Same seed, but not the same codes: the latent sizes differ ({run.model.latent_dim} and "
                f"{other.model.latent_dim}).")
    shaped = [model for model in (run.model, other.model)
              if not model.has_prior or getattr(model, "samples_from_mixture", False)]
    if not shaped:
        return "Same seed, same codes: each grid position decodes the same N(0, I) draw in both models."
    return ("Same seed and the same random numbers, but an autoencoder or a sampling mixture shapes them to the "
            "model's own codes, so the codes are not identical.")


st.title("Samples")
run = require_active_run()
model = run.model
epochs_done = len(run.history.get("epochs", []))
st.caption(f"**{plain(run.name)}** · {family_label(run.family)} · {model.latent_dim}-d latent · "
           f"{epochs_done} epoch{'s' if epochs_done != 1 else ''} trained")
st.session_state.setdefault("samples_seed", 0)
st.session_state.setdefault("samples_count", 36)
st.session_state.setdefault("samples_recon_seed", 0)
st.session_state.setdefault("samples_temperature", 1.0)
url_state.restore(URL_PARAMS)
dataset = None
with user_errors("The test set could not be loaded: "):
    dataset = active_dataset()

# -- random samples ---------------------------------------------------------------------------
st.subheader("Random samples")
with presentation.settings("How many, seed, temperature, second model"):
    with st.container(horizontal=True, vertical_alignment="bottom"):
        count = st.select_slider("How many", COUNTS, key="samples_count", width=260)
        seed = st.number_input("Seed", min_value=0, max_value=999_999, step=1, key="samples_seed", width=150,
                               help="The same seed always draws the same grid.")
        st.button("New samples", icon=":material/casino:", key="samples_new",
                  on_click=_fresh_seed, args=("samples_seed",))
    temperature = st.slider("Temperature", 0.0, MAX_TEMPERATURE, step=0.05, key="samples_temperature", width=420,
                            help="Codes are drawn from N(0, s² I) with s this value, from the same seed: low "
                                 "gives sharp, typical but alike images (0: the centre code in every cell), high "
                                 "gives varied but stranger ones. 1 is the prior the model trained with.")
    other = compare_picker(run)

shown_runs = [run] + ([other] if other is not None else [])
with presentation.main_picture(), user_errors("Sampling failed: "):
    for column, each in zip(st.columns(len(shown_runs), gap="medium"), shown_runs):
        with column:
            samples = _sample_png(*run_key(each), int(count), int(seed), float(temperature), each.model)
            title = f"{each.name}: " if other is not None else ""
            at_temperature = "" if temperature == 1.0 else f", temperature {temperature:g}"
            st.image(samples, caption=f"{title}{count} samples, seed {seed}{at_temperature}", output_format="PNG",
                     width=presentation.scaled(GRID_WIDTH_PX) if other is None else "stretch")
            training_note(each)
            file_name = f"{each.name}-samples-seed{seed}" + ("" if temperature == 1.0 else f"-t{temperature:g}")
            st.download_button("Download PNG", samples, file_name=f"{file_name}.png",
                               mime="image/png", icon=":material/download:", key=f"samples_download_{each.name}",
                               on_click="ignore")
if not model.has_prior:
    st.caption("A plain autoencoder has no prior to sample from, so these codes are drawn from a Gaussian "
               "that follows its training codes (each dimension's mean and spread, recorded while it trained); "
               "the temperature scales that spread.")
if other is not None:
    st.caption(_same_codes_note(run, other))

# -- nearest training images to one sample ---------------------------------------------------------
st.subheader("Nearest training images to a sample")
if dataset is not None:
    st.session_state["samples_neighbour"] = min(max(int(st.session_state.get("samples_neighbour", 1)), 1), count)
    pick_column, sample_column = st.columns([1, 3], vertical_alignment="bottom")
    which = pick_column.number_input(f"Sample (1 to {count}: left to right, top to bottom)", 1, int(count),
                                     key="samples_neighbour",
                                     help="Counted in the grid above (the first model's, when two are shown).")
    with user_errors("The sample could not be drawn: "):
        code = draw_codes(model, int(count), int(seed), temperature=float(temperature))[int(which) - 1]
        sample = decode_latents(model, code[None])[0]
        show_image(to_pil(sample, display_upscale(model.image_shape, presentation.scaled(100))), f"Sample {which}",
                   sample_column)
        neighbours_panel(run, dataset, sample, "samples_neighbours", code=code)
        st.caption("In latent space, the code the sample was decoded from is compared with the training images' "
                   "codes. A pixel neighbour at a distance near 0 would be a copy of a training image: a model that "
                   "memorised rather than learnt.")

# -- progress over training -------------------------------------------------------------------
st.subheader("Progress over training")
grids = epoch_grids(run.path)
if not grids:
    st.info("This run saved no sample grids while it trained.")
else:
    show_all = len(grids) > EPOCHS_SHOWN and st.toggle(f"Show all {len(grids)} saved epochs", key="samples_all_epochs")
    shown = grids if show_all else spread_evenly(grids, EPOCHS_SHOWN)
    st.caption(f"After each epoch: {grid_content(run.family)}. {len(shown)} of {len(grids)} saved grids shown.")
    for row_start in range(0, len(shown), EPOCHS_PER_ROW):
        columns = st.columns(EPOCHS_PER_ROW)
        for column, grid in zip(columns, shown[row_start:row_start + EPOCHS_PER_ROW]):
            with user_errors(f"Epoch {grid.epoch}: "):
                column.image(epoch_grid_image(grid), caption=f"Epoch {grid.epoch}", width="stretch",
                             output_format="PNG")

# -- reconstructions --------------------------------------------------------------------------
st.subheader("Reconstructions")
if not model.has_encoder:
    st.info(f"{sentence_start(family_label(run.family, in_sentence=True))} has no encoder, so it cannot reconstruct a given image: it only maps random "
            "codes to images. The **Interpolate** and **Latent sliders** pages can still place a real image in "
            "its latent space by optimisation.")
elif dataset is not None:
    with presentation.settings("How many test images"), st.container(horizontal=True, vertical_alignment="bottom"):
        recon_count = st.select_slider("Test images", [8, 16, 24, 32], value=16, key="samples_recon_count",
                                       width=260)
        st.button("Other test images", icon=":material/shuffle:", key="samples_recon_new",
                  on_click=_fresh_seed, args=("samples_recon_seed",))
    with user_errors("Reconstruction failed: "):
        recon_png, recon_mse = _reconstruction_png(*run_key(run), int(recon_count),
                                                   int(st.session_state["samples_recon_seed"]), model,
                                                   dataset.test_images)
        st.image(recon_png, output_format="PNG",
                 caption=f"Rows in pairs: test images above, their reconstructions below. "
                         f"Mean squared error per pixel: {recon_mse:.4f}")
        st.download_button("Download PNG", recon_png, file_name=f"{run.name}-reconstructions.png", mime="image/png",
                           icon=":material/download:", key="samples_recon_download", on_click="ignore")
url_state.publish(URL_PARAMS)
url_state.link_box()
