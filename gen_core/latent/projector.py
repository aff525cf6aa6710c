"""A folder for TensorBoard's Embedding Projector: the codes, labels and thumbnails of a set of images.

TensorBoard (``tensorboard --logdir DIR``, the Projector tab) reads ``projector_config.pbtxt`` in a
log folder and, when there is no checkpoint beside it, the tensors it names as TSV files:

    tensors.tsv              one row of latent values per image, tab-separated
    metadata.tsv             a header row (``label``, ``index``), then one row per image, same order
    sprite.png               the images as a square grid, row by row from the top left, same order
    projector_config.pbtxt   points at the three, with the size of one thumbnail

The projector loads the sprite as one WebGL texture of at most 8192 x 8192 pixels, so when
``ceil(sqrt(n))`` images of full size would not fit across, the thumbnails are made smaller.
"""

from __future__ import annotations

import io
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gen_core.atomic import write_bytes_atomic
from gen_core.errors import LatentError

TENSORS_FILE = "tensors.tsv"
METADATA_FILE = "metadata.tsv"
SPRITE_FILE = "sprite.png"
PROJECTOR_CONFIG_FILE = "projector_config.pbtxt"
PROJECTOR_FILES = (TENSORS_FILE, METADATA_FILE, SPRITE_FILE, PROJECTOR_CONFIG_FILE)
MAX_SPRITE_SIDE = 8192  # pixels: the projector's texture limit


@dataclass(frozen=True)
class ProjectorExport:
    """The four files, ready to write into a folder or to zip."""

    files: dict[str, bytes]       # file name -> content, in PROJECTOR_FILES order
    count: int                    # images (rows of both TSV files)
    thumbnail: tuple[int, int]    # (width, height) of one image in the sprite

    def write(self, folder: Path) -> list[Path]:
        """Each file written atomically into ``folder`` (which must exist); returns their paths."""
        paths = []
        for name, content in self.files.items():
            write_bytes_atomic(Path(folder) / name, content)
            paths.append(Path(folder) / name)
        return paths

    def zip_bytes(self, folder: str = "projector") -> bytes:
        """A zip holding the files in one folder, so unzipping makes a log folder for TensorBoard."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in self.files.items():
                archive.writestr(f"{folder}/{name}", content)
        return buffer.getvalue()


def projector_export(latents, images: torch.Tensor, labels=None, class_names=(), indices=None,
                     name: str = "latent codes") -> ProjectorExport:
    """The projector's files for ``images`` and their codes ``latents`` (one row each, same order).

    ``labels`` are class ids (written as their ``class_names`` when there are names); ``indices``
    are the images' positions in their dataset (0, 1, 2... when not given), so a point in the
    projector can be found again as that test image in the app.
    """
    codes = np.asarray(latents.detach().cpu() if isinstance(latents, torch.Tensor) else latents, dtype=np.float32)
    if codes.ndim != 2 or len(codes) == 0:
        raise LatentError(f"The projector needs at least one latent code of shape (N, D); got {codes.shape}.")
    if len(images) != len(codes):
        raise LatentError(f"{len(images)} images were given for {len(codes)} latent codes.")
    positions = np.arange(len(codes)) if indices is None else np.asarray(indices).reshape(-1)
    label_values = None if labels is None else np.asarray(torch.as_tensor(labels).cpu()).reshape(-1)
    if len(positions) != len(codes) or (label_values is not None and len(label_values) != len(codes)):
        raise LatentError("The labels and indices must give one value per latent code.")
    sprite, thumbnail = sprite_image(images)
    files = {TENSORS_FILE: _tensors_tsv(codes),
             METADATA_FILE: _metadata_tsv(label_values, list(class_names), positions),
             SPRITE_FILE: _png(sprite),
             PROJECTOR_CONFIG_FILE: projector_config(name, thumbnail).encode()}
    return ProjectorExport(files, len(codes), thumbnail)


def sprite_image(images: torch.Tensor, max_side: int = MAX_SPRITE_SIDE) -> tuple[Image.Image, tuple[int, int]]:
    """The images as a square sprite of ``ceil(sqrt(n))`` thumbnails a side (empty cells black), and
    the (width, height) of a thumbnail: the images' own size, or smaller so the sprite fits ``max_side``."""
    batch = torch.as_tensor(images).detach().cpu().float()
    if batch.ndim != 4 or len(batch) == 0 or batch.shape[1] not in (1, 3):
        raise LatentError(f"The sprite needs a non-empty (N, 1|3, H, W) batch of images; got {tuple(batch.shape)}.")
    count, channels, height, width = batch.shape
    columns = math.ceil(math.sqrt(count))
    scale = min(1.0, max_side / (columns * max(height, width)))
    thumb_height, thumb_width = int(height * scale), int(width * scale)
    if min(thumb_height, thumb_width) < 1:
        raise LatentError(f"{count:,} images do not fit in a {max_side} x {max_side} sprite; export fewer.")
    if (thumb_height, thumb_width) != (height, width):
        batch = torch.cat([F.interpolate(chunk, size=(thumb_height, thumb_width), mode="area")
                           for chunk in batch.split(4096)])
    pixels = torch.nan_to_num(batch, nan=0.0).clamp(0, 1).mul(255).round().to(torch.uint8)
    sheet = torch.zeros(columns * columns, channels, thumb_height, thumb_width, dtype=torch.uint8)
    sheet[:count] = pixels
    # (row, column, C, h, w) -> (row, h, column, w, C): the thumbnails laid out row by row.
    sheet = sheet.reshape(columns, columns, channels, thumb_height, thumb_width).permute(0, 3, 1, 4, 2)
    array = sheet.reshape(columns * thumb_height, columns * thumb_width, channels).numpy()
    picture = Image.fromarray(array[:, :, 0] if channels == 1 else array)
    return picture, (thumb_width, thumb_height)


def projector_config(name: str, thumbnail: tuple[int, int]) -> str:
    """``projector_config.pbtxt`` (protobuf text format) naming the three files beside it."""
    width, height = thumbnail
    return ("embeddings {\n"
            f"  tensor_name: {_pbtxt_string(name)}\n"
            f"  tensor_path: \"{TENSORS_FILE}\"\n"
            f"  metadata_path: \"{METADATA_FILE}\"\n"
            "  sprite {\n"
            f"    image_path: \"{SPRITE_FILE}\"\n"
            f"    single_image_dim: {int(width)}\n"
            f"    single_image_dim: {int(height)}\n"
            "  }\n"
            "}\n")


def _tensors_tsv(codes: np.ndarray) -> bytes:
    buffer = io.StringIO()
    np.savetxt(buffer, codes, fmt="%.6g", delimiter="\t")
    return buffer.getvalue().encode()


def _metadata_tsv(labels, class_names: list, positions) -> bytes:
    """A header row, then one ``label<TAB>index`` row per image; no label is an empty field."""
    def label_text(label) -> str:
        if label is None:
            return ""
        label = int(label)
        return _tsv_field(class_names[label] if 0 <= label < len(class_names) else label)
    rows = ["label\tindex"] + [f"{label_text(None if labels is None else labels[row])}\t{int(position)}"
                               for row, position in enumerate(positions)]
    return ("\n".join(rows) + "\n").encode()


def _tsv_field(value) -> str:
    """A class name as one TSV field: tabs and line breaks (from a folder name, say) become spaces."""
    return " ".join(str(value).replace("\t", " ").splitlines()).strip()


def _pbtxt_string(text: str) -> str:
    printable = "".join(character for character in str(text) if character.isprintable())
    return '"' + printable.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()
