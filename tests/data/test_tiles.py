"""Tile datasets: equal pixel coverage, held-out images, bad files, per-epoch resampling."""

import io
import zipfile

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from gen_core.data.base import dataset_info, load_dataset
from gen_core.data.tiles import (axis_corner_distribution, coverage_counts, expected_coverage, load_tile_dataset,
                                 load_tile_source)
from gen_core.errors import DatasetError


def _cv(values: np.ndarray) -> float:
    return float(values.std() / values.mean())


@pytest.mark.parametrize("shape_hw, tile", [((96, 96), 32), ((100, 130), 32), ((70, 45), 16), ((41, 64), 8)])
def test_equal_sampler_covers_pixels_far_more_evenly_than_naive(shape_hw, tile):
    equal = coverage_counts(shape_hw, tile, 40_000, placement="equal", seed=1)
    naive = coverage_counts(shape_hw, tile, 40_000, placement="naive", seed=1)
    assert equal.shape == naive.shape == shape_hw
    assert equal.sum() == naive.sum() == 40_000 * tile * tile  # every drawn tile lies inside
    assert _cv(equal) < 0.35 * _cv(naive)
    if all(length % tile == 0 for length in shape_hw):
        assert _cv(equal) < 0.03  # only sampling noise is left


@pytest.mark.parametrize("shape_hw, lowest_possible", [((96, 128), 1.0), ((330, 330), (10 / 11) ** 2)])
def test_corner_pixels_are_seen_about_as_often_as_the_centre(shape_hw, lowest_possible):
    # 330 = 10 * 32 + 10: no placement of inside tiles beats a (10/11)**2 least/most ratio there.
    equal = coverage_counts(shape_hw, 32, 200_000, placement="equal", seed=2)
    naive = coverage_counts(shape_hw, 32, 50_000, placement="naive", seed=2)
    centre = equal[shape_hw[0] // 2, shape_hw[1] // 2]
    for corner in [equal[0, 0], equal[0, -1], equal[-1, 0], equal[-1, -1]]:
        assert 0.9 * lowest_possible < corner / centre < 1.1 / lowest_possible
    assert naive[0, 0] < 0.01 * naive[shape_hw[0] // 2, shape_hw[1] // 2]


@pytest.mark.parametrize("length, tile", [(96, 32), (100, 32), (33, 32), (32, 32), (1000, 64)])
def test_axis_coverage_is_exact_or_within_the_proven_bound(length, tile):
    positions, weights = axis_corner_distribution(length, tile)
    assert positions.min() == 0 and positions.max() == length - tile
    assert np.isclose(weights.sum(), 1.0) and (weights > 0).all()
    coverage = expected_coverage((length, tile), tile)[:, 0]  # second axis has one position
    k, remainder = divmod(length, tile)
    best_possible = 1.0 if remainder == 0 else k / (k + 1)
    assert np.isclose(coverage.min() / coverage.max(), best_possible)
    assert np.isclose(coverage.mean(), tile / length)


def _write_png(path, height, width, value, mode="L"):
    shape = (height, width) if mode == "L" else (height, width, 3)
    Image.fromarray(np.full(shape, value, dtype=np.uint8), mode=mode).save(path)


@pytest.fixture
def three_image_folder(tmp_path):
    # Each image has its own grey level, so a tile's pixels tell which image it came from.
    _write_png(tmp_path / "big.png", 120, 160, 200)
    _write_png(tmp_path / "medium.png", 80, 100, 120, mode="RGB")
    _write_png(tmp_path / "small.png", 64, 70, 40)
    return tmp_path


def test_held_out_image_never_appears_in_training_tiles(three_image_folder):
    dataset = load_tile_dataset(three_image_folder, tile_size=16, tiles_per_epoch=1500, test_tiles=50)
    cutter = dataset.resample_train
    names = cutter.source.names
    assert [names[i] for i in cutter.test_indices] == ["small.png"]  # least area by default
    held_out_grey = 40 / 255
    for epoch in range(3):
        draw = cutter.draw_train(epoch)
        assert names.index("small.png") not in set(draw.image_indices.tolist())
        assert not torch.isclose(draw.tiles, torch.tensor(held_out_grey)).any()
    assert torch.allclose(dataset.test_images, torch.tensor(held_out_grey))
    # Images are chosen by area, so the big image gives about 120*160 / (120*160 + 80*100) of tiles.
    big_share = np.mean(cutter.draw_train(0).image_indices == names.index("big.png"))
    assert abs(big_share - 19200 / 27200) < 0.04


def test_named_test_images_are_held_out(three_image_folder):
    dataset = load_tile_dataset(three_image_folder, tile_size=16, tiles_per_epoch=200,
                                test_images=["big.png"], channels=3, test_tiles=20)
    assert dataset.image_shape == (3, 16, 16)
    assert torch.allclose(dataset.test_images, torch.tensor(200 / 255))
    assert not torch.isclose(dataset.train_images, torch.tensor(200 / 255)).any()
    with pytest.raises(DatasetError, match="not one of"):
        load_tile_dataset(three_image_folder, tile_size=16, test_images=["missing.png"])
    with pytest.raises(DatasetError, match="at least one"):
        load_tile_dataset(three_image_folder, tile_size=16,
                          test_images=["big.png", "medium.png", "small.png"])


def test_bad_files_are_skipped_and_counted(tmp_path):
    _write_png(tmp_path / "a.png", 64, 64, 10)
    _write_png(tmp_path / "b.png", 48, 80, 90)
    (tmp_path / "corrupt.png").write_bytes((tmp_path / "a.png").read_bytes()[:40])
    (tmp_path / "notes.txt").write_text("not an image")
    _write_png(tmp_path / "tiny.png", 20, 20, 30)
    source = load_tile_source(tmp_path, min_size=32)
    assert source.names == ["a.png", "b.png"]
    assert source.skipped_count == 3
    reasons = dict(source.skipped)
    assert set(reasons) == {"corrupt.png", "notes.txt", "tiny.png"}
    assert "smaller than the 32-pixel tile" in reasons["tiny.png"]
    dataset = load_tile_dataset(tmp_path, tile_size=32, tiles_per_epoch=10, test_tiles=5)
    assert "3 file(s) skipped" in dataset.description


def test_all_bad_or_empty_folders_raise(tmp_path):
    with pytest.raises(DatasetError):
        load_tile_source(tmp_path)  # empty
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nrubbish")
    with pytest.raises(DatasetError, match="No usable image"):
        load_tile_source(tmp_path)
    with pytest.raises(DatasetError, match="No file or folder"):
        load_tile_source(tmp_path / "absent")
    _write_png(tmp_path / "only.png", 64, 64, 10)
    with pytest.raises(DatasetError, match="two usable"):
        load_tile_dataset(tmp_path, tile_size=16)


def test_zip_and_tiff_images_load(tmp_path):
    stack = np.linspace(0, 1000, 3 * 40 * 50, dtype=np.float32).reshape(3, 40, 50)
    tiff_bytes = io.BytesIO()
    tifffile.imwrite(tiff_bytes, stack, photometric="minisblack")  # PIL cannot read this one
    png_bytes = io.BytesIO()
    Image.fromarray(np.full((36, 36, 3), 255, dtype=np.uint8)).save(png_bytes, format="PNG")
    archive_path = tmp_path / "images.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("scans/stack.tif", tiff_bytes.getvalue())
        archive.writestr("white.png", png_bytes.getvalue())
        archive.writestr("__MACOSX/._white.png", b"metadata")
    source = load_tile_source(archive_path, channels=1)
    assert source.names == ["scans/stack.tif", "white.png"] and source.skipped_count == 0
    first_page, white = source.images
    assert first_page.shape == (1, 40, 50) and first_page.min() == 0.0 and first_page.max() > 0.3
    assert white.shape == (1, 36, 36) and torch.allclose(white, torch.tensor(1.0))


def test_resampling_is_fresh_per_epoch_and_repeatable(three_image_folder):
    dataset = load_tile_dataset(three_image_folder, tile_size=16, tiles_per_epoch=100, test_tiles=10)
    first, again, second = (dataset.resample_train(epoch) for epoch in (1, 1, 2))
    assert torch.equal(first, again)
    assert not torch.equal(first, second)
    assert torch.equal(dataset.resample_train(0), dataset.train_images)
    other_seed = load_tile_dataset(three_image_folder, tile_size=16, tiles_per_epoch=100,
                                   test_tiles=10, seed=1)
    assert not np.array_equal(other_seed.resample_train.draw_train(1).corners,
                              dataset.resample_train.draw_train(1).corners)


def test_embedded_default_loads_offline_with_the_requested_tile_shape():
    info = dataset_info("tiles")
    assert info.offline_check() is True
    dataset = load_dataset("tiles", tile_size=24, tiles_per_epoch=64, test_tiles=16)
    assert dataset.train_images.shape == (64, 1, 24, 24)
    assert dataset.test_images.shape == (16, 1, 24, 24)
    assert dataset.train_images.dtype == torch.float32
    assert 0.0 <= float(dataset.train_images.min()) and float(dataset.train_images.max()) <= 1.0
    cutter = dataset.resample_train
    assert len(cutter.source.names) >= 5
    assert [cutter.source.names[i] for i in cutter.test_indices] == ["microaneurysms.png"]
    assert dataset.source == {"name": "tiles", "tile_size": 24, "tiles_per_epoch": 64, "test_tiles": 16}


def test_bad_options_raise_dataset_errors(three_image_folder):
    for options in [{"tile_size": 1}, {"tiles_per_epoch": 0}, {"channels": 2}, {"placement": "grid"},
                    {"tile_size": 500}]:
        with pytest.raises(DatasetError):
            load_tile_dataset(three_image_folder, **options)
