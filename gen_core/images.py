"""Image conversion for the whole project: uploads in, grids, PNGs and GIFs out.

Uploads are untrusted, so decoding is defensive: the declared size is checked against a pixel
budget before any pixel data is decoded, the file is verified before it is loaded, and every
failure becomes an ImageInputError the app can show. Outputs take float tensors in [0, 1].
"""

from __future__ import annotations

import io
import math
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import BinaryIO, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.utils import make_grid

from gen_core.errors import ImageInputError, ModelConfigError

DEFAULT_MAX_PIXELS = 40_000_000
FIT_MODES = ("crop", "pad", "stretch")
BACKGROUNDS = ("auto", "white", "black")

ImageSource = Union[bytes, bytearray, memoryview, BinaryIO]
TensorOrPil = Union[torch.Tensor, Image.Image]

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")


def load_upload(
    data: ImageSource,
    image_shape: Sequence[int] = (1, 28, 28),
    invert: bool = False,
    fit: str = "crop",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    background: str = "auto",
) -> torch.Tensor:
    """Turn an uploaded file into a (C, H, W) float tensor in [0, 1] the model can take.

    fit: "crop" keeps the centre at the target aspect (nothing squashed, edges lost), "pad"
    keeps everything and fills the margins with the image's own border colour, "stretch"
    resizes ignoring aspect. Transparent areas are composited onto a background that contrasts
    with the visible content ("auto": light strokes on transparency land on black, dark ones
    on white), because a drawing on a transparent canvas means nothing without one.
    invert flips dark-on-light drawings into the light-on-dark look of MNIST-style data.
    """
    channels, height, width = _check_target_shape(image_shape)
    if fit not in FIT_MODES:
        raise ValueError(f"fit must be one of {FIT_MODES}, not {fit!r}")
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {BACKGROUNDS}, not {background!r}")
    image = decode_image(_read_bytes(data), max_pixels, least_side=max(height, width))
    image = ImageOps.exif_transpose(image)
    try:
        image = _normalise_mode(image, channels, background)
    except (ValueError, OSError) as error:
        raise ImageInputError(f"Images in PIL mode {image.mode!r} are not supported.") from error
    image = _fit_to_size(image, (width, height), fit)
    pixels = np.asarray(image, dtype=np.float32) / (1.0 if image.mode == "F" else 255.0)
    tensor = torch.from_numpy(np.atleast_3d(pixels).transpose(2, 0, 1).copy()).clamp_(0.0, 1.0)
    tensor = tensor.expand(channels, -1, -1).contiguous()  # grey high-depth data into RGB
    return 1.0 - tensor if invert else tensor


