"""The latent map's engine: encoding + PCA once, then decoded landmarks from it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gen_core.errors import LatentError, ModelConfigError
from gen_core.latent import (LatentMap, build_latent_map, class_mean_path, decode_latents, decode_map_points,
                             decoded_class_means, manifold_images)
from gen_core.models import build_model


def _model(family: str, latent_dim: int):
    torch.manual_seed(0)
    return build_model(family, hidden=(32,), latent_dim=latent_dim, image_shape=(1, 8, 8)).eval()


def test_map_holds_codes_their_projection_and_a_complete_spectrum(digits_ae_map, digits):
    model, latent_map = digits_ae_map
    assert latent_map.latents.shape == (len(digits.test_images), 6)
    assert latent_map.coords.shape == (len(digits.test_images), 2)
    assert len(latent_map.explained_variance) == 6
    assert np.all(np.diff(latent_map.explained_variance) <= 1e-9)  # largest first
    assert latent_map.explained_variance_ratio.sum() == pytest.approx(1.0)
    # The first coordinate's variance is the first eigenvalue, as for any PCA projection.
    assert latent_map.coords[:, 0].var(ddof=1) == pytest.approx(latent_map.explained_variance[0], rel=1e-3)
    assert latent_map.present_classes() == list(range(10))
    assert latent_map.basis_scale >= 1.0


def test_map_points_decode_from_the_stored_codes(digits_ae_map, digits):
    model, latent_map = digits_ae_map
    images = decode_map_points(model, latent_map, [3, 7])
    with torch.no_grad():
        expected = model.decode(model.encode(digits.test_images[[3, 7]]))
    assert torch.allclose(images, expected, atol=1e-5)


def test_class_means_and_the_path_between_two_of_them(digits_ae_map):
    model, latent_map = digits_ae_map
    means, images = decoded_class_means(model, latent_map)
    assert means.shape == (10, 6) and images.shape == (10, 1, 8, 8)
    np.testing.assert_allclose(means[4].numpy(), latent_map.latents[latent_map.labels == 4].mean(0), atol=1e-5)
    path = class_mean_path(model, latent_map, 1, 7, steps=6)
    assert path.shape == (6, 1, 8, 8)
    assert torch.allclose(path[0], images[1], atol=1e-5) and torch.allclose(path[-1], images[7], atol=1e-5)
    with pytest.raises(LatentError, match="no class labels"):
        decoded_class_means(model, LatentMap(latent_map.latents, latent_map.coords, None))


def test_manifold_grid_only_for_a_two_dimensional_latent(digits_ae_map, digits):
    model, latent_map = digits_ae_map
    with pytest.raises(ModelConfigError, match="2-d latent"):
        manifold_images(model, latent_map)
    vae = _model("vae", 2)
    vae_map = build_latent_map(vae, digits.test_images, digits.test_labels, digits.class_names)
    assert manifold_images(vae, vae_map, n=5).shape == (25, 1, 8, 8)
    ae = _model("ae", 2)
    rng = np.random.default_rng(0)
    codes = (np.array([4.0, -3.0]) + 0.01 * rng.standard_normal((50, 2))).astype(np.float32)
    off_centre = LatentMap(codes, codes, None)
    grid = manifold_images(ae, off_centre, n=4)
    assert grid.shape == (16, 1, 8, 8)
    # An autoencoder's grid covers where its codes are (here a tight cluster far from the origin).
    at_codes = decode_latents(ae, torch.tensor([[4.0, -3.0]]))[0]
    at_origin = decode_latents(ae, torch.zeros(1, 2))[0]
    assert (grid - at_codes).abs().max() < (at_origin - at_codes).abs().max() / 2
