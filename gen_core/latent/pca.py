"""Principal directions of latent codes, and the summaries pages build on them.

``LatentPCA`` is shaped like a scikit-learn estimator. ``summarise_latents`` keeps an encoded
test set with its spread (slider ranges for autoencoders come from it), and ``build_latent_map``
is the 2-D PCA picture of the test set: encoding and PCA done once, so a page
can cache the result and redraw its figures cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.decomposition import PCA

from gen_core.errors import LatentError
from gen_core.latent.codes import encode_dataset


def _as_numpy(latents) -> np.ndarray:
    if isinstance(latents, torch.Tensor):
        latents = latents.detach().cpu().numpy()
    return np.asarray(latents, dtype=np.float64)


class LatentPCA:
    """PCA of latent codes, shaped like a scikit-learn estimator.

    ``explained_variance_`` holds the eigenvalues of the sample covariance:
    a slow decay means the code really uses all its dimensions and a 2-D projection hides a lot.
    """

    def __init__(self, n_components: int | None = None) -> None:
        self.n_components = n_components

    def fit(self, latents) -> "LatentPCA":
        values = _as_numpy(latents)
        if values.ndim != 2 or len(values) < 2:
            raise LatentError(f"PCA needs at least two latent codes of shape (N, D); got {values.shape}.")
        if self.n_components is not None and not 1 <= self.n_components <= min(values.shape):
            raise LatentError(f"PCA of {values.shape} latents keeps 1 to {min(values.shape)} components, "
                               f"not {self.n_components}.")
        self.pca_ = PCA(n_components=self.n_components, svd_solver="full").fit(values)
        self.components_ = self.pca_.components_
        self.explained_variance_ = self.pca_.explained_variance_
        self.explained_variance_ratio_ = self.pca_.explained_variance_ratio_
        self.mean_ = self.pca_.mean_
        return self

    def transform(self, latents) -> np.ndarray:
        """Coordinates along the principal directions (column 0 and 1 give the 2-D projection)."""
        return self.pca_.transform(_as_numpy(latents))

    def inverse_transform(self, coords) -> np.ndarray:
        return self.pca_.inverse_transform(np.atleast_2d(_as_numpy(coords)))

    def slider_ranges(self, n_std: float = 3.0) -> list[tuple[float, float]]:
        """(low, high) per principal direction: ``n_std`` standard deviations either side."""
        stds = np.sqrt(self.explained_variance_)
        return [(-n_std * float(std), n_std * float(std)) for std in stds]


def latent_from_pca_coords(pca: LatentPCA, coords) -> torch.Tensor:
    """Latent codes (N, D) for coordinates along the first principal directions.

    ``coords`` may hold fewer values than the PCA has components (one per slider shown);
    the rest stay at zero, i.e. at the mean of the data along those directions.
    """
    coords = np.atleast_2d(_as_numpy(coords))
    n_kept = len(pca.components_)
    if coords.shape[1] > n_kept:
        raise LatentError(f"{coords.shape[1]} coordinates were given but the PCA keeps {n_kept} directions.")
    padded = np.zeros((len(coords), n_kept))
    padded[:, : coords.shape[1]] = coords
    return torch.as_tensor(pca.inverse_transform(padded), dtype=torch.float32)



# -- what the encoded test set says about the latent space -----------------------------------
@dataclass
class LatentSummary:
    """Test-set codes and their per-dimension spread, computed once per model and cached."""

    latents: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor


def summarise_latents(model, images: torch.Tensor, max_images: int = 10_000) -> LatentSummary:
    """Encode (up to ``max_images``) test images; the spread sets slider ranges for AEs."""
    latents = encode_dataset(model, images[:max_images])
    if len(latents) < 2:
        raise LatentError("At least two test images are needed to see how the codes spread.")
    return LatentSummary(latents, latents.mean(dim=0), latents.std(dim=0).clamp_min(1e-6))


# -- the latent map: the 2-D PCA picture of the encoded test set -------------------------------
@dataclass
class LatentMap:
    """Codes of the test set with their 2-D PCA coordinates and the eigenvalue spectrum."""

    latents: np.ndarray                     # (N, D) float32 codes (posterior means for VAEs)
    coords: np.ndarray                      # (N, 2) coordinates along the first two directions
    labels: np.ndarray | None               # (N,) class ids, or None for unlabelled data
    class_names: list[str] = field(default_factory=list)
    explained_variance: np.ndarray = field(default_factory=lambda: np.empty(0))
    explained_variance_ratio: np.ndarray = field(default_factory=lambda: np.empty(0))
    pca_components: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))  # (2, D): the map's axes
    pca_mean: np.ndarray = field(default_factory=lambda: np.empty(0))             # (D,): the codes' mean

    @property
    def latent_dim(self) -> int:
        return int(self.latents.shape[1])

    @property
    def basis_scale(self) -> float:
        """A basis-vector length that reaches where codes actually are: three typical spreads.

        Unit vectors decode to a blur near the mean when codes spread over several units.
        """
        return max(1.0, round(3 * self.code_spread, 1))

    @property
    def code_spread(self) -> float:
        """Typical standard deviation of one latent coordinate: what "one unit" means here."""
        return float(self.latents.std(axis=0).mean()) if len(self.latents) > 1 else 1.0

    def class_name(self, label: int) -> str:
        return self.class_names[label] if 0 <= label < len(self.class_names) else str(label)

    def present_classes(self) -> list[int]:
        return [] if self.labels is None else sorted(int(label) for label in np.unique(self.labels))


def build_latent_map(model, images: torch.Tensor, labels: torch.Tensor | None = None,
                     class_names=()) -> LatentMap:
    """Encode ``images`` and fit the PCA (every component, so the spectrum is complete)."""
    latents = encode_dataset(model, images)
    if len(latents) < 2:
        raise LatentError("The latent map needs at least two test images; this dataset has fewer.")
    pca = LatentPCA().fit(latents)
    projected = pca.transform(latents)
    coords = np.zeros((len(latents), 2))
    coords[:, : min(2, projected.shape[1])] = projected[:, :2]
    label_values = None if labels is None else torch.as_tensor(labels).cpu().numpy().astype(np.int64)
    return LatentMap(latents.numpy().astype(np.float32), coords.astype(np.float32), label_values,
                     list(class_names), np.asarray(pca.explained_variance_),
                     np.asarray(pca.explained_variance_ratio_), np.asarray(pca.components_[:2]), np.asarray(pca.mean_))
