"""The Samples page's helpers: saved epoch grids, spreading, reconstruction rows."""

from __future__ import annotations

import pytest
import torch

from gen_core.images import save_png_atomic
from gen_core.latent import reconstructions
from ui.views.samples import (EpochGrid, epoch_grid_image, epoch_grids, random_indices, reconstruction_rows,
                              spread_evenly)

SHAPE = (1, 16, 16)


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


def test_reconstruction_rows_pair_originals_with_reconstructions(small_ae, small_images):
    redrawn = reconstructions(small_ae, small_images[:10])
    assert redrawn.shape == (10, *SHAPE)
    rows = reconstruction_rows(small_images[:10], redrawn, per_row=4)
    assert [len(row) for row in rows] == [4, 4, 4, 4, 2, 2]
    assert torch.equal(rows[2], small_images[4:8]) and torch.equal(rows[3], redrawn[4:8])
