"""A drawing pad: a visitor draws a digit with the mouse, a finger or a pen, and the pages use it as an image.

The pad is ``streamlit-drawable-canvas`` (Fabric.js; its front end ships built inside the wheel,
so nothing is fetched from a CDN). It draws white strokes on black, as the training digits are,
and sends its picture as a PNG ``data:`` URL after each stroke. That URL is untrusted: it is
size-checked, decoded by the one image reader (``gen_core.images.decode_image``), and the pixels
are framed like the training images by ``gen_core.images.frame_drawing``.

The pad's callback keeps the decoded pixels in the session (``<key>_pixels``), so a drawing is
ready before the top of the page is drawn (the Latent map's star) and outlives the pad being
hidden while another source is chosen; clearing the pad forgets it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from functools import partial

import numpy as np
import streamlit as st
import torch

from gen_core.errors import EmptyDrawingError, ImageInputError
from gen_core.images import MAX_DRAWING_PIXELS, decode_image, frame_drawing
from ui import presentation
from ui.text import plain

PAD_PX = 280
STROKE_PX = 22             # about 2 px once the digit is scaled into its 20-pixel box: MNIST's stroke
MAX_DATA_URL_CHARS = 8_000_000  # a 2048x2048 PNG of a drawing is far smaller; anything larger is refused unread
PNG_HEADER = "data:image/png;base64"
EMPTY_NOTE = "Draw a digit in the box: white strokes on black, as the training digits are."


@dataclass(frozen=True)
class Drawing:
    """What the pad holds: the model's input, or why there is none (``problem`` None: the pad is empty)."""

    image: torch.Tensor | None = None
    problem: str | None = None


def pixels_key(key: str) -> str:
    """The session key of the pad ``key``'s pixels: an (H, W, 4) array, or absent when the pad is empty."""
    return f"{key}_pixels"


def pad_pixels(data_url) -> np.ndarray:
    """The pad's picture (a ``data:image/png;base64,...`` URL from the browser) as an RGBA array."""
    if not isinstance(data_url, str) or len(data_url) > MAX_DATA_URL_CHARS:
        raise ImageInputError("The pad sent something that is not a picture of a usable size.")
    header, comma, body = data_url.partition(",")
    if not comma or header != PNG_HEADER:
        raise ImageInputError("The pad sent something that is not a PNG picture.")
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ImageInputError("The pad's picture is not valid base64.") from error
    return np.asarray(decode_image(data, max_pixels=MAX_DRAWING_PIXELS).convert("RGBA"))


def _keep_drawing(key: str) -> None:
    """The pad's callback: decode what it sent and keep it; an empty pad (cleared, undone) forgets it."""
    state = st.session_state.get(f"{key}_pad")
    drawing = state.get("drawing") if isinstance(state, dict) else None
    drawing = drawing if isinstance(drawing, dict) else {}
    objects = (drawing.get("raw") or {}).get("objects") if isinstance(drawing.get("raw"), dict) else None
    st.session_state.pop(pixels_key(key), None)
    st.session_state.pop(f"{key}_problem", None)
    if not objects:
        return
    try:
        st.session_state[pixels_key(key)] = pad_pixels(drawing.get("data"))
    except ImageInputError as error:
        st.session_state[f"{key}_problem"] = str(error)


def current_drawing(key: str, image_shape) -> Drawing:
    """The pad ``key``'s drawing framed for a model of ``image_shape``, or why it cannot be used."""
    if st.session_state.get(f"{key}_problem"):
        return Drawing(problem=str(st.session_state[f"{key}_problem"]))
    pixels = st.session_state.get(pixels_key(key))
    if pixels is None:
        return Drawing()
    try:
        return Drawing(image=frame_drawing(pixels, image_shape))
    except EmptyDrawingError:  # strokes with no ink in them: as good as an empty pad
        return Drawing()
    except ImageInputError as error:
        return Drawing(problem=str(error))


def drawing_pad(key: str, drawing: Drawing) -> None:
    """The pad itself, and under it what the page does with an empty or a refused drawing."""
    # imported here: the package declares its component on import, which needs a running Streamlit (the
    # server finds the component's bundled files when it starts), so this module imports anywhere
    from streamlit_drawable_canvas import st_canvas

    side = presentation.scaled(PAD_PX)
    st_canvas(stroke_width=presentation.scaled(STROKE_PX), stroke_color="#FFFFFF", background_color="#000000",
              width=side, height=side, drawing_mode="freedraw", return_image_data=True, key=f"{key}_pad",
              on_change=partial(_keep_drawing, key))
    if drawing.problem:
        st.error(f"The drawing could not be used: {plain(drawing.problem)}")
    elif drawing.image is None:
        st.info(EMPTY_NOTE)