def looks_dark_on_light(image: torch.Tensor) -> bool:
    """Guess whether a drawing is dark strokes on a light page, so a page can pre-tick invert.

    The border is the best witness of the background: strokes rarely touch the edges.
    """
    grey = image.detach().float()
    if grey.ndim == 3:
        grey = grey.mean(dim=0)
    if grey.ndim != 2:
        raise ValueError(f"expected a (C, H, W) or (H, W) image, got shape {tuple(image.shape)}")
    ring = max(1, min(grey.shape) // 10)
    inner = torch.zeros_like(grey, dtype=torch.bool)
    inner[ring:-ring, ring:-ring] = True
    border = grey[~inner]
    return bool(border.numel() and border.mean() > 0.5)


def decode_image(
    data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, least_side: int | None = None
) -> Image.Image:
    """Decode the first frame of an image file, refusing anything unsafe or broken.

    least_side lets JPEG decode at a reduced scale that keeps both sides at least that long,
    which makes a phone photo bound for 28x28 many times faster and smaller to decode.

    PIL's own decompression-bomb warning is raised as an error only inside this call (the
    global Image.MAX_IMAGE_PIXELS is left alone), so the effective limit is the smaller of
    max_pixels and PIL's process-wide setting.
    """
    if not data:
        raise ImageInputError("The file is empty, so there is no image to read.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                _check_pixel_budget(probe.size, max_pixels)
                probe.verify()
            image = Image.open(io.BytesIO(data))
            if least_side is not None:
                image.draft(None, (least_side, least_side))
            image.load()
    except ImageInputError:
        raise
    except UnidentifiedImageError as error:
        raise ImageInputError("This file is not an image PIL can read.") from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageInputError(_bomb_message(error, max_pixels)) from error
    except MemoryError as error:
        raise ImageInputError("The image is too large for the memory available.") from error
    except Exception as error:  # decoders raise many types on corrupt data; all mean the same
        raise ImageInputError(f"The image file is truncated or corrupt ({error}).") from error
    return image


def _read_bytes(data: ImageSource) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if hasattr(data, "read"):
        # Upload widgets hand back the same object on every rerun; rewind so a second read
        # does not silently return nothing.
        if getattr(data, "seekable", lambda: False)():
            data.seek(0)
        return bytes(data.read())
    raise TypeError(f"expected bytes or a file-like object, got {type(data).__name__}")


def _check_target_shape(image_shape: Sequence[int]) -> tuple[int, int, int]:
    if len(image_shape) != 3:
        raise ModelConfigError(f"image_shape must be (C, H, W), got {tuple(image_shape)}.")
    channels, height, width = (int(size) for size in image_shape)
    if channels not in (1, 3) or height < 1 or width < 1:
        raise ModelConfigError(f"image_shape {tuple(image_shape)} needs 1 or 3 channels and "
                               "a positive height and width.")
    return channels, height, width


def _check_pixel_budget(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageInputError(
            f"Image is {width}x{height} = {_megapixels(width * height)}, above the "
            f"{_megapixels(max_pixels)} limit."
        )


def _bomb_message(error: Exception, max_pixels: int) -> str:
    """PIL refuses inside Image.open, before the size is visible, but its message says how many
    pixels the header claimed."""
    claimed = re.search(r"\((\d+) pixels\)", str(error))
    if claimed is None:
        return f"The image is too large to decode safely ({error})."
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    return f"Image is {_megapixels(int(claimed.group(1)))}, above the {_megapixels(limit)} limit."


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.3g} MP"


def _normalise_mode(image: Image.Image, channels: int, background: str) -> Image.Image:
    """Bring any PIL mode to "L" or "RGB" (8-bit) or "F" (high bit depth, already in [0, 1])."""
    if image.mode in _SIXTEEN_BIT_MODES or image.mode == "F":
        return Image.fromarray(_high_depth_to_unit(image))
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in _ALPHA_MODES:
        image = _composite(image.convert("RGBA"), background)
    return image.convert("L" if channels == 1 else "RGB")


def _high_depth_to_unit(image: Image.Image) -> np.ndarray:
    """Integer data ("I;16*" and "I") is read in the 0..65535 range PIL decodes 16-bit files to;
    float data is taken to be in [0, 1] already, as float TIFFs from imaging tools usually are."""
    values = np.nan_to_num(np.asarray(image).astype(np.float32), nan=0.0)
    scale = 1.0 if image.mode == "F" else 65535.0
    return np.clip(values / scale, 0.0, 1.0)


def _composite(rgba: Image.Image, background: str) -> Image.Image:
    if background == "auto":
        # A small copy is enough to judge brightness and keeps big uploads cheap.
        pixels = np.asarray(ImageOps.contain(rgba, (256, 256)), dtype=np.float32) / 255.0
        alpha = pixels[..., 3]
        luminance = pixels[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        content_brightness = (luminance * alpha).sum() / max(alpha.sum(), 1e-6)
        background = "black" if alpha.sum() > 0 and content_brightness > 0.5 else "white"
    fill = (255, 255, 255, 255) if background == "white" else (0, 0, 0, 255)
    return Image.alpha_composite(Image.new("RGBA", rgba.size, fill), rgba).convert("RGB")


def _fit_to_size(image: Image.Image, size: tuple[int, int], fit: str) -> Image.Image:
    resample = Image.Resampling.LANCZOS
    if fit == "pad":
        return ImageOps.pad(image, size, method=resample, color=_border_colour(image))
    box = _centre_crop_box(image.size, size) if fit == "crop" else None
    # reducing_gap shrinks big uploads cheaply first, then LANCZOS finishes the last 2x.
    return image.resize(size, resample=resample, box=box, reducing_gap=2.0)


def _centre_crop_box(source: tuple[int, int], target: tuple[int, int]) -> tuple[float, ...]:
    (width, height), target_aspect = source, target[0] / target[1]
    crop_width, crop_height = width, height
    if width / height > target_aspect:
        crop_width = height * target_aspect
    else:
        crop_height = width / target_aspect
    left, top = (width - crop_width) / 2, (height - crop_height) / 2
    return (left, top, left + crop_width, top + crop_height)


def _border_colour(image: Image.Image) -> float | int | tuple[int, ...]:
    """Median of the outermost pixels, so padding blends into the image's own background."""
    (width, height), channels = image.size, len(image.getbands())
    edges = [(0, 0, width, 1), (0, height - 1, width, height), (0, 0, 1, height),
             (width - 1, 0, width, height)]
    border = np.concatenate([np.asarray(image.crop(box)).reshape(-1, channels) for box in edges])
    median = np.median(border, axis=0)
    if image.mode == "F":
        return float(median[0])
    colour = tuple(int(round(value)) for value in median)
    return colour[0] if channels == 1 else colour


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
