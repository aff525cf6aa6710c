"""Tile sets of one kind of image: a subset of the images, and a held-out strip of each."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gen_core.data import load_dataset
from gen_core.data.tiles import load_tile_dataset
from gen_core.errors import DatasetError


@pytest.fixture
def ramp_folder(tmp_path):
    # Each row has its own grey level, so a tile's pixels tell which rows it came from.
    rows = np.repeat(np.linspace(0, 255, 100).astype(np.uint8)[:, None], 80, axis=1)
    Image.fromarray(rows).save(tmp_path / "ramp.png")
    Image.fromarray(np.full((64, 64), 30, np.uint8)).save(tmp_path / "other.png")
    return tmp_path


def test_test_tiles_come_only_from_the_bottom_strip_of_each_image(ramp_folder):
    dataset = load_tile_dataset(ramp_folder, tile_size=16, tiles_per_epoch=300, test_tiles=100, images=["ramp.png"],
                                test_strip=0.25)
    boundary = np.linspace(0, 255, 100).astype(np.uint8)[75] / 255  # row 75: the first of the held-out quarter
    assert float(dataset.test_images.min()) >= boundary - 1e-6
    for epoch in range(3):
        assert float(dataset.resample_train(epoch).max()) < boundary - 1e-6
    assert "ramp.png (bottom 25%)" in dataset.description


def test_images_picks_some_images_by_name(ramp_folder):
    dataset = load_tile_dataset(ramp_folder, tile_size=16, tiles_per_epoch=50, test_tiles=10, images=["other.png"],
                                test_strip=0.5)
    assert torch.allclose(dataset.train_images, torch.tensor(30 / 255))


def test_a_run_records_both_options_so_it_reloads_the_same_tiles():
    options = {"tile_size": 32, "tiles_per_epoch": 64, "test_tiles": 32, "images": ["retina.jpg"], "test_strip": 0.25}
    first = load_dataset("tiles", **options)
    again = load_dataset(**first.source)
    assert first.source["images"] == ["retina.jpg"] and first.source["test_strip"] == 0.25
    assert torch.equal(first.test_images, again.test_images)


@pytest.mark.parametrize("options, message", [
    ({"images": ["missing.png"]}, "No image called 'missing.png'"),
    ({"images": []}, "at least one image"),
    ({"test_strip": 1.5}, "between 0 and 1"),
    ({"test_strip": 0.05}, "must both hold a 16-pixel tile"),
    ({"test_strip": 0.25, "test_images": ["ramp.png"]}, "not both"),
])
def test_bad_options_get_a_clear_message(ramp_folder, options, message):
    with pytest.raises(DatasetError, match=message):
        load_tile_dataset(ramp_folder, tile_size=16, tiles_per_epoch=10, test_tiles=10, **options)
