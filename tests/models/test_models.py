"""Model families: they learn on real digits, their layer tables match the seeds, bad settings fail clearly."""

from __future__ import annotations

import math

import pytest
import torch

from gen_core.errors import ModelConfigError
from gen_core.models import (DCGAN, HIDDEN_PRESETS, AEConfig, build_model, config_to_dict, family_class, layer_summary,
                             make_config)
from gen_core.models.blocks import Dropout, kl_to_standard_normal
from gen_core.models.dcgan import DCGAN_MNIST_FULL_SIZE
from gen_core.training import TrainConfig, Trainer


def _train(model, dataset, epochs=3, lr=2e-3, seed=0):
    trainer = Trainer(model, dataset, TrainConfig(epochs=epochs, batch_size=32, lr=lr, seed=seed, device="cpu",
                                                  sample_epochs=(0,)))
    untrained = trainer.evaluate()
    history = trainer.fit()
    return untrained, history


# ---------------------------------------------------------------- learning on mnist5k

@pytest.mark.parametrize("case", ["ae-mlp", "ae-conv", "vae-mlp", "vae-conv-beta", "vaegan"])
def test_test_loss_falls_over_a_few_epochs(case, build_tiny, mnist_small):
    model = build_tiny(case)
    untrained, history = _train(model, mnist_small)
    test_losses = [entry["test_loss"] for entry in history["epochs"]]
    assert history["status"] == "completed" and len(test_losses) == 3
    assert test_losses[-1] < 0.8 * untrained["loss"], (untrained["loss"], test_losses)
    assert test_losses[-1] < test_losses[0]
    if model.is_variational:  # the ELBO falls because reconstructions improve, not only the KL
        key = "test_pixel_reconstruction" if model.is_adversarial else "test_reconstruction"
        assert history["epochs"][-1][key] < 0.8 * untrained[key.removeprefix("test_")]


def _gaussian_mmd(samples: torch.Tensor, real: torch.Tensor, bandwidth: float) -> float:
    """Biased squared MMD with an RBF kernel exp(-|a - b|^2 / bandwidth)."""
    x, y = samples.flatten(1), real.flatten(1)

    def kernel_mean(a, b):
        return torch.exp(-torch.cdist(a, b).pow(2) / bandwidth).mean()

    return float(kernel_mean(x, x) + kernel_mean(y, y) - 2 * kernel_mean(x, y))


def test_dcgan_samples_move_towards_real_digits(build_tiny, mnist_small):
    """The generator's loss need not fall in a two-player game; what must improve is the samples."""
    real = mnist_small.test_images
    bandwidth = float(torch.cdist(real.flatten(1), real.flatten(1)).pow(2).median())
    model = build_tiny("dcgan")
    model.eval()
    before = model.sample(100, torch.Generator().manual_seed(7))
    _, history = _train(model, mnist_small, epochs=4, lr=1e-3)
    model.eval()
    after = model.sample(100, torch.Generator().manual_seed(7))
    assert history["status"] == "completed"
    assert {"train_generator", "train_discriminator", "train_d_real", "train_d_fake"} <= set(history["epochs"][-1])

    mmd_before, mmd_after = _gaussian_mmd(before, real, bandwidth), _gaussian_mmd(after, real, bandwidth)
    assert mmd_after < 0.4 * mmd_before, (mmd_before, mmd_after)  # seeds 0-3 give 0.07-0.18x
    mean_image_before = (before.mean(0) - real.mean(0)).abs().mean()
    mean_image_after = (after.mean(0) - real.mean(0)).abs().mean()
    assert mean_image_after < 0.5 * mean_image_before, (mean_image_before, mean_image_after)
    assert after.std(0).mean() > 0.03  # different z give different digits, not one image repeated


# ---------------------------------------------------------------- the shared surface

def test_every_family_has_the_shared_surface(tiny_case, build_tiny, mnist_small):
    model = build_tiny(tiny_case).eval()
    images = mnist_small.test_images[:5]
    z = model.draw_codes(5, torch.Generator().manual_seed(0))
    assert z.shape == (5, model.latent_dim)
    decoded = model.decode(z)
    assert decoded.shape == (5, 1, 28, 28) and decoded.dtype == torch.float32
    assert 0 <= decoded.min() and decoded.max() <= 1
    samples = model.sample(5, torch.Generator().manual_seed(0))
    assert torch.equal(samples, decoded)  # sample is decode(draw_codes) with the same generator
    if model.has_encoder:
        assert model.encode(images).shape == (5, model.latent_dim)
        assert model.reconstruct(images).shape == images.shape
    else:
        with pytest.raises(NotImplementedError):
            model.encode(images)
    if model.is_variational:
        mu, logvar = model.posterior(images)
        assert mu.shape == logvar.shape == (5, model.latent_dim)
        assert torch.equal(model.encode(images), mu)


