"""The VAE's Gaussian decoder with a learned variance (loss "gaussian"): its likelihood, its learned
log sigma, and the command line that offers it to VAEs only."""

from __future__ import annotations

import math

import pytest
import torch

from gen_core.cli import main
from gen_core.data import ImageDataset
from gen_core.errors import ModelConfigError
from gen_core.models import build_model
from gen_core.models.losses import gaussian_nll, reconstruction_loss
from gen_core.models.vae import INITIAL_LOG_SIGMA
from gen_core.run import checkpoint
from gen_core.run.start import TrainingRun
from gen_core.training import TrainConfig, Trainer

CONFIG = {"arch": "conv", "conv_channels": (8, 16), "latent_dim": 4, "loss": "gaussian"}


def test_gaussian_nll_is_the_normal_negative_log_density_summed_over_pixels():
    logits = torch.zeros(1, 1, 2, 2)  # the decoder's mean is sigmoid(0) = 0.5 at every pixel
    target = torch.tensor([0.5, 0.6, 0.4, 0.7]).view(1, 1, 2, 2)
    sigma = 0.1
    # D/2 log(2 pi sigma^2) + SSE / (2 sigma^2), with D = 4 and SSE = 0 + 0.01 + 0.01 + 0.04
    expected = 4 / 2 * math.log(2 * math.pi * sigma ** 2) + 0.06 / (2 * sigma ** 2)
    value = gaussian_nll(logits, target, torch.tensor([math.log(sigma)]))
    assert value.shape == (1,)
    assert value.item() == pytest.approx(expected, rel=1e-5)
    assert value.item() == pytest.approx(-2.53459, abs=1e-4)


def test_gaussian_nll_takes_one_sigma_per_channel():
    torch.manual_seed(0)
    logits, target = torch.randn(3, 2, 4, 4), torch.rand(3, 2, 4, 4)
    log_sigma = torch.tensor([math.log(0.05), math.log(0.3)])
    normal = torch.distributions.Normal(torch.sigmoid(logits), log_sigma.exp().view(1, 2, 1, 1))
    expected = -normal.log_prob(target).flatten(1).sum(1)
    assert torch.allclose(gaussian_nll(logits, target, log_sigma), expected, rtol=1e-5)


def test_the_plain_reconstruction_loss_refuses_the_learned_variance_kind():
    with pytest.raises(ValueError, match="learns its variance"):
        reconstruction_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), "gaussian")


def test_the_vae_reconstruction_term_is_the_gaussian_nll_at_its_own_log_sigma():
    torch.manual_seed(0)
    model = build_model("vae", image_shape=(1, 16, 16), **CONFIG)
    assert model.log_sigma.shape == (1,) and model.log_sigma.item() == pytest.approx(INITIAL_LOG_SIGMA)
    assert any(parameter is model.log_sigma for parameter in model.parameters())
    images = torch.rand(8, 1, 16, 16)
    torch.manual_seed(1)
    terms = model.loss_terms(images)
    torch.manual_seed(1)  # the same posterior draw
    mu, logvar = model.posterior(images)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    expected = gaussian_nll(model.decode_logits(z), images, model.log_sigma).mean()
    assert torch.isclose(terms["reconstruction"], expected, rtol=1e-5)
    assert torch.isclose(terms["loss"], terms["reconstruction"] + terms["kl"], rtol=1e-5)


def test_only_the_gaussian_loss_gives_the_vae_a_log_sigma_and_other_families_refuse_it():
    assert not hasattr(build_model("vae", image_shape=(1, 16, 16), **{**CONFIG, "loss": "mse"}), "log_sigma")
    with pytest.raises(ModelConfigError, match="loss must be one of"):
        build_model("ae", image_shape=(1, 16, 16), arch="conv", conv_channels=(8, 16), latent_dim=4, loss="gaussian")


def _grey_tiles(count: int) -> torch.Tensor:
    """Grey squares with faint structure, like the microscopy tiles: errors far below sigma's start."""
    generator = torch.Generator().manual_seed(count)
    coarse = torch.rand(count, 1, 4, 4, generator=generator)
    return (0.45 + 0.1 * torch.rand(count, 1, 1, 1, generator=generator)
            + 0.05 * torch.nn.functional.interpolate(coarse, size=(16, 16), mode="bilinear")).clamp(0, 1)


def test_log_sigma_is_learned_falls_towards_the_errors_and_is_saved_and_loaded(tmp_path):
    torch.manual_seed(0)
    grey = ImageDataset("grey", _grey_tiles(256), _grey_tiles(32), source={"name": "grey"})
    model = build_model("vae", image_shape=(1, 16, 16), **CONFIG)
    before = model.log_sigma.detach().clone()
    model.train_step(grey.train_images[:32], model.make_optimizers(1e-3))
    assert not torch.equal(model.log_sigma.detach(), before), "one step moves log sigma"

    config = TrainConfig(epochs=2, batch_size=32, device="cpu", sample_count=4, sample_epochs=(0,))
    history = TrainingRun(Trainer(model, grey, config), tmp_path / "sigma").fit()
    sigmas = [entry["decoder_sigma"] for entry in history["epochs"]]
    assert sigmas[0] < 0.1 and sigmas[1] < sigmas[0], "sigma falls from its start towards the decoder's errors"
    assert sigmas[1] == pytest.approx(model.log_sigma.exp().item(), rel=1e-6)
    run = checkpoint.load_run(tmp_path / "sigma")
    assert torch.equal(run.model.log_sigma, model.log_sigma.detach().cpu())


def test_the_command_line_offers_the_gaussian_loss_to_a_vae_and_refuses_it_for_an_autoencoder(tmp_path, capsys):
    common = ["train", "--dataset", "digits", "--epochs", "1", "--device", "cpu", "--no-eval", "--latent-dim", "2",
              "--hidden", "16", "--loss", "gaussian"]
    assert main([*common, "--model", "vae", "--out", str(tmp_path / "vae")]) == 0
    assert checkpoint.load_run(tmp_path / "vae").model.log_sigma.shape == (1,)
    capsys.readouterr()
    assert main([*common, "--model", "ae", "--out", str(tmp_path / "ae")]) == 2
    error = capsys.readouterr().err.strip()
    assert "loss must be one of bce, mse, euclidean, mae; got 'gaussian'" in error and "\n" not in error
