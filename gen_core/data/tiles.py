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

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import skimage
import torch

from gen_core.data.access import resolve_data_path, shown_path
from gen_core.data.base import DatasetInfo, ImageDataset, register_dataset
from gen_core.data.options import TILE_OPTIONS
from gen_core.errors import ArchiveError, DatasetError, GenCoreError, ImageInputError
from gen_core.images import archive
from gen_core.images.upload import decode_image
from gen_core.limits import MAX_DATASET_BYTES, MAX_IMAGE_SIDE, MAX_TILE_SET_BYTES, check_image_batch

PLACEMENTS = ("equal", "naive")
EMBEDDED_IMAGES = ("ihc.png", "retina.jpg", "cell.png", "microaneurysms.png",
                   "brick.png", "grass.png", "gravel.png")
MAX_PIXELS = 80_000_000  # decoded images above this are skipped instead of exhausting memory
MAX_FILE_BYTES = 2**30  # and so are files (or zip entries, which may be bombs) above this
_LUMINANCE = np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)  # same weights as skimage


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


# ---------------------------------------------------------------------------- loading

@dataclass
class TileSource:
    """Decoded large images (C, H, W) in [0, 1], and the files that could not be used, with why."""

    images: list[torch.Tensor]
    names: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)

    @property
    def areas(self) -> np.ndarray:
        return np.array([image.shape[1] * image.shape[2] for image in self.images], dtype=np.float64)


class _Unusable(Exception):
    """A file that is read fine but cannot become a tile image (too small, too large)."""


def _scale_to_unit(array: np.ndarray) -> np.ndarray:
    # Integer images use their type's full range (12-bit data in 16-bit files stays dim, as in
    # skimage); anything else is stretched to [0, 1] only when it leaves that range.
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == np.uint16 or (array.dtype.kind in "iu" and 0 <= array.min() and array.max() <= 65535):
        return array.astype(np.float32) / 65535.0
    array = array.astype(np.float32)
    low, high = float(array.min()), float(array.max())
    if low >= 0.0 and high <= 1.0:
        return array
    return (array - low) / (high - low) if high > low else np.zeros_like(array)


def _decode_array(data: bytes) -> np.ndarray:
    """Pixels of one image file, through the one safe image reader (gen_core.images.upload)."""
    try:
        with decode_image(data, MAX_PIXELS) as image:
            if image.mode in ("1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr"):
                return np.asarray(image.convert("L" if image.mode in ("1", "L", "LA", "La") else "RGB"))
            return np.asarray(image)
    except ImageInputError as pil_error:
        if data[:4] not in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+") or "limit" in str(pil_error):
            raise _Unusable(str(pil_error)) from None
    return _read_tiff(data)


def _read_tiff(data: bytes) -> np.ndarray:
    """TIFFs PIL cannot read (float, many channels, odd compression) go to tifffile, the reader
    scikit-image itself uses for TIFF and requires; skimage.io's plugin switch is deprecated.
    Its size is read from the header and checked before any pixel is decoded."""
    import tifffile
    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tiff:
            shape = tiff.series[0].shape
            if int(np.prod(shape)) > 4 * MAX_PIXELS:
                raise _Unusable(f"a {'x'.join(map(str, shape))} TIFF is over {MAX_PIXELS:,} pixels")
            return np.asarray(tiff.asarray())
    except _Unusable:
        raise
    except Exception as error:  # the TIFF stack raises many unrelated types for broken files
        raise _Unusable(f"not a readable TIFF ({str(error)[:120]})") from None


def _decode_image(data: bytes, channels: int, min_size: int) -> torch.Tensor:
    array = _decode_array(data)
    while array.ndim > 3 or (array.ndim == 3 and array.shape[-1] > 4):
        array = array[0]  # first page / plane of a stack
    if array.ndim == 3:
        array = array[..., :3] if array.shape[-1] >= 3 else array[..., :1]
    if array.ndim not in (2, 3) or array.size == 0:
        raise _Unusable(f"unsupported image layout {array.shape}")
    height, width = array.shape[:2]
    if min(height, width) < min_size:
        raise _Unusable(f"{width}x{height} is smaller than the {min_size}-pixel tile")
    pixels = _scale_to_unit(array).reshape(height, width, -1)
    if channels == 1 and pixels.shape[-1] == 3:
        pixels = pixels @ _LUMINANCE[:, None]
    elif channels == 3 and pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))).clamp_(0.0, 1.0)


