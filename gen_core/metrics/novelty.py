"""How new generated images are: each sample's best-matching training image, and a baseline.

Class samples are checked to be new, not copies, by showing each generated digit beside the
training image it is closest to (by binary cross-entropy, or MSE, the default here). The
distances are computed as matrix products in chunks, so 5,000 x 784 training pixels against a
grid of samples takes milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gen_core.errors import DatasetError, SamplerError
from gen_core.latent import decode_latents, encode_dataset


def _pairwise_distances(samples: torch.Tensor, train: torch.Tensor, metric: str) -> torch.Tensor:
    """(n_samples, n_train) mean per-pixel distance, as matrix products so it runs in bulk."""
    pixels = samples.shape[1]
    if metric == "mse":
        squared = samples.pow(2).sum(1, keepdim=True) + train.pow(2).sum(1) - 2 * samples @ train.T
        return squared.clamp_min(0) / pixels
    # Binary cross-entropy with the generated image as the prediction, the training image as target.
    probabilities = samples.clamp(1e-6, 1 - 1e-6)
    return -(probabilities.log() @ train.T + torch.log1p(-probabilities) @ (1 - train).T) / pixels


def nearest_training_images(samples: torch.Tensor, train_images: torch.Tensor, metric: str = "mse",
                            batch_size: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """For each generated image, the index of the best-matching training image and its distance.

    If every sample sits at a near-zero distance the sampler is copying, not generating. Training
    images are compared in chunks of ``batch_size`` on their own device, so the full training set
    never meets one big matrix.
    """
    if metric not in ("mse", "bce"):
        raise SamplerError(f"Unknown image distance {metric!r}; choose 'mse' or 'bce'.")
    if len(train_images) == 0:
        raise DatasetError("There are no training images to compare the samples with.")
    if samples.shape[1:] != train_images.shape[1:]:
        raise DatasetError(f"Generated images are {tuple(samples.shape[1:])} but the training images are "
                           f"{tuple(train_images.shape[1:])}.")
    flat_samples = samples.flatten(1).float().to(train_images.device)
    best_distances = torch.full((len(samples),), float("inf"), device=train_images.device)
    best_indices = torch.zeros(len(samples), dtype=torch.long, device=train_images.device)
    for first in range(0, len(train_images), batch_size):
        chunk = train_images[first:first + batch_size].flatten(1).float()
        distances, indices = _pairwise_distances(flat_samples, chunk, metric).min(dim=1)
        better = distances < best_distances
        best_distances = torch.where(better, distances, best_distances)
        best_indices = torch.where(better, indices + first, best_indices)
    return best_indices.cpu(), best_distances.cpu()


@dataclass
class NearestMatches:
    """The best-matching training image of each sample: the check that samples are new."""

    indices: torch.Tensor                   # (N,) index into the training set
    distances: torch.Tensor                 # (N,) mean per-pixel distance (MSE or BCE)
    images: torch.Tensor                    # (N, C, H, W) those training images
    reconstructions: torch.Tensor | None    # (N, C, H, W) the model's reconstructions of them


def nearest_matches(model, samples: torch.Tensor, train_images: torch.Tensor, train_latents=None,
                    metric: str = "mse") -> NearestMatches:
    """Each generated image, its best-matching training image, and how the
    model reconstructs that image (from ``train_latents`` when given, so nothing is re-encoded)."""
    indices, distances = nearest_training_images(samples, train_images, metric=metric)
    matched = train_images[indices.to(train_images.device)].float().cpu()
    reconstructed = None
    if train_latents is not None:
        codes = torch.as_tensor(np.asarray(train_latents)[indices.numpy()], dtype=torch.float32)
        reconstructed = decode_latents(model, codes)
    return NearestMatches(indices, distances, matched, reconstructed)


def nearest_matches_by_row(model, rows: list[torch.Tensor], train_images: torch.Tensor, train_latents=None,
                           metric: str = "mse") -> list[NearestMatches]:
    """``nearest_matches`` for a grid given as rows, searched in one pass and split back per row."""
    if not rows:
        return []
    matches = nearest_matches(model, torch.cat(list(rows)), train_images, train_latents, metric=metric)
    bounds = np.cumsum([0] + [len(row) for row in rows])
    return [NearestMatches(matches.indices[start:stop], matches.distances[start:stop], matches.images[start:stop],
                           None if matches.reconstructions is None else matches.reconstructions[start:stop])
            for start, stop in zip(bounds[:-1], bounds[1:])]


def novelty_baseline(model, test_images: torch.Tensor, train_images: torch.Tensor, metric: str = "mse",
                     max_images: int = 500) -> float:
    """Median distance from the model's reconstructions of unseen test images to the training set.

    Decoded images are smoother than real ones, which lowers every distance, so samples are best
    judged against other decoder outputs: a sample about this close to its nearest training
    image is as new as a reconstruction of an image the model never saw; far closer is a copy.
    """
    if model.has_encoder:
        unseen = decode_latents(model, encode_dataset(model, test_images[:max_images]))
    else:
        unseen = test_images[:max_images].float().cpu()
    _indices, distances = nearest_training_images(unseen, train_images, metric=metric)
    return float(distances.median())
