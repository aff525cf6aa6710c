"""Two or three coordinates per code by PCA, t-SNE or UMAP: other pictures of the same latent space.

PCA keeps distances along its directions and can be read off axes; t-SNE (van der Maaten and Hinton)
and UMAP (McInnes et al.) keep each code's neighbours together and spread clusters apart, so a
32-d code whose classes overlap in a PCA can still show them apart. Their axes have no units, and
the gaps between clusters and the clusters' sizes mean little.

``project(codes, method, settings, seed)`` validates every setting first (one clear ``LatentError``,
never a library's traceback) and subsamples more than ``max_points`` codes to that many, drawn
without replacement by ``seed``, so the same call gives the same picture and the cost stays bounded.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from gen_core.errors import LatentError

PROJECTION_METHODS = ("pca", "tsne", "umap")
METHOD_LABELS = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
MAX_PROJECTION_POINTS = 2_000  # t-SNE on 2,000 codes takes seconds; the page subsamples larger test sets
MAX_PERPLEXITY = 100.0
MAX_NEIGHBOURS = 200


@dataclass(frozen=True)
class ProjectionSettings:
    """The main knobs: t-SNE's perplexity (about how many neighbours each point weighs), UMAP's
    ``n_neighbors`` (local versus global structure) and ``min_dist`` (how tightly points pack)."""

    dims: int = 2
    perplexity: float = 30.0
    n_neighbors: int = 15
    min_dist: float = 0.1


@dataclass(frozen=True)
class Projection:
    """``points[i]`` are the coordinates of code ``indices[i]`` of the ``total`` codes given."""

    method: str
    points: np.ndarray    # (n, dims) float64
    indices: np.ndarray   # (n,) increasing positions in the codes given
    total: int

    @property
    def subsampled(self) -> bool:
        return len(self.indices) < self.total

    @property
    def label(self) -> str:
        return METHOD_LABELS[self.method]


def subsample_indices(total: int, max_points: int, seed: int) -> np.ndarray:
    """``max_points`` of ``range(total)`` drawn without replacement by ``seed``, in increasing order
    (all of them when there are no more than that)."""
    if total <= max_points:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, size=max_points, replace=False))


def _number(name: str, value, low: float, high: float, integer: bool = False) -> float:
    """``value`` as a finite number in [low, high] (a whole one when ``integer``), else LatentError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise LatentError(f"{name} must be a number, not {type(value).__name__}.")
    if not math.isfinite(float(value)) or (integer and float(value) != int(value)):
        raise LatentError(f"{name} must be a finite {'whole ' if integer else ''}number; got {value!r}.")
    if not low <= value <= high:
        raise LatentError(f"{name} must be from {low:g} to {high:g}; got {value:g}.")
    return int(value) if integer else float(value)


def check_settings(method: str, settings: ProjectionSettings, n_points: int, code_dim: int) -> None:
    """Refuse what the method cannot do with ``n_points`` codes of ``code_dim`` values, in one line."""
    if method not in PROJECTION_METHODS:
        raise LatentError(f"Unknown projection {method!r}; choose one of {', '.join(PROJECTION_METHODS)}.")
    dims = _number("The number of dimensions shown", settings.dims, 2, 3, integer=True)
    if n_points < dims + 2:
        raise LatentError(f"A {dims}-D {METHOD_LABELS[method]} needs at least {dims + 2} codes; there are {n_points}.")
    if method == "pca" and code_dim < dims:
        raise LatentError(f"A {dims}-D PCA needs codes of at least {dims} dimensions; these have {code_dim}.")
    if method == "tsne":
        perplexity = _number("The perplexity", settings.perplexity, 1, MAX_PERPLEXITY)
        if perplexity >= n_points:
            raise LatentError(f"The perplexity ({perplexity:g}) must be less than the number of points "
                              f"({n_points}); try {max(1, min(30, n_points // 4))}.")
    if method == "umap":
        neighbours = _number("The number of neighbours", settings.n_neighbors, 2, MAX_NEIGHBOURS, integer=True)
        if neighbours >= n_points:
            raise LatentError(f"The number of neighbours ({neighbours}) must be less than the number of points "
                              f"({n_points}).")
        _number("The minimum distance", settings.min_dist, 0, 1)  # at most UMAP's spread, 1


def _checked_codes(codes) -> np.ndarray:
    try:
        values = np.asarray(codes, dtype=np.float64)
    except (TypeError, ValueError):
        raise LatentError("Codes to project must be numbers.") from None
    if values.ndim != 2 or values.shape[1] < 1:
        raise LatentError(f"Codes to project have the shape (N, D); got {values.shape}.")
    if not np.isfinite(values).all():
        raise LatentError("Some codes are NaN or infinite (a model that diverged?); they cannot be projected.")
    return values


def project(codes, method: str = "tsne", settings: ProjectionSettings = ProjectionSettings(), seed: int = 0,
            max_points: int = MAX_PROJECTION_POINTS) -> Projection:
    """Project ``codes`` (N, D) to ``settings.dims`` coordinates by ``method``; the same seed gives the
    same points. More than ``max_points`` codes are subsampled first (``Projection.indices``)."""
    values = _checked_codes(codes)
    max_points = _number("The number of points to project", max_points, 1, 10**9, integer=True)
    seed = _number("The seed", seed, 0, 2**32 - 1, integer=True)
    indices = subsample_indices(len(values), max_points, seed)
    check_settings(method, settings, len(indices), values.shape[1])
    chosen = values[indices]
    with warnings.catch_warnings():  # the libraries' advice (threads, spectral start) is not for the visitor
        warnings.simplefilter("ignore")
        if method == "pca":
            points = PCA(n_components=int(settings.dims), svd_solver="full").fit_transform(chosen)
        elif method == "tsne":
            points = TSNE(n_components=int(settings.dims), perplexity=float(settings.perplexity), init="pca",
                          learning_rate="auto", random_state=seed).fit_transform(chosen)
        else:
            points = _umap(chosen, settings, seed)
    return Projection(method, np.asarray(points, dtype=np.float64), indices, len(values))


def _umap(codes: np.ndarray, settings: ProjectionSettings, seed: int) -> np.ndarray:
    # Imported here, not at the top: umap brings numba, whose import and first compilation take
    # seconds, and only a visitor who asks for UMAP should pay for them (not every engine import).
    import umap

    # n_jobs=1: a seeded UMAP runs on one thread anyway (and says so in a warning otherwise).
    reducer = umap.UMAP(n_components=int(settings.dims), n_neighbors=int(settings.n_neighbors),
                        min_dist=float(settings.min_dist), random_state=seed, n_jobs=1)
    return reducer.fit_transform(codes.astype(np.float32))
