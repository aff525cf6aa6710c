"""A VAE's encoder as a distribution: KL bars that sum to the KL term, draws, and ellipses that hold
the share of the draws a Gaussian's level sets should."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gen_core.errors import ModelConfigError
from gen_core.latent import (ONE_SIGMA_SHARE, average_kl_per_dimension, build_latent_map, evaluating, has_posterior,
                             image_posterior, mean_activity, posterior_codes, posterior_ellipse, project_to_map,
                             unused_dimensions)

DRAWS = 1000
# Binomial standard deviation of the share of DRAWS independent draws that fall inside: at most 1.6 points.
ONE_SIGMA_SD = math.sqrt(ONE_SIGMA_SHARE * (1 - ONE_SIGMA_SHARE) / DRAWS)
TWO_SIGMA_SHARE = 1 - math.exp(-2)  # inside the two-sigma ellipse of a 2-d Gaussian
TWO_SIGMA_SD = math.sqrt(TWO_SIGMA_SHARE * (1 - TWO_SIGMA_SHARE) / DRAWS)


def _images(count: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(count, 1, 16, 16, generator=torch.Generator().manual_seed(seed))


def test_the_kl_bars_sum_to_the_images_kl_term(build_small):
    model = build_small("vae", latent_dim=4)
    image = _images(1)[0]
    posterior = image_posterior(model, image)
    with evaluating(model):
        kl_term = float(model.loss_terms(image[None])["kl"])  # the KL term of the loss, for this one image
        mu, logvar = model.posterior(image[None])
    assert posterior.kl.shape == (4,) and (posterior.kl >= 0).all()
    assert posterior.total_kl == pytest.approx(kl_term, rel=1e-5)
    np.testing.assert_allclose(posterior.mean, mu[0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(posterior.variance, logvar[0].exp().numpy(), rtol=1e-6)


def test_the_average_kl_is_the_mean_of_the_images_kl_terms(build_small):
    model = build_small("vae", latent_dim=4)
    images = _images(30)
    average = average_kl_per_dimension(model, images)
    assert average.shape == (4,)
    expected = np.mean([image_posterior(model, image).kl for image in images], axis=0)
    np.testing.assert_allclose(average, expected, rtol=1e-5)


def test_a_dimension_whose_mean_never_moves_is_unused_whatever_its_kl(build_small):
    """Activity (Burda et al. 2016) is the variance over images of a dimension's posterior mean. A
    dimension stuck at mean 0 with variance 0.5 costs 0.5 * (0.5 - 1 - ln 0.5) = 0.097 nats of KL
    per image, ten times the threshold, and still says nothing about the image."""
    model = build_small("vae", latent_dim=4)
    with torch.no_grad():
        model.to_mu.weight[0].zero_()
        model.to_mu.bias[0] = 0.0
        model.to_logvar.weight[0].zero_()
        model.to_logvar.bias[0] = math.log(0.5)
    images = _images(30)
    average = average_kl_per_dimension(model, images)
    activity = mean_activity(model, images)
    assert average[0] == pytest.approx(0.5 * (0.5 - 1 - math.log(0.5)), rel=1e-4)
    assert activity[0] == pytest.approx(0.0, abs=1e-12)
    unused = unused_dimensions(activity)
    assert unused[0]
    expected_means = torch.stack([torch.as_tensor(image_posterior(model, image).mean) for image in images])
    np.testing.assert_allclose(activity, expected_means.var(dim=0, unbiased=False).numpy(), rtol=1e-5, atol=1e-12)
    assert model.active_units(images) == int((~unused).sum()) <= 3
    assert unused_dimensions([0.0, 0.01, 0.02]).tolist() == [True, True, False]


def test_posterior_draws_follow_its_mean_and_variance(build_small):
    posterior = image_posterior(build_small("vae", latent_dim=3), _images(1)[0])
    codes = posterior_codes(posterior, 4000, seed=1)
    assert torch.equal(codes, posterior_codes(posterior, 4000, seed=1))
    assert not torch.equal(codes, posterior_codes(posterior, 4000, seed=2))
    # 4,000 draws: the sample mean is within 4 standard errors (sigma / sqrt(4000)) of the mean
    np.testing.assert_array_less(np.abs(codes.double().mean(0).numpy() - posterior.mean),
                                 4 * np.sqrt(posterior.variance / 4000))
    np.testing.assert_allclose(codes.double().var(0).numpy(), posterior.variance, rtol=0.1)


def test_a_two_d_posteriors_one_sigma_ellipse_holds_39_percent_of_its_draws(build_small):
    model = build_small("vae", latent_dim=2)
    images = _images(40)
    latent_map = build_latent_map(model, images)
    posterior = image_posterior(model, images[5])
    ellipse = posterior_ellipse(posterior, latent_map)
    np.testing.assert_allclose(ellipse.centre, latent_map.latents[5], atol=1e-5)  # exact: the map is (z1, z2)
    np.testing.assert_allclose(ellipse.covariance, np.diag(posterior.variance))
    points = project_to_map(posterior_codes(posterior, DRAWS, seed=0), latent_map)
    # The outline drawn is the level set: every point of it at Mahalanobis distance 1 (and 2).
    np.testing.assert_allclose(ellipse.mahalanobis(ellipse.outline(1.0)), 1.0, rtol=1e-6)
    np.testing.assert_allclose(ellipse.mahalanobis(ellipse.outline(2.0)), 2.0, rtol=1e-6)
    # 1 - exp(-1/2) = 39.3% of a 2-d Gaussian lies inside; four binomial SDs (6.2 points) either side
    assert abs(ellipse.contains(points, 1.0).mean() - ONE_SIGMA_SHARE) < 4 * ONE_SIGMA_SD
    assert abs(ellipse.contains(points, 2.0).mean() - TWO_SIGMA_SHARE) < 4 * TWO_SIGMA_SD


def test_a_longer_codes_posterior_is_projected_onto_the_maps_two_axes(build_small):
    model = build_small("vae", latent_dim=6)
    images = _images(40, seed=3)
    latent_map = build_latent_map(model, images)
    posterior = image_posterior(model, images[7])
    ellipse = posterior_ellipse(posterior, latent_map)
    np.testing.assert_allclose(ellipse.centre, latent_map.coords[7], atol=1e-4)  # where the map put the image
    projection = latent_map.pca_components
    np.testing.assert_allclose(ellipse.covariance, projection @ np.diag(posterior.variance) @ projection.T,
                               rtol=1e-6, atol=1e-12)
    points = project_to_map(posterior_codes(posterior, DRAWS, seed=2), latent_map)
    assert abs(ellipse.contains(points, 1.0).mean() - ONE_SIGMA_SHARE) < 4 * ONE_SIGMA_SD


def test_a_model_whose_encoder_returns_a_point_is_refused(build_small):
    autoencoder = build_small("ae", latent_dim=4)
    assert not has_posterior(autoencoder) and has_posterior(build_small("vae"))
    with pytest.raises(ModelConfigError, match="returns a point, not a distribution"):
        image_posterior(autoencoder, _images(1)[0])
    with pytest.raises(ModelConfigError, match="returns a point"):
        average_kl_per_dimension(autoencoder, _images(3))
