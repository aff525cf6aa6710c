"""Sampling a saved run to a file, with a tiny autoencoder trained for one epoch on the 8x8 digits."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gen_core.cli.sample import resolve_class, sample_to_file
from gen_core.errors import ModelConfigError, SamplerError
from gen_core.run.start import prepare_training
from gen_core.training import TrainConfig


def _train(root, family: str, settings: dict, name: str):
    trainer = prepare_training(family, settings, "digits",
                               TrainConfig(epochs=1, batch_size=256, device="cpu", sample_count=4),
                               root=root, name=name)
    trainer.fit()
    return trainer.run_dir


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("runs"), "ae", {"hidden": (32,), "latent_dim": 4}, "tiny-ae")


@pytest.mark.parametrize("sampler", ["prior", "gmm", "gaussian", "perturb"])
def test_each_sampler_writes_an_array_of_images(ae_run, tmp_path, sampler):
    out = sample_to_file(ae_run, sampler=sampler, components=3, n=12, seed=1, out=tmp_path / "draws.npy")
    images = np.load(out)
    assert images.shape == (12, 1, 8, 8) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.std() > 0


def test_same_seed_same_images_and_a_class_changes_them(ae_run, tmp_path):
    first = np.load(sample_to_file(ae_run, "gmm", class_label=3, components=2, n=6, seed=4, out=tmp_path / "a.npy"))
    again = np.load(sample_to_file(ae_run, "gmm", class_label="3", components=2, n=6, seed=4, out=tmp_path / "b.npy"))
    other = np.load(sample_to_file(ae_run, "gmm", class_label=0, components=2, n=6, seed=4, out=tmp_path / "c.npy"))
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).mean() > 1e-3


def test_png_output_is_a_square_grid(ae_run, tmp_path):
    out = sample_to_file(ae_run, "gaussian", class_label=7, n=9, out=tmp_path / "grid.png")
    with Image.open(out) as grid:
        # 3 x 3 tiles of 8 px with torchvision's 2 px padding: 3 * (8 + 2) + 2 = 32.
        assert grid.size == (32, 32)


def test_user_errors_are_typed_and_say_what_to_do(ae_run, tmp_path):
    with pytest.raises(SamplerError, match="try K = "):
        sample_to_file(ae_run, "gmm", components=250, covariance="full", out=tmp_path / "x.png")
    with pytest.raises(SamplerError, match="no classes"):
        sample_to_file(ae_run, "prior", class_label=2, out=tmp_path / "x.png")
    with pytest.raises(SamplerError, match="no class 'eleven'"):
        sample_to_file(ae_run, "perturb", class_label="eleven", out=tmp_path / "x.png")
    with pytest.raises(SamplerError, match=".png"):
        sample_to_file(ae_run, "prior", out=tmp_path / "x.jpg")
    with pytest.raises(SamplerError, match="Unknown sampler"):
        sample_to_file(ae_run, "flow", out=tmp_path / "x.png")
    assert not list(tmp_path.iterdir())


def test_a_gan_can_only_use_the_prior(tmp_path):
    gan_run = _train(tmp_path, "dcgan", {"latent_dim": 4, "gen_channels": (8, 4), "disc_channels": (4, 8)}, "gan")
    with pytest.raises(ModelConfigError, match="--sampler prior"):
        sample_to_file(gan_run, "gmm", out=tmp_path / "x.png")
    assert np.load(sample_to_file(gan_run, "prior", n=3, out=tmp_path / "x.npy")).shape == (3, 1, 8, 8)


def test_resolve_class_accepts_ids_and_names():
    assert resolve_class(["cat", "dog"], "dog") == 1
    assert resolve_class(["cat", "dog"], 0) == 0
    assert resolve_class([str(d) for d in range(10)], "7") == 7
    assert resolve_class(["cat"], None) is None
    with pytest.raises(SamplerError, match="cat, dog"):
        resolve_class(["cat", "dog"], 2)


def test_prior_samples_of_an_autoencoder_use_its_code_statistics(ae_run, tmp_path):
    """An AE has no N(0, I) prior: `sample --sampler prior` must decode its running code statistics,
    the same draw `eval` scores, not standard normal noise."""
    import torch

    from gen_core.latent import decode_latents
    from gen_core.run.checkpoint import load_run

    out = sample_to_file(ae_run, sampler="prior", n=16, seed=5, out=tmp_path / "prior.npy")
    model = load_run(ae_run).model
    expected = decode_latents(model, model.draw_codes(16, torch.Generator().manual_seed(5)))
    standard_normal = decode_latents(model, torch.randn(16, model.latent_dim, generator=torch.Generator().manual_seed(5)))
    written = torch.from_numpy(np.load(out))
    assert torch.allclose(written, expected, atol=1e-6)
    assert not torch.allclose(written, standard_normal, atol=1e-3)


def test_temperature_zero_writes_the_mean_code_in_every_cell_and_fitted_samplers_refuse_one(ae_run, tmp_path):
    cold = np.load(sample_to_file(ae_run, n=5, seed=2, temperature=0.0, out=tmp_path / "cold.npy"))
    warm = np.load(sample_to_file(ae_run, n=5, seed=2, out=tmp_path / "warm.npy"))
    assert np.allclose(cold, cold[:1]) and not np.allclose(warm, warm[:1])
    with pytest.raises(SamplerError, match="scales the prior"):
        sample_to_file(ae_run, sampler="gmm", components=2, n=5, temperature=0.5, out=tmp_path / "gmm.npy")
    with pytest.raises(SamplerError, match="from 0 to 1.5"):
        sample_to_file(ae_run, n=5, temperature=-1, out=tmp_path / "bad.npy")
