"""A folder or .zip of a user's own images (faces, landscapes, ...) as an in-memory dataset.

Every image is centre-cropped to a square and resized once, at load time, so training slices
batches from one tensor. A file that cannot be decoded (a text file, a truncated JPEG, an image
too large to decode safely) is skipped and counted rather than ending the load: one bad file in
a folder of thousands should not cost a user the other thousands. Images are decoded by the one
safe image reader (gen_core.images.upload) and zips read by the one safe zip reader
(gen_core.images.archive): members are read into memory, never extracted, so a member named
``../../x`` cannot write anywhere. The registry's loader reads only inside the data folders
(gen_core.data.access), and the whole set is sized before any image is decoded.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

import numpy as np
import torch
from PIL import Image, ImageOps

from gen_core.data.access import resolve_data_path, shown_path
from gen_core.data.base import ImageDataset
from gen_core.errors import ArchiveError, DatasetError, GenCoreError
from gen_core.images import archive
from gen_core.images.upload import decode_image as decode_safely
from gen_core.limits import MAX_CLASSES, MAX_DATASET_BYTES, check_image_batch

MAX_IMAGE_PIXELS = 50_000_000  # larger images are skipped: decoding one could exhaust memory
MAX_FILE_BYTES = 256 * 2**20
_DECODE_CHUNK = 256  # files read per round; bounds the undecoded bytes held at once
_CHANNEL_NAMES = {"1": 1, "l": 1, "gray": 1, "grey": 1, "grayscale": 1, "greyscale": 1,
                  "3": 3, "rgb": 3, "color": 3, "colour": 3}

_Entry = tuple[PurePosixPath, Callable[[], bytes]]  # (path inside the folder, how to read it)


def load_image_folder(path: str | Path, size: int = 64, channels: int | str = 3,
                      test_fraction: float = 0.1, seed: int = 0) -> tuple[ImageDataset, int]:
    """Load every decodable image under ``path``; return the dataset and how many files were skipped.

    Sub-folders become classes (sorted names) when every image sits in one and there are at
    least two; otherwise the set is unlabeled. The skipped count is also written into the
    dataset's ``description`` so it survives ``load_dataset``.
    """
    size, channel_count, test_fraction = _checked_options(size, channels, test_fraction)
    path = Path(path).expanduser()
    with _entries(path) as (entries, skipped_names):
        check_image_batch(len(entries), (channel_count, size, size), "images", MAX_DATASET_BYTES, DatasetError)
        images, image_paths, unreadable = _decode_all(entries, size, channel_count)
    skipped_names += unreadable
    if not images:
        found = f"; {len(skipped_names)} files could not be read as images" if skipped_names else ""
        raise DatasetError(f"No readable images in {_shown(path)}{found}.")
    labels, class_names = _labels_from_folders(image_paths)
    pixels = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div_(255.0)
    train_index, test_index = _split_indices(len(pixels), labels, test_fraction, seed)
    label_tensor = None if labels is None else torch.as_tensor(labels, dtype=torch.int64)
    dataset = ImageDataset(
        name=path.stem or "folder",
        train_images=pixels[train_index].contiguous(), test_images=pixels[test_index].contiguous(),
        train_labels=None if label_tensor is None else label_tensor[train_index],
        test_labels=None if label_tensor is None else label_tensor[test_index],
        class_names=class_names,
        description=_describe(path, len(images), class_names, size, channel_count, skipped_names))
    return dataset, len(skipped_names)


@dataclass(frozen=True)
class FolderSurvey:
    """What a folder or zip of images would become, read from its listing alone (nothing decoded)."""

    files: int
    classes: int
    decoded_bytes: int  # the float32 images at the requested size


def survey_image_folder(path: str | Path, size: int = 64, channels: int | str = 3,
                        most_bytes: int = MAX_DATASET_BYTES) -> FolderSurvey:
    """Count the images of a folder or zip (a zip's central directory, a folder's listing) and size
    the decoded set, refusing one past ``most_bytes`` or MAX_CLASSES classes before any image is
    decoded: the web server asks this before a job is queued, and only the worker decodes."""
    size, channel_count, _ = _checked_options(size, channels, 0.1)
    path = resolve_data_path(path)
    with _entries(path) as (entries, _):
        paths = [relative for relative, _ in entries]
    check_image_batch(len(paths), (channel_count, size, size), "images", most_bytes, DatasetError)
    _, class_names = _labels_from_folders(paths)
    return FolderSurvey(len(paths), len(class_names), len(paths) * channel_count * size * size * 4)


def load_folder_dataset(path: str | Path, size: int = 64, channels: int | str = 3,
                        test_fraction: float = 0.1, seed: int = 0) -> ImageDataset:
    """Registry loader for "folder": only inside the data folders; the skipped count is in ``description``."""
    return load_image_folder(resolve_data_path(path), size, channels, test_fraction, seed)[0]


def decode_image(data: bytes, size: int, channels: int) -> np.ndarray:
    """Decode one image file to uint8 (size, size, channels); raises on anything unreadable."""
    # JPEGs decode at a reduced scale that keeps both sides at least ``size``.
    with decode_safely(data, MAX_IMAGE_PIXELS, least_side=size) as image:
        image = _to_8bit(ImageOps.exif_transpose(image))
        image = ImageOps.fit(image, (size, size), method=Image.Resampling.LANCZOS)
        pixels = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    return pixels.reshape(size, size, channels)


def _to_8bit(image: Image.Image) -> Image.Image:
    """8-bit L or RGB, scaling 16/32-bit and float pixels (PIL's own convert would clip them)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit sources open as I;16 or I; k * 257 is the 16-bit value of 8-bit k
        values = np.asarray(image, dtype=np.float64)
        return Image.fromarray(np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8), mode="L")
    if image.mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float64))
        low, high = values.min(), values.max()
        scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
        return Image.fromarray(np.rint(scaled * 255).astype(np.uint8), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        # transparent pixels hold arbitrary colours; show them as a white background
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode in ("L", "RGB") else image.convert("RGB")


def _checked_options(size, channels, test_fraction) -> tuple[int, int, float]:
    if isinstance(size, bool) or not isinstance(size, int) or not 4 <= size <= 1024:
        raise DatasetError(f"Image size must be a whole number from 4 to 1024, got {size!r}")
    channel_count = _CHANNEL_NAMES.get(str(channels).strip().lower())
    if channel_count is None:
        raise DatasetError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
    if not isinstance(test_fraction, (int, float)) or not 0 < test_fraction < 1:
        raise DatasetError(f"test_fraction must be between 0 and 1, got {test_fraction!r}")
    return size, channel_count, float(test_fraction)


@contextmanager
def _entries(path: Path) -> Iterator[tuple[list[_Entry], list[str]]]:
    """The candidate image files under a folder or inside a zip, plus names refused up front."""
    if path.is_dir():
        yield _folder_entries(path)
    elif archive.is_zip(path):
        try:
            zip_file = archive.SafeZip(path)
        except ArchiveError as error:
            raise DatasetError(f"{_shown(path)}: {error}") from None
        with zip_file:
            yield _zip_entries(zip_file)
    elif path.exists():
        raise DatasetError(f"{_shown(path)} is neither a folder nor a .zip file of images.")
    else:
        raise DatasetError(f"No folder or .zip file called {_shown(path)!r}.")


def _shown(path: Path) -> str:
    return shown_path(path)


def _folder_entries(root: Path) -> tuple[list[_Entry], list[str]]:
    entries, refused = [], []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for file_name in sorted(files):
            file_path = Path(folder) / file_name
            if file_name.startswith("."):
                continue  # .DS_Store and other hidden files are not meant as images
            relative = PurePosixPath(file_path.relative_to(root).as_posix())
            if not file_path.is_file() or file_path.stat().st_size > MAX_FILE_BYTES:
                refused.append(str(relative))
            else:
                entries.append((relative, file_path.read_bytes))
    return entries, refused


def _zip_entries(zip_file: archive.SafeZip) -> tuple[list[_Entry], list[str]]:
    entries, refused = [], list(zip_file.unsafe_names)
    for member in sorted(zip_file.members, key=lambda member: member.name):
        if member.size > MAX_FILE_BYTES:
            refused.append(member.name)
        else:
            entries.append((member.path, lambda member=member: zip_file.read(member, MAX_FILE_BYTES)))
    return entries, refused


def _decode_all(entries: list[_Entry], size: int, channels: int):
    """Decode in a few threads (PIL releases the GIL while decoding); keep the input order."""
    images, image_paths, unreadable = [], [], []

    def decode_or_none(data: bytes | None) -> np.ndarray | None:
        try:
            return None if data is None else decode_image(data, size, channels)
        except Exception:  # any decoding failure means the same thing: this file is not usable
            return None

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for start in range(0, len(entries), _DECODE_CHUNK):
            chunk = entries[start:start + _DECODE_CHUNK]
            contents = [_read_or_none(read) for _, read in chunk]
            for (relative, _), pixels in zip(chunk, pool.map(decode_or_none, contents)):
                if pixels is None:
                    unreadable.append(str(relative))
                else:
                    images.append(pixels)
                    image_paths.append(relative)
    return images, image_paths, unreadable


def _read_or_none(read: Callable[[], bytes]) -> bytes | None:
    try:
        return read()
    except (OSError, GenCoreError):  # an unreadable file, or a damaged, encrypted or oversized zip member
        return None


def _labels_from_folders(image_paths: list[PurePosixPath]) -> tuple[list[int] | None, list[str]]:
    """Class = first sub-folder, after dropping folders that every image shares (zip roots)."""
    parts = [path.parts for path in image_paths]
    while all(len(p) > 1 for p in parts) and len({p[0] for p in parts}) == 1:
        parts = [p[1:] for p in parts]
    if not all(len(p) > 1 for p in parts):
        return None, []
    class_names = sorted({p[0] for p in parts})
    if len(class_names) > MAX_CLASSES:
        raise DatasetError(f"{len(class_names):,} sub-folders would make {len(class_names):,} classes; this server "
                           f"allows at most {MAX_CLASSES}. Put the images in fewer folders (or in one).")
    index_of = {name: index for index, name in enumerate(class_names)}
    return [index_of[p[0]] for p in parts], class_names


def _split_indices(count: int, labels: list[int] | None, test_fraction: float, seed: int):
    if count < 2:
        raise DatasetError("A dataset needs at least 2 readable images (one to train on, one to test).")
    from sklearn.model_selection import train_test_split  # imported late: sklearn takes ~1 s to import

    indices = np.arange(count)
    try:  # stratified when it can be: sklearn refuses a class with one image or too small a test set
        if labels is not None:
            return train_test_split(indices, test_size=test_fraction, random_state=seed, stratify=labels)
    except ValueError:
        pass
    try:
        return train_test_split(indices, test_size=test_fraction, random_state=seed)
    except ValueError as error:
        raise DatasetError(f"Cannot split {count} images with test_fraction={test_fraction}: {error}") from error


def _describe(path: Path, count: int, class_names: list[str], size: int, channels: int,
              skipped_names: list[str]) -> str:
    kind = f"{len(class_names)} classes" if class_names else "unlabeled"
    text = f"{count} images from {path.name} ({kind}), {size}x{size} {'grayscale' if channels == 1 else 'RGB'}"
    if skipped_names:
        shown = ", ".join(skipped_names[:3]) + (", ..." if len(skipped_names) > 3 else "")
        text += f"; skipped {len(skipped_names)} unreadable or non-image files ({shown})"
    return text
