"""Samples page: a sample grid, the saved per-epoch grids, reconstructions (or the no-encoder note)."""

from __future__ import annotations

import shutil

from gen_core.checkpoints import SAMPLES_DIR
from gen_core.pipeline import resume_training

from .conftest import open_page, page_text


def _images_captioned(at, prefix: str):
    return [image for image in at.image if image.captions and image.captions[0].startswith(prefix)]


def test_autoencoder_shows_samples_epoch_grids_and_reconstructions(trained_runs):
    at = open_page("samples", trained_runs["ae"])
    assert not at.exception
    samples = _images_captioned(at, "36 samples")
    assert len(samples) == 1 and samples[0].value[0]
    saved = sorted((trained_runs["ae"] / SAMPLES_DIR).glob("epoch_*.png"))
    epoch_images = _images_captioned(at, "Epoch ")
    assert len(saved) == 2 and len(epoch_images) == len(saved)
    assert [image.captions[0] for image in epoch_images] == ["Epoch 1", "Epoch 2"]
    assert len(_images_captioned(at, "Rows in pairs")) == 1
    assert "Mean squared error per pixel" in _images_captioned(at, "Rows in pairs")[0].captions[0]
    assert {button.key for button in at.get("download_button")} >= {"samples_download", "samples_recon_download"}
    assert "no prior" in page_text(at)


def test_new_samples_button_draws_a_different_grid(trained_runs):
    at = open_page("samples", trained_runs["vae2"])
    before = _images_captioned(at, "36 samples")[0].value[0]
    at.button(key="samples_new").click().run()
    assert not at.exception
    after = [image for image in at.image if "samples, seed" in image.captions[0]][0]
    assert after.value[0] != before
    assert after.captions[0] == f"36 samples, seed {at.number_input(key='samples_seed').value}"
    at.select_slider(key="samples_count").set_value(16).run()
    assert len(_images_captioned(at, "16 samples")) == 1


def test_dcgan_says_it_has_no_encoder(trained_runs):
    at = open_page("samples", trained_runs["dcgan"])
    assert not at.exception
    assert "has no encoder" in page_text(at)
    assert not _images_captioned(at, "Rows in pairs")
    assert len(_images_captioned(at, "36 samples")) == 1
    assert len(_images_captioned(at, "Epoch ")) == len(list((trained_runs["dcgan"] / SAMPLES_DIR).glob("epoch_*.png")))


def test_a_run_resumed_while_the_page_is_open_is_reloaded(trained_runs, tmp_path, monkeypatch):
    """Pages cache the loaded model; training the run further must replace it, not keep serving the
    old weights and history."""
    root = tmp_path / "checkpoints"
    run_dir = shutil.copytree(trained_runs["vae2"], root / "tiny-vae2-resumed")
    monkeypatch.setenv("GEN_CORE_CHECKPOINTS", str(root))
    at = open_page("samples", run_dir)
    assert "2 epochs trained" in page_text(at)
    before = _images_captioned(at, "36 samples")[0].value[0]

    assert resume_training(run_dir, extra_epochs=1, device="cpu").fit()["status"] == "completed"
    at.run()
    assert not at.exception
    assert "3 epochs trained" in page_text(at) and "2 epochs trained" not in page_text(at)
    assert _images_captioned(at, "36 samples")[0].value[0] != before  # same seed, new weights
    assert [image.captions[0] for image in _images_captioned(at, "Epoch ")][-1] == "Epoch 3"
