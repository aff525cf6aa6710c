"""A drawing from the pad, framed as MNIST's digits are: cropped, scaled into a 20x20 box, centred by mass."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from gen_core.errors import EmptyDrawingError, ImageInputError
from gen_core.images import MAX_DRAWING_PIXELS, frame_drawing


def pad_drawing(box: tuple[int, int, int, int], side: int = 280, stroke: int = 18) -> np.ndarray:
    """A "7" drawn in white on a black pad ``side`` pixels wide, inside ``box`` (left, top, right, bottom),
    as the pad hands it back: RGBA, 8 bits."""
    pad = Image.new("RGBA", (side, side), (0, 0, 0, 255))
    left, top, right, bottom = box
    ImageDraw.Draw(pad).line([(left, top), (right, top), ((left + right) // 2, bottom)], fill=(255, 255, 255, 255),
                             width=stroke)
    return np.asarray(pad)


def centre_of_mass(image: torch.Tensor) -> tuple[float, float]:
    ink = image[0].double()
    rows, columns = torch.arange(ink.shape[0], dtype=torch.float64), torch.arange(ink.shape[1], dtype=torch.float64)
    return float(ink.sum(1) @ rows / ink.sum()), float(ink.sum(0) @ columns / ink.sum())


def ink_box(image: torch.Tensor) -> tuple[int, int]:
    rows, columns = np.nonzero(image[0].numpy() > 0)
    return int(rows.max() - rows.min() + 1), int(columns.max() - columns.min() + 1)


@pytest.mark.parametrize("box", [(150, 20, 275, 270),   # large, off to the right
                                 (5, 5, 60, 50),        # small, in a corner: enlarged
                                 (10, 120, 270, 200)])  # wide and flat: the width fills the box
def test_a_drawing_ends_centred_by_mass_inside_a_20_pixel_box(box):
    image = frame_drawing(pad_drawing(box))
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    row, column = centre_of_mass(image)
    assert abs(row - 14) <= 1 and abs(column - 14) <= 1
    height, width = ink_box(image)
    assert max(height, width) in (19, 20) and height <= 20 and width <= 20  # the longer side fills the box


def test_the_same_digit_drawn_anywhere_on_the_pad_gives_the_same_image():
    here, there = frame_drawing(pad_drawing((20, 20, 120, 140))), frame_drawing(pad_drawing((150, 130, 250, 250)))
    assert torch.allclose(here, there, atol=1e-5)


def test_grey_rgb_and_rgba_pads_agree_and_a_transparent_page_counts_as_black():
    rgba = pad_drawing((40, 30, 240, 250))
    grey = frame_drawing(rgba[..., 0])
    assert torch.allclose(frame_drawing(rgba[..., :3]), grey, atol=1e-5)
    assert torch.allclose(frame_drawing(rgba), grey, atol=1e-5)
    transparent = rgba.copy()
    transparent[..., 3] = rgba[..., 0]  # white strokes, the page left transparent
    assert torch.allclose(frame_drawing(transparent), grey, atol=1e-5)
    assert torch.allclose(frame_drawing(rgba[..., 0] / 255.0), grey, atol=1e-5)  # floats in [0, 1]


def test_training_digits_are_already_framed_so_and_pass_through_unchanged(mnist_small):
    images = mnist_small.train_images[:200]
    unchanged = sum(torch.equal(frame_drawing(image[0].numpy()), image) for image in images)
    assert unchanged >= 198  # MNIST's own framing, to the pixel (one in a few thousand is a pixel off)


def test_other_image_sizes_keep_the_proportions():
    image = frame_drawing(pad_drawing((30, 30, 250, 250)), image_shape=(3, 16, 16))
    assert image.shape == (3, 16, 16) and torch.equal(image[0], image[2])  # grey ink in every colour channel
    assert max(ink_box(image)) in (10, 11)  # 16 * 20/28 = 11.4
    row, column = centre_of_mass(image)
    assert abs(row - 8) <= 1 and abs(column - 8) <= 1


@pytest.mark.parametrize("pixels, message", [
    (np.zeros((280, 280, 4), dtype=np.uint8), "empty: draw a digit"),
    (np.full((280, 280), 0.001), "empty: draw a digit"),
    ([[0, 255], [255, 0]], "array of pixels, not a list"),
    ("a seven", "array of pixels, not a str"),
    (np.zeros((2, 28, 28, 1)), "shape (2, 28, 28, 1)"),
    (np.zeros((28, 28, 2)), "shape (28, 28, 2)"),
    (np.zeros((0, 28)), "no pixels"),
    (np.broadcast_to(np.zeros(1, dtype=np.uint8), (5000, 5000)), "5000x5000 pixels, above the limit"),
    (np.array([["a", "b"]]), "pixels are numbers; these are <U1"),
    (np.zeros((4, 4), dtype=complex), "pixels are numbers; these are complex128"),
    (np.full((4, 4), np.nan), "not numbers (NaN or infinite)"),
    (np.full((4, 4), np.inf), "not numbers (NaN or infinite)"),
    (np.full((4, 4), 2.0), "between 0 and 1"),
    (np.full((4, 4), -3, dtype=np.int16), "between 0 and 255"),
    (np.full((4, 4), 70_000, dtype=np.int32), "between 0 and 255"),
])
def test_odd_and_hostile_drawings_are_refused_in_one_line(pixels, message):
    with pytest.raises(ImageInputError) as refused:
        frame_drawing(pixels)
    assert message in str(refused.value) and "\n" not in str(refused.value)
    assert isinstance(refused.value, EmptyDrawingError) == ("empty" in message)  # a blank page only asks for ink


def test_the_pixel_limit_is_checked_before_any_copy():
    lazily_huge = np.broadcast_to(np.zeros(1, dtype=np.float32), (1, MAX_DRAWING_PIXELS + 1))  # no memory behind it
    with pytest.raises(ImageInputError, match="above the limit"):
        frame_drawing(lazily_huge)
    assert frame_drawing(np.eye(8, dtype=bool)).shape == (1, 28, 28)  # a boolean mask is ink too
