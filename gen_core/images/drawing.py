"""A drawing in: pixels from a drawing pad to a (C, H, W) tensor framed as the training digits are.

MNIST's digits were size-normalised to fit a 20x20 box (keeping their aspect ratio), then placed
in a 28x28 field so that their centre of mass sits at its centre. A drawing made on a large pad
is framed the same way (``frame_drawing``), so the model sees a digit of the size, thickness and
place it learnt from, wherever on the pad it was drawn; other image sizes keep the proportions
(a 20/28 box, centre of mass at the middle). A training image goes through unchanged, or moved by
a pixel at most: it already is framed so.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image

from gen_core.errors import EmptyDrawingError, ImageInputError
from gen_core.images.upload import _check_target_shape

MAX_DRAWING_PIXELS = 2048 * 2048  # a 280-pixel pad rendered at the densest screens' pixel ratio fits easily
BOX_SHARE = 20 / 28               # the digit's box within the field, as MNIST's 20 in 28
INK_FLOOR = 0.5 / 255             # below half a step of an 8-bit pixel counts as blank page
_LUMINANCE = (np.float32(0.299), np.float32(0.587), np.float32(0.114))


def frame_drawing(pixels, image_shape: Sequence[int] = (1, 28, 28),
                  max_pixels: int = MAX_DRAWING_PIXELS) -> torch.Tensor:
    """A drawing as a model-ready (C, H, W) float tensor in [0, 1], framed like MNIST's digits.

    ``pixels``: an (H, W) array of ink, or (H, W, 3) RGB, or (H, W, 4) RGBA composited over
    black; integers in 0..255 or floats in [0, 1]; light strokes on a dark (or transparent)
    page, as the pad draws them. The ink is cropped to its bounding box, scaled so its longer
    side fills the box (a 20-pixel box in a 28-pixel field), and placed so its centre of mass
    lands on the field's centre. Raises EmptyDrawingError for a blank page, ImageInputError for
    anything else.
    """
    channels, height, width = _check_target_shape(image_shape)
    ink = _ink(pixels, max_pixels)
    rows, columns = np.nonzero(ink > INK_FLOOR)
    if len(rows) == 0:
        raise EmptyDrawingError("The drawing is empty: draw a digit first.")
    ink = ink[rows.min():rows.max() + 1, columns.min():columns.max() + 1]
    digit = _scale_into_box(ink, max(1, round(height * BOX_SHARE)), max(1, round(width * BOX_SHARE)))
    framed = np.zeros((height, width), dtype=np.float32)
    top, left = _centre_of_mass_offset(digit, height, width)
    framed[top:top + digit.shape[0], left:left + digit.shape[1]] = digit
    return torch.from_numpy(framed)[None].expand(channels, -1, -1).contiguous()


def _ink(pixels, max_pixels: int) -> np.ndarray:
    """(H, W) float32 ink in [0, 1] from any accepted array, refusing the rest before copying it."""
    if isinstance(pixels, torch.Tensor):
        pixels = pixels.detach().cpu().numpy()
    if not isinstance(pixels, np.ndarray):
        raise ImageInputError(f"A drawing is an array of pixels, not a {type(pixels).__name__}.")
    shape = tuple(pixels.shape)
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and shape[2] not in (1, 3, 4)):
        raise ImageInputError(f"A drawing is height x width pixels, grey or with 3 or 4 colour channels; "
                              f"this one has shape {shape}.")
    if shape[0] < 1 or shape[1] < 1:
        raise ImageInputError(f"The drawing has no pixels (shape {shape}).")
    if shape[0] * shape[1] > max_pixels:
        raise ImageInputError(f"The drawing is {shape[1]}x{shape[0]} pixels, above the limit of "
                              f"{max_pixels:,} pixels.")
    if pixels.dtype.kind not in "biuf":
        raise ImageInputError(f"A drawing's pixels are numbers; these are {pixels.dtype}.")
    values = pixels.reshape(shape[0], shape[1], -1)  # a view: each channel is copied once, as float32, below
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise ImageInputError("The drawing has pixels that are not numbers (NaN or infinite).")
    top = 1.0 if values.dtype.kind in "bf" else 255.0
    low, high = float(values.min()), float(values.max())
    if low < 0 or high > top:
        raise ImageInputError(f"A drawing's pixels lie between 0 and {top:g}; these reach from {low:g} to {high:g}.")

    def channel(index: int) -> np.ndarray:
        return values[..., index].astype(np.float32) / np.float32(top)

    if values.shape[2] == 1:
        return channel(0)
    grey = sum(weight * channel(index) for index, weight in enumerate(_LUMINANCE))
    return grey * channel(3) if values.shape[2] == 4 else grey


def _scale_into_box(ink: np.ndarray, box_height: int, box_width: int) -> np.ndarray:
    """The ink resized (aspect kept) so its longer side fills the box; as it is when it already does."""
    scale = min(box_height / ink.shape[0], box_width / ink.shape[1])
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))  # PIL's (width, height)
    if size == (ink.shape[1], ink.shape[0]):
        return ink.astype(np.float32)
    resized = Image.fromarray(ink.astype(np.float32)).resize(size, resample=Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)  # Lanczos rings a little below 0 and above 1


def _centre_of_mass_offset(digit: np.ndarray, height: int, width: int) -> tuple[int, int]:
    """Where the digit's top-left corner goes so its centre of mass lands on the field's centre
    (pixel (14, 14) of 28x28, where MNIST's centres of mass sit), kept inside the field."""
    mass = float(digit.sum())
    if mass <= 0:  # resampling a faint speck can leave nothing; then the box's centre is the place
        centre_row, centre_column = (digit.shape[0] - 1) / 2, (digit.shape[1] - 1) / 2
    else:
        centre_row = float(digit.sum(axis=1) @ np.arange(digit.shape[0])) / mass
        centre_column = float(digit.sum(axis=0) @ np.arange(digit.shape[1])) / mass
    top = min(max(round(height / 2 - centre_row), 0), height - digit.shape[0])
    left = min(max(round(width / 2 - centre_column), 0), width - digit.shape[1])
    return top, left
