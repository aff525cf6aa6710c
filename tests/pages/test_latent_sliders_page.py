"""Latent sliders page: sliders move the decoded image, reset brings it back, PCA mode, GANs, a drawn start."""

from __future__ import annotations

import numpy as np
import pytest

from gen_core.images import frame_drawing
from gen_core.latent import per_image_mse, reconstructions
from gen_core.run.checkpoint import load_run
from gen_core.run.start import prepare_training
from gen_core.training import TrainConfig

from .conftest import open_page, page_text


@pytest.fixture(scope="module")
def wide_run(runs_root):
    """A 20-d VAE: more dimensions than there are sliders."""
    trainer = prepare_training("vae", {"hidden": (32,), "latent_dim": 20}, "mnist5k",
                               TrainConfig(epochs=1, batch_size=256, device="cpu", sample_count=16),
                               root=runs_root, name="tiny-vae20")
    trainer.fit()
    return trainer.run_dir


def _decoded_all(at) -> list[str]:
    return [image.value[0] for image in at.image if image.captions and image.captions[0].startswith("Decoded in")]


def _decoded(at) -> str:
    images = _decoded_all(at)
    assert len(images) == 1
    return images[0]


def _slider_keys(at, kind: str) -> list[str]:
    return [slider.key for slider in at.slider if slider.key and slider.key.startswith(f"sliders_{kind}_")]


def test_moving_a_slider_changes_the_image_and_reset_restores_it(trained_runs):
    at = open_page("latent_sliders", trained_runs["vae2"])
    assert not at.exception
    assert sorted(_slider_keys(at, "dim")) == ["sliders_dim_0", "sliders_dim_1"]
    first = _decoded(at)
    slider = at.slider(key="sliders_dim_0")
    slider.set_value(2.5 if slider.value < 1.0 else -2.5).run()
    assert not at.exception
    moved = _decoded(at)
    assert moved != first
    at.button(key="sliders_reset").click().run()
    assert _decoded(at) == first
    at.button(key="sliders_randomise").click().run()
    assert _decoded(at) != first


def test_principal_directions_for_an_8d_model(trained_runs):
    at = open_page("latent_sliders", trained_runs["vae8"])
    assert len(_slider_keys(at, "dim")) == 8
    at.radio(key="sliders_axes").set_value("pc").run()
    assert not at.exception
    keys = _slider_keys(at, "pc")
    assert len(keys) == 8 and not _slider_keys(at, "dim")
    assert at.slider(key="sliders_pc_0").label == "PC 1"
    assert "Principal directions of the encoded test set" in page_text(at)
    before = _decoded(at)
    low, high = at.slider(key="sliders_pc_0").min, at.slider(key="sliders_pc_0").max
    at.slider(key="sliders_pc_0").set_value(high if at.slider(key="sliders_pc_0").value < 0 else low).run()
    assert _decoded(at) != before


def test_starting_from_a_test_image_encodes_it(trained_runs):
    at = open_page("latent_sliders", trained_runs["ae"])
    random_start = _decoded(at)
    at.radio(key="sliders_source").set_value("test").run()
    assert not at.exception
    assert at.selectbox(key="sliders_test_class").value == 0
    assert any("encoded and decoded" in image.captions[0] for image in at.image if image.captions)
    first_zero = _decoded(at)
    assert first_zero != random_start
    at.number_input(key="sliders_test_number").set_value(2).run()
    assert _decoded(at) != first_zero


def test_dcgan_uses_dimensions_and_inversion_by_optimisation(trained_runs):
    at = open_page("latent_sliders", trained_runs["dcgan"], sliders_inversion_steps=5)  # a short search keeps tests fast
    assert not at.exception
    assert len(_slider_keys(at, "dim")) == 8 and at.radio(key="sliders_source").value == "random"
    before = _decoded(at)
    at.slider(key="sliders_dim_3").set_value(-2.9).run()
    assert _decoded(at) != before
    at.radio(key="sliders_source").set_value("test").run()
    assert not at.exception
    assert "found by optimisation" in page_text(at)
    assert any("from its code (found by optimisation; mean squared pixel difference" in image.captions[0]
               for image in at.image if image.captions)


def test_a_link_sets_the_start_and_the_slider_positions_and_the_address_follows(trained_runs):
    at = open_page("latent_sliders", trained_runs["vae2"], query={"src": "test", "test": "42", "z": "1.5,-0.25"})
    assert not at.exception
    assert at.radio(key="sliders_source").value == "test"
    assert at.slider(key="sliders_dim_0").value == pytest.approx(1.5)
    assert at.slider(key="sliders_dim_1").value == pytest.approx(-0.25)
    assert at.query_params["test"] == "42" and at.query_params["z"] == "1.5,-0.25"
    at.slider(key="sliders_dim_0").set_value(-2.0).run()
    assert at.query_params["z"] == "-2,-0.25"


