"""A VAE's sampling mixture (ex-post density estimation): codes drawn from Gaussians fitted to the
training codes instead of the prior, fitted by the Trainer, saved with the weights, offered on the
command line to VAEs only."""

from __future__ import annotations

import pytest
import torch

from gen_core.cli import main
from gen_core.errors import ModelConfigError, TrainingError
from gen_core.latent.codes import encode_dataset
from gen_core.run import checkpoint
from gen_core.run.start import TrainingRun
from gen_core.sampling import draw_images
from gen_core.training import TrainConfig, Trainer


def _two_components(model, weights=(0.8, 0.2), spread: float = 0.1):
    """Two Gaussians far apart on the first axis: at +10 and -10, each with standard deviation ``spread``."""
    dim = model.latent_dim
    means = torch.zeros(2, dim)
    means[0, 0], means[1, 0] = 10.0, -10.0
    model.set_sampling_mixture(torch.tensor(weights), means, spread * torch.eye(dim).repeat(2, 1, 1))
    return means


def test_an_unfitted_mixture_draws_the_priors_codes(build_tiny):
    with_mixture, plain = build_tiny("vae-mlp", sampling_mixture=3), build_tiny("vae-mlp")
    assert not with_mixture.samples_from_mixture
    drawn = with_mixture.draw_codes(6, torch.Generator().manual_seed(4))
    assert torch.equal(drawn, plain.draw_codes(6, torch.Generator().manual_seed(4)))


def test_codes_come_from_the_components_in_proportion_to_their_weights(build_tiny):
    model = build_tiny("vae-mlp", sampling_mixture=2)
    means = _two_components(model)
    assert model.samples_from_mixture
    codes = model.draw_codes(4000, torch.Generator().manual_seed(0))
    first = codes[:, 0] > 0
    assert first.float().mean().item() == pytest.approx(0.8, abs=0.03)
    assert (codes[first] - means[0]).std(dim=0).mean().item() == pytest.approx(0.1, rel=0.1)
    assert (codes[~first] - means[1]).abs().max().item() < 1.0, "every code sits in one of the two components"
    again = model.draw_codes(4000, torch.Generator().manual_seed(0))
    assert torch.equal(codes, again), "one seed, the same codes"


def test_temperature_scales_the_spread_around_each_mean(build_tiny):
    model = build_tiny("vae-mlp", sampling_mixture=2)
    means = _two_components(model, weights=(0.5, 0.5))
    codes = model.draw_codes(50, torch.Generator().manual_seed(1), temperature=0.0)
    assert all(any(torch.equal(code, mean) for mean in means) for code in codes)


def test_a_damaged_mixture_in_a_weights_file_is_refused_in_one_sentence(build_tiny):
    model = build_tiny("vae-mlp", sampling_mixture=2)
    _two_components(model)
    model.mixture_weights[1] = float("nan")
    with pytest.raises(ModelConfigError, match="sampling mixture holds negative or non-finite numbers"):
        model.draw_codes(3)
    model.mixture_weights[1] = -0.5
    with pytest.raises(ModelConfigError, match="sampling mixture"):
        draw_images(model, 3, 0)


def test_training_fits_the_mixture_to_the_training_codes_and_the_checkpoint_keeps_it(build_tiny, mnist_small,
                                                                                      tmp_runs):
    model = build_tiny("vae-mlp", sampling_mixture=3)
    config = TrainConfig(epochs=2, batch_size=64, lr=2e-3, device="cpu", sample_count=4)
    TrainingRun(Trainer(model, mnist_small, config), tmp_runs / "mixture").fit()
    assert model.samples_from_mixture
    assert model.mixture_weights.sum().item() == pytest.approx(1.0, abs=1e-5)
    codes = encode_dataset(model, mnist_small.train_images)
    mixture_mean = (model.mixture_weights[:, None] * model.mixture_means).sum(dim=0)
    assert torch.allclose(mixture_mean, codes.mean(dim=0), atol=1e-3), "the mixture's mean is the codes' mean"
    # far from N(0, I) in at least one way: the fitted codes do not fill the prior
    assert not torch.allclose(model.mixture_means, torch.zeros_like(model.mixture_means), atol=0.05)
    loaded = checkpoint.load_run(tmp_runs / "mixture").model
    assert loaded.samples_from_mixture
    assert torch.equal(draw_images(loaded, 8, 5), draw_images(model.eval(), 8, 5))


def test_more_components_than_the_codes_support_is_refused_before_training(build_tiny, mnist_small):
    model = build_tiny("vae-mlp", sampling_mixture=200)  # 384 codes in 4 dimensions support 76
    before = [parameter.clone() for parameter in model.parameters()]
    with pytest.raises(TrainingError, match="200 components is too many for 384 training codes.*at most 76"):
        Trainer(model, mnist_small, TrainConfig(epochs=1, batch_size=64, device="cpu"))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters())), "nothing trained"


def test_the_command_line_offers_the_mixture_to_a_vae_and_refuses_it_for_a_gan(tmp_path, capsys):
    common = ["train", "--dataset", "digits", "--epochs", "1", "--device", "cpu", "--no-eval", "--latent-dim", "2",
              "--sampling-mixture", "4"]
    assert main([*common, "--model", "vae", "--hidden", "16", "--out", str(tmp_path / "vae")]) == 0
    assert checkpoint.load_run(tmp_path / "vae").model.samples_from_mixture
    capsys.readouterr()
    assert main([*common, "--model", "dcgan", "--out", str(tmp_path / "gan")]) == 2
    error = capsys.readouterr().err.strip()
    assert "sampling" in error and "\n" not in error
    assert not (tmp_path / "gan").exists()
