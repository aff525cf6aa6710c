"""The drawing pad's picture, sent by the browser as a PNG data: URL, read as untrusted input."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from gen_core.errors import ImageInputError
from ui.components.drawing_pad import MAX_DATA_URL_CHARS, PNG_HEADER, pad_pixels


def data_url(image: Image.Image, fmt: str = "PNG", header: str = PNG_HEADER) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return f"{header},{base64.b64encode(buffer.getvalue()).decode()}"


def test_the_pads_png_comes_back_as_rgba_pixels():
    pad = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    pad.paste((255, 255, 255, 255), (100, 40, 120, 240))
    pixels = pad_pixels(data_url(pad))
    assert pixels.shape == (280, 280, 4) and pixels.dtype == np.uint8
    assert pixels[100, 110].tolist() == [255, 255, 255, 255] and pixels[10, 10].tolist() == [0, 0, 0, 255]


@pytest.mark.parametrize("sent, reason", [
    (None, "not a picture of a usable size"),
    (["data:image/png;base64,"], "not a picture of a usable size"),
    ("x" * (MAX_DATA_URL_CHARS + 1), "not a picture of a usable size"),
    ("data:text/html;base64,PGI+PC9iPg==", "not a PNG picture"),
    ("https://example.com/seven.png", "not a PNG picture"),
    (PNG_HEADER + ",not base64!", "not valid base64"),
    (PNG_HEADER + "," + base64.b64encode(b"<script>alert(1)</script>").decode(), "not an image PIL can read"),
    (data_url(Image.new("RGB", (3000, 3000))), "above the"),  # more pixels than any pad sends
])
def test_anything_else_the_browser_might_send_is_refused_in_one_line(sent, reason):
    with pytest.raises(ImageInputError) as refused:
        pad_pixels(sent)
    assert reason in str(refused.value) and "\n" not in str(refused.value)


def _pad_callback_script():
    """The pad's callback as Streamlit calls it, with the pad's state as the browser reports it."""
    import streamlit as st

    from ui.components.drawing_pad import _keep_drawing, current_drawing

    st.session_state["demo_pad"] = st.session_state["sent"]
    _keep_drawing("demo")
    drawing = current_drawing("demo", (1, 28, 28))
    st.write("image" if drawing.image is not None else f"problem: {drawing.problem}")


def test_the_callback_keeps_a_drawing_forgets_a_cleared_pad_and_reports_a_bad_picture():
    stroke = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    stroke.paste((255, 255, 255, 255), (100, 40, 120, 240))
    drawn = {"drawing": {"raw": {"objects": [{"type": "path"}]}, "data": data_url(stroke)}}
    cleared = {"drawing": {"raw": {"objects": []}, "data": data_url(Image.new("RGBA", (280, 280)))}}
    forged = {"drawing": {"raw": {"objects": [{"type": "path"}]}, "data": "data:text/html;base64,PGI+"}}
    at = AppTest.from_function(_pad_callback_script)
    at.session_state["sent"] = drawn
    at.run()
    assert [m.value for m in at.markdown] == ["image"] and at.session_state["demo_pixels"].shape == (280, 280, 4)
    for sent, shown in ((cleared, "problem: None"), ("not a dict", "problem: None"),
                        (forged, "problem: The pad sent something that is not a PNG picture.")):
        at.session_state["sent"] = sent
        at.run()
        assert not at.exception and [m.value for m in at.markdown] == [shown]
        assert "demo_pixels" not in at.session_state
