"""The runs folder: listing, renaming, deleting inside the root only, and zip export/import."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile

import pytest
import torch

from gen_core.run.start import TrainingRun
from gen_core.atomic import write_json_atomic
from gen_core.errors import CheckpointError
from gen_core.models import build_model
from gen_core.run import checkpoint, collection, layout
from gen_core.training import TrainConfig, Trainer


@pytest.fixture(scope="module")
def trained_run_template(tmp_path_factory, mnist_small):
    """One tiny trained VAE with optimiser state and a sample grid, copied per test."""
    torch.manual_seed(0)
    model = build_model("vae", hidden=(32,), latent_dim=2)
    run_dir = tmp_path_factory.mktemp("template") / "vae-template"
    TrainingRun(Trainer(model, mnist_small, TrainConfig(epochs=1, batch_size=128, device="cpu", sample_count=4)), run_dir).fit()
    return run_dir


def _copy_run(template, root, name):
    target = root / name
    target.mkdir(parents=True)
    for file in template.rglob("*"):
        if file.is_file():
            (target / file.relative_to(template)).parent.mkdir(parents=True, exist_ok=True)
            (target / file.relative_to(template)).write_bytes(file.read_bytes())
    config = checkpoint.read_json(target / layout.CONFIG_FILE)
    write_json_atomic(target / layout.CONFIG_FILE, {**config, "name": name})
    return target


@pytest.fixture
def a_run(trained_run_template, tmp_runs):
    return _copy_run(trained_run_template, tmp_runs, "first-run")


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _run_files(run_dir) -> dict[str, bytes]:
    return {file.relative_to(run_dir).as_posix(): file.read_bytes() for file in run_dir.rglob("*")
            if file.is_file() and layout.is_run_file(file.relative_to(run_dir).as_posix())}


# ---------------------------------------------------------------- listing

def test_list_runs_newest_first_with_what_a_table_needs(a_run, trained_run_template, tmp_runs):
    second = _copy_run(trained_run_template, tmp_runs, "second-run")
    later = time.time() + 10
    os.utime(second / layout.WEIGHTS_FILE, (later, later))
    (tmp_runs / "not-a-run").mkdir()
    listed = collection.list_runs(tmp_runs)
    assert [info.name for info in listed] == ["second-run", "first-run"]
    # storing metrics rewrites history.json; that must not make a run the newest
    even_later = later + 10
    os.utime(a_run / layout.HISTORY_FILE, (even_later, even_later))
    assert [info.name for info in collection.list_runs(tmp_runs)] == ["second-run", "first-run"]
    info = listed[1]
    assert (info.family, info.dataset, info.status) == ("vae", "mnist5k", "completed")
    assert (info.epochs_done, info.epochs_planned, info.error) == (1, 1, "")
    assert info.final["epoch"] == 1 and "test_loss" in info.final


def test_unreadable_runs_are_listed_with_an_error_not_a_crash(a_run, trained_run_template, tmp_runs):
    broken_json = _copy_run(trained_run_template, tmp_runs, "broken-json")
    (broken_json / layout.CONFIG_FILE).write_text("{not json")
    odd_history = _copy_run(trained_run_template, tmp_runs, "odd-history")
    (odd_history / layout.HISTORY_FILE).write_text("[1, 2]")
    listed = {info.name: info for info in collection.list_runs(tmp_runs)}
    assert listed["first-run"].error == ""
    for name in ("broken-json", "odd-history"):
        assert listed[name].status == "unreadable" and listed[name].error


def test_list_runs_of_a_missing_root_is_empty(tmp_path):
    assert collection.list_runs(tmp_path / "nowhere") == []


def test_list_runs_defaults_to_the_environment_root(a_run, tmp_runs, monkeypatch):
    monkeypatch.setenv("GEN_CORE_CHECKPOINTS", str(tmp_runs))
    assert [info.name for info in collection.list_runs()] == ["first-run"]


# ---------------------------------------------------------------- rename / delete

def test_rename_moves_the_folder_and_updates_the_config(a_run, tmp_runs):
    target = collection.rename_run(a_run, "My VAE / take 2", root=tmp_runs)
    assert target == (tmp_runs / "My-VAE-take-2").resolve()
    assert not a_run.exists()
    run = checkpoint.load_run(target)
    assert run.name == "My-VAE-take-2" and run.history["status"] == "completed"


def test_rename_refuses_existing_names_outside_paths_and_non_runs(a_run, trained_run_template, tmp_runs,
                                                                  tmp_path):
    _copy_run(trained_run_template, tmp_runs, "taken")
    with pytest.raises(CheckpointError, match="already exists"):
        collection.rename_run(a_run, "taken", root=tmp_runs)
    outside = _copy_run(trained_run_template, tmp_path / "elsewhere", "outside-run")
    with pytest.raises(CheckpointError, match="not inside the runs folder"):
        collection.rename_run(outside, "stolen", root=tmp_runs)
    (tmp_runs / "plain-folder").mkdir()
    with pytest.raises(CheckpointError, match="does not look like a run folder"):
        collection.rename_run(tmp_runs / "plain-folder", "renamed", root=tmp_runs)
    assert (tmp_runs / "plain-folder").is_dir() and not (tmp_runs / "renamed").exists()
    with pytest.raises(CheckpointError, match="at least one letter"):
        collection.rename_run(a_run, " ../ ", root=tmp_runs)


@pytest.mark.parametrize("typed, folder", [("../../etc", "etc"), ("a/b c", "a-b-c"), ("_jobs", "jobs"),
                                           ("__uploads__", "uploads"), (".hidden", "hidden"), ("-rf", "rf"),
                                           ("x" * 79 + "-y", "x" * 79)])
def test_run_names_become_folder_names_that_are_not_the_apps_own(typed, folder):
    assert collection.safe_run_name(typed) == folder


@pytest.mark.parametrize("typed", ["students", "Students", "..", "___", "é" * 10])
def test_run_names_that_would_be_no_name_or_the_classroom_folder_are_refused(typed):
    with pytest.raises(CheckpointError, match="at least one letter|kept for the students"):
        collection.safe_run_name(typed)


def test_delete_removes_a_run(a_run, tmp_runs):
    collection.delete_run(a_run, root=tmp_runs)
    assert not a_run.exists() and tmp_runs.is_dir()


def test_delete_refuses_paths_outside_the_root(a_run, trained_run_template, tmp_runs, tmp_path):
    outside = _copy_run(trained_run_template, tmp_path / "elsewhere", "outside-run")
    for path in (outside, tmp_runs / ".." / "elsewhere" / "outside-run", tmp_runs, tmp_runs / ".."):
        with pytest.raises(CheckpointError, match="not inside the runs folder"):
            collection.delete_run(path, root=tmp_runs)
    assert outside.is_dir() and a_run.is_dir()


def test_delete_refuses_a_folder_that_is_not_a_run(tmp_runs):
    keep = tmp_runs / "my-photos"
    keep.mkdir()
    (keep / "holiday.png").write_bytes(b"png")
    with pytest.raises(CheckpointError, match="does not look like a run folder"):
        collection.delete_run(keep, root=tmp_runs)
    assert (keep / "holiday.png").exists()


def test_new_run_dir_never_reuses_a_folder(tmp_runs):
    first = collection.new_run_dir(tmp_runs, "vae", "mnist5k", "demo")
    first.mkdir()
    assert collection.new_run_dir(tmp_runs, "vae", "mnist5k", "demo") == tmp_runs / "demo-2"
    assert collection.new_run_dir(tmp_runs, "vae", "my data").name.startswith("vae-my-data-")


# ---------------------------------------------------------------- zip export / import

def test_export_then_import_round_trip_loads_the_same_model(a_run, tmp_runs, tmp_path):
    data = collection.export_zip(a_run)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = sorted(archive.namelist())
    assert names == ["codes/epoch_001.npy", "config.json", "history.json", "model.safetensors", "optimizer.json",
                     "optimizer.safetensors", "samples/epoch_001.png"]
    other_root = tmp_path / "other-machine"
    imported = collection.import_zip(data, root=other_root)
    assert imported.parent == other_root and imported.name == "first-run"
    original, copy = checkpoint.load_run(a_run), checkpoint.load_run(imported, with_optimizer_state=True)
    z = torch.randn(5, 2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(original.model.decode(z), copy.model.decode(z))
    assert copy.optimizer_state and copy.history == original.history
    assert (imported / "samples" / "epoch_001.png").exists()
    assert layout.codes_path(imported, 1).read_bytes() == layout.codes_path(a_run, 1).read_bytes()
    again = collection.import_zip(data, root=other_root)  # a second import never overwrites the first
    assert again.name == "first-run-2"
    assert json.loads((again / layout.CONFIG_FILE).read_text())["name"] == "first-run-2"
    assert not [p for p in other_root.iterdir() if p.name.startswith(".import-")]  # staging cleaned up


def test_import_accepts_a_zip_with_one_top_folder_and_an_explicit_name(a_run, tmp_runs):
    members = {f"downloaded-run/{name}": data for name, data in _run_files(a_run).items()}
    assert collection.import_zip(_zip(members), root=tmp_runs).name == "downloaded-run"
    assert collection.import_zip(_zip(members), root=tmp_runs, name="chosen name").name == "chosen-name"


def test_an_imported_zip_whose_own_name_is_unusable_gets_a_fresh_name_and_a_typed_one_is_refused(a_run, tmp_runs):
    members = {f"students/{name}": data for name, data in _run_files(a_run).items()}
    imported = collection.import_zip(_zip(members), root=tmp_runs)
    family = json.loads((a_run / layout.CONFIG_FILE).read_text())["family"]
    assert imported.name.startswith(f"{family}-") and (imported / layout.WEIGHTS_FILE).exists()  # the default
    assert not (tmp_runs / "students").exists(), "classroom mode's folder stays free"
    with pytest.raises(CheckpointError, match="kept for the students"):
        collection.import_zip(_zip(members), root=tmp_runs, name="Students")


@pytest.mark.parametrize("extra_member", [
    "model.pkl", "../evil", "samples/../../evil.png", "/etc/cron.d/evil", "run.py", "samples/epoch_1.png",
    "model.safetensors.pt",
])
def test_import_refuses_unexpected_members(a_run, tmp_runs, tmp_path, extra_member):
    members = {**_run_files(a_run), extra_member: b"cos\nsystem\n(S'touch pwned'\ntR."}
    with pytest.raises(CheckpointError, match="Unexpected file"):
        collection.import_zip(_zip(members), root=tmp_runs / "imports")
    assert list((tmp_runs / "imports").iterdir()) == []  # nothing unpacked, staging removed
    assert not (tmp_path / "evil").exists() and not (tmp_runs / "evil").exists()


def test_import_refuses_a_zip_that_does_not_load(a_run, tmp_runs):
    members = _run_files(a_run)
    members["model.safetensors"] = members["model.safetensors"][:-64]
    with pytest.raises(CheckpointError, match="does not hold a loadable run.*safetensors"):
        collection.import_zip(_zip(members), root=tmp_runs / "imports")
    del members["config.json"]
    with pytest.raises(CheckpointError, match="does not hold a loadable run.*config.json is missing"):
        collection.import_zip(_zip(members), root=tmp_runs / "imports")
    assert list((tmp_runs / "imports").iterdir()) == []


def test_import_refuses_files_that_are_not_zips_and_oversized_contents(a_run, tmp_runs, monkeypatch):
    with pytest.raises(CheckpointError, match="not a zip archive"):
        collection.import_zip(b"PK\x03\x04 certainly not a zip", root=tmp_runs)
    data = collection.export_zip(a_run)
    monkeypatch.setattr(collection, "MAX_ZIP_BYTES", len(data) - 1)
    with pytest.raises(CheckpointError, match="above the"):
        collection.import_zip(data, root=tmp_runs)
    # a zip bomb: small on the wire, huge once unpacked
    bomb = _zip({**_run_files(a_run), "history.json": b" " * 4_000_000})
    monkeypatch.setattr(collection, "MAX_ZIP_BYTES", 1_000_000)
    assert len(bomb) < 1_000_000
    with pytest.raises(CheckpointError, match="unpacks to more than"):
        collection.import_zip(bomb, root=tmp_runs)


def test_import_refuses_a_config_with_wrong_types_and_names_the_field(a_run, tmp_runs):
    members = _run_files(a_run)
    config = json.loads(members["config.json"])
    for changes, field in (({"name": 5}, "name"), ({"data": ["mnist5k"]}, "data")):
        members["config.json"] = json.dumps({**config, **changes}).encode()
        with pytest.raises(CheckpointError, match=f"config.json: {field} must be"):
            collection.import_zip(_zip(members), root=tmp_runs / "imports")
    assert list((tmp_runs / "imports").iterdir()) == []
