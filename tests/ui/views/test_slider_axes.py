"""What each slider moves: latent dimensions, principal directions or class directions, on tiny real models."""

from __future__ import annotations

import pytest
import torch

from gen_core.errors import LatentError, ModelConfigError
from gen_core.latent import class_mean_table, summarise_latents
from ui.views.slider_axes import class_direction_axes, dimension_axes, pairs_from_link, pca_axes

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


def test_class_direction_axes_read_0_at_the_first_class_and_1_at_the_second():
    codes = torch.randn(60, 5, generator=torch.Generator().manual_seed(2))
    labels = torch.arange(60) % 3
    codes[labels == 1] += torch.tensor([4.0, 0, 0, 0, 0])
    codes[labels == 2] += torch.tensor([4.0, 3.0, 0, 0, 0])
    table = class_mean_table(codes, labels)
    axes = class_direction_axes(table, [(0, 1), (0, 2)], codes)
    assert axes.kind == "dir" and axes.labels == ["0 → 1", "0 → 2"] and axes.pairs == [(0, 1), (0, 2)]
    assert torch.allclose(axes.units @ axes.units.T, torch.eye(2), atol=1e-5)
    assert axes.coords_of(table.mean_of(0)) == pytest.approx([0.0, 0.0], abs=1e-5)
    assert axes.coords_of(table.mean_of(1))[0] == pytest.approx(1.0, abs=1e-5)
    assert axes.coords_of(table.mean_of(2))[1] == pytest.approx(1.0, abs=1e-5)  # its part beyond 0 → 1
    assert all(low <= -1.0 and high >= 2.0 for low, high in axes.ranges)
    start = codes[7]
    assert torch.allclose(axes.latent_at(axes.coords_of(start), start), start, atol=1e-5)
    coords = axes.coords_of(start)
    coords[0] += 1.0  # one whole class step along the first direction, nothing else
    assert torch.allclose(axes.latent_at(coords, start) - start, table.direction(0, 1), atol=1e-4)
    with pytest.raises(LatentError, match="two different classes"):
        class_direction_axes(table, [(1, 1)], codes)
    with pytest.raises(LatentError, match="span"):
        class_direction_axes(table, [(0, 1), (1, 0)], codes)


@pytest.mark.parametrize("values, why", [([4, 4], "the same class twice"), ([4, 9, 1], "not pairs"),
                                         ([4, 3], "does not have"), ([4, 9, 4, 9], "repeated")])
def test_a_links_class_pairs_are_checked(values, why):
    assert pairs_from_link([4, 9, 1, 7], [1, 4, 7, 9]) == ([(4, 9), (1, 7)], None)
    pairs, reason = pairs_from_link(values, [1, 4, 7, 9])
    assert pairs is None and why in reason
