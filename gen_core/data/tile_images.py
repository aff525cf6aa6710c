"""The large images tiles are cut from: decoded from a folder, a zip or scikit-image's own photographs.

Every file goes through the one safe image reader (gen_core.images.upload) and every zip through
the one zip reader (gen_core.images.archive); TIFFs PIL cannot read go to tifffile, sized from
their header first. A file that cannot be used is skipped with its reason; the decoded images
together are held to gen_core.limits.MAX_DATASET_BYTES.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import skimage
import torch

from gen_core.data.access import shown_path
from gen_core.errors import ArchiveError, DatasetError, GenCoreError, ImageInputError
from gen_core.images import archive
from gen_core.images.upload import decode_image
from gen_core.limits import MAX_DATASET_BYTES

EMBEDDED_IMAGES = ("ihc.png", "retina.jpg", "cell.png", "microaneurysms.png",
                   "brick.png", "grass.png", "gravel.png")
MAX_PIXELS = 80_000_000  # decoded images above this are skipped instead of exhausting memory
MAX_FILE_BYTES = 2**30  # and so are files (or zip entries, which may be bombs) above this
_LUMINANCE = np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)  # same weights as skimage


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


def _only(named, wanted: list[str] | None):
    """The (name, read) pairs whose name, or file name, is one of ``wanted`` (None: all)."""
    if wanted is None:
        yield from named
        return
    for name, read in named:
        if name in wanted or Path(name).name in wanted:
            yield name, read


def load_tile_source(path: str | Path | None = None, channels: int = 1, min_size: int = 1,
                     images: list[str] | None = None) -> TileSource:
    """Decode every usable image under ``path`` (None: scikit-image's bundled photographs); with
    ``images``, only those named (e.g. ``["retina.jpg"]`` of the embedded set)."""
    if channels not in (1, 3):
        raise DatasetError(f"Tiles can have 1 or 3 channels, not {channels}.")
    wanted = None if images is None else [images] if isinstance(images, str) else [str(name) for name in images]
    if wanted is not None and not wanted:
        raise DatasetError("Name at least one image to cut tiles from, or leave the list out for all of them.")
    if path is None:
        folder = Path(skimage.__file__).parent / "data"
        named = [(name, (folder / name).read_bytes) for name in EMBEDDED_IMAGES if (folder / name).is_file()]
    else:
        path = Path(path).expanduser()
        if not path.exists():
            raise DatasetError(f"No file or folder called {shown_path(path)!r}.")
        named = _named_files(path)
    named = _only(named, wanted)
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
    missing = [name for name in wanted or [] if not any(name in (known, Path(known).name)
                                                          for known in source.names + [n for n, _ in source.skipped])]
    if missing:
        known = ", ".join(EMBEDDED_IMAGES) if path is None else "the files there"
        raise DatasetError(f"No image called {', '.join(map(repr, missing))} (choose from {known}).")
    if not source.images:
        reasons = "; ".join(f"{name}: {why}" for name, why in source.skipped[:3]) or "it is empty"
        where = shown_path(path) if path is not None else "the embedded set"
        raise DatasetError(f"No usable image in {where!r} ({reasons}).")
    return source
