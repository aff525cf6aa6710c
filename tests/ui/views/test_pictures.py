"""Images as pages show and remember them."""

from __future__ import annotations

from ui.views.pictures import display_upscale, image_fingerprint, stack_images

SHAPE = (1, 16, 16)


def test_display_upscale_aims_at_the_width():
    assert display_upscale((1, 28, 28), 280) == 10
    assert display_upscale((3, 64, 64), 280) == 4
    assert display_upscale((3, 512, 512), 280) == 1


def test_image_fingerprint_tells_images_apart(small_images):
    assert image_fingerprint(small_images[:2]) == image_fingerprint(small_images[:2].clone())
    assert image_fingerprint(small_images[:2]) != image_fingerprint(small_images[1:3])
    assert stack_images([small_images[0], small_images[1]]).shape == (2, *SHAPE)
