"""The k nearest training images: to a code in latent space, and to an image in pixel space.

Side by side they show what the code keeps: neighbours in latent space that look unlike the image
share what the encoder kept (a class, a slant), while pixel neighbours share ink. Distances are
Euclidean or cosine (1 - cos of the angle, from 0 to 2), in float64 so an image that is in the
training set is its own nearest neighbour at distance 0. The training set is compared in chunks,
so no matrix of every query against every training image is ever held.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gen_core.errors import LatentError

NEIGHBOUR_METRICS = ("euclidean", "cosine")
LATENT, PIXEL = "latent", "pixel"


@dataclass(frozen=True)
class Neighbours:
    """The ``k`` nearest training images of one query, nearest first."""

    indices: np.ndarray          # (k,) positions in the training set
    distances: np.ndarray        # (k,) in the metric's unit, ascending
    labels: np.ndarray | None    # (k,) their class ids, or None for unlabelled data
    space: str                   # "latent" or "pixel"
    metric: str                  # "euclidean" or "cosine"


def _as_float64(values) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values),
                           dtype=torch.float64)


def _distances(query: torch.Tensor, references: torch.Tensor, metric: str) -> torch.Tensor:
    if metric == "euclidean":  # the direct form, not |a|^2 + |b|^2 - 2ab, which loses a self-match's zero
        return torch.cdist(query, references, compute_mode="donot_use_mm_for_euclid_dist")
    cosine = (query / query.norm(dim=1, keepdim=True).clamp_min(1e-12)) @ \
        (references / references.norm(dim=1, keepdim=True).clamp_min(1e-12)).T
    return (1.0 - cosine).clamp(0.0, 2.0)


def k_nearest(query, references, k: int = 8, metric: str = "euclidean",
              chunk_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """(indices, distances) of the ``k`` rows of ``references`` nearest to the one ``query`` row
    (both flattened per row), nearest first; fewer when there are fewer references."""
    if metric not in NEIGHBOUR_METRICS:
        raise LatentError(f"Unknown distance {metric!r}; choose {' or '.join(NEIGHBOUR_METRICS)}.")
    if int(k) < 1:
        raise LatentError(f"Ask for at least one neighbour; got k = {k}.")
    query_row = _as_float64(query).reshape(1, -1)  # one code (D,) or one image (C, H, W)
    if len(references) == 0:
        raise LatentError("There are no training images to search.")
    best_distances = torch.empty(0, dtype=torch.float64)
    best_indices = torch.empty(0, dtype=torch.long)
    for first in range(0, len(references), int(chunk_size)):
        chunk = _as_float64(references[first:first + int(chunk_size)]).flatten(1)
        if chunk.shape[1] != query_row.shape[1]:
            raise LatentError(f"The query has {query_row.shape[1]} values but the training rows have "
                              f"{chunk.shape[1]}.")
        distances = torch.cat([best_distances, _distances(query_row, chunk, metric)[0]])
        indices = torch.cat([best_indices, torch.arange(first, first + len(chunk))])
        keep = torch.topk(distances, min(int(k), len(distances)), largest=False, sorted=True).indices
        best_distances, best_indices = distances[keep], indices[keep]
    return best_indices.numpy(), best_distances.numpy()


def _neighbours(query, references, labels, k: int, metric: str, space: str) -> Neighbours:
    indices, distances = k_nearest(query, references, k, metric)
    chosen = None if labels is None else np.asarray(torch.as_tensor(labels).cpu())[indices]
    return Neighbours(indices, distances, chosen, space, metric)


def latent_neighbours(code, train_latents, train_labels=None, k: int = 8, metric: str = "euclidean") -> Neighbours:
    """The training images whose codes lie nearest to ``code`` (D,) in latent space."""
    return _neighbours(code, train_latents, train_labels, k, metric, LATENT)


def pixel_neighbours(image, train_images, train_labels=None, k: int = 8, metric: str = "euclidean") -> Neighbours:
    """The training images nearest to ``image`` (C, H, W) pixel by pixel."""
    return _neighbours(image, train_images, train_labels, k, metric, PIXEL)
