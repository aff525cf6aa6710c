"""What each slider of the Latent sliders page moves: one latent dimension, one principal direction, or
one class direction ("from 4 towards 9", orthonormalised against the directions chosen before it).

Models with a prior get slider ranges of +-3 around 0, where almost all its mass lies; a plain
autoencoder's codes can sit anywhere, so its ranges follow its encoded test set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from gen_core.errors import LatentError, ModelConfigError
from gen_core.latent import (ClassMeans, LatentPCA, LatentSummary, latent_from_pca_coords,
                             orthonormal_directions)

MAX_DIMENSION_SLIDERS = 16
MAX_CLASS_DIRECTIONS = 4
PRIOR_RANGE_STD = 3.0


@dataclass
class SliderAxes:
    """What each slider moves: one latent dimension each, one principal direction each, or one class
    direction each.

    Coordinates the sliders do not show (the dimensions past the first 16, the directions past
    the ones shown, everything off the class directions) stay where the starting code put them, so
    an untouched slider set decodes exactly the starting image.

    A class-direction slider ("a → b") reads 0 where the code sits, along its unit direction u, level
    with class a's mean code, and 1 level with class b's: position = (z·u - mean_a·u) / ((mean_b - mean_a)·u).
    """

    kind: str  # "dim", "pc" or "dir"
    labels: list[str]
    ranges: list[tuple[float, float]]
    dims: list[int] = field(default_factory=list)
    pca: LatentPCA | None = None
    explained: list[float] = field(default_factory=list)
    pairs: list[tuple[int, int]] = field(default_factory=list)  # "dir": (from class, to class) per slider
    units: torch.Tensor | None = None                            # "dir": (K, D) orthonormal directions
    offsets: list[float] = field(default_factory=list)           # "dir": mean_a · u per slider
    scales: list[float] = field(default_factory=list)            # "dir": (mean_b - mean_a) · u per slider

    def __len__(self) -> int:
        return len(self.labels)

    def coords_of(self, latent) -> list[float]:
        """Slider positions for a code, clipped into each slider's range."""
        values = torch.as_tensor(latent, dtype=torch.float32).reshape(-1)
        if self.kind == "dim":
            raw = values[self.dims].tolist()
        elif self.kind == "dir":
            raw = [(float(values @ unit) - offset) / scale
                   for unit, offset, scale in zip(self.units, self.offsets, self.scales)]
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
        if self.kind == "dir":  # replace the base's position along each direction, keep the rest of it
            latent = base.clone()
            for value, unit, offset, scale in zip(coords, self.units, self.offsets, self.scales):
                latent += (offset + scale * value - float(base @ unit)) * unit
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


def class_direction_axes(table: ClassMeans, pairs, latents, n_std: float = PRIOR_RANGE_STD) -> SliderAxes:
    """A slider per chosen class pair (from, to), along its direction made orthonormal to the ones before.

    Each range covers the class means' positions (0 and 1) with room either side, and ``n_std``
    standard deviations of the test ``latents``' positions around their mean.
    """
    pairs = [(int(a), int(b)) for a, b in pairs]
    if not 1 <= len(pairs) <= MAX_CLASS_DIRECTIONS:
        raise LatentError(f"Choose 1 to {MAX_CLASS_DIRECTIONS} class directions; got {len(pairs)}.")
    vectors = torch.stack([table.direction(a, b) for a, b in pairs])
    units = orthonormal_directions(vectors)
    offsets = [float(table.mean_of(a) @ unit) for (a, _b), unit in zip(pairs, units)]
    scales = [float(vector @ unit) for vector, unit in zip(vectors, units)]  # > 0: each unit points along its pair
    along = torch.as_tensor(latents, dtype=torch.float32) @ units.T
    positions = (along - torch.tensor(offsets)) / torch.tensor(scales)  # (N, K): 0 at class a, 1 at class b
    centres, spreads = positions.mean(dim=0), positions.std(dim=0)
    ranges = [(min(-1.0, float(centre - n_std * spread)), max(2.0, float(centre + n_std * spread)))
              for centre, spread in zip(centres, spreads)]
    labels = [f"{table.name(a)} → {table.name(b)}" for a, b in pairs]
    return SliderAxes("dir", labels, ranges, pairs=pairs, units=units, offsets=offsets, scales=scales)


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


def class_pairs(classes) -> list[tuple[int, int]]:
    """Every ordered pair of two different classes: the directions a visitor can choose from."""
    return [(a, b) for a in classes for b in classes if a != b]


def default_class_pairs(classes, class_names, wanted=(("4", "9"), ("1", "7"))) -> list[tuple[int, int]]:
    """4 → 9 and 1 → 7 where the classes have those names (digits), else the first two classes."""
    index = {str(class_names[c]) if c < len(class_names) else str(c): c for c in classes}
    found = [(index[a], index[b]) for a, b in wanted if a in index and b in index]
    return found or ([(classes[0], classes[1])] if len(classes) >= 2 else [])


def pairs_from_link(values, classes) -> tuple[list[tuple[int, int]] | None, str | None]:
    """The class pairs a link's flat list (from, to, from, to...) names, or None and why it cannot be used."""
    values = [int(value) for value in values]
    if not values or len(values) % 2:
        return None, "not pairs of classes (from, to, from, to...)"
    pairs = list(zip(values[::2], values[1::2]))
    allowed = set(class_pairs(classes))
    wrong = next((pair for pair in pairs if pair not in allowed), None)
    if wrong is not None:
        why = "the same class twice" if wrong[0] == wrong[1] else "a class this model's data does not have"
        return None, f"{wrong[0]} → {wrong[1]} is {why}"
    if len(set(pairs)) != len(pairs) or len(pairs) > MAX_CLASS_DIRECTIONS:
        return None, f"repeated pairs, or more than {MAX_CLASS_DIRECTIONS}"
    return pairs, None
