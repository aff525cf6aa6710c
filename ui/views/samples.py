"""Page helpers of the Samples page: the per-epoch grids a run saved, and reconstruction rows."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gen_core.images import decode_image
from gen_core.limits import MAX_SAVED_GRID_PIXELS
from gen_core.run import layout


@dataclass(frozen=True)
class EpochGrid:
    epoch: int
    path: Path


def epoch_grids(run_dir) -> list[EpochGrid]:
    """The sample grids the trainer saved, oldest first (gen_core.run.layout)."""
    return [EpochGrid(epoch, path) for epoch, path in layout.sample_grids(run_dir)]


def spread_evenly(items: list, count: int) -> list:
    """At most ``count`` items, evenly spaced, always keeping the first and the last."""
    if count < 1:
        return []
    if len(items) <= count:
        return list(items)
    if count == 1:
        return [items[-1]]
    positions = np.linspace(0, len(items) - 1, count).round().astype(int)
    return [items[position] for position in dict.fromkeys(positions.tolist())]


def epoch_grid_image(grid: EpochGrid, width_px: int = 400) -> Image.Image:
    """A saved grid enlarged (nearest, whole factor) to at least ``width_px``.

    Browsers blur small images they stretch but shrink big ones cleanly, so erring large keeps
    28-pixel digits crisp in a narrow column.
    """
    picture = decode_image(grid.path.read_bytes(), MAX_SAVED_GRID_PIXELS)
    factor = max(1, math.ceil(width_px / max(picture.width, 1)))
    if factor == 1:
        return picture
    return picture.resize((picture.width * factor, picture.height * factor), Image.Resampling.NEAREST)


def random_indices(total: int, count: int, seed: int) -> list[int]:
    """``count`` distinct positions out of ``total`` (all of them when there are fewer), by seed."""
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randperm(int(total), generator=generator)[: max(0, int(count))].tolist()


def reconstruction_rows(originals: torch.Tensor, redrawn: torch.Tensor, per_row: int = 8) -> list[torch.Tensor]:
    """Rows for ``side_by_side``: ``per_row`` originals, then their reconstructions, and so on."""
    rows = []
    for first in range(0, len(originals), per_row):
        rows += [originals[first:first + per_row], redrawn[first:first + per_row]]
    return rows

