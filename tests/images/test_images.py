"""Tests for gen_core.images: uploads of every awkward kind in, grids/PNGs/GIFs out."""

import io
import struct
import warnings
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from gen_core.errors import ImageInputError, ModelConfigError
from gen_core.images import (gif_bytes, load_upload, looks_dark_on_light, make_grid_image, png_bytes, save_png_atomic,
                             side_by_side, to_pil)


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares a huge 1-bit image: a decompression bomb's calling card."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + checksum

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


# ------------------------------------------------------------------------- shape and range


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 16, 24), (1, 8, 8)])
@pytest.mark.parametrize("fit", ["crop", "pad", "stretch"])
def test_output_shape_dtype_and_range(shape, fit):
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8))
    tensor = load_upload(encode(photo), image_shape=shape, fit=fit)
    assert tensor.shape == shape
    assert tensor.dtype == torch.float32
    assert 0.0 <= tensor.min() and tensor.max() <= 1.0


def test_grey_to_three_channels_copies_the_grey_value():
    grey = Image.new("L", (10, 10), 51)
    tensor = load_upload(encode(grey), image_shape=(3, 10, 10))
    assert torch.allclose(tensor, torch.full((3, 10, 10), 0.2), atol=1e-6)


def test_colour_to_one_channel_uses_luminance():
    red = Image.new("RGB", (10, 10), (255, 0, 0))
    tensor = load_upload(encode(red), image_shape=(1, 10, 10))
    assert tensor.shape == (1, 10, 10)
    assert tensor.mean().item() == pytest.approx(0.299, abs=0.01)


def test_crop_keeps_the_centre_and_pad_keeps_everything():
    wide = np.zeros((10, 30), dtype=np.uint8)
    wide[:, 10:20] = 255  # bright centre square, dark side thirds
    data = encode(Image.fromarray(wide))
    cropped = load_upload(data, image_shape=(1, 10, 10), fit="crop")
    padded = load_upload(data, image_shape=(1, 30, 30), fit="pad")
    stretched = load_upload(data, image_shape=(1, 10, 10), fit="stretch")
    assert cropped.mean() > 0.95
    assert padded[0, :10].max() < 0.05 and padded[0, 20:].max() < 0.05  # border-coloured margins
    assert padded[0, 10:20, 10:20].mean() > 0.95
    assert 0.25 < stretched.mean() < 0.45


def test_invert_flips_values():
    data = encode(Image.new("L", (4, 4), 255))
    assert load_upload(data, image_shape=(1, 4, 4)).min() == 1.0
    assert load_upload(data, image_shape=(1, 4, 4), invert=True).max() == 0.0


def test_looks_dark_on_light_reads_the_border():
    page = torch.ones(1, 28, 28)
    page[:, 10:18, 10:18] = 0.0  # dark stroke on a white page
    assert looks_dark_on_light(page) is True
    assert looks_dark_on_light(1.0 - page) is False
    assert looks_dark_on_light(torch.zeros(28, 28)) is False


def test_file_like_is_read_from_the_start_every_time():
    upload = io.BytesIO(encode(Image.new("L", (4, 4), 255)))
    first = load_upload(upload, image_shape=(1, 4, 4))
    second = load_upload(upload, image_shape=(1, 4, 4))
    assert torch.equal(first, second)


def test_unsupported_target_shape_is_a_config_error():
    with pytest.raises(ModelConfigError):
        load_upload(encode(Image.new("L", (4, 4))), image_shape=(2, 4, 4))


# ---------------------------------------------------------------------------- image modes


@pytest.mark.parametrize("stroke, expected_background", [(0, 1.0), (255, 0.0)])
def test_rgba_lands_on_a_background_that_contrasts_with_its_strokes(stroke, expected_background):
    canvas = Image.new("RGBA", (20, 20), (128, 128, 128, 0))  # transparent, colour irrelevant
    canvas.paste((stroke, stroke, stroke, 255), (8, 8, 12, 12))
    tensor = load_upload(encode(canvas), image_shape=(1, 20, 20), fit="stretch")
    assert tensor[0, 0, 0].item() == pytest.approx(expected_background, abs=1e-6)
    assert tensor[0, 10, 10].item() == pytest.approx(stroke / 255, abs=1e-6)


