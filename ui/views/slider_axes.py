"""What each slider of the Latent sliders page moves: one latent dimension, or one principal direction.

Models with a prior get slider ranges of +-3 around 0, where almost all its mass lies; a plain
autoencoder's codes can sit anywhere, so its ranges follow its encoded test set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from gen_core.errors import LatentError, ModelConfigError
from gen_core.latent import LatentPCA, LatentSummary, latent_from_pca_coords

MAX_DIMENSION_SLIDERS = 16
PRIOR_RANGE_STD = 3.0


@dataclass
class SliderAxes:
    """What each slider moves: one latent dimension each, or one principal direction each.

    Coordinates the sliders do not show (the dimensions past the first 16, the directions past
    the ones shown) stay where the starting code put them, so an untouched slider set decodes
    exactly the starting image.
    """

    kind: str  # "dim" or "pc"
    labels: list[str]
    ranges: list[tuple[float, float]]
    dims: list[int] = field(default_factory=list)
    pca: LatentPCA | None = None
    explained: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def coords_of(self, latent) -> list[float]:
        """Slider positions for a code, clipped into each slider's range."""
        values = torch.as_tensor(latent, dtype=torch.float32).reshape(-1)
        if self.kind == "dim":
            raw = values[self.dims].tolist()
        else:
            raw = self.pca.transform(values.unsqueeze(0).numpy())[0, : len(self)].tolist()
        return [min(max(value, low), high) for value, (low, high) in zip(raw, self.ranges)]

    def latent_at(self, coords, base) -> torch.Tensor:
        """The code (D,) with the shown coordinates set to ``coords`` and the rest from ``base``."""
        coords = [float(value) for value in coords]
        if len(coords) != len(self):
            raise LatentError(f"{len(coords)} slider values were given for {len(self)} sliders.")
        base = torch.as_tensor(base, dtype=torch.float32).reshape(-1)
        if self.kind == "dim":
            latent = base.clone()
            latent[self.dims] = torch.tensor(coords)
            return latent
        full = self.pca.transform(base.unsqueeze(0).numpy())[0]
        full[: len(coords)] = coords
        return latent_from_pca_coords(self.pca, full)[0]

    def random_coords(self, seed: int) -> list[float]:
        """Random positions: a draw of about one standard deviation per slider, clipped."""
        generator = np.random.default_rng(int(seed))
        return [float(np.clip(generator.normal(0.0, 1.0) * (high - low) / (2 * PRIOR_RANGE_STD) + (high + low) / 2,
                              low, high)) for low, high in self.ranges]


def dimension_axes(model, summary: LatentSummary | None = None, max_dims: int = MAX_DIMENSION_SLIDERS,
                   n_std: float = PRIOR_RANGE_STD, dims: list[int] | None = None) -> SliderAxes:
    """A slider per latent dimension: ``dims`` (in order), else the first ``max_dims``.

    Models with a prior get +-3 around 0, where almost all its mass lies; a plain AE's codes
    can sit anywhere, so its ranges follow the test codes: mean +- (n_std + 1) std.
    """
    if dims is None:
        dims = list(range(min(model.latent_dim, int(max_dims))))
    dims = sorted({int(d) for d in dims})
    if not dims or dims[0] < 0 or dims[-1] >= model.latent_dim:
        raise LatentError(f"Choose latent dimensions between 1 and {model.latent_dim}.")
    if summary is None or model.has_prior:
        ranges = [(-n_std, n_std) for _ in dims]
    else:
        ranges = [(float(summary.mean[d] - (n_std + 1) * summary.std[d]),
                   float(summary.mean[d] + (n_std + 1) * summary.std[d])) for d in dims]
    return SliderAxes("dim", [f"z{d + 1}" for d in dims], ranges, dims=dims)


def pca_axes(summary: LatentSummary, n_directions: int, n_std: float = PRIOR_RANGE_STD,
             prior: bool = False) -> SliderAxes:
    """A slider per principal direction of the test codes, largest variance first.

    Ranges are ``n_std`` standard deviations of the codes along each direction. With ``prior``
    they reach at least +-n_std too: a prior draw has unit spread along every direction, and
    directions the encoder barely uses would otherwise clip it.
    """
    latent_dim = summary.latents.shape[1]
    if not 1 <= int(n_directions) <= latent_dim:
        raise ModelConfigError(f"Choose between 1 and {latent_dim} principal directions; got {n_directions}.")
    pca = LatentPCA().fit(summary.latents)
    shown = min(int(n_directions), len(pca.components_))
    # A direction the codes never vary along still gets a usable (tiny) slider.
    floor = n_std if prior else 1e-3
    ranges = [(min(low, -floor), max(high, floor)) for low, high in pca.slider_ranges(n_std)[:shown]]
    return SliderAxes("pc", [f"PC {k + 1}" for k in range(shown)], ranges, pca=pca,
                      explained=[float(ratio) for ratio in pca.explained_variance_ratio_[:shown]])


def most_used_dims(summary: LatentSummary | None, latent_dim: int, count: int = MAX_DIMENSION_SLIDERS) -> list[int]:
    """The ``count`` dimensions along which the test codes spread most (in index order): a VAE leaves
    some dimensions unused (their codes stay at the prior), and sliders there change nothing."""
    if summary is None or latent_dim <= count:
        return list(range(min(latent_dim, count)))
    return sorted(torch.argsort(summary.std, descending=True)[:count].tolist())


def sweep_coords(axes: SliderAxes, coords, index: int, frames: int = 24) -> list[list[float]]:
    """Slider positions that move slider ``index`` from its low end to its high end (the others held)."""
    low, high = axes.ranges[index]
    positions = []
    for value in np.linspace(low, high, max(2, int(frames))):
        moved = [float(c) for c in coords]
        moved[index] = float(value)
        positions.append(moved)
    return positions
