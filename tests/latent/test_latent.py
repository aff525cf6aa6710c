"""Latent-space tools on a tiny linear model, so these tests do not depend on the real families."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from gen_core.errors import GenCoreError, LatentError, ModelConfigError
from gen_core.latent import (FOUND_BY_ENCODER, FOUND_BY_OPTIMISATION, LatentPCA, class_means, convex_combinations,
                             decode_latents, decoded_basis_vectors, encode_dataset, interpolate, invert_generator,
                             latent_from_pca_coords, latents_for, lerp, manifold_coordinates, manifold_grid, mix, slerp)
from gen_core.models.base import GenerativeModel


@dataclass
class TinyConfig:
    latent_dim: int = 4
    image_shape: tuple = (1, 8, 8)


class TinyLinearModel(GenerativeModel):
    """Linear encoder, linear decoder + sigmoid, on 8x8 images; a batch norm makes eval mode matter."""

    family = "tiny"

    def __init__(self, config: TinyConfig) -> None:
        super().__init__(config)
        pixels = int(np.prod(config.image_shape))
        self.encoder = nn.Linear(pixels, config.latent_dim)
        self.decoder = nn.Linear(config.latent_dim, pixels)
        self.norm = nn.BatchNorm1d(pixels)

    def encode(self, x):
        return self.encoder(x.flatten(1))

    def decode(self, z):
        return torch.sigmoid(self.norm(self.decoder(z))).view(-1, *self.image_shape)


class TinyGenerator(TinyLinearModel):
    family = "tiny-gan"
    has_encoder = False


@pytest.fixture
def model() -> TinyLinearModel:
    torch.manual_seed(0)
    return TinyLinearModel(TinyConfig())


def test_encode_dataset_shapes_batches_and_restores_mode(model):
    images = torch.rand(37, 1, 8, 8)
    model.train()
    latents = encode_dataset(model, images, batch_size=10)
    assert latents.shape == (37, 4) and latents.device.type == "cpu"
    assert torch.allclose(latents, model.encoder(images.flatten(1)).detach(), atol=1e-6)
    assert model.training  # put back the way it was found


def test_encode_dataset_refuses_models_without_an_encoder():
    generator = TinyGenerator(TinyConfig())
    with pytest.raises(ModelConfigError, match="no encoder"):
        encode_dataset(generator, torch.rand(2, 1, 8, 8))


def test_wrong_image_shape_is_a_typed_error(model):
    with pytest.raises(ModelConfigError, match=r"\(3, 8, 8\)"):
        encode_dataset(model, torch.rand(2, 3, 8, 8))


def test_decoding_does_not_touch_batch_norm_statistics(model):
    before = model.norm.running_mean.clone()
    model.train()
    images = decode_latents(model, torch.randn(1, 4))  # batch norm in train mode would fail on one code
    assert images.shape == (1, 1, 8, 8)
    assert torch.equal(model.norm.running_mean, before)


def test_pca_eigenvalues_are_sorted_and_match_the_sample_covariance():
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(300, 6)) * np.array([5.0, 3.0, 2.0, 1.0, 0.5, 0.1])
    pca = LatentPCA().fit(torch.as_tensor(latents, dtype=torch.float32))
    expected = np.sort(np.linalg.eigvalsh(np.cov(latents, rowvar=False)))[::-1]
    assert np.all(np.diff(pca.explained_variance_) <= 0)
    np.testing.assert_allclose(pca.explained_variance_, expected, rtol=1e-4)
    np.testing.assert_allclose(pca.explained_variance_ratio_.sum(), 1.0, rtol=1e-6)
    assert pca.components_.shape == (6, 6) and pca.mean_.shape == (6,)
    assert pca.transform(latents).shape == (300, 6)
    np.testing.assert_allclose(pca.inverse_transform(pca.transform(latents)), latents, atol=1e-4)


def test_pca_rejects_impossible_component_counts():
    with pytest.raises(LatentError, match="components"):
        LatentPCA(n_components=9).fit(np.random.default_rng(0).normal(size=(20, 4)))


def test_pca_coordinates_map_back_to_latents():
    rng = np.random.default_rng(1)
    latents = rng.normal(size=(200, 10)) * np.linspace(3, 0.1, 10)
    pca = LatentPCA().fit(latents)
    at_mean = latent_from_pca_coords(pca, [0.0, 0.0])
    np.testing.assert_allclose(at_mean[0].numpy(), pca.mean_, atol=1e-5)
    one_step = latent_from_pca_coords(pca, [2.0])[0].numpy()
    np.testing.assert_allclose(one_step - pca.mean_, 2.0 * pca.components_[0], atol=1e-5)
    low, high = pca.slider_ranges(n_std=3.0)[0]
    assert high == pytest.approx(3.0 * math.sqrt(pca.explained_variance_[0])) and low == -high
    with pytest.raises(LatentError):
        latent_from_pca_coords(pca, np.zeros(11))


def test_lerp_includes_both_ends_and_its_midpoint():
    z0, z1 = torch.tensor([0.0, 2.0, -4.0]), torch.tensor([2.0, 4.0, 0.0])
    path = lerp(z0, z1, 5)
    assert path.shape == (5, 3)
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)
    assert torch.allclose(path[2], torch.tensor([1.0, 3.0, -2.0]))


def test_slerp_keeps_unit_vectors_on_the_sphere():
    generator = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(16, generator=generator), torch.randn(16, generator=generator)
    z0, z1 = z0 / z0.norm(), z1 / z1.norm()
    path = slerp(z0, z1, 9)
    assert torch.allclose(path[0], z0, atol=1e-6) and torch.allclose(path[-1], z1, atol=1e-6)
    assert torch.allclose(path.norm(dim=1), torch.ones(9), atol=1e-5)
    assert lerp(z0, z1, 9)[4].norm() < 0.99  # the straight line dips inside the sphere


def test_slerp_falls_back_to_lerp_for_parallel_vectors():
    z0 = torch.tensor([1.0, 2.0, 3.0])
    path = slerp(z0, 2 * z0, 3)
    assert torch.isfinite(path).all()
    assert torch.allclose(path, lerp(z0, 2 * z0, 3))


def test_interpolate_and_mix_decode_the_right_codes(model):
    z0, z1 = torch.randn(4), torch.randn(4)
    images = interpolate(model, z0, z1, steps=6, method="slerp")
    assert images.shape == (6, 1, 8, 8)
    assert images.min() >= 0 and images.max() <= 1
    expected_start = decode_latents(model, z0.unsqueeze(0))
    assert torch.allclose(mix(model, z0, z1, 0), expected_start)
    assert torch.allclose(mix(model, z0, z1, 100), decode_latents(model, z1.unsqueeze(0)))
    assert torch.allclose(mix(model, z0, z1, 50), decode_latents(model, ((z0 + z1) / 2).unsqueeze(0)), atol=1e-6)
    assert torch.allclose(mix(model, z0, z1, 0, method="slerp"), expected_start, atol=1e-6)
    with pytest.raises(LatentError):
        mix(model, z0, z1, 120)
    with pytest.raises(LatentError):
        interpolate(model, z0, z1, steps=5, method="cubic")


def test_inversion_recovers_a_known_latent_and_leaves_the_model_alone():
    torch.manual_seed(3)
    generator = TinyGenerator(TinyConfig(latent_dim=3))
    generator.norm = nn.Identity()  # keep the generator injective and well conditioned
    nn.init.normal_(generator.decoder.weight, std=1.0)
    weights_before = {name: value.clone() for name, value in generator.state_dict().items()}
    true_latents = torch.tensor([[0.5, -1.0, 0.8], [-0.3, 0.2, 1.2]])
    targets = decode_latents(generator, true_latents)
    calls = []
    latents, errors = invert_generator(generator, targets, steps=300, lr=0.05, restarts=2, seed=0,
                                       progress=lambda fraction, message: calls.append(fraction))
    assert latents.shape == (2, 3) and errors.shape == (2,)
    assert errors.max() < 1e-4
    assert torch.allclose(latents, true_latents, atol=0.05)
    for name, value in generator.state_dict().items():
        assert torch.equal(value, weights_before[name]), name
    assert all(parameter.requires_grad and parameter.grad is None for parameter in generator.parameters())
    assert calls and calls[-1] == pytest.approx(1.0) and calls == sorted(calls)


def test_inversion_is_deterministic_for_a_seed():
    generator = TinyGenerator(TinyConfig())
    targets = torch.rand(3, 1, 8, 8)
    first, _ = invert_generator(generator, targets, steps=20, seed=7)
    second, _ = invert_generator(generator, targets, steps=20, seed=7)
    assert torch.equal(first, second)


def test_latents_for_says_how_the_latents_were_found(model):
    images = torch.rand(4, 1, 8, 8)
    latents, how = latents_for(model, images)
    assert how == FOUND_BY_ENCODER and latents.shape == (4, 4)
    latents, how = latents_for(TinyGenerator(TinyConfig()), images, steps=5)
    assert how == FOUND_BY_OPTIMISATION and latents.shape == (4, 4)


def test_decoded_basis_vectors(model):
    images = decoded_basis_vectors(model, scale=2.0)
    assert images.shape == (4, 1, 8, 8)
    assert torch.allclose(images[1], decode_latents(model, torch.tensor([[0.0, 2.0, 0.0, 0.0]]))[0])
    wide = TinyLinearModel(TinyConfig(latent_dim=100))
    assert decoded_basis_vectors(wide, max_vectors=64).shape == (64, 1, 8, 8)


def test_class_means_and_convex_combinations(model):
    latents = torch.tensor([[0.0, 0.0, 0, 0], [2.0, 2.0, 0, 0], [10.0, 0.0, 0, 0], [12.0, 4.0, 0, 0]])
    means = class_means(latents, torch.tensor([0, 0, 1, 1]))
    assert torch.allclose(means, torch.tensor([[1.0, 1.0, 0, 0], [11.0, 2.0, 0, 0]]))
    images = convex_combinations(model, means[0], means[1], steps=7)
    assert images.shape == (7, 1, 8, 8)
    assert torch.allclose(images[0], decode_latents(model, means[:1])[0])
    with pytest.raises(LatentError, match="class 1"):
        class_means(latents, torch.tensor([0, 0, 2, 2]))


def test_manifold_grid_covers_gaussian_quantiles():
    coordinates = manifold_coordinates(n=5)
    assert coordinates.shape == (25, 2)
    assert coordinates[0, 0] == pytest.approx(-1.6449, abs=1e-3)  # norm.ppf(0.05), left column
    assert coordinates[0, 1] == pytest.approx(1.6449, abs=1e-3)  # top row is the high end
    assert torch.allclose(manifold_coordinates(n=3, span=3.0)[:, 0], torch.tensor([-3.0, 0, 3] * 3))
    flat = TinyLinearModel(TinyConfig(latent_dim=2))
    assert manifold_grid(flat, n=4).shape == (16, 1, 8, 8)


def test_manifold_grid_needs_a_two_dimensional_latent(model):
    with pytest.raises(ModelConfigError, match="2-d"):
        manifold_grid(model)


def test_typed_errors_share_the_engine_base():
    with pytest.raises(GenCoreError):
        lerp(torch.zeros(3), torch.zeros(4), 3)
    with pytest.raises(GenCoreError):
        lerp(torch.zeros(3), torch.ones(3), 1)


def test_real_autoencoder_round_trip(trained_digits_ae):
    """A trained autoencoder's codes decode back to its test digits far better than the mean digit
    does, and an interpolation starts and ends at the two decoded codes."""
    from gen_core.data import load_dataset
    from gen_core.metrics import ssim_per_image
    from gen_core.run.checkpoint import load_run

    model = load_run(trained_digits_ae).model.eval()
    digits = load_dataset("digits")
    images = digits.test_images
    latents, how = latents_for(model, images)
    assert how == FOUND_BY_ENCODER and latents.shape == (len(images), 8)
    reconstructions = decode_latents(model, latents)
    error = float((reconstructions - images).pow(2).mean())
    mean_digit_error = float((digits.train_images.mean(0, keepdim=True) - images).pow(2).mean())
    assert error < 0.4 * mean_digit_error, (error, mean_digit_error)
    assert float(ssim_per_image(reconstructions, images).mean()) > 0.7
    path = interpolate(model, latents[0], latents[1], steps=4)
    assert path.shape == (4, 1, 8, 8)
    assert torch.allclose(path[0], reconstructions[0], atol=1e-6)
    assert torch.allclose(path[-1], reconstructions[1], atol=1e-6)


def test_real_dcgan_inversion_leaves_weights_and_statistics_alone():
    from gen_core.models import build_model

    model = build_model("dcgan", latent_dim=8, image_shape=(1, 16, 16), gen_channels=(16, 8), disc_channels=(8,))
    state_before = {name: value.clone() for name, value in model.state_dict().items()}
    latents, how = latents_for(model, torch.rand(3, 1, 16, 16), steps=5)
    assert how == FOUND_BY_OPTIMISATION and latents.shape == (3, 8)
    assert all(torch.equal(value, state_before[name]) for name, value in model.state_dict().items())
