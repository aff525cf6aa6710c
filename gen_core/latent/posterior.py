"""The encoder as a distribution: a VAE's posterior q(z|x) = N(mu, diag(sigma^2)) for one image.

A VAE's encoder returns a Gaussian, not a point. For one image this module gives its mean and
variance, its KL term per latent dimension (the bars sum to that image's KL term in the loss),
codes drawn from it, and its one- and two-sigma ellipses on the latent map: exact in the plane of
a 2-d code; for a longer code the Gaussian projected onto the map's two principal directions
P (2 x D), whose covariance is P diag(sigma^2) P^T (a projected Gaussian is Gaussian, so these
ellipses hold the same shares of the projected draws). Dimensions whose posterior mean hardly
moves over the test set (variance at most ``ACTIVITY_THRESHOLD``) are the ones the model does not
use (its "active units" are the others).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gen_core.errors import LatentError, ModelConfigError
from gen_core.latent.codes import check_images_fit, evaluating
from gen_core.latent.pca import LatentMap
from gen_core.models.blocks import kl_per_dimension
from gen_core.models.vae import ACTIVITY_THRESHOLD

ONE_SIGMA_SHARE = 1 - np.exp(-0.5)  # of a 2-d Gaussian's mass inside its one-sigma ellipse: about 39%


@dataclass(frozen=True)
class Posterior:
    """q(z|x) of one image: a diagonal Gaussian, and its KL to the prior per dimension (nats)."""

    mean: np.ndarray       # (D,)
    variance: np.ndarray   # (D,) sigma^2
    kl: np.ndarray         # (D,) KL(N(mu_i, sigma_i^2) || N(0, 1)); they sum to the image's KL term

    @property
    def total_kl(self) -> float:
        return float(self.kl.sum())


@dataclass(frozen=True)
class Ellipse:
    """A 2-d Gaussian's level sets: the points at Mahalanobis distance ``n_sigma`` from its centre."""

    centre: np.ndarray      # (2,)
    covariance: np.ndarray  # (2, 2)

    def outline(self, n_sigma: float = 1.0, points: int = 97) -> np.ndarray:
        """(points, 2) along the ellipse, the first point repeated last so a line closes it."""
        eigenvalues, eigenvectors = np.linalg.eigh(self.covariance)
        angles = np.linspace(0.0, 2 * np.pi, int(points))
        circle = np.stack([np.cos(angles), np.sin(angles)], axis=1)
        return self.centre + float(n_sigma) * (circle * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T

    def mahalanobis(self, points) -> np.ndarray:
        offsets = np.atleast_2d(np.asarray(points, dtype=np.float64)) - self.centre
        return np.sqrt(np.einsum("ni,ij,nj->n", offsets, np.linalg.pinv(self.covariance), offsets))

    def contains(self, points, n_sigma: float = 1.0) -> np.ndarray:
        """Whether each (x, y) point lies inside the ``n_sigma`` ellipse."""
        return self.mahalanobis(points) <= float(n_sigma)


def has_posterior(model) -> bool:
    """Whether the model's encoder returns a Gaussian (mean and log-variance): VAEs and the VAE-GAN."""
    return bool(getattr(model, "is_variational", False)) and hasattr(model, "posterior")


def _check_posterior(model) -> None:
    if not has_posterior(model):
        raise ModelConfigError(f"This {model.family or 'model'} model's encoder returns a point, not a "
                               "distribution; only a VAE's encoder gives a mean and a variance.")


def image_posterior(model, image: torch.Tensor) -> Posterior:
    """The posterior of one image (C, H, W) or (1, C, H, W)."""
    _check_posterior(model)
    batch = torch.as_tensor(image, dtype=torch.float32)
    batch = batch.unsqueeze(0) if batch.ndim == 3 else batch
    check_images_fit(model, batch)
    if len(batch) != 1:
        raise LatentError(f"One image at a time, please; got {len(batch)}.")
    with evaluating(model):
        mu, logvar = (value.float().cpu() for value in model.posterior(batch.to(model.device)))
    kl = kl_per_dimension(mu, logvar)[0]
    return Posterior(mu[0].double().numpy(), logvar[0].exp().double().numpy(), kl.double().numpy())


def average_kl_per_dimension(model, images: torch.Tensor) -> np.ndarray:
    """(D,) the KL term of each dimension averaged over ``images`` (the test set, say)."""
    _check_posterior(model)
    check_images_fit(model, images)
    with evaluating(model):
        return model.average_kl_per_dimension(images).numpy()


def mean_activity(model, images: torch.Tensor) -> np.ndarray:
    """(D,) the variance over ``images`` of each dimension's posterior mean (its activity)."""
    _check_posterior(model)
    check_images_fit(model, images)
    with evaluating(model):
        return model.mean_activity(images).numpy()


def unused_dimensions(activity) -> np.ndarray:
    """(D,) True where a dimension carries no information: activity at most ACTIVITY_THRESHOLD."""
    return np.asarray(activity) <= ACTIVITY_THRESHOLD


def posterior_codes(posterior: Posterior, n: int = 8, seed: int = 0) -> torch.Tensor:
    """``n`` codes drawn from the posterior, mu + sigma * eps; the same seed, the same codes."""
    if int(n) < 1:
        raise LatentError(f"Draw at least one code from the posterior; got {n}.")
    generator = torch.Generator().manual_seed(int(seed))
    noise = torch.randn(int(n), len(posterior.mean), generator=generator, dtype=torch.float64)
    codes = torch.as_tensor(posterior.mean) + torch.as_tensor(np.sqrt(posterior.variance)) * noise
    return codes.float()


def map_projection(latent_map: LatentMap) -> tuple[np.ndarray, np.ndarray]:
    """(P, origin) such that a code z sits on the map at P (z - origin): the identity for a 2-d code
    (the map shows z1, z2 as they are), else the first two principal directions and the codes' mean."""
    if latent_map.latent_dim == 2:
        return np.eye(2), np.zeros(2)
    components = np.asarray(latent_map.pca_components, dtype=np.float64)
    if components.ndim != 2 or not 1 <= len(components) <= 2 or components.shape[1] != latent_map.latent_dim:
        raise LatentError("This latent map keeps no principal directions to project onto; build it again.")
    projection = np.zeros((2, latent_map.latent_dim))
    projection[:len(components)] = components[:2]  # a 1-d code: the map's second axis is flat
    return projection, np.asarray(latent_map.pca_mean, dtype=np.float64)


def posterior_ellipse(posterior: Posterior, latent_map: LatentMap) -> Ellipse:
    """The posterior on the map's plane: centre P (mu - origin), covariance P diag(sigma^2) P^T."""
    projection, origin = map_projection(latent_map)
    centre = projection @ (posterior.mean - origin)
    covariance = (projection * posterior.variance) @ projection.T
    return Ellipse(centre, covariance)


def project_to_map(codes, latent_map: LatentMap) -> np.ndarray:
    """(N, 2) map positions of codes (N, D), as the map places the test set."""
    projection, origin = map_projection(latent_map)
    values = np.asarray(codes.detach().cpu() if isinstance(codes, torch.Tensor) else codes, dtype=np.float64)
    return (values - origin) @ projection.T
