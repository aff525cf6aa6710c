"""The training timeline: the same test images encoded at several epochs, and drawn on fixed axes.

At each grid epoch the Trainer encodes a fixed subset of the test set (``timeline_codes``); the run
folder keeps them (gen_core.run.timeline). ``timeline_map`` puts every epoch's codes on one plane,
the last epoch's two principal directions (a 2-d code's own (z1, z2), as on the Latent map), with
axis ranges that hold every epoch, so an animation over the epochs shows the classes separating
and the cloud's scale changing rather than axes rescaling under it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gen_core.errors import LatentError
from gen_core.latent.codes import encode_dataset
from gen_core.latent.pca import LatentPCA
from gen_core.latent.projections import subsample_indices

TIMELINE_IMAGES = 500  # test images a timeline follows (all of a smaller test set)
TIMELINE_SEED = 0  # the same images at every epoch, in every run of one test set
_MARGIN = 0.05  # of each axis's span, left around the points


@dataclass(frozen=True)
class TimelineCodes:
    """The codes of some test images at one epoch."""

    indices: np.ndarray  # (N,) test-set indices, increasing
    codes: np.ndarray    # (N, D) float32 codes (posterior means for VAEs)


def timeline_indices(test_count: int) -> np.ndarray:
    """The test images a timeline follows: up to TIMELINE_IMAGES, drawn once by a fixed seed."""
    return subsample_indices(test_count, TIMELINE_IMAGES, TIMELINE_SEED)


def timeline_codes(model, test_images: torch.Tensor) -> TimelineCodes:
    """Encode the timeline's test images with ``model`` as it stands (eval mode, no gradients)."""
    indices = timeline_indices(len(test_images))
    chosen = test_images[torch.as_tensor(indices, device=test_images.device)]
    return TimelineCodes(indices, encode_dataset(model, chosen).numpy().astype(np.float32))


@dataclass(frozen=True)
class TimelineMap:
    """Every epoch's codes on one plane, with axis ranges that hold them all."""

    epochs: list[int]
    indices: np.ndarray          # (N,) test-set indices, the same at every epoch
    points: list[np.ndarray]     # per epoch, (N, 2) coordinates on the plane
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    axis_titles: tuple[str, str]


def timeline_map(epochs: list[int], frames: list[TimelineCodes]) -> TimelineMap:
    """Project each epoch's codes onto the last epoch's first two principal directions (a 2-d code's
    axes as they are) and fix both axes' ranges over all epochs. Every frame must follow the same
    test images with codes of one length."""
    if not frames or len(epochs) != len(frames):
        raise LatentError("A timeline needs the codes of at least one epoch.")
    last = frames[-1]
    if any(not np.array_equal(frame.indices, last.indices) or frame.codes.shape != last.codes.shape
           for frame in frames):
        raise LatentError("The timeline's epochs do not follow the same test images with codes of one length.")
    latent_dim = last.codes.shape[1]
    if latent_dim == 2:
        points = [frame.codes.astype(np.float64) for frame in frames]
        titles = ("z1", "z2")
    else:
        pca = LatentPCA().fit(last.codes) if len(last.codes) >= 2 else None
        points = [_plane(pca, frame.codes) for frame in frames]
        ratios = pca.explained_variance_ratio_ if pca is not None else np.zeros(2)
        titles = tuple(f"PC {k + 1} of the last epoch" + (f" ({100 * ratios[k]:.0f}%)" if k < len(ratios) else "")
                       for k in range(2))
    every = np.concatenate(points)
    return TimelineMap(list(epochs), last.indices, points, _span(every[:, 0]), _span(every[:, 1]), titles)


def _plane(pca: LatentPCA | None, codes: np.ndarray) -> np.ndarray:
    """(N, 2) coordinates along the first two directions (a 1-d code's second is 0)."""
    plane = np.zeros((len(codes), 2))
    if pca is not None:
        projected = pca.transform(codes)
        plane[:, : min(2, projected.shape[1])] = projected[:, :2]
    return plane


def _span(values: np.ndarray) -> tuple[float, float]:
    low, high = float(values.min()), float(values.max())
    margin = _MARGIN * (high - low) if high > low else 1.0
    return low - margin, high + margin
