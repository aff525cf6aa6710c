"""Samples: what the active model draws, how its samples grew over training, how well it redraws real images."""

from __future__ import annotations

import math
import random

import streamlit as st

from gen_core.images import make_grid_image, png_bytes, side_by_side
from gen_core.latent import per_image_mse, reconstructions
from gen_core.sampling import draw_images
from ui.explore_widgets import run_key
from ui.state import active_dataset, require_active_run, user_errors
from ui.views.samples import epoch_grid_image, epoch_grids, random_indices, reconstruction_rows, spread_evenly

GRID_WIDTH_PX = 560
EPOCHS_SHOWN = 6
EPOCHS_PER_ROW = 3


def _fresh_seed(key: str) -> None:
    st.session_state[key] = random.randrange(1_000_000)


@st.cache_data(show_spinner=False, max_entries=32)
def _sample_png(path: str, mtime: float, count: int, seed: int, _model) -> bytes:
    images = draw_images(_model, count, seed)
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


st.title("Samples")
run = require_active_run()
model = run.model
epochs_done = len(run.history.get("epochs", []))
st.caption(f"**{run.name}** · {run.family.upper()} · {model.latent_dim}-d latent · "
           f"{epochs_done} epoch{'s' if epochs_done != 1 else ''} trained")
dataset = None
with user_errors("The test set could not be loaded: "):
    dataset = active_dataset()

# -- random samples ---------------------------------------------------------------------------
st.subheader("Random samples")
st.session_state.setdefault("samples_seed", 0)
count_column, seed_column, button_column = st.columns([2, 1, 1], vertical_alignment="bottom")
count = count_column.select_slider("How many", [9, 16, 25, 36, 49, 64, 100], value=36, key="samples_count")
seed = seed_column.number_input("Seed", min_value=0, max_value=999_999, step=1, key="samples_seed",
                                help="The same seed always draws the same grid.")
button_column.button("New samples", icon=":material/casino:", key="samples_new",
                     on_click=_fresh_seed, args=("samples_seed",))

if not model.has_prior:
    st.caption("A plain autoencoder has no prior to sample from, so these codes are drawn from a Gaussian "
               "that follows its training codes (each dimension's mean and spread, recorded while it trained).")
with user_errors("Sampling failed: "):
    samples = _sample_png(*run_key(run), int(count), int(seed), model)
    st.image(samples, caption=f"{count} samples, seed {seed}", output_format="PNG")  # PNG: JPEG smears digits
    st.download_button("Download PNG", samples, file_name=f"{run.name}-samples-seed{seed}.png", mime="image/png",
                        icon=":material/download:", key="samples_download", on_click="ignore")

# -- progress over training -------------------------------------------------------------------
st.subheader("Progress over training")
grids = epoch_grids(run.path)
if not grids:
    st.info("This run saved no sample grids while it trained.")
else:
    show_all = len(grids) > EPOCHS_SHOWN and st.toggle(f"Show all {len(grids)} saved epochs", key="samples_all_epochs")
    shown = grids if show_all else spread_evenly(grids, EPOCHS_SHOWN)
    what = ("the same test images (top half) and their reconstructions (bottom half)" if not model.has_prior
            else "the same fixed codes, decoded")
    st.caption(f"After each epoch: {what}. {len(shown)} of {len(grids)} saved grids shown.")
    for row_start in range(0, len(shown), EPOCHS_PER_ROW):
        columns = st.columns(EPOCHS_PER_ROW)
        for column, grid in zip(columns, shown[row_start:row_start + EPOCHS_PER_ROW]):
            with user_errors(f"Epoch {grid.epoch}: "):
                column.image(epoch_grid_image(grid), caption=f"Epoch {grid.epoch}", width="stretch",
                             output_format="PNG")

# -- reconstructions --------------------------------------------------------------------------
st.subheader("Reconstructions")
if not model.has_encoder:
    st.info(f"A {run.family.upper()} has no encoder, so it cannot reconstruct a given image: it only maps random "
            "codes to images. The **Interpolate** and **Latent sliders** pages can still place a real image in "
            "its latent space by optimisation.")
elif dataset is not None:
    st.session_state.setdefault("samples_recon_seed", 0)
    count_column, button_column = st.columns([3, 1], vertical_alignment="bottom")
    recon_count = count_column.select_slider("Test images", [8, 16, 24, 32], value=16, key="samples_recon_count")
    button_column.button("Other test images", icon=":material/shuffle:", key="samples_recon_new",
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
