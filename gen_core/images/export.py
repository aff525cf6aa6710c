"""Images out: tensors in [0, 1] to PIL images, grids, PNG and GIF bytes."""

from __future__ import annotations

import io
import math
import os
import tempfile
from pathlib import Path
from typing import Sequence, Union

import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.utils import make_grid

TensorOrPil = Union[torch.Tensor, Image.Image]


def to_pil(image: torch.Tensor, upscale: int = 1) -> Image.Image:
    """A (C, H, W) or (H, W) tensor in [0, 1] as an "L" or "RGB" image.

    upscale enlarges by an integer factor with nearest-neighbour so 28x28 digits stay crisp
    on screen instead of being blurred by the browser.
    """
    pixels = image.detach().to("cpu")
    while pixels.ndim > 2 and pixels.shape[0] == 1:  # (1, C, H, W) and (1, H, W)
        pixels = pixels[0]
    if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[0] == 3)):
        raise ValueError(f"expected a (1|3, H, W) or (H, W) image, got shape {tuple(image.shape)}")
    if pixels.dtype != torch.uint8:
        pixels = torch.nan_to_num(pixels.float(), nan=0.0).clamp(0.0, 1.0)
        pixels = pixels.mul(255.0).round().to(torch.uint8)
    array = pixels.numpy() if pixels.ndim == 2 else pixels.permute(1, 2, 0).contiguous().numpy()
    pil_image = Image.fromarray(array)
    factor = _check_upscale(upscale)
    if factor > 1:
        pil_image = pil_image.resize(
            (pil_image.width * factor, pil_image.height * factor), Image.Resampling.NEAREST
        )
    return pil_image


def make_grid_image(
    images: torch.Tensor | Sequence[torch.Tensor],
    nrow: int = 8,
    padding: int = 2,
    pad_value: float = 1.0,
    upscale: int = 1,
) -> Image.Image:
    """Tile a batch into one picture, nrow images per row.

    Tiles are enlarged before tiling so the padding stays `padding` pixels wide on screen:
    the result is rows*(H*upscale+padding)+padding high, with rows = ceil(N / min(nrow, N)).
    """
    batch = _as_batch(images)
    factor = _check_upscale(upscale)
    if factor > 1:
        batch = F.interpolate(batch, scale_factor=factor, mode="nearest")
    grid = make_grid(batch, nrow=nrow, padding=padding, pad_value=pad_value)
    if batch.shape[1] == 1:
        grid = grid[:1]  # make_grid copies grey into three channels; keep the file small
    return to_pil(grid)


def side_by_side(
    rows: Sequence[torch.Tensor],
    padding: int = 2,
    pad_value: float = 1.0,
    upscale: int = 1,
) -> Image.Image:
    """Stack batches as rows of one grid (originals over reconstructions, say).

    Rows may hold different counts; short rows are filled with pad_value tiles. Grey rows are
    shown in colour when any row is in colour.
    """
    batches = [_as_batch(row) for row in rows]
    if not batches:
        raise ValueError("side_by_side needs at least one row of images")
    if len({tuple(batch.shape[2:]) for batch in batches}) > 1:
        raise ValueError("all rows must hold images of the same height and width")
    channels = max(batch.shape[1] for batch in batches)
    columns = max(batch.shape[0] for batch in batches)
    filled = []
    for batch in batches:
        batch = batch.expand(-1, channels, -1, -1)
        blanks = batch.new_full((columns - batch.shape[0], *batch.shape[1:]), pad_value)
        filled.append(torch.cat([batch, blanks]))
    return make_grid_image(torch.cat(filled), nrow=columns, padding=padding,
                           pad_value=pad_value, upscale=upscale)


def png_bytes(image: TensorOrPil) -> bytes:
    """PNG-encode an image; a batch (N > 1) becomes a square-ish grid with default settings."""
    if isinstance(image, torch.Tensor) and image.ndim == 4 and image.shape[0] > 1:
        image = make_grid_image(image, nrow=math.ceil(math.sqrt(image.shape[0])))
    elif isinstance(image, torch.Tensor):
        image = to_pil(image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def save_png_atomic(image: TensorOrPil, path: str | os.PathLike) -> Path:
    """Write a PNG so readers never see half a file: temp file beside it, then os.replace."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    encoded = png_bytes(image)
    handle = tempfile.NamedTemporaryFile(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False
    )
    try:
        with handle:
            handle.write(encoded)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return target


def gif_bytes(
    frames: torch.Tensor | Sequence[torch.Tensor],
    duration_ms: int = 100,
    loop: bool = True,
    boomerang: bool = False,
    upscale: int = 1,
) -> bytes:
    """An animated GIF of (N, C, H, W) frames, e.g. a latent interpolation.

    boomerang plays forward then back without repeating the end frames. GIF delays are in
    10 ms steps and most browsers slow anything under 20 ms down to 100 ms. PIL merges
    identical consecutive frames into one longer frame, so N can shrink on reopening.
    """
    if duration_ms <= 0:
        raise ValueError(f"duration_ms must be positive, got {duration_ms}")
    batch = _as_batch(frames)
    pictures = [to_pil(frame, upscale=upscale) for frame in batch]
    if boomerang and len(pictures) > 2:
        pictures = pictures + pictures[-2:0:-1]
    options = {"loop": 0} if loop else {}
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:],
                     duration=int(duration_ms), **options)
    return buffer.getvalue()


def _as_batch(images: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        images = torch.stack(list(images)) if len(images) else torch.empty(0, 1, 1, 1)
    batch = images.detach().to("cpu").float()
    if batch.ndim == 3:
        batch = batch.unsqueeze(0)
    if batch.ndim != 4 or batch.shape[0] == 0 or batch.shape[1] not in (1, 3):
        raise ValueError(f"expected a non-empty (N, 1|3, H, W) batch, got {tuple(batch.shape)}")
    return batch


def _check_upscale(upscale: int) -> int:
    if int(upscale) != upscale or upscale < 1:
        raise ValueError(f"upscale must be a whole number of at least 1, got {upscale}")
    return int(upscale)