def test_autoencoder_code_statistics_ignore_a_single_image_batch(build_tiny, mnist_small):
    """draw_codes follows running code statistics; a std over one code is NaN and must not enter."""
    model = build_tiny("ae-mlp")
    optimizers = model.make_optimizers(1e-3)
    model.train_step(mnist_small.train_images[:32], optimizers)
    mean, std = model.code_mean.clone(), model.code_std.clone()
    assert not torch.equal(std, torch.ones_like(std))  # a real batch moves them
    model.train_step(mnist_small.train_images[32:33], optimizers)
    assert torch.equal(model.code_mean, mean) and torch.equal(model.code_std, std)
    assert torch.isfinite(model.draw_codes(4)).all()


# ---------------------------------------------------------------- the VAE's KL term

def test_kl_to_standard_normal_matches_the_hand_computed_value():
    """KL(N(mu, sigma^2) || N(0, 1)) = (mu^2 + sigma^2 - 1 - ln sigma^2) / 2 per dimension, summed.

    Row 1: mu = (1, 0), sigma^2 = (1, 2): (1 + 1 - 1 - 0) / 2 + (0 + 2 - 1 - ln 2) / 2 = 1 - ln(2) / 2.
    Row 2: mu = 0, sigma^2 = 1 in both dimensions: the prior itself, KL 0.
    Row 3: mu = (0, -2), sigma^2 = (e^-2, 1): (0 + e^-2 - 1 + 2) / 2 + (4 + 1 - 1 - 0) / 2 = 2.5 + e^-2 / 2.
    """
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, -2.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0], [-2.0, 0.0]], dtype=torch.float64)
    kl = kl_to_standard_normal(mu, logvar)
    assert kl.shape == (3,)  # one value per image, summed over latent dimensions
    expected = torch.tensor([1 - math.log(2) / 2, 0.0, 2.5 + math.exp(-2) / 2], dtype=torch.float64)
    assert torch.allclose(kl, expected, atol=1e-12)
    # and against torch.distributions, on random posteriors
    generator = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(5, 4, generator=generator), torch.randn(5, 4, generator=generator)
    posterior = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    reference = torch.distributions.kl_divergence(posterior, torch.distributions.Normal(0.0, 1.0)).sum(1)
    assert torch.allclose(kl_to_standard_normal(mu, logvar), reference, atol=1e-5)


# ---------------------------------------------------------------- the critics' dropout

def test_critic_dropout_drops_like_nn_dropout():
    """Each value is zeroed with probability p and the rest scaled by 1 / (1 - p), so the mean is kept;
    in eval mode it passes values through."""
    torch.manual_seed(0)
    x = torch.ones(400, 5000)
    dropout = Dropout(0.4)
    y = dropout(x)
    assert torch.unique(y).tolist() == pytest.approx([0.0, 1 / 0.6])
    assert (y == 0).float().mean().item() == pytest.approx(0.4, abs=0.005)
    assert y.mean().item() == pytest.approx(1.0, abs=0.01)
    assert not torch.equal(dropout(x), y)  # a new mask each call
    dropout.eval()
    assert torch.equal(dropout(x), x)
    assert torch.equal(Dropout(0.0)(x), x)


# ---------------------------------------------------------------- layer tables from the seeds

def _rows(summary, part, layer_type):
    return [row for row in summary.rows if row.part == part and row.layer.endswith(f"({layer_type})")]


def test_seed_002_dcgan_discriminator_matches_the_seed_table():
    model = build_model("dcgan", image_shape=(1, 28, 28), **DCGAN_MNIST_FULL_SIZE)
    summary = layer_summary(model)
    convs = _rows(summary, "discriminator", "Conv2d")
    assert [row.parameters for row in convs] == [560, 56560, 226016]
    assert [row.output_shape for row in convs] == [(56, 28, 28), (112, 14, 14), (224, 7, 7)]
    (dense,) = _rows(summary, "discriminator", "Linear")
    assert (dense.parameters, dense.output_shape) == (10977, (1,))
    discriminator_rows = [row for row in summary.rows if row.part == "discriminator"]
    assert sum(row.parameters for row in discriminator_rows) == 294113
    assert sum(p.numel() for p in model.discriminator.parameters()) == 294113