def _is_hidden(name: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in Path(name).parts)


def _reader(size: int, read):
    def read_checked() -> bytes:
        if size > MAX_FILE_BYTES:
            raise _Unusable(f"the file is over {MAX_FILE_BYTES // 2**20} MiB")
        return read()
    return read_checked


def _named_files(path: Path):
    """(name, read) pairs from a folder, a zip (read in memory, never extracted) or one file."""
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            name = file.relative_to(path).as_posix()
            if not _is_hidden(name):
                yield name, _reader(file.stat().st_size, file.read_bytes)
    elif archive.is_zip(path):
        with archive.SafeZip(path) as zip_file:
            for name in zip_file.unsafe_names:
                yield name, _reader(0, lambda: _refuse("its name points outside the zip"))
            for member in sorted(zip_file.members, key=lambda member: member.name):
                yield member.name, _reader(member.size, lambda member=member: zip_file.read(member, MAX_FILE_BYTES))
    else:
        yield path.name, _reader(path.stat().st_size, path.read_bytes)


def _refuse(reason: str) -> bytes:
    raise _Unusable(reason)


def load_tile_source(path: str | Path | None = None, channels: int = 1, min_size: int = 1) -> TileSource:
    """Decode every usable image under ``path`` (None: scikit-image's bundled photographs)."""
    if channels not in (1, 3):
        raise DatasetError(f"Tiles can have 1 or 3 channels, not {channels}.")
    if path is None:
        folder = Path(skimage.__file__).parent / "data"
        named = [(name, (folder / name).read_bytes) for name in EMBEDDED_IMAGES if (folder / name).is_file()]
    else:
        path = Path(path).expanduser()
        if not path.exists():
            raise DatasetError(f"No file or folder called {shown_path(path)!r}.")
        named = _named_files(path)
    source, decoded_bytes = TileSource(images=[], names=[]), 0
    try:
        for name, read in named:
            try:
                image = _decode_image(read(), channels, min_size)
            except (_Unusable, GenCoreError, OSError, EOFError, ValueError, RuntimeError) as reason:
                source.skipped.append((name, str(reason)))
                continue
            decoded_bytes += image.numel() * image.element_size()
            if decoded_bytes > MAX_DATASET_BYTES:
                raise DatasetError(f"The images add up to more than {MAX_DATASET_BYTES // 2**30} GB once decoded; "
                                 "use fewer or smaller images.")
            source.images.append(image)
            source.names.append(name)
    except (OSError, ArchiveError) as error:
        raise DatasetError(f"Could not read {shown_path(path)!r}: {error}") from None
    if not source.images:
        reasons = "; ".join(f"{name}: {why}" for name, why in source.skipped[:3]) or "it is empty"
        where = shown_path(path) if path is not None else "the embedded set"
        raise DatasetError(f"No usable image in {where!r} ({reasons}).")
    return source


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


def load_tile_dataset(path: str | Path | None = None, tile_size: int = 32, tiles_per_epoch: int = 2000,
                      test_images=None, channels: int = 1, seed: int = 0, test_tiles: int = 500,
                      placement: str = "equal") -> ImageDataset:
    """Square tiles for training on large images; whole images are held out as the test set."""
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
    source = load_tile_source(path, channels=channels, min_size=tile_size)
    cutter = TileCutter(source, tile_size, tiles_per_epoch, _held_out_indices(source, test_images),
                        seed=seed, test_tiles=test_tiles, placement=placement)
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
                                 placement: str = "equal") -> ImageDataset:
    """Registry loader for "tiles": a given path must lie inside the data folders."""
    return load_tile_dataset(None if path is None else resolve_data_path(path), tile_size, tiles_per_epoch,
                             test_images, channels, seed, test_tiles, placement)


register_dataset(DatasetInfo(
    name="tiles",
    description=("Tiles of large images (a folder or zip, or scikit-image's bundled microscopy and "
                 "texture photographs), every pixel equally likely to be seen; one image held out."),
    loader=_load_tiles_from_data_folder,
    offline_check=lambda: True,  # nothing is ever downloaded: user files or files inside skimage
    options=TILE_OPTIONS,
))
