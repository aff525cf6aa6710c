"""Uploads in: untrusted bytes to a float tensor the model can take.

Decoding is defensive: the declared size is checked against a pixel budget before any pixel
data is decoded, the file is verified before it is loaded, and every failure becomes an
ImageInputError the app can show.
"""

from __future__ import annotations

import io
import re
import warnings
from typing import BinaryIO, Sequence, Union

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from gen_core.errors import ImageInputError, ModelConfigError

DEFAULT_MAX_PIXELS = 40_000_000
FIT_MODES = ("crop", "pad", "stretch")
BACKGROUNDS = ("auto", "white", "black")

ImageSource = Union[bytes, bytearray, memoryview, BinaryIO]

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
