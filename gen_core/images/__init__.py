"""Image conversion for the whole project: uploads in (``upload``), drawings in (``drawing``), grids, PNGs and
GIFs out (``export``)."""

from gen_core.images.drawing import MAX_DRAWING_PIXELS, frame_drawing
from gen_core.images.export import (TensorOrPil, gif_bytes, make_grid_image, png_bytes, save_png_atomic, side_by_side,
                                    to_pil)
from gen_core.images.upload import (BACKGROUNDS, DEFAULT_MAX_PIXELS, FIT_MODES, ImageSource, decode_image, load_upload,
                                    looks_dark_on_light)

__all__ = ["BACKGROUNDS", "DEFAULT_MAX_PIXELS", "FIT_MODES", "ImageSource", "MAX_DRAWING_PIXELS", "TensorOrPil",
           "decode_image", "frame_drawing", "gif_bytes", "load_upload", "looks_dark_on_light", "make_grid_image",
           "png_bytes", "save_png_atomic", "side_by_side", "to_pil"]
