"""Samples page: a sample grid, a sample's nearest training images, the saved per-epoch grids, reconstructions
(or the no-encoder note)."""

from __future__ import annotations

import shutil

from gen_core.data import load_dataset
from gen_core.latent import decode_latents, encode_dataset, latent_neighbours, pixel_neighbours
from gen_core.run.checkpoint import load_run
from gen_core.run.layout import SAMPLES_DIR
from gen_core.run.start import resume_training
from gen_core.sampling import draw_codes

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
    assert {button.key for button in at.get("download_button")} >= {"samples_download_tiny-ae", "samples_recon_download"}
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


def test_an_undertrained_model_is_said_to_be_so_next_to_its_samples(trained_runs):
    at = open_page("samples", trained_runs["vae2"])  # two epochs
    assert any("Trained for only 2 epochs" in warning.value for warning in at.warning)


def test_a_second_model_draws_from_the_same_codes(trained_runs):
    at = open_page("samples", trained_runs["vae8"], query={"vs": "tiny-dcgan", "seed": "5"})
    assert not at.exception
    grids = _images_captioned(at, "tiny-")
    assert [image.captions[0] for image in grids] == ["tiny-vae8: 36 samples, seed 5", "tiny-dcgan: 36 samples, seed 5"]
    assert "Same seed, same codes" in page_text(at)
    at.selectbox(key="compare_run").set_value("tiny-vae2").run()
    assert "latent sizes differ (8 and 2)" in page_text(at)
    assert at.query_params["vs"] == "tiny-vae2" and at.query_params["seed"] == "5"


def test_a_link_to_a_missing_model_says_so_and_names_the_one_shown(trained_runs):
    at = open_page("samples", query={"run": "renamed-long-ago", "seed": "3"})
    assert not at.exception
    warnings = " ".join(warning.value for warning in at.warning)
    assert "**renamed-long-ago**, which is not on this server" in warnings
    assert "The page shows **tiny-" in warnings  # which model is shown instead is named
    assert at.number_input(key="samples_seed").value == 3
    assert at.query_params["run"] != "renamed-long-ago"  # the address now names the model shown


def test_a_hostile_link_is_ignored_with_a_notice(trained_runs):
    at = open_page("samples", trained_runs["vae2"], query={"run": "../../etc", "seed": "-4", "n": "10000",
                                                           "vs": "x" * 5000})
    assert not at.exception
    text = page_text(at)
    assert "Ignored in the link" in text and "run=" in text and "seed='-4'" in text and "n='10000'" in text
    assert at.number_input(key="samples_seed").value == 0


def test_the_temperature_slider_redraws_the_same_seed_and_is_kept_in_the_link(trained_runs):
    at = open_page("samples", trained_runs["vae2"], query={"seed": "6", "temp": "0.5"})
    assert not at.exception
    assert at.slider(key="samples_temperature").value == 0.5
    half = _images_captioned(at, "36 samples, seed 6, temperature 0.5")
    assert len(half) == 1
    at.slider(key="samples_temperature").set_value(0.0).run()
    assert not at.exception
    cold = _images_captioned(at, "36 samples, seed 6, temperature 0")
    assert len(cold) == 1 and cold[0].value[0] != half[0].value[0]
    assert at.query_params["temp"] == "0" and at.query_params["seed"] == "6"
    hot = open_page("samples", trained_runs["vae2"], query={"temp": "2"})
    assert "temp='2'" in page_text(hot) and hot.slider(key="samples_temperature").value == 1.0


def _neighbour_indices(at) -> list[int]:
    return [int(caption[2:].split(" ")[0]) for image in at.image for caption in (image.captions or [])
            if caption.startswith("\\#")]


def test_a_chosen_sample_has_its_nearest_training_images_in_both_spaces(trained_runs):
    at = open_page("samples", trained_runs["vae8"], samples_neighbour=5)
    assert not at.exception
    model, dataset = load_run(trained_runs["vae8"]).model, load_dataset("mnist5k")
    code = draw_codes(model, 36, 0)[4]  # the fifth sample of the default grid (36 samples, seed 0)
    latent = latent_neighbours(code, encode_dataset(model, dataset.train_images), k=8)
    pixel = pixel_neighbours(decode_latents(model, code[None])[0], dataset.train_images, k=8)
    assert _neighbour_indices(at) == latent.indices.tolist() + pixel.indices.tolist()
    assert len(_images_captioned(at, "Sample 5")) == 1
    at.number_input(key="samples_neighbour").set_value(30).run()
    at.select_slider(key="samples_count").set_value(9).run()  # sample 30 is gone: the last one is chosen
    assert not at.exception and at.number_input(key="samples_neighbour").value == 9
    assert len(_images_captioned(at, "Sample 9")) == 1


def test_a_gan_sample_has_pixel_neighbours_only(trained_runs):
    at = open_page("samples", trained_runs["dcgan"])
    assert not at.exception
    assert len(_neighbour_indices(at)) == 8 and "no encoder, so its training images have no codes" in page_text(at)
