"""The shared battery every model family passes, in the spirit of scikit-learn's estimator checks: a
family added tomorrow is checked the day it is added (it only needs a tiny configuration here)."""

from __future__ import annotations

import pytest
import torch

from gen_core.models import FAMILIES, build_model, family_class
from gen_core.run import checkpoint
from gen_core.sampling import PRIOR, SAMPLER_NAMES, usable_samplers
from gen_core.training import TrainConfig, Trainer, new_history

SHAPE = (1, 16, 16)
TINY = {  # one small configuration per family, for 16x16 images
    "ae": {"hidden": (32,), "latent_dim": 4},
    "vae": {"hidden": (32,), "latent_dim": 4},
    "dcgan": {"gen_channels": (16, 8), "disc_channels": (8, 16), "latent_dim": 8},
    "vaegan": {"conv_channels": (8, 16), "disc_channels": (8, 16), "latent_dim": 4},
}


def test_every_family_has_a_tiny_configuration_here():
    assert set(TINY) == set(FAMILIES)


@pytest.fixture(params=sorted(FAMILIES))
def family(request) -> str:
    return request.param


def _model(family: str):
    torch.manual_seed(0)
    return build_model(family, image_shape=SHAPE, **TINY[family])


def _batch(n: int = 16) -> torch.Tensor:
    # Smooth blobs rather than noise: something a tiny model can learn in a few steps.
    grid = torch.linspace(-1, 1, SHAPE[1])
    centres = torch.linspace(-0.5, 0.5, n)
    blobs = torch.exp(-((grid[None, :, None] - centres[:, None, None]) ** 2 + grid[None, None, :] ** 2) / 0.1)
    return blobs[:, None].clamp(0, 1)


def test_a_family_states_its_facts(family):
    model_class = family_class(family)
    assert model_class.family == family
    assert model_class.label and model_class.a_label.split(" ", 1)[0] in ("a", "an")
    assert isinstance(model_class.min_epochs, int) and model_class.min_epochs >= 1
    assert "loss" in model_class.loss_titles
    assert usable_samplers(family) == (list(SAMPLER_NAMES) if model_class.has_encoder else [PRIOR])


def test_decode_and_draw_codes_have_the_shared_shapes(family):
    model = _model(family).eval()
    codes = model.draw_codes(5, torch.Generator().manual_seed(3))
    assert codes.shape == (5, model.latent_dim)
    assert torch.equal(codes, model.draw_codes(5, torch.Generator().manual_seed(3)))
    with torch.no_grad():
        images = model.decode(codes)
    assert images.shape == (5, *SHAPE) and images.min() >= 0 and images.max() <= 1


def test_an_encoder_round_trips_to_images_of_the_same_shape(family):
    model = _model(family).eval()
    batch = _batch(6)
    if not model.has_encoder:
        with pytest.raises(NotImplementedError):
            model.encode(batch)
        return
    with torch.no_grad():
        codes = model.encode(batch)
        again = model.reconstruct(batch)
    assert codes.shape == (6, model.latent_dim) and torch.isfinite(codes).all()
    assert again.shape == batch.shape and torch.equal(again, model.decode(codes))


def test_training_steps_report_every_titled_term_and_lower_the_loss_on_a_tiny_batch(family):
    model = _model(family).train()
    optimizers = model.make_optimizers(2e-3)
    batch = _batch()
    headline = "discriminator" if model.is_adversarial else "loss"  # a generator's loss rises as D learns
    before = float(model.evaluation_losses(batch)[headline])
    for _ in range(30):
        terms = model.train_step(batch, optimizers)
    assert set(terms) <= set(model.loss_titles) and "loss" in terms
    assert all(value.dim() == 0 and not value.requires_grad for value in terms.values())
    after = float(model.evaluation_losses(batch)[headline])
    assert after < before, (headline, before, after)


def test_save_and_load_give_the_same_outputs(family, tmp_path):
    model = _model(family).eval()
    history = {**new_history(), "epochs": [{"epoch": 1, "train_loss": 1.0}]}
    checkpoint.save_run(tmp_path / family, model, data={"name": "digits"}, training={"epochs": 1}, history=history)
    loaded = checkpoint.load_run(tmp_path / family).model
    codes = model.draw_codes(4, torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(model.decode(codes), loaded.decode(codes))


@pytest.mark.parametrize("case", ["dcgan", "vaegan"])
def test_a_gan_reports_what_its_discriminator_believes_at_every_logged_step(case, build_tiny, mnist_small):
    model = build_tiny(case)
    config = TrainConfig(epochs=1, batch_size=32, device="cpu", sample_epochs=(0,), log_every=1)
    history = Trainer(model, mnist_small, config).fit()
    assert len(history["steps"]) >= 5
    for entry in history["steps"]:
        assert 0.0 <= entry["d_real"] <= 1.0 and 0.0 <= entry["d_fake"] <= 1.0
    assert history["steps"][-1]["d_real"] > history["steps"][-1]["d_fake"], "D tells real from generated"


@pytest.mark.parametrize("family", ["dcgan", "vaegan"])
def test_the_generators_step_computes_no_critic_gradients(family):
    """Updating only the generator (and encoder) leaves the critic without gradients: its weight
    gradients would be thrown away, so they are not computed; the generator's are."""
    model = _model(family)
    optimizers = model.make_optimizers(1e-3)
    generator = {name: optimizer for name, optimizer in optimizers.items() if name != "discriminator"}
    model.train_step(_batch(), generator)
    assert all(p.grad is None for p in model.discriminator.parameters())
    players = [name for name in generator]
    assert all(p.grad is not None for name in players for p in
               (p for group in optimizers[name].param_groups for p in group["params"]))


def test_the_vaegans_generator_terms_are_larsens_written_out():
    """The reconstruction's critic features serve both the feature loss and its fool-D logit; with
    dropout off that must equal the terms computed with separate passes, as Larsen et al. write them."""
    from gen_core.models.blocks import adversarial_loss, to_signed

    model = _model("vaegan")
    model.discriminator.eval()  # no dropout: both ways see the same logits
    x = _batch()
    torch.manual_seed(1)
    terms = model._forward_terms(x)
    feature_reconstruction, fool = model._generator_terms(x, terms)
    critic = model.discriminator
    real_features = critic.features(to_signed(x)).detach()
    fake_features = critic.features(to_signed(terms["reconstructed"]))
    expected_features = 0.5 * (fake_features - real_features).pow(2).sum(1).mean()
    expected_fool = 0.5 * (adversarial_loss(critic(to_signed(terms["reconstructed"])), True)
                           + adversarial_loss(critic(to_signed(terms["prior_sampled"])), True))
    assert torch.allclose(feature_reconstruction, expected_features, rtol=1e-5)
    assert torch.allclose(fool, expected_fool, rtol=1e-5)
    # and the same gradient reaches the decoder
    grads = torch.autograd.grad(feature_reconstruction + fool, list(model.decoder.parameters()), retain_graph=True)
    expected = torch.autograd.grad(expected_features + expected_fool, list(model.decoder.parameters()))
    assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-7) for a, b in zip(grads, expected))
