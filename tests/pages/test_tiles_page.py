"""The Tiles page: a VAE trained on the embedded tiles, shown as tiles, a mosaic, a quiz and heat maps."""

from __future__ import annotations

from pathlib import Path

import pytest

from gen_core.run import checkpoint
from gen_core.run.start import prepare_training
from gen_core.training import TrainConfig

from .conftest import open_page, page_text


def _image_captions(at) -> list[str]:
    return [caption for image in at.image for caption in image.captions]


def _metrics(at) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def test_training_a_vae_on_embedded_tiles_records_a_reloadable_tile_run(tile_run):
    config = checkpoint.read_config(tile_run)
    assert config["data"]["name"] == "tiles" and config["data"]["tile_size"] == 16
    assert config["model"]["image_shape"] == [1, 16, 16]
    epoch = checkpoint.load_run(tile_run).history["epochs"][-1]
    assert epoch["test_loss"] > 0 and "train_kl" in epoch


def test_page_shows_real_and_generated_tiles_a_mosaic_and_the_coverage_maps(tile_run):
    at = open_page("tiles", tile_run)
    assert not at.exception
    text = page_text(at)
    assert "**Real**" in text and "**Generated**" in text and "microaneurysms.png" in text
    assert "**Reconstructed**" in text and "nearest training tile" in text and "as black to white" in text
    # real, reconstructed, generated, generated over nearest training tiles, the mosaic, the two quiz
    # tiles and the whole image under the heat map
    assert len(at.image) == 8
    captions = _image_captions(at)
    assert {"Left", "Right", "The image"} <= set(captions)
    assert any(caption.startswith("64 generated 16x16 tiles") for caption in captions)
    assert at.get("download_button")
    at.number_input(key="tiles_cov_tile").set_value(32)
    at.select_slider(key="tiles_cov_per_pixel").set_value(1000).run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2
    metrics = _metrics(at)
    equal_cv = float(metrics["Equal-coverage: coefficient of variation"])
    naive_cv = float(metrics["Naive: coefficient of variation"])
    assert equal_cv < 0.2 * naive_cv
    assert float(metrics["Equal-coverage: least / most seen pixel"]) > 0.5
    assert float(metrics["Naive: least / most seen pixel"]) < 0.05


def test_a_tile_that_does_not_fit_the_image_is_explained(tile_run):
    at = open_page("tiles", tile_run)
    at.number_input(key="tiles_cov_tile").set_value(2000).run()
    assert not at.exception
    assert any("does not fit" in warning.value for warning in at.warning)


def test_answering_the_quiz_updates_the_score(tile_run):
    at = open_page("tiles", tile_run)
    assert _metrics(at)["Your score"] == "0 / 0"
    real_side = at.session_state["tiles_quiz"].current.real_side
    at.button(key=f"tiles_quiz_{real_side}").click().run()
    assert not at.exception
    assert _metrics(at)["Your score"] == "1 / 1"
    assert any(f"the {real_side} tile is real" in success.value for success in at.success)
    assert at.button(key="tiles_quiz_left").disabled and at.button(key="tiles_quiz_right").disabled

    at.button(key="tiles_quiz_next").click().run()
    real_side = at.session_state["tiles_quiz"].current.real_side
    wrong_side = "left" if real_side == "right" else "right"
    at.button(key=f"tiles_quiz_{wrong_side}").click().run()
    assert _metrics(at)["Your score"] == "1 / 2"
    assert any(f"the {real_side} tile is real" in warning.value for warning in at.warning)

    assert f"{real_side.title()}: real" in _image_captions(at)  # the answer is revealed under the tiles
    assert f"{wrong_side.title()}: generated" in _image_captions(at)
    at.button(key="tiles_quiz_reset").click().run()
    assert _metrics(at)["Your score"] == "0 / 0"
    assert not at.button(key="tiles_quiz_left").disabled


@pytest.fixture(scope="module")
def digits_run(runs_root) -> Path:
    """A plain autoencoder on 8x8 digits: a model that was not trained on tiles (cheaper than mnist5k)."""
    trainer = prepare_training("ae", {"hidden": (32,), "latent_dim": 4}, "digits",
                               TrainConfig(epochs=1, batch_size=128, device="cpu", sample_count=16),
                               root=runs_root, name="tiny-digits-ae")
    trainer.fit()
    return trainer.run_dir


def test_a_model_not_trained_on_tiles_gets_an_explanation_and_the_heat_map(digits_run):
    at = open_page("tiles", digits_run)
    assert not at.exception
    text = page_text(at)
    assert "not on tiles" in text and "python -m gen_core train --model vae --dataset tiles" in text
    assert len(at.get("plotly_chart")) == 2
    assert "Naive: coefficient of variation" in _metrics(at)
    assert "Your score" not in _metrics(at)
    assert not [button for button in at.button if button.key == "tiles_quiz_left"]


def test_with_no_model_at_all_the_heat_map_still_works(tmp_path, monkeypatch):
    monkeypatch.setenv("GEN_CORE_CHECKPOINTS", str(tmp_path))  # an empty checkpoints folder
    at = open_page("tiles")
    assert not at.exception
    assert "no trained model yet" in page_text(at)
    assert len(at.get("plotly_chart")) == 2 and "Equal-coverage: coefficient of variation" in _metrics(at)


def test_the_quiz_says_how_often_a_classifier_tells_the_tiles_apart(tile_run):
    import shutil

    from gen_core.metrics.storage import store_final_metrics

    tile_run = Path(shutil.copytree(tile_run, tile_run.parent / f"{tile_run.name}-scored"))  # others stay unscored
    at = open_page("tiles", tile_run)
    assert "Not yet measured how often a classifier" in page_text(at)
    report = {"sampler": "prior", "metrics": {"c2st_accuracy": 0.97}, "epochs_trained": 1,
              "details": {"c2st": {"accuracy": 0.97, "interval": [0.95, 0.98], "confidence": 0.95, "n_test": 500}}}
    store_final_metrics(tile_run, report)
    at = open_page("tiles", tile_run)
    assert not at.exception
    assert any("tells generated from real images 97% of the time (95% interval 95%–98%" in info.value
               for info in at.info)


def test_without_the_stretch_tiles_are_shown_as_stored(tile_run):
    at = open_page("tiles", tile_run)
    at.toggle(key="tiles_pair_stretch").set_value(False).run()
    assert not at.exception
    assert "shown as stored, 0 to 1" in page_text(at)
