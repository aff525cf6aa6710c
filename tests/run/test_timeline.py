"""The training timeline: codes written at grid epochs only, committed with the epoch, carried by a
zip, and hand-edited or hostile code files refused in one line while the others still play."""

from __future__ import annotations

import io
import json
import pickle
import re
import shutil
import zipfile

import numpy as np
import pytest
import torch

from gen_core.errors import CheckpointError
from gen_core.latent import encode_dataset
from gen_core.latent.timeline import TIMELINE_IMAGES, TimelineCodes, timeline_indices
from gen_core.models import build_model
from gen_core.run import checkpoint, collection, layout
from gen_core.run.start import TrainingRun
from gen_core.run.timeline import codes_dtype, codes_writer, max_codes_bytes, read_codes, read_timeline
from gen_core.training import TrainConfig, Trainer

LATENT_DIM = 3


@pytest.fixture(scope="module")
def timeline_run(tmp_path_factory, mnist_small):
    """A tiny AE trained 3 epochs with grids (and so codes) at epochs 1 and 3 only."""
    torch.manual_seed(0)
    model = build_model("ae", hidden=(32,), latent_dim=LATENT_DIM)
    run_dir = tmp_path_factory.mktemp("timeline") / "ae-timeline"
    config = TrainConfig(epochs=3, batch_size=128, device="cpu", sample_count=4, sample_epochs=(1, 3))
    TrainingRun(Trainer(model, mnist_small, config), run_dir).fit()
    return run_dir


@pytest.fixture
def a_copy(timeline_run, tmp_path):
    target = tmp_path / "runs" / "copy"
    shutil.copytree(timeline_run, target)
    return target


def test_codes_are_written_at_the_grid_epochs_only_with_the_models_codes(timeline_run, mnist_small):
    assert [epoch for epoch, _ in layout.timeline_files(timeline_run)] == [1, 3]
    assert [epoch for epoch, _ in layout.sample_grids(timeline_run)] == [1, 3]
    test_count = len(mnist_small.test_images)
    last = read_codes(layout.codes_path(timeline_run, 3), LATENT_DIM, test_count)
    assert last.codes.shape == (min(test_count, TIMELINE_IMAGES), LATENT_DIM) and last.codes.dtype == np.float32
    assert np.array_equal(last.indices, timeline_indices(test_count))
    # the last epoch's codes are the saved model's, to float16's precision
    model = checkpoint.load_run(timeline_run).model
    expected = encode_dataset(model, mnist_small.test_images[last.indices]).numpy()
    assert np.allclose(last.codes, expected, rtol=2e-3, atol=2e-3)
    first = read_codes(layout.codes_path(timeline_run, 1), LATENT_DIM, test_count)
    assert not np.allclose(first.codes, last.codes, atol=1e-2)  # training moved them


def test_a_model_without_an_encoder_stores_no_timeline(tmp_path, mnist_small):
    torch.manual_seed(0)
    model = build_model("dcgan", gen_channels=(16, 8, 8), disc_channels=(8, 16), latent_dim=8)
    run_dir = tmp_path / "gan"
    TrainingRun(Trainer(model, mnist_small, TrainConfig(epochs=1, batch_size=128, device="cpu", sample_count=4)),
                run_dir).fit()
    assert layout.sample_grids(run_dir) and layout.timeline_files(run_dir) == []


def test_the_timeline_file_is_small_and_named_by_number():
    assert layout.codes_name(7) == "codes/epoch_007.npy" and layout.codes_name(1000) == "codes/epoch_1000.npy"
    assert [layout.codes_epoch(name) for name in ("epoch_007.npy", "epoch_7.npy", "epoch_007.png")] == [7, None, None]
    assert layout.is_run_file("codes/epoch_012.npy") and not layout.is_run_file("codes/../config.json")
    assert not layout.is_run_file("codes/epoch_012.npy/x") and not layout.is_run_file("samples/epoch_012.npy")
    assert max_codes_bytes(2) < 10_000 and max_codes_bytes(32) < 40_000  # a few KB for small codes


def test_codes_are_committed_with_the_epoch_after_a_crash(a_copy):
    """A writer that died after the commit point left the codes pending in codes/: the next open moves
    them in with the history; a journal naming a path outside the run is ignored."""
    layout.codes_path(a_copy, 3).rename(a_copy / "codes" / ".epoch_003.npy.pending")
    (a_copy / layout.JOURNAL_FILE).write_text(json.dumps({"files": ["codes/epoch_003.npy", "../../evil.txt"]}))
    checkpoint.load_run(a_copy)
    assert [epoch for epoch, _ in layout.timeline_files(a_copy)] == [1, 3]
    assert not (a_copy / layout.JOURNAL_FILE).exists() and not list(a_copy.rglob("*.pending"))