def test_seed_002_dcgan_generator_layers_match_the_seed_table():
    model = build_model("dcgan", image_shape=(1, 28, 28), **DCGAN_MNIST_FULL_SIZE)
    summary = layer_summary(model)
    (dense,) = _rows(summary, "decoder/generator", "Linear")
    (transposed,) = _rows(summary, "decoder/generator", "ConvTranspose2d")
    (final,) = _rows(summary, "decoder/generator", "Conv2d")
    assert (dense.parameters, dense.output_shape) == (5067776, (50176,))
    assert (transposed.parameters, transposed.output_shape) == (524416, (128, 28, 28))
    assert (final.parameters, final.output_shape) == (1153, (1, 28, 28))
    assert summary.total_parameters == sum(p.numel() for p in model.parameters())
    assert summary.total_parameters == sum(row.parameters for row in summary.rows)
    text = summary.to_text()
    assert "5,067,776" in text and f"Total params: {summary.total_parameters:,}" in text


@pytest.mark.parametrize("preset, expected", [
    ("mlp1", "784-32-784"),
    ("mlp5", "784-512-128-32-128-512-784"),
    ("mlp9", "784-512-256-128-64-32-64-128-256-512-784"),
])
def test_seed_004_autoencoder_layer_sizes_appear_in_the_summary(preset, expected):
    model = build_model("ae", image_shape=(1, 28, 28), hidden=HIDDEN_PRESETS[preset], latent_dim=32)
    summary = layer_summary(model)
    dense = [row for row in summary.rows if row.layer.endswith("(Linear)")]
    sizes = [784] + [row.output_shape[0] for row in dense]
    assert "-".join(map(str, sizes)) == expected
    hidden_layers = len(sizes) - 2  # everything between the 784 input and the 784 output
    assert hidden_layers == int(preset.removeprefix("mlp"))
    assert dense[-1].part == "decoder/generator" and dense[0].part == "encoder"
    assert dense[0].parameters == 784 * sizes[1] + sizes[1]


# ---------------------------------------------------------------- settings that must be refused

@pytest.mark.parametrize("family, settings", [
    ("ae", {"latent_dim": 0}),
    ("ae", {"latent_dim": "8"}),
    ("ae", {"arch": "rnn"}),
    ("ae", {"loss": "hinge"}),
    ("ae", {"hidden": (64, -1)}),
    ("ae", {"hidden": "64, many"}),
    ("ae", {"image_shape": (2, 28, 28)}),
    ("ae", {"image_shape": (1, 2, 28)}),
    ("ae", {"arch": "conv", "conv_channels": (8, 8, 8, 8, 8)}),  # 28 px cannot halve five times
    ("ae", {"colour": True}),
    ("vae", {"beta": -1.0}),
    ("vae", {"latent_dim": -2}),
    ("vae", {"arch": "conv", "conv_channels": (0, 8)}),
    ("dcgan", {"gen_channels": (32, 16, 8, 4)}),  # x8 does not divide 28
    ("dcgan", {"disc_channels": ()}),
    ("dcgan", {"dropout": 1.5}),
    ("dcgan", {"label_smoothing": 1.0}),
    ("vaegan", {"dropout": -0.1}),
    ("vaegan", {"adversarial_weight": -1.0}),
    ("gpt", {}),
], ids=lambda value: value if isinstance(value, str) else ",".join(f"{k}={v!r}" for k, v in value.items()))
def test_bad_model_settings_raise_model_config_error(family, settings):
    with pytest.raises(ModelConfigError):
        build_model(family, **settings)


def test_build_model_refuses_another_familys_config():
    with pytest.raises(ModelConfigError, match="VAEConfig"):
        build_model("vae", AEConfig())


def test_config_round_trips_through_json_ready_dict():
    config = make_config("vaegan", latent_dim=6, conv_channels="8, 16", disc_channels=[8, 16])
    assert config.conv_channels == (8, 16) and config.disc_channels == (8, 16)
    as_dict = config_to_dict(config)
    assert as_dict["conv_channels"] == [8, 16] and as_dict["image_shape"] == [1, 28, 28]
    assert make_config("vaegan", **as_dict) == config


def test_models_answer_what_they_can_do_instead_of_their_family_name():
    shape = {"image_shape": (1, 28, 28)}
    answers = {family: (model.has_encoder, model.has_prior, model.is_adversarial)
               for family, model in ((f, build_model(f, **shape)) for f in ("ae", "vae", "dcgan", "vaegan"))}
    assert answers == {"ae": (True, False, False), "vae": (True, True, False), "dcgan": (False, True, True),
                       "vaegan": (True, True, True)}
    assert build_model("vae", loss="bce", **shape).has_bernoulli_likelihood
    assert not build_model("vae", loss="mse", **shape).has_bernoulli_likelihood
    assert build_model("vaegan", **shape).has_bernoulli_likelihood
    assert not build_model("ae", **shape).has_bernoulli_likelihood
    assert family_class("dcgan") is DCGAN and family_class("gpt") is None
