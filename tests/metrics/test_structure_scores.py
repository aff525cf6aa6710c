"""Contrast: a flat tile cannot pass for a real one, whatever its pixel noise; one display stretch."""

from __future__ import annotations

import pytest
import torch

from gen_core.metrics.image_quality import gradient_magnitude
from gen_core.metrics.structure import display_range, rms_contrast, stretch_like, structure_scores


def _vessel_tiles(n: int, depth: float, seed: int = 0) -> torch.Tensor:
    """Grey 32x32 tiles crossed by a dark 3-pixel line at a random row, ``depth`` darker."""
    generator = torch.Generator().manual_seed(seed)
    tiles = torch.full((n, 1, 32, 32), 0.4)
    for index, row in enumerate(torch.randint(4, 28, (n,), generator=generator).tolist()):
        tiles[index, :, row - 1:row + 2, :] -= depth
    return tiles


def test_contrast_is_the_standard_deviation_of_each_image():
    tiles = torch.stack([torch.zeros(1, 4, 4), torch.tensor([0.0, 1.0]).repeat(8).view(1, 4, 4)])
    assert torch.allclose(rms_contrast(tiles), torch.tensor([0.0, 0.5]))


def test_flat_squares_with_faint_pixel_noise_do_not_look_sharp():
    real = _vessel_tiles(64, 0.1)
    generator = torch.Generator().manual_seed(1)
    # Flat grey squares of varying brightness with a faint checkerboard: in raw intensity units they
    # score about as sharp as the real tiles, the complaint this score exists for.
    flat = torch.rand(64, 1, 1, 1, generator=generator) * 0.6 + 0.2 + 0.01 * torch.rand(64, 1, 32, 32,
                                                                                        generator=generator)
    raw_ratio = float(gradient_magnitude(flat).mean() / gradient_magnitude(real).mean())
    scores = structure_scores(flat, real)
    assert raw_ratio > 0.5  # plain sharpness is fooled...
    assert scores["contrast_ratio"] < 0.2  # ...contrast is not


def test_one_display_stretch_for_every_set():
    real = torch.linspace(0.3, 0.5, 1024).view(1, 1, 32, 32)
    low, high = display_range(real, percentile=0.0)
    assert (low, high) == pytest.approx((0.3, 0.5), abs=1e-6)
    shown = stretch_like(torch.tensor([0.2, 0.3, 0.4, 0.6]).view(1, 1, 2, 2), low, high)
    assert torch.allclose(shown.flatten(), torch.tensor([0.0, 0.0, 0.5, 1.0]), atol=1e-6)