def test_with_more_dimensions_than_sliders_you_choose_which(wide_run):
    at = open_page("latent_sliders", wide_run, sliders_axes="dim")
    assert not at.exception
    chosen = at.multiselect(key="sliders_dims").value
    assert len(chosen) == 16 and len(_slider_keys(at, "dim")) == 16
    at.multiselect(key="sliders_dims").set_value([19, 3]).run()
    assert not at.exception
    assert [slider.label for slider in at.slider if slider.key.startswith("sliders_dim_")] == ["z4", "z20"]
    assert at.query_params["dims"] == "4,20"


def test_a_second_model_decodes_the_same_code_and_a_slider_can_play_by_itself(trained_runs):
    at = open_page("latent_sliders", trained_runs["vae8"])
    at.selectbox(key="compare_run").set_value("tiny-dcgan").run()
    assert not at.exception
    assert len(_decoded_all(at)) == 2
    assert "tiny-vae2" not in str(at.selectbox(key="compare_run").options)  # a 2-d latent cannot take this code
    at.selectbox(key="sliders_sweep").set_value(0).run()
    assert not at.exception
    sweeps = [image for image in at.image if image.captions and image.captions[0].startswith("z1 from")]
    assert len(sweeps) == 1


def test_class_direction_sliders_move_the_code_and_the_link_keeps_them(trained_runs):
    at = open_page("latent_sliders", trained_runs["vae8"])
    at.radio(key="sliders_axes").set_value("dir").run()
    assert not at.exception
    assert [at.slider(key=key).label for key in _slider_keys(at, "dir")] == ["4 → 9", "1 → 7"]
    assert "orthonormalised by a QR decomposition" in page_text(at)
    assert at.query_params["axes"] == "dir" and at.query_params["dirs"] == "4,9,1,7"
    before = _decoded(at)
    slider = at.slider(key="sliders_dir_0")
    slider.set_value(slider.max if slider.value < 1 else slider.min).run()
    assert not at.exception and _decoded(at) != before
    at.multiselect(key="sliders_dirs").set_value([(9, 4)]).run()
    assert [at.slider(key=key).label for key in _slider_keys(at, "dir")] == ["9 → 4"]
    assert at.query_params["dirs"] == "9,4"
    linked = open_page("latent_sliders", trained_runs["vae8"], query={"axes": "dir", "dirs": "0,8", "z": "1.5"})
    assert not linked.exception
    assert [linked.slider(key=key).label for key in _slider_keys(linked, "dir")] == ["0 → 8"]
    assert linked.slider(key="sliders_dir_0").value == pytest.approx(1.5)


@pytest.mark.parametrize("dirs, shown", [("4,4", "the same class twice"), ("4,9,1", "not pairs of classes"),
                                         ("4,99999", "outside 0 to 10000"), ("4,<b>x", "not a whole number")])
def test_a_hostile_class_direction_link_is_ignored_with_a_notice(trained_runs, dirs, shown):
    at = open_page("latent_sliders", trained_runs["vae8"], query={"axes": "dir", "dirs": dirs})
    assert not at.exception
    assert "Ignored in the link" in page_text(at) and shown in page_text(at)
    assert [at.slider(key=key).label for key in _slider_keys(at, "dir")] == ["4 → 9", "1 → 7"]  # the defaults


def test_directions_that_add_nothing_new_are_refused_in_one_line(trained_runs):
    at = open_page("latent_sliders", trained_runs["vae2"], query={"axes": "dir", "dirs": "4,9,1,7,0,1"})
    assert not at.exception
    assert "3 directions cannot be independent in a 2-d latent space" in page_text(at)
    assert not _slider_keys(at, "dir")


def test_a_model_without_classes_has_no_class_directions(tile_run):
    at = open_page("latent_sliders", tile_run, query={"axes": "dir"})
    assert not at.exception
    assert at.radio(key="sliders_axes").options == ["Latent dimensions", "Principal directions"]
    assert "Class directions need" in page_text(at) and _slider_keys(at, "dim")
def test_a_drawing_is_a_starting_code(trained_runs):
    pad = np.zeros((280, 280, 4), dtype=np.uint8)
    pad[..., 3] = 255
    pad[60:220, 130:150, :3] = 255  # a "1", drawn left of centre on a black pad
    at = open_page("latent_sliders", trained_runs["ae"], sliders_source="draw")
    assert not at.exception and "Draw a digit in the box" in page_text(at) and not _slider_keys(at, "dim")
    at = open_page("latent_sliders", trained_runs["ae"], sliders_source="draw", sliders_draw_pixels=pad)
    assert not at.exception
    model, image = load_run(trained_runs["ae"]).model, frame_drawing(pad, (1, 28, 28))
    mse = float(per_image_mse(reconstructions(model, image[None]), image[None])[0])
    captions = [image.captions[0] for image in at.image if image.captions]
    assert (f"The model's input, and how the model redraws it from its code (encoded and decoded; mean squared "
            f"pixel difference {mse:.4f})") in captions
    assert any(caption.startswith("Model input: scaled and centred") for caption in captions)
    random_start = _decoded(open_page("latent_sliders", trained_runs["ae"]))
    assert len(_slider_keys(at, "dim")) == 8 and _decoded(at) != random_start
