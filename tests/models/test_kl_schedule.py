"""The KL term's schedule: warm-up, free bits, and the latent dimensions a VAE uses."""

from __future__ import annotations

import torch

from gen_core.models import build_model
from gen_core.models.blocks import kl_per_dimension
from gen_core.training import TrainConfig, Trainer

CONFIG = {"hidden": (64,), "latent_dim": 6, "loss": "bce"}


def _fit(mnist_small, epochs: int = 4, **model_settings) -> tuple:
    torch.manual_seed(0)
    model = build_model("vae", image_shape=(1, 28, 28), **{**CONFIG, **model_settings})
    history = Trainer(model, mnist_small, TrainConfig(epochs=epochs, batch_size=128, device="cpu",
                                                      sample_epochs=(0,))).fit()
    return model, history


def test_kl_warmup_raises_beta_from_zero_to_its_value_over_the_warmup_epochs(mnist_small):
    _model, history = _fit(mnist_small, beta=2.0, kl_warmup=4, epochs=6)
    assert [entry["beta"] for entry in history["epochs"]] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]


def test_without_warmup_every_epoch_records_the_configured_beta(mnist_small):
    _model, history = _fit(mnist_small, beta=4.0, epochs=2)
    assert [entry["beta"] for entry in history["epochs"]] == [4.0, 4.0]


def test_free_bits_keep_each_dimensions_kl_in_the_objective_at_least_the_floor(mnist_small):
    model = build_model("vae", image_shape=(1, 28, 28), **CONFIG, free_bits=0.5).eval()
    batch = mnist_small.test_images[:64]
    torch.manual_seed(1)
    terms = model.loss_terms(batch)
    mu, logvar = model.posterior(batch)
    per_dimension = kl_per_dimension(mu, logvar).mean(dim=0)
    assert (per_dimension < 0.5).any(), "an untrained encoder has dimensions below the floor"
    objective_kl = (terms["loss"] - terms["reconstruction"]) / model.kl_weight
    assert torch.isclose(objective_kl, per_dimension.clamp(min=0.5).sum(), rtol=1e-4)
    assert objective_kl >= 0.5 * model.latent_dim - 1e-4
    assert torch.isclose(terms["kl"], per_dimension.sum(), rtol=1e-4), "the reported KL stays the true one"


def test_active_units_count_between_zero_and_the_latent_size_and_fall_when_beta_is_large(mnist_small):
    plain, history = _fit(mnist_small, beta=1.0, epochs=4)
    squeezed, _ = _fit(mnist_small, beta=40.0, epochs=4)
    test = mnist_small.test_images[:500]
    plain_units, squeezed_units = plain.active_units(test), squeezed.active_units(test)
    assert 0 <= squeezed_units < plain_units <= plain.latent_dim
    assert history["epochs"][-1]["active_units"] == plain.active_units(mnist_small.test_images[:1000])
