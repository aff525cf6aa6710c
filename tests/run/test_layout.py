"""The run folder's layout: grid names in numeric order past epoch 999, and every reader taking the
newest grid of a long run (the live panel, zip export and import)."""

from __future__ import annotations

import io
import zipfile

import torch
from PIL import Image

from gen_core.run import checkpoint, collection, layout, live

from conftest import write_long_run


def test_grid_names_keep_three_digits_and_grow_past_999():
    assert [layout.grid_name(epoch) for epoch in (7, 999, 1000, 12345)] == \
        ["epoch_007.png", "epoch_999.png", "epoch_1000.png", "epoch_12345.png"]
    assert [layout.grid_epoch(name) for name in ("epoch_007.png", "epoch_1000.png", "epoch_7.png", "epoch_x.png",
                                                 "epoch_1000.png.tmp", "other.png")] == [7, 1000, None, None, None, None]
    assert layout.is_run_file("samples/epoch_1001.png") and layout.is_run_file("config.json")
    assert not layout.is_run_file("samples/epoch_1001.png/x") and not layout.is_run_file(layout.LIVE_FILE)
    assert not layout.is_run_file("samples/../config.json") and not layout.is_run_file("notes.txt")


def test_a_run_past_epoch_1000_shows_exports_and_imports_its_newest_grid(build_tiny, tmp_runs):
    run_dir = write_long_run(tmp_runs / "long", build_tiny("ae-mlp"))
    assert [epoch for epoch, _ in layout.sample_grids(run_dir)] == [998, 999, 1000, 1001]  # not 1000, 1001, 998...
    seen = live.read_live(run_dir)
    assert seen.samples_epoch == 1001 and seen.samples_path.name == "epoch_1001.png"

    data = collection.export_zip(run_dir)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {"samples/epoch_1000.png", "samples/epoch_1001.png"} <= set(archive.namelist())
    imported = collection.import_zip(data, root=tmp_runs, name="long-copy")
    assert layout.newest_grid(imported)[0] == 1001
    with Image.open(layout.grid_path(imported, 1001)) as grid:
        assert grid.getpixel((0, 0)) == 11
    original, copy = checkpoint.load_run(run_dir).model.state_dict(), checkpoint.load_run(imported).model.state_dict()
    assert all(torch.equal(original[key], copy[key]) for key in original)