def test_rgba_background_can_be_forced():
    canvas = Image.new("RGBA", (6, 6), (0, 0, 0, 0))
    canvas.paste((255, 255, 255, 255), (2, 2, 4, 4))
    tensor = load_upload(encode(canvas), image_shape=(1, 6, 6), background="white")
    assert tensor.min() == 1.0


def test_grey_with_alpha_is_composited():
    canvas = Image.new("LA", (6, 6), (255, 0))
    canvas.paste((0, 255), (2, 2, 4, 4))
    tensor = load_upload(encode(canvas), image_shape=(1, 6, 6))
    assert tensor[0, 0, 0] == 1.0 and tensor[0, 3, 3] == 0.0


def test_palette_image_uses_its_palette_colours():
    palette_image = Image.new("P", (8, 8), 0)
    palette_image.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    palette_image.paste(1, (0, 0, 8, 4))  # top half blue
    tensor = load_upload(encode(palette_image), image_shape=(3, 8, 8), fit="stretch")
    assert torch.allclose(tensor[:, 0, 0], torch.tensor([0.0, 0.0, 1.0]))
    assert torch.allclose(tensor[:, 7, 7], torch.zeros(3))


def test_palette_transparency_is_composited():
    palette_image = Image.new("P", (6, 6), 0)
    palette_image.putpalette([255, 0, 0, 0, 0, 0] + [0] * 762)
    palette_image.paste(1, (2, 2, 4, 4))
    data = encode(palette_image, transparency=0)  # index 0 (red) is see-through
    tensor = load_upload(data, image_shape=(3, 6, 6))
    assert torch.allclose(tensor[:, 0, 0], torch.ones(3))  # white, not red


@pytest.mark.parametrize("fmt, mode", [("PNG", "I;16"), ("TIFF", "I;16B")])
def test_sixteen_bit_grey_is_scaled_from_its_full_range(fmt, mode):
    values = np.array([[0, 32768, 65535]], dtype=np.uint16)
    if mode == "I;16":
        image = Image.fromarray(values)
    else:
        image = Image.frombytes(mode, (3, 1), values.astype(">u2").tobytes())
    data = encode(image, fmt)
    assert Image.open(io.BytesIO(data)).mode == mode
    tensor = load_upload(data, image_shape=(1, 1, 3), fit="stretch")
    assert tensor[0, 0].tolist() == pytest.approx([0.0, 0.5, 1.0], abs=1e-4)


def test_thirty_two_bit_integer_grey_is_read_as_sixteen_bit_range():
    image = Image.fromarray(np.array([[0, 32768, 65535]], dtype=np.int32))
    assert image.mode == "I"
    tensor = load_upload(encode(image, "TIFF"), image_shape=(1, 1, 3), fit="stretch")
    assert tensor[0, 0].tolist() == pytest.approx([0.0, 0.5, 1.0], abs=1e-4)


def test_one_bit_image():
    bits = Image.new("1", (8, 8), 0)
    bits.paste(1, (0, 0, 4, 8))
    tensor = load_upload(encode(bits), image_shape=(1, 8, 8))
    assert tensor[0, :, :4].min() == 1.0 and tensor[0, :, 4:].max() == 0.0


def test_jpeg_exif_orientation_is_applied():
    stored = np.zeros((20, 40), dtype=np.uint8)
    stored[:, 20:] = 255  # stored sideways: dark left, bright right
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    data = encode(Image.fromarray(stored), "JPEG", exif=exif.tobytes(), quality=95)
    tensor = load_upload(data, image_shape=(1, 40, 20), fit="stretch")
    # Displayed upright it is 20 wide and 40 tall, the stored left (dark) half now on top.
    assert tensor[0, :15].mean() < 0.1 and tensor[0, 25:].mean() > 0.9


