"""Distances between two sets of images (or of their features): MMD, Fréchet, nearest neighbours.

Each function takes two point clouds, real and generated, as (N, ...) tensors and flattens them;
which space they live in (pixels, classifier features) is the caller's choice.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
import torch

from gen_core.errors import DatasetError
from gen_core.metrics.novelty import nearest_training_images

MAX_BANDWIDTH_POINTS = 2000  # the median of ~2 M pairwise distances is plenty stable


def _flat64(points: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(points).detach().flatten(1).to("cpu", torch.float64)


def _check_pair(x: torch.Tensor, y: torch.Tensor, minimum: int) -> None:
    if len(x) < minimum or len(y) < minimum:
        raise DatasetError(f"This distance needs at least {minimum} points in each set; got {len(x)} and {len(y)}.")
    if x.shape[1] != y.shape[1]:
        raise DatasetError(f"The two sets have different sizes per point ({x.shape[1]} and {y.shape[1]}).")


def median_heuristic_bandwidth(x: torch.Tensor, y: torch.Tensor) -> float:
    """sigma = the median Euclidean distance between distinct points of the pooled set x ∪ y.

    The usual default for a Gaussian kernel (Gretton et al. 2012): distances much smaller than
    sigma all look alike, much larger ones all look unrelated, so the median sits where the
    kernel discriminates best. Same units as the points (pixel intensities, or feature units).
    """
    pooled = torch.cat([_flat64(x), _flat64(y)])
    if len(pooled) > MAX_BANDWIDTH_POINTS:
        pooled = pooled[torch.randperm(len(pooled), generator=torch.Generator().manual_seed(0))[:MAX_BANDWIDTH_POINTS]]
    distances = torch.pdist(pooled)
    sigma = float(distances.median()) if len(distances) else 0.0
    return sigma if sigma > 0 else 1.0  # all points equal: any bandwidth gives MMD 0


def mmd_squared(x: torch.Tensor, y: torch.Tensor, bandwidth: float | None = None) -> float:
    """Unbiased estimate of the squared maximum mean discrepancy with a Gaussian kernel.

    k(a, b) = exp(-||a - b||^2 / (2 sigma^2)), sigma by the median heuristic unless given, and

        MMD_u^2 = 1/(m(m-1)) sum_{i!=j} k(x_i, x_j) + 1/(n(n-1)) sum_{i!=j} k(y_i, y_j)
                  - 2/(mn) sum_{i,j} k(x_i, y_j)            (Gretton et al. 2012, eq. 3)

    Unitless (kernel values lie in [0, 1]); 0 when both sets come from one distribution, and the
    unbiased form may then dip slightly below 0. Written here because torchmetrics' KID is an
    MMD with a cubic polynomial kernel on Inception features, not this Gaussian-kernel one.
    """
    x, y = _flat64(x), _flat64(y)
    _check_pair(x, y, minimum=2)
    sigma = median_heuristic_bandwidth(x, y) if bandwidth is None else float(bandwidth)
    scale = -1.0 / (2.0 * sigma ** 2)

    def kernel_sum(a: torch.Tensor, b: torch.Tensor, same: bool) -> float:
        values = torch.exp(torch.cdist(a, b).pow(2) * scale)
        return float(values.sum() - (values.diagonal().sum() if same else 0.0))

    m, n = len(x), len(y)
    return (kernel_sum(x, x, True) / (m * (m - 1)) + kernel_sum(y, y, True) / (n * (n - 1))
            - 2.0 * kernel_sum(x, y, False) / (m * n))


def frechet_distance(x_features: torch.Tensor, y_features: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (the formula behind FID).

        d^2 = ||mu_x - mu_y||^2 + Tr(S_x + S_y - 2 (S_x S_y)^(1/2))

    In squared feature units; 0 for identical statistics. The matrix square root is
    ``scipy.linalg.sqrtm``; a near-singular product gets a small ridge first, as pytorch-fid does.
    """
    x, y = _flat64(x_features).numpy(), _flat64(y_features).numpy()
    _check_pair(torch.from_numpy(x), torch.from_numpy(y), minimum=2)
    mean_x, mean_y = x.mean(axis=0), y.mean(axis=0)
    cov_x, cov_y = np.atleast_2d(np.cov(x, rowvar=False)), np.atleast_2d(np.cov(y, rowvar=False))
    with warnings.catch_warnings():  # dead ReLU features make both covariances singular; that is fine
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(cov_x @ cov_y)
    if not np.isfinite(root).all():
        ridge = np.eye(len(cov_x)) * 1e-6
        root = scipy.linalg.sqrtm((cov_x + ridge) @ (cov_y + ridge))
    root = np.real(root)  # rounding leaves tiny imaginary parts
    value = float(np.sum((mean_x - mean_y) ** 2) + np.trace(cov_x) + np.trace(cov_y) - 2.0 * np.trace(root))
    return max(value, 0.0)


def nearest_neighbour_mse(queries: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """Per query image, the mean squared pixel difference to its closest reference image.

    Units: squared intensity per pixel (images in [0, 1]). Samples much closer to the training
    set than real test images are copies, not new images; much farther means off the data.
    """
    _indices, distances = nearest_training_images(queries.float(), references.float(), metric="mse")
    return distances


def mean_pairwise_mse(images: torch.Tensor) -> float:
    """Mean squared pixel difference over all distinct pairs of ``images``: the set's spread.

    Units as ``nearest_neighbour_mse``. A collapsed generator gives a much smaller value than
    the real images do.
    """
    flat = _flat64(images)
    if len(flat) < 2:
        raise DatasetError("The spread of a set needs at least two images.")
    return float(torch.pdist(flat).pow(2).mean() / flat.shape[1])