def test_a_zip_export_and_import_keeps_the_timeline(timeline_run, tmp_runs):
    data = collection.export_zip(timeline_run)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {"codes/epoch_001.npy", "codes/epoch_003.npy"} <= set(archive.namelist())
    imported = collection.import_zip(data, root=tmp_runs, name="timeline-copy")
    for epoch in (1, 3):
        assert layout.codes_path(imported, epoch).read_bytes() == layout.codes_path(timeline_run, epoch).read_bytes()


def _npy(array, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _table(count: int = 5, latent_dim: int = LATENT_DIM) -> np.ndarray:
    table = np.zeros(count, dtype=codes_dtype(latent_dim))
    table["index"] = np.arange(count)
    return table


def _with(field: str, value) -> bytes:
    table = _table()
    table[field][1] = value
    return _npy(table)


HOSTILE = {
    "not npy": (b"<html>not an array</html>", "not a timeline file"),
    "a pickle": (pickle.dumps({"codes": [1, 2]}), "not a timeline file"),
    "an object array": (_npy(np.array([{"a": 1}, None], dtype=object), allow_pickle=True), "not an index and a 3-d"),
    "plain floats": (_npy(np.zeros((5, LATENT_DIM), dtype=np.float16)), "not an index and a 3-d"),
    "another code length": (_npy(_table(latent_dim=4)), "not an index and a 3-d"),
    "a 2-d table": (_npy(np.zeros((2, 3), dtype=codes_dtype(LATENT_DIM))), "shape (2, 3)"),
    "NaN": (_with("code", np.nan), "not finite"),
    "an index past the test set": (_with("index", 10_000), "test images"),
    "a repeated index": (_with("index", 0), "test images"),
    "huge": (b"\x93NUMPY" + b"\0" * 200_000, "bytes, more than"),
    "a broken header": (_npy(_table())[:8] + b"\x40\x00{'descr': oops" + b" " * 60, "header cannot be read"),
    "a header lying about its size": (_npy(_table()).replace(b"(5,)", b"(499,)"), "shorter than its header"),
    "too many images": (_npy(_table(count=TIMELINE_IMAGES + 1))[:2000], "not 1 to 500 images"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hand_edited_and_hostile_code_files_are_refused_in_one_line(case, tmp_path):
    content, expected = HOSTILE[case]
    path = tmp_path / "epoch_002.npy"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=re.escape(expected)) as refused:
        read_codes(path, LATENT_DIM, test_count=100)
    message = str(refused.value)
    assert message.startswith("codes/epoch_002.npy ") and "\n" not in message and str(tmp_path) not in message
    assert "html" not in message and "oops" not in message  # the file's own bytes are not quoted


def test_a_link_is_refused_without_reading_what_it_points_at(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("password=hunter2")
    (tmp_path / "epoch_004.npy").symlink_to(secret)
    with pytest.raises(CheckpointError, match="is a link") as refused:
        read_codes(tmp_path / "epoch_004.npy", LATENT_DIM, test_count=100)
    assert "hunter2" not in str(refused.value)


def test_a_bad_file_is_left_out_of_the_timeline_and_the_others_still_play(a_copy):
    layout.codes_path(a_copy, 2).write_bytes(pickle.dumps("not codes"))
    timeline = read_timeline(a_copy, LATENT_DIM, test_count=100)
    assert timeline.epochs == [1, 3] and timeline.stored == 3 and len(timeline.frames) == 2
    assert len(timeline.refused) == 1 and timeline.refused[0].startswith("codes/epoch_002.npy is not a timeline file")
    # an epoch following other test images than the newest is left out too
    other = TimelineCodes(np.arange(4), np.zeros((4, LATENT_DIM), dtype=np.float32))
    codes_writer(other)(layout.codes_path(a_copy, 1))
    assert read_timeline(a_copy, LATENT_DIM, test_count=100).epochs == [3]


def test_an_import_with_a_hostile_code_file_is_refused(timeline_run, tmp_runs):
    members = {name: (timeline_run / name).read_bytes() for name in layout.RECORD_FILES}
    members["codes/epoch_001.npy"] = _npy(np.array([{"a": 1}], dtype=object), allow_pickle=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(CheckpointError, match=r"^The zip's codes/epoch_001\.npy is not a timeline file"):
        collection.import_zip(buffer.getvalue(), root=tmp_runs, name="hostile")
    assert list(tmp_runs.iterdir()) == []
