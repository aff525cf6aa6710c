"""Real, reconstructed and generated tiles at one contrast stretch, and each generated tile's nearest
real tile: what the Tiles page lays out side by side.

Low-contrast tiles (grey tissue with faint vessels) all look alike at the plain [0, 1] display; the
page stretches every panel with the same range, taken from the real tiles, so a flat generated
tile still looks flat and a faint vessel as faint as a real one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gen_core.latent.codes import reconstructions
from gen_core.metrics.structure import display_range, rms_contrast, stretch_like
from gen_core.metrics.novelty import nearest_training_images, novelty_baseline


@dataclass
class TilePanels:
    """Tiles ready to show (already stretched when asked), and the stretch used."""

    real: torch.Tensor
    reconstructed: torch.Tensor | None  # None for a model without an encoder (a GAN)
    generated: torch.Tensor
    stretch: tuple[float, float] | None  # (low, high) intensities shown as black and white; None: none
    contrast_real: float  # mean per-tile RMS contrast, before any stretch
    contrast_generated: float


def tile_panels(model, real: torch.Tensor, generated: torch.Tensor, stretched: bool = True) -> TilePanels:
    """The three panels of the Tiles page, each stretched with the real tiles' 1st-99th percentiles."""
    real = real.float().cpu()
    rebuilt = reconstructions(model, real).float().cpu() if model.has_encoder else None
    stretch = display_range(real) if stretched else None

    def shown(images):
        return None if images is None else stretch_like(images, *stretch) if stretch else images

    return TilePanels(real=shown(real), reconstructed=shown(rebuilt), generated=shown(generated), stretch=stretch,
                      contrast_real=float(rms_contrast(real).mean()),
                      contrast_generated=float(rms_contrast(generated).mean()))


@dataclass
class NearestTiles:
    """Each generated tile, the training tile closest to it, and how close a new tile usually is."""

    generated: torch.Tensor
    nearest: torch.Tensor
    distances: torch.Tensor  # mean squared difference per pixel
    baseline: float  # median distance of the model's reconstructions of held-out tiles to the training tiles

    def copies(self, share: float = 0.25) -> int:
        """Tiles much closer to a training tile than a reconstruction of an unseen tile is."""
        return int((self.distances < share * self.baseline).sum())


def nearest_real_tiles(model, generated: torch.Tensor, train_tiles: torch.Tensor,
                       test_tiles: torch.Tensor) -> NearestTiles:
    """The memorisation check: which training tile each generated tile is closest to, and the baseline."""
    indices, distances = nearest_training_images(generated, train_tiles)
    baseline = novelty_baseline(model, test_tiles, train_tiles, max_images=200)
    return NearestTiles(generated=generated, nearest=train_tiles[indices].float().cpu(), distances=distances,
                        baseline=baseline)


def interleave_rows(top: torch.Tensor, bottom: torch.Tensor, columns: int) -> torch.Tensor:
    """Rows of ``columns`` tiles from ``top``, each followed by the matching row from ``bottom``."""
    rows = []
    for first in range(0, len(top), columns):
        rows += [top[first:first + columns], bottom[first:first + columns]]
    return torch.cat(rows)
