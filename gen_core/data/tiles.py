"""Tile datasets cut from large images, with tile positions that see every pixel equally often.

Equal coverage, per axis. A side of ``length`` pixels is cut by tiles of ``tile`` pixels whose
top-left corner lies in ``[0, length - tile]``. A uniform corner (the naive placement) covers pixel
0 from one position but a central pixel from ``tile`` of them: borders are seen far less often.

Write ``length = k * tile + r``, ``0 <= r < tile``. Every window of ``tile`` pixels holds exactly
one pixel of each residue class modulo ``tile``, so for any corner distribution the coverage
probabilities within one class sum to 1: classes ``< r`` (``k + 1`` pixels) average ``1/(k+1)``,
the others (``k`` pixels) ``1/k``. Hence, for tiles that lie inside the image,

* exactly flat coverage is possible only when ``r == 0``, and only by the grid ``0, tile, ...``;
* otherwise no placement beats a least/most covered ratio of ``k/(k+1)``, and one that is constant
  within every residue class has the smallest variance possible.

The equal placement meets both bounds. It stacks ``j`` tiles from the top edge and ``k + 1 - j``
from the bottom (a cover with one overlap of ``tile - r`` pixels), picks ``j`` uniformly in
``1..k``, then one of the ``k + 1`` tiles. Its corners are the grids ``i * tile`` (weight
``(k - i) / (k (k + 1))``) and ``i * tile + r`` (weight ``(i + 1) / (k (k + 1))``), ``i < k``.
The price of flatness is fewer distinct positions: ``2k`` per axis, not ``length - tile + 1``.

In 2D the corner is drawn per axis independently, so coverage is the outer product of the axis
coverages: flat per axis means flat in 2D. An image is chosen with probability proportional to
its area; as its mean per-pixel coverage is ``tile**2 / area``, pixels of all training images
are then seen equally often too (exactly so where ``tile`` divides both sides).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gen_core.data.access import resolve_data_path
from gen_core.data.base import DatasetInfo, ImageDataset, register_dataset
from gen_core.data.options import TILE_OPTIONS
from gen_core.data.tile_images import EMBEDDED_IMAGES, MAX_FILE_BYTES, MAX_PIXELS, TileSource, load_tile_source
from gen_core.errors import DatasetError
from gen_core.limits import MAX_IMAGE_SIDE, MAX_TILE_SET_BYTES, check_image_batch

__all__ = ["EMBEDDED_IMAGES", "MAX_FILE_BYTES", "MAX_PIXELS", "PLACEMENTS", "TileCutter", "TileDraw", "TileSource",
           "axis_corner_distribution", "coverage_counts", "expected_coverage", "hold_out_strips", "load_tile_dataset",
           "load_tile_source", "sample_corners"]

PLACEMENTS = ("equal", "naive")


# ---------------------------------------------------------------------------- positions

def axis_corner_distribution(length: int, tile: int, placement: str = "equal"):
    """Corner positions along one axis and their probabilities (see the module docstring)."""
    if tile < 1 or length < tile:
        raise DatasetError(f"A {tile}-pixel tile does not fit in a side of {length} pixels.")
    if placement == "naive":
        positions = np.arange(length - tile + 1)
        return positions, np.full(len(positions), 1.0 / len(positions))
    if placement != "equal":
        raise DatasetError(f"Unknown tile placement {placement!r}; choose one of {', '.join(PLACEMENTS)}.")
    k, r = divmod(length, tile)
    grid = np.arange(k)
    if r == 0:
        return grid * tile, np.full(k, 1.0 / k)
    positions = np.concatenate([grid * tile, grid * tile + r])
    weights = np.concatenate([k - grid, grid + 1]) / (k * (k + 1))
    return positions, weights


def sample_corners(image_hw, tile: int, n: int, rng: np.random.Generator,
                   placement: str = "equal") -> np.ndarray:
    """Top-left corners (n, 2) as (row, col), drawn independently per axis."""
    axes = []
    for length in image_hw:
        positions, weights = axis_corner_distribution(int(length), tile, placement)
        axes.append(rng.choice(positions, size=n, p=weights))
    return np.stack(axes, axis=1).astype(np.int64)


def expected_coverage(image_shape_hw, tile_size: int, placement: str = "equal") -> np.ndarray:
    """Exact probability (H, W) that each pixel lies inside one drawn tile."""
    axis_coverages = []
    for length in image_shape_hw:
        positions, weights = axis_corner_distribution(int(length), tile_size, placement)
        corner_weights = np.zeros(int(length) - tile_size + 1)
        corner_weights[positions] = weights
        axis_coverages.append(np.convolve(corner_weights, np.ones(tile_size)))
    return np.outer(*axis_coverages)


def coverage_counts(image_shape_hw, tile_size: int, n_draws: int, placement: str = "equal",
                    seed: int = 0) -> np.ndarray:
    """How often each pixel (H, W) fell inside one of ``n_draws`` drawn tiles (for heat maps)."""
    height, width = (int(v) for v in image_shape_hw)
    corners = sample_corners((height, width), tile_size, n_draws, np.random.default_rng(seed), placement)
    # A 2D difference array: +1 at the tile's corner, -1 past its edges, then cumulative sums.
    edges = np.zeros((height + 1, width + 1), dtype=np.int64)
    rows, cols = corners[:, 0], corners[:, 1]
    np.add.at(edges, (rows, cols), 1)
    np.add.at(edges, (rows + tile_size, cols), -1)
    np.add.at(edges, (rows, cols + tile_size), -1)
    np.add.at(edges, (rows + tile_size, cols + tile_size), 1)
    return edges.cumsum(0).cumsum(1)[:height, :width]


# ---------------------------------------------------------------------------- tiles

@dataclass
class TileDraw:
    """Tiles (N, C, t, t) and where each came from: source image index and (row, col) corner."""

    tiles: torch.Tensor
    image_indices: np.ndarray
    corners: np.ndarray


def _cut_tiles(image: torch.Tensor, corners: np.ndarray, tile: int) -> torch.Tensor:
    offsets = torch.arange(tile, device=image.device)
    rows = torch.as_tensor(corners[:, 0], device=image.device)[:, None] + offsets
    cols = torch.as_tensor(corners[:, 1], device=image.device)[:, None] + offsets
    return image[:, rows[:, :, None], cols[:, None, :]].permute(1, 0, 2, 3).contiguous()


class TileCutter:
    """Draws tiles from in-memory images; called with an epoch it is a dataset's ``resample_train``.

    Training tiles come only from ``train_indices`` and test tiles only from ``test_indices``;
    each draw is seeded by (seed, epoch), so an epoch always gets the same tiles.
    """

    def __init__(self, source: TileSource, tile_size: int, tiles_per_epoch: int,
                 test_indices: list[int], seed: int = 0, test_tiles: int = 500, placement: str = "equal"):
        self.source, self.tile_size, self.placement = source, tile_size, placement
        self.tiles_per_epoch, self.test_tiles, self.seed = tiles_per_epoch, test_tiles, seed
        self.test_indices = sorted(test_indices)
        self.train_indices = [i for i in range(len(source.images)) if i not in self.test_indices]

    def _draw(self, pool: list[int], n: int, rng: np.random.Generator) -> TileDraw:
        areas = self.source.areas[pool]
        image_indices = rng.choice(pool, size=n, p=areas / areas.sum())
        corners = np.zeros((n, 2), dtype=np.int64)
        first = self.source.images[pool[0]]
        tiles = torch.empty((n, first.shape[0], self.tile_size, self.tile_size), device=first.device)
        for index in np.unique(image_indices):
            chosen = np.flatnonzero(image_indices == index)
            image = self.source.images[index]
            corners[chosen] = sample_corners(image.shape[1:], self.tile_size, len(chosen), rng, self.placement)
            placed = torch.as_tensor(chosen, device=first.device)
            tiles[placed] = _cut_tiles(image, corners[chosen], self.tile_size)
        return TileDraw(tiles=tiles, image_indices=image_indices, corners=corners)

    def draw_train(self, epoch: int = 0) -> TileDraw:
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(0, epoch)))
        return self._draw(self.train_indices, self.tiles_per_epoch, rng)

    def draw_test(self) -> TileDraw:
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(1,)))
        return self._draw(self.test_indices, self.test_tiles, rng)

    def __call__(self, epoch: int) -> torch.Tensor:
        return self.draw_train(epoch).tiles

    def to(self, device: torch.device | str) -> "TileCutter":
        """Keep the source images on ``device`` so tiles are cut there (e.g. on the GPU)."""
        self.source.images = [image.to(device) for image in self.source.images]
        return self


def _held_out_indices(source: TileSource, test_images) -> list[int]:
    if len(source.images) < 2:
        raise DatasetError("Tile datasets hold out a whole image for testing, so they need at least "
                           f"two usable images; found {len(source.images)}.")
    if test_images is None:
        return [int(np.argmin(source.areas))]  # the smallest image costs the least training data
    wanted = [test_images] if isinstance(test_images, str) else list(test_images)
    indices = []
    for name in wanted:
        matches = [i for i, known in enumerate(source.names) if name in (known, Path(known).name)]
        if len(matches) != 1:
            raise DatasetError(f"Test image {name!r} is not one of: {', '.join(source.names)}.")
        indices.append(matches[0])
    if not indices or len(set(indices)) >= len(source.images):
        raise DatasetError("Hold out at least one image for testing and keep at least one for training.")
    return sorted(set(indices))


def hold_out_strips(source: TileSource, share: float, tile: int) -> tuple[TileSource, list[int]]:
    """Each image cut in two across its height: the top for training, the bottom ``share`` of its rows
    held out. For a set of one kind of image (one fundus photograph) where no whole image of that
    kind is large enough to hold out: the test tiles then come from the same kind of picture, in
    a region the model never saw. Returns the new source and the indices of the held-out strips."""
    if not (isinstance(share, (int, float)) and 0 < share < 1):
        raise DatasetError(f"The held-out strip must be a share between 0 and 1 of each image's height, got {share!r}.")
    images, names, test_indices = [], [], []
    for name, image in zip(source.names, source.images):
        cut = round(image.shape[1] * (1 - share))
        if min(cut, image.shape[1] - cut) < tile:
            raise DatasetError(f"{name} is {image.shape[1]} pixels high: a {share:.0%} strip and the rest above it "
                               f"must both hold a {tile}-pixel tile.")
        percent = round(100 * share)
        images += [image[:, :cut], image[:, cut:]]
        names += [f"{name} (top {100 - percent}%)", f"{name} (bottom {percent}%)"]
        test_indices.append(len(images) - 1)
    return TileSource(images=images, names=names, skipped=source.skipped), test_indices


def load_tile_dataset(path: str | Path | None = None, tile_size: int = 32, tiles_per_epoch: int = 2000,
                      test_images=None, channels: int = 1, seed: int = 0, test_tiles: int = 500,
                      placement: str = "equal", images: list[str] | None = None,
                      test_strip: float | None = None) -> ImageDataset:
    """Square tiles for training on large images; whole images are held out as the test set, or with
    ``test_strip`` the bottom share of every image's rows. ``images`` picks some of the images."""
    for label, value, lowest in (("tile_size", tile_size, 2), ("tiles_per_epoch", tiles_per_epoch, 1),
                                 ("test_tiles", test_tiles, 1), ("seed", seed, 0)):
        if not isinstance(value, (int, np.integer)) or value < lowest:
            raise DatasetError(f"{label} must be a whole number of at least {lowest}, got {value!r}.")
    if placement not in PLACEMENTS:
        raise DatasetError(f"Unknown tile placement {placement!r}; choose one of {', '.join(PLACEMENTS)}.")
    if tile_size > MAX_IMAGE_SIDE:
        raise DatasetError(f"Tiles of {tile_size} pixels are larger than this server allows (at most {MAX_IMAGE_SIDE}).")
    # Refused before any image is read: every epoch draws this many tiles at once.
    check_image_batch(tiles_per_epoch + test_tiles, (channels, tile_size, tile_size), "tiles", MAX_TILE_SET_BYTES,
                      DatasetError)
    if test_strip is not None and test_images is not None:
        raise DatasetError("Hold out either whole images (test_images) or a strip of each image (test_strip), "
                           "not both.")
    source = load_tile_source(path, channels=channels, min_size=tile_size, images=images)
    if test_strip is None:
        held_out = _held_out_indices(source, test_images)
    else:
        source, held_out = hold_out_strips(source, test_strip, tile_size)
    cutter = TileCutter(source, tile_size, tiles_per_epoch, held_out, seed=seed, test_tiles=test_tiles,
                        placement=placement)
    held_out = ", ".join(source.names[i] for i in cutter.test_indices)
    skipped = f"; {source.skipped_count} file(s) skipped" if source.skipped else ""
    return ImageDataset(
        name="tiles", train_images=cutter.draw_train(0).tiles, test_images=cutter.draw_test().tiles,
        description=(f"{tile_size}x{tile_size} tiles from {len(cutter.train_indices)} image(s); "
                     f"held out for testing: {held_out}{skipped}"),
        resample_train=cutter,
    )


def _load_tiles_from_data_folder(path: str | Path | None = None, tile_size: int = 32, tiles_per_epoch: int = 2000,
                                 test_images=None, channels: int = 1, seed: int = 0, test_tiles: int = 500,
                                 placement: str = "equal", images: list[str] | None = None,
                                 test_strip: float | None = None) -> ImageDataset:
    """Registry loader for "tiles": a given path must lie inside the data folders."""
    return load_tile_dataset(None if path is None else resolve_data_path(path), tile_size, tiles_per_epoch,
                             test_images, channels, seed, test_tiles, placement, images, test_strip)


register_dataset(DatasetInfo(
    name="tiles",
    description=("Tiles of large images (a folder or zip, or scikit-image's bundled microscopy and "
                 "texture photographs), every pixel equally likely to be seen; one image held out."),
    loader=_load_tiles_from_data_folder,
    offline_check=lambda: True,  # nothing is ever downloaded: user files or files inside skimage
    options=TILE_OPTIONS,
))
