"""What each slider moves: latent dimensions or principal directions, on tiny real models."""

from __future__ import annotations

import pytest
import torch

from gen_core.errors import LatentError, ModelConfigError
from gen_core.latent import summarise_latents
from ui.views.slider_axes import dimension_axes, pca_axes

SHAPE = (1, 16, 16)


def test_dimension_axes_round_trip_and_move_one_dimension(small_vae):
    axes = dimension_axes(small_vae)
    assert axes.kind == "dim" and axes.labels == ["z1", "z2", "z3", "z4"]
    assert axes.ranges == [(-3.0, 3.0)] * 4
    start = torch.tensor([0.5, -1.0, 2.0, 0.0])
    assert torch.equal(axes.latent_at(axes.coords_of(start), start), start)
    coords = axes.coords_of(start)
    coords[1] = 2.5
    moved = axes.latent_at(coords, start)
    assert moved[1] == 2.5 and torch.equal(moved[[0, 2, 3]], start[[0, 2, 3]])
    assert axes.coords_of(torch.tensor([9.0, 0, 0, 0]))[0] == 3.0  # clipped into the slider
    with pytest.raises(LatentError):
        axes.latent_at([0.0], start)


def test_dimension_axes_follow_an_autoencoders_codes_and_stop_at_16(build_small, small_ae, small_images):
    summary = summarise_latents(small_ae, small_images)
    axes = dimension_axes(small_ae, summary)
    low, high = axes.ranges[0]
    assert low < float(summary.latents[:, 0].min()) and high > float(summary.latents[:, 0].max())
    wide = build_small("vae", latent_dim=20)
    wide_axes = dimension_axes(wide)
    assert len(wide_axes) == 16
    base = torch.arange(20.0) / 10
    coords = wide_axes.coords_of(base)
    coords[0] = -1.0
    moved = wide_axes.latent_at(coords, base)
    assert moved[0] == -1.0 and torch.equal(moved[16:], base[16:])


def test_pca_axes_round_trip_and_move_along_a_direction(small_ae, small_images):
    summary = summarise_latents(small_ae, small_images)
    axes = pca_axes(summary, 3)
    assert axes.kind == "pc" and len(axes) == 3 and axes.labels[0] == "PC 1"
    assert axes.explained == sorted(axes.explained, reverse=True) and sum(axes.explained) <= 1 + 1e-6
    start = summary.latents[5]
    assert torch.allclose(axes.latent_at(axes.coords_of(start), start), start, atol=1e-5)
    coords = axes.coords_of(start)
    coords[0] += 0.1
    step = axes.latent_at(coords, start) - start
    direction = torch.as_tensor(axes.pca.components_[0], dtype=torch.float32)
    assert torch.allclose(step, 0.1 * direction, atol=1e-5)
    with pytest.raises(ModelConfigError):
        pca_axes(summary, 5)
    narrow, widened = pca_axes(summary, 4), pca_axes(summary, 4, prior=True)
    assert all(high >= 3.0 and low <= -3.0 for low, high in widened.ranges)
    assert all(w_high >= high for (_, high), (_, w_high) in zip(narrow.ranges, widened.ranges))


def test_random_coords_stay_in_range_and_repeat_by_seed(small_ae, small_images):
    axes = pca_axes(summarise_latents(small_ae, small_images), 4)
    coords = axes.random_coords(3)
    assert coords == axes.random_coords(3) and coords != axes.random_coords(4)
    assert all(low <= value <= high for value, (low, high) in zip(coords, axes.ranges))
