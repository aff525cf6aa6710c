"""Interpolate page: strips from two test images, the mix slider, the GIF, uploads, drawings, GAN inversion."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from .conftest import open_page, page_text


def _strips(at):
    return [image for image in at.image if image.captions and image.captions[0] == "0%"]


def _captioned(at, caption: str) -> str:
    found = [image.value[0] for image in at.image if image.captions and image.captions[0] == caption]
    assert len(found) == 1, caption
    return found[0]


def _drawing_png() -> bytes:
    """A dark digit-like stroke on a white page, the opposite of MNIST."""
    picture = Image.new("RGB", (120, 90), "white")
    ImageDraw.Draw(picture).ellipse((35, 15, 85, 75), outline="black", width=9)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def test_two_test_images_give_strips_a_mix_and_a_gif(trained_runs):
    at = open_page("interpolate", trained_runs["vae2"])
    assert not at.exception
    strips = _strips(at)
    assert len(strips) == 2 and all(len(strip.value) == 8 for strip in strips)
    at.slider(key="interp_frames").set_value(5).run()
    strips = _strips(at)
    assert len(strips) == 2 and all(len(strip.value) == 5 for strip in strips)
    assert strips[0].captions == ["0%", "25%", "50%", "75%", "100%"]
    assert at.get("download_button")[0].key == "interp_gif_download_tiny-vae2"
    assert any(image.captions[0].startswith("5 frames") for image in at.image if image.captions)
    captions = " ".join(image.captions[0] for image in at.image if image.captions)
    assert "A as the model redraws it (encoded and decoded; mean squared pixel difference" in captions


def test_mix_at_the_ends_equals_the_endpoint_decodes(trained_runs):
    at = open_page("interpolate", trained_runs["vae2"])
    at.slider(key="interp_mix").set_value(0).run()
    assert not at.exception
    assert _captioned(at, "100% A + 0% B") == _captioned(at, "A")
    at.slider(key="interp_mix").set_value(100).run()
    assert _captioned(at, "0% A + 100% B") == _captioned(at, "B")
    at.radio(key="interp_mix_method").set_value("slerp").run()
    assert _captioned(at, "0% A + 100% B") == _captioned(at, "B")
    at.slider(key="interp_mix").set_value(50).run()
    assert _captioned(at, "50% A + 50% B") not in (_captioned(at, "A"), _captioned(at, "B"))


def test_uploads_errors_and_the_invert_guess(trained_runs):
    at = open_page("interpolate", trained_runs["ae"])
    at.radio(key="interp_source").set_value("upload").run()
    assert not at.exception
    assert "Choose two images" in page_text(at)
    at.file_uploader(key="interp_upload_a").set_value(("digit.png", b"this is not an image", "image/png")).run()
    assert not at.exception
    assert len(at.error) == 1 and "not an image" in at.error[0].value and "digit.png" in at.error[0].value
    assert at.radio(key="interp_source").value == "upload"  # the rest of the page still works
    drawing = _drawing_png()
    at.file_uploader(key="interp_upload_a").set_value(("a.png", drawing, "image/png"))
    at.file_uploader(key="interp_upload_b").set_value(("b.png", drawing, "image/png")).run()
    assert not at.exception and not at.error
    assert at.checkbox(key="interp_upload_a_invert").value is True  # dark on light: pre-ticked
    assert len(_strips(at)) == 2
    inverted = _captioned(at, "A: the model's input")
    at.checkbox(key="interp_upload_a_invert").uncheck().run()
    assert not at.exception
    assert _captioned(at, "A: the model's input") != inverted


def test_dcgan_finds_codes_by_optimisation(trained_runs):
    at = open_page("interpolate", trained_runs["dcgan"], interp_inversion_steps=5)  # a short search keeps tests fast
    assert not at.exception
    assert "found by optimisation" in page_text(at)
    captions = " ".join(image.captions[0] for image in at.image if image.captions)
    assert "A as the model redraws it (found by optimisation; mean squared pixel difference" in captions
    assert len(_strips(at)) == 2


def test_the_mix_slider_keeps_its_value_when_the_section_goes_away_and_comes_back(trained_runs):
    at = open_page("interpolate", trained_runs["vae2"])
    at.slider(key="interp_mix").set_value(80).run()
    assert _captioned(at, "20% A + 80% B")
    at.radio(key="interp_source").set_value("upload").run()  # no uploads yet: the mix section is gone
    assert not at.exception and not [s for s in at.slider if s.key == "interp_mix"]
    at.radio(key="interp_source").set_value("test").run()
    assert not at.exception
    assert at.slider(key="interp_mix").value == 80
    assert _captioned(at, "20% A + 80% B")  # the picture and the slider agree


def test_uploads_survive_a_visit_to_the_test_images(trained_runs):
    at = open_page("interpolate", trained_runs["ae"])
    at.radio(key="interp_source").set_value("upload").run()
    drawing = _drawing_png()
    at.file_uploader(key="interp_upload_a").set_value(("a.png", drawing, "image/png"))
    at.file_uploader(key="interp_upload_b").set_value(("b.png", drawing, "image/png")).run()
    assert len(_strips(at)) == 2
    at.radio(key="interp_source").set_value("test").run()
    at.radio(key="interp_source").set_value("upload").run()
    assert not at.exception
    assert "Using **a.png**, uploaded earlier" in page_text(at) and "Using **b.png**" in page_text(at)
    assert len(_strips(at)) == 2  # both uploads are still in use


def test_without_classes_the_two_test_images_start_apart(tile_run):
    at = open_page("interpolate", tile_run)
    assert not at.exception
    pickers = [box for box in at.number_input if box.key in ("interp_a_number", "interp_b_number")]
    assert [box.value for box in pickers] == [0, 1]
    assert pickers[0].label.startswith("Image A: test index (0 to")


def test_a_link_picks_the_endpoints_by_test_index_and_sets_the_view(trained_runs):
    at = open_page("interpolate", trained_runs["vae2"],
                   query={"a": "7", "b": "12", "mix": "30", "frames": "4", "path": "slerp", "seed": "x"})
    assert not at.exception
    assert at.slider(key="interp_mix").value == 30 and at.slider(key="interp_frames").value == 4
    assert at.radio(key="interp_mix_method").value == "slerp"
    assert _captioned(at, "70% A + 30% B")
    query = dict(at.query_params)
    assert query["a"] == "7" and query["b"] == "12" and query["mix"] == "30" and query["run"] == "tiny-vae2"


def test_a_bad_link_value_is_ignored_with_a_notice(trained_runs):
    at = open_page("interpolate", trained_runs["vae2"], query={"mix": "250", "a": "abc"})
    assert not at.exception
    assert at.slider(key="interp_mix").value == 50
    text = page_text(at).replace("\\", "")  # as rendered: link values are escaped to stay plain text
    assert "Ignored in the link" in text and "mix='250' (outside 0 to 100)" in text and "a='abc'" in text


def test_a_second_model_interpolates_between_the_same_images(trained_runs):
    at = open_page("interpolate", trained_runs["vae2"])
    at.selectbox(key="compare_run").set_value("tiny-vae8").run()
    assert not at.exception
    assert len(_strips(at)) == 4  # both paths for both models
    assert len([image for image in at.image if image.captions and image.captions[0] == "A"]) == 2


def test_two_drawings_are_the_ends_of_the_path(trained_runs):
    pad = np.zeros((280, 280), dtype=np.uint8)
    one, zero = pad.copy(), pad.copy()
    one[40:240, 150:170] = 255
    zero[40:240, 60:220] = 255
    zero[70:210, 90:190] = 0  # a ring
    at = open_page("interpolate", trained_runs["vae2"], interp_source="draw", interp_draw_a_pixels=one)
    assert not at.exception and not _strips(at)
    assert "Draw a digit in the box" in page_text(at) and "Choose two images to interpolate between." in page_text(at)
    at = open_page("interpolate", trained_runs["vae2"], interp_source="draw", interp_draw_a_pixels=one,
                   interp_draw_b_pixels=zero)
    assert not at.exception
    assert len(_strips(at)) == 2 and all(len(strip.value) == 8 for strip in _strips(at))
    assert _captioned(at, "A: the model's input") != _captioned(at, "B: the model's input")
    at.radio(key="interp_source").set_value("test").run()
    at.radio(key="interp_source").set_value("draw").run()  # the pads were hidden: the drawings are kept
    assert not at.exception and len(_strips(at)) == 2
