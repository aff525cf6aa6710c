"""The engine behind the explore pages, on tiny real models (AE, VAE, DCGAN) and random images."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from gen_core.errors import ModelConfigError, SamplerError
from gen_core.explore import (
    EpochGrid, decode_to_pil, dimension_axes, display_upscale, epoch_grid_image, epoch_grids, find_latents,
    image_fingerprint, pca_axes, random_indices, random_latent, reconstruction_rows, reconstructions,
    sample_images, spread_evenly, stack_images, summarise_latents, indices_of_class,
)
from gen_core.images import png_bytes, save_png_atomic, to_pil
from gen_core.latent import FOUND_BY_ENCODER, FOUND_BY_OPTIMISATION, decode_latents
from gen_core.models import build_model

SHAPE = (1, 16, 16)


def _model(family: str, latent_dim: int = 4, **settings):
    torch.manual_seed(0)
    if family == "dcgan":
        settings = {"gen_channels": (8, 4), "disc_channels": (4,), **settings}
    else:
        settings = {"hidden": (32,), **settings}
    return build_model(family, image_shape=SHAPE, latent_dim=latent_dim, **settings).eval()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(40, *SHAPE, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def ae():
    return _model("ae")


@pytest.fixture(scope="module")
def vae():
    return _model("vae")


@pytest.fixture(scope="module")
def gan():
    return _model("dcgan")


def test_decode_to_pil_matches_batch_decode_and_restores_mode(vae):
    latent = torch.randn(vae.latent_dim)
    vae.train()
    picture = decode_to_pil(vae, latent, upscale=5)
    assert vae.training
    vae.eval()
    assert picture.size == (SHAPE[2] * 5, SHAPE[1] * 5)
    expected = to_pil(decode_latents(vae, latent.unsqueeze(0))[0], upscale=5)
    assert png_bytes(picture) == png_bytes(expected)
    assert png_bytes(decode_to_pil(vae, latent.unsqueeze(0), 5)) == png_bytes(picture)


def test_decode_to_pil_refuses_a_code_of_the_wrong_length(vae):
    with pytest.raises(SamplerError, match="4-d codes"):
        decode_to_pil(vae, torch.zeros(5))


def test_display_upscale_aims_at_the_width():
    assert display_upscale((1, 28, 28), 280) == 10
    assert display_upscale((3, 64, 64), 280) == 4
    assert display_upscale((3, 512, 512), 280) == 1


def test_random_latent_follows_the_prior_or_the_test_codes(ae, vae, images):
    summary = summarise_latents(ae, images)
    assert summary.latents.shape == (40, 4)
    assert torch.allclose(random_latent(vae, 3, summary), torch.randn(4, generator=torch.Generator().manual_seed(3)))
    draws = torch.stack([random_latent(ae, seed, summary) for seed in range(400)])
    assert torch.allclose(draws.mean(0), summary.mean, atol=4 * float(summary.std.max()) / 20 + 1e-3)
    assert torch.equal(random_latent(ae, 7, summary), random_latent(ae, 7, summary))
    # full covariance, not just per-dimension spread: the draws correlate like the codes do
    many = torch.stack([random_latent(ae, seed, summary) for seed in range(3000)])
    assert torch.allclose(torch.cov(many.T), torch.cov(summary.latents.T), atol=0.15 * float(summary.std.max()) ** 2)


def test_sample_images_are_reproducible_by_seed(vae):
    first, again, other = sample_images(vae, 6, 1), sample_images(vae, 6, 1), sample_images(vae, 6, 2)
    assert first.shape == (6, *SHAPE) and 0 <= float(first.min()) and float(first.max()) <= 1
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    with pytest.raises(SamplerError):
        sample_images(vae, 0, 1)


def test_epoch_grids_are_found_sorted_and_other_files_ignored(tmp_path):
    folder = tmp_path / "samples"
    for epoch in (10, 2, 1):
        save_png_atomic(torch.rand(1, 8, 12), folder / f"epoch_{epoch:03d}.png")
    (folder / "notes.txt").write_text("not a grid")
    (folder / "epoch_x.png").write_bytes(b"")
    grids = epoch_grids(tmp_path)
    assert [grid.epoch for grid in grids] == [1, 2, 10]
    assert epoch_grids(tmp_path / "missing") == []
    assert epoch_grid_image(grids[0], width_px=48).size == (48, 32)
    assert epoch_grid_image(grids[0], width_px=40).size == (48, 32)  # whole factors, at least as wide


def test_epoch_grid_image_reports_a_broken_file(tmp_path):
    path = tmp_path / "epoch_001.png"
    path.write_bytes(b"broken")
    with pytest.raises(Exception, match="not an image"):
        epoch_grid_image(EpochGrid(1, path))


def test_spread_evenly_keeps_both_ends():
    items = list(range(1, 21))
    picked = spread_evenly(items, 5)
    assert len(picked) == 5 and picked[0] == 1 and picked[-1] == 20
    assert picked == sorted(set(picked))
    assert spread_evenly(items[:3], 5) == [1, 2, 3]
    assert spread_evenly(items, 1) == [20] and spread_evenly(items, 0) == []


def test_random_indices_are_distinct_and_reproducible():
    chosen = random_indices(50, 10, seed=4)
    assert len(set(chosen)) == 10 and all(0 <= index < 50 for index in chosen)
    assert chosen == random_indices(50, 10, seed=4) and chosen != random_indices(50, 10, seed=5)
    assert sorted(random_indices(3, 10, seed=0)) == [0, 1, 2]


def test_reconstruction_rows_pair_originals_with_reconstructions(ae, images):
    redrawn = reconstructions(ae, images[:10])
    assert redrawn.shape == (10, *SHAPE)
    rows = reconstruction_rows(images[:10], redrawn, per_row=4)
    assert [len(row) for row in rows] == [4, 4, 4, 4, 2, 2]
    assert torch.equal(rows[2], images[4:8]) and torch.equal(rows[3], redrawn[4:8])


def test_a_gan_cannot_reconstruct(gan, images):
    with pytest.raises(ModelConfigError, match="no encoder"):
        reconstructions(gan, images[:2])


def test_indices_of_class():
    labels = torch.tensor([3, 1, 3, 0])
    assert indices_of_class(labels, 3) == [0, 2]
    assert indices_of_class(labels, None) == [0, 1, 2, 3]
    assert indices_of_class(labels, 7) == []


def test_find_latents_encodes_when_it_can(vae, images):
    found = find_latents(vae, images[:3])
    assert found.found_by == FOUND_BY_ENCODER and not found.by_optimisation
    assert found.latents.shape == (3, 4) and found.reconstructions.shape == (3, *SHAPE)
    assert torch.allclose(found.errors, (found.reconstructions - images[:3]).pow(2).flatten(1).mean(1))


def test_find_latents_optimises_for_a_gan_and_more_steps_fit_better(gan):
    targets = decode_latents(gan, torch.randn(2, gan.latent_dim, generator=torch.Generator().manual_seed(2)))
    reports = []
    rough = find_latents(gan, targets, steps=1, restarts=1)
    close = find_latents(gan, targets, steps=60, restarts=1, progress=lambda fraction, text: reports.append(fraction))
    assert close.found_by == FOUND_BY_OPTIMISATION and close.by_optimisation
    assert float(close.errors.sum()) < float(rough.errors.sum())
    assert reports and reports[-1] == pytest.approx(1.0)


def test_image_fingerprint_tells_images_apart(images):
    assert image_fingerprint(images[:2]) == image_fingerprint(images[:2].clone())
    assert image_fingerprint(images[:2]) != image_fingerprint(images[1:3])
    assert stack_images([images[0], images[1]]).shape == (2, *SHAPE)


def test_dimension_axes_round_trip_and_move_one_dimension(vae):
    axes = dimension_axes(vae)
    assert axes.kind == "dim" and axes.labels == ["z1", "z2", "z3", "z4"]
    assert axes.ranges == [(-3.0, 3.0)] * 4
    start = torch.tensor([0.5, -1.0, 2.0, 0.0])
    assert torch.equal(axes.latent_at(axes.coords_of(start), start), start)
    coords = axes.coords_of(start)
    coords[1] = 2.5
    moved = axes.latent_at(coords, start)
    assert moved[1] == 2.5 and torch.equal(moved[[0, 2, 3]], start[[0, 2, 3]])
    assert axes.coords_of(torch.tensor([9.0, 0, 0, 0]))[0] == 3.0  # clipped into the slider
    with pytest.raises(SamplerError):
        axes.latent_at([0.0], start)


def test_dimension_axes_follow_an_autoencoders_codes_and_stop_at_16(ae, images):
    summary = summarise_latents(ae, images)
    axes = dimension_axes(ae, summary)
    low, high = axes.ranges[0]
    assert low < float(summary.latents[:, 0].min()) and high > float(summary.latents[:, 0].max())
    wide = _model("vae", latent_dim=20)
    wide_axes = dimension_axes(wide)
    assert len(wide_axes) == 16
    base = torch.arange(20.0) / 10
    coords = wide_axes.coords_of(base)
    coords[0] = -1.0
    moved = wide_axes.latent_at(coords, base)
    assert moved[0] == -1.0 and torch.equal(moved[16:], base[16:])


def test_pca_axes_round_trip_and_move_along_a_direction(ae, images):
    summary = summarise_latents(ae, images)
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


def test_random_coords_stay_in_range_and_repeat_by_seed(ae, images):
    axes = pca_axes(summarise_latents(ae, images), 4)
    coords = axes.random_coords(3)
    assert coords == axes.random_coords(3) and coords != axes.random_coords(4)
    assert all(low <= value <= high for value, (low, high) in zip(coords, axes.ranges))


def test_decoded_pil_is_a_real_png(vae):
    picture = decode_to_pil(vae, torch.zeros(4), upscale=2)
    assert Image.open(io.BytesIO(png_bytes(picture))).size == (32, 32)


def test_decode_to_pil_leaves_the_callers_thread_setting_alone(vae):
    before = torch.get_num_threads()
    torch.set_num_threads(max(2, before))
    try:
        decode_to_pil(vae, torch.zeros(4))
        assert torch.get_num_threads() == max(2, before)
    finally:
        torch.set_num_threads(before)