def test_gif_first_frame_is_used():
    frames = [Image.new("L", (8, 8), 255), Image.new("L", (8, 8), 0)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert load_upload(data, image_shape=(1, 8, 8)).min() == 1.0


@pytest.mark.parametrize("fmt", ["BMP", "WEBP", "TIFF"])
def test_other_common_formats(fmt):
    options = {"lossless": True} if fmt == "WEBP" else {}
    data = encode(Image.new("RGB", (12, 12), (255, 255, 255)), fmt, **options)
    assert load_upload(data, image_shape=(3, 12, 12)).min() > 0.99


# ------------------------------------------------------------------------------ bad input


def test_empty_bytes():
    with pytest.raises(ImageInputError, match="empty"):
        load_upload(b"")


def test_non_image_bytes():
    with pytest.raises(ImageInputError, match="not an image PIL can read"):
        load_upload(b"name,score\nada,3\n" * 10)


def test_truncated_png():
    noise = np.random.default_rng(1).integers(0, 256, (64, 64), dtype=np.uint8)
    data = encode(Image.fromarray(noise))
    with pytest.raises(ImageInputError, match="truncated or corrupt"):
        load_upload(data[: len(data) // 2])


def test_corrupt_png_data_with_intact_length():
    noise = np.random.default_rng(2).integers(0, 256, (64, 64), dtype=np.uint8)
    data = bytearray(encode(Image.fromarray(noise)))
    middle = len(data) // 2
    data[middle : middle + 20] = b"\xff" * 20  # damage the compressed pixels, not the header
    with pytest.raises(ImageInputError, match="truncated or corrupt"):
        load_upload(bytes(data))


def test_image_over_the_pixel_budget_is_refused_before_decoding():
    data = encode(Image.new("1", (3000, 3000)))
    with pytest.raises(ImageInputError, match=r"3000x3000 = 9 MP, above the 1 MP limit"):
        load_upload(data, max_pixels=1_000_000)


def test_header_claiming_a_huge_image_is_refused():
    # PIL itself stops this inside Image.open; the message still reads in the same terms.
    with pytest.raises(ImageInputError, match=r"Image is 400 MP, above the 40 MP limit"):
        load_upload(png_claiming_size(20_000, 20_000))


@pytest.mark.parametrize("side", [10_000, 20_000])  # above PIL's warning, above its error limit
def test_pil_bomb_warning_and_error_become_image_input_errors(side):
    limit_before = Image.MAX_IMAGE_PIXELS
    filters_before = list(warnings.filters)
    with pytest.raises(ImageInputError, match=r"above the 89.5 MP limit"):
        load_upload(png_claiming_size(side, side), max_pixels=10**12)
    assert Image.MAX_IMAGE_PIXELS == limit_before
    assert warnings.filters == filters_before


def test_pixel_budget_does_not_refuse_an_image_at_the_limit():
    data = encode(Image.new("L", (100, 100), 255))
    assert load_upload(data, image_shape=(1, 10, 10), max_pixels=10_000).min() == 1.0


# -------------------------------------------------------------------------------- outputs


def test_to_pil_modes_values_and_upscale():
    grey = torch.tensor([[0.0, 0.5], [1.0, 2.0]])
    pil_grey = to_pil(grey.unsqueeze(0))
    assert pil_grey.mode == "L" and pil_grey.size == (2, 2)
    assert np.asarray(pil_grey).tolist() == [[0, 128], [255, 255]]  # rounded, clamped
    colour = to_pil(torch.rand(3, 5, 7), upscale=4)
    assert colour.mode == "RGB" and colour.size == (28, 20)
    big = np.asarray(to_pil(grey, upscale=3))
    assert (big[:3, :3] == 0).all() and (big[:3, 3:] == 128).all()  # nearest, no blur


def test_to_pil_rejects_bad_upscale_and_shape():
    with pytest.raises(ValueError):
        to_pil(torch.rand(1, 4, 4), upscale=1.5)
    with pytest.raises(ValueError):
        to_pil(torch.rand(2, 4, 4))


@pytest.mark.parametrize("count, nrow, rows, columns", [(10, 4, 3, 4), (3, 8, 1, 3), (16, 4, 4, 4)])
def test_grid_size_math(count, nrow, rows, columns):
    grid = make_grid_image(torch.rand(count, 1, 28, 28), nrow=nrow, padding=2)
    assert grid.size == (columns * 30 + 2, rows * 30 + 2)
    assert grid.mode == "L"


def test_grid_upscales_tiles_but_not_padding_and_uses_pad_value():
    grid = make_grid_image(torch.zeros(2, 3, 4, 4), nrow=2, padding=3, pad_value=0.5, upscale=5)
    assert grid.mode == "RGB" and grid.size == (2 * 23 + 3, 23 + 3)
    pixels = np.asarray(grid)
    assert (pixels[0, 0] == 128).all() and (pixels[3:23, 3:23] == 0).all()


def test_side_by_side_stacks_rows_and_fills_short_ones():
    originals = torch.zeros(4, 1, 8, 8)
    reconstructions = torch.ones(3, 3, 8, 8)
    picture = side_by_side([originals, reconstructions], padding=2, pad_value=0.5)
    assert picture.mode == "RGB" and picture.size == (4 * 10 + 2, 2 * 10 + 2)
    pixels = np.asarray(picture)
    assert (pixels[2:10, 2:10] == 0).all()  # first row: originals
    assert (pixels[12:20, 2:10] == 255).all()  # second row: reconstructions
    assert (pixels[12:20, 32:40] == 128).all()  # missing fourth reconstruction is blank
    with pytest.raises(ValueError):
        side_by_side([torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 9, 9)])


def test_png_bytes_round_trip_for_tensor_pil_and_batch():
    image = torch.rand(3, 6, 5)
    reopened = Image.open(io.BytesIO(png_bytes(image)))
    assert np.array_equal(np.asarray(reopened), np.asarray(to_pil(image)))
    assert png_bytes(to_pil(image)) == png_bytes(image)
    grid = Image.open(io.BytesIO(png_bytes(torch.rand(4, 1, 8, 8))))
    assert grid.size == (2 * 10 + 2, 2 * 10 + 2)


def test_save_png_atomic_leaves_only_the_file(tmp_path):
    image = torch.rand(1, 9, 9)
    target = tmp_path / "samples" / "grid.png"
    assert save_png_atomic(image, target) == target
    save_png_atomic(image, target)  # overwrite in place
    assert [path.name for path in target.parent.iterdir()] == ["grid.png"]
    assert np.array_equal(np.asarray(Image.open(target)), np.asarray(to_pil(image)))


def test_save_png_atomic_cleans_up_when_the_replace_fails(tmp_path, monkeypatch):
    def broken_replace(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr("gen_core.images.export.os.replace", broken_replace)
    with pytest.raises(OSError):
        save_png_atomic(torch.rand(1, 4, 4), tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def fading_frames(count: int) -> torch.Tensor:
    return torch.linspace(0, 1, count).view(count, 1, 1, 1).expand(count, 1, 6, 6).contiguous()


def test_gif_has_every_frame_with_duration_and_loop():
    gif = Image.open(io.BytesIO(gif_bytes(fading_frames(5), duration_ms=80, upscale=2)))
    assert gif.n_frames == 5 and gif.size == (12, 12)
    assert gif.info["duration"] == 80 and gif.info["loop"] == 0
    values = []
    for index in range(gif.n_frames):
        gif.seek(index)
        values.append(np.asarray(gif.convert("L"))[0, 0])
    assert values == [0, 64, 128, 191, 255]


def test_gif_boomerang_and_play_once():
    gif = Image.open(io.BytesIO(gif_bytes(fading_frames(4), loop=False, boomerang=True)))
    assert gif.n_frames == 6  # 0 1 2 3 2 1
    assert "loop" not in gif.info
    gif.seek(4)
    assert np.asarray(gif.convert("L"))[0, 0] == round(255 * 2 / 3)


def test_gif_rejects_empty_and_bad_duration():
    with pytest.raises(ValueError):
        gif_bytes(torch.zeros(0, 1, 4, 4))
    with pytest.raises(ValueError):
        gif_bytes(fading_frames(2), duration_ms=0)
