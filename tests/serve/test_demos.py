"""The demo set: `python -m gen_core demos --quick` trains loadable runs of every family, skips what is
trained, continues what is not, and leaves a folder that holds another model alone.

The real set trains for minutes; these tests swap in the same demos with tiny models and one epoch
(quick) or two (full), so they check the orchestration, not the sample quality.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest

from gen_core.atomic import write_json_atomic
from gen_core.cli import demos as demos_cli
from gen_core.cli import main
from gen_core.compute import ThreadChoice
from gen_core.run import checkpoint, layout
from gen_core.serve import demos, jobs, worker

TINY = {
    "ae": {"hidden": (32,), "latent_dim": 8},
    "vae": {"hidden": (32,), "latent_dim": 4},
    "vae-conv": {"arch": "conv", "conv_channels": (4, 8), "latent_dim": 4},
    "dcgan": {"latent_dim": 8, "gen_channels": (16, 8, 8), "disc_channels": (8, 16)},
    "vaegan": {"conv_channels": (8, 16), "disc_channels": (8, 16), "latent_dim": 8},
}


def _tiny(demo: demos.Demo) -> demos.Demo:
    kind = "vae-conv" if demo.model.get("arch") == "conv" and demo.family == "vae" else demo.family
    options = {**demo.dataset_options, "tile_size": 16, "tiles_per_epoch": 128, "test_tiles": 32} \
        if demo.dataset == "tiles" else demo.dataset_options
    return replace(demo, model=TINY[kind], training={**demo.training, "epochs": 2, "batch_size": 256},
                   quick_epochs=1, dataset_options=options)


@pytest.fixture
def tiny_set(monkeypatch):
    tiny = tuple(_tiny(demo) for demo in demos.DEMOS)
    monkeypatch.setattr(demos, "DEMOS", tiny)
    return tiny


def test_the_real_set_covers_every_family_and_tiles():
    families = {demo.family for demo in demos.DEMOS}
    assert families == {"ae", "vae", "dcgan", "vaegan"}
    assert any(demo.dataset == "tiles" for demo in demos.DEMOS)
    assert any(demo.family == "vae" and demo.model["latent_dim"] == 2 for demo in demos.DEMOS)
    assert any(demo.family == "ae" and demo.model["latent_dim"] == 32 for demo in demos.DEMOS)
    assert any(demo.model.get("beta", 1) > 1 and demo.model.get("arch") == "conv" for demo in demos.DEMOS)
    assert all(demo.epochs(quick=True) < demo.epochs(quick=False) for demo in demos.DEMOS)
    assert len({demo.name for demo in demos.DEMOS}) == len(demos.DEMOS)
    tile_losses = {demo.name: demo.model["loss"] for demo in demos.DEMOS if demo.dataset == "tiles"}
    assert tile_losses == {"demo-tile-vae": "gaussian", "demo-tile-vae-mse": "mse"}  # the fix beside the original


def test_a_folder_holding_an_older_version_of_a_demo_is_left_alone_and_said_so(tmp_path):
    tile = next(demo for demo in demos.DEMOS if demo.name == "demo-tile-vae")
    data = {"name": "tiles", **tile.dataset_options}
    write_json_atomic(tmp_path / tile.name / layout.CONFIG_FILE, {
        "format_version": checkpoint.FORMAT_VERSION, "family": "vae", "data": data,
        "model": {**tile.model, "loss": "mse", "hidden": [512, 256]}})
    state = demos.demo_state(tile, tmp_path)
    assert state.state == "taken" and not state.needs_training
    assert state.note == ("demo-tile-vae holds an older version of this demo (loss 'mse', not 'gaussian'); "
                          "rename or delete it to train this one")
    autoencoder = next(demo for demo in demos.DEMOS if demo.name == "demo-ae-32d")
    write_json_atomic(tmp_path / autoencoder.name / layout.CONFIG_FILE, {  # JSON holds the tuple as a list
        "format_version": checkpoint.FORMAT_VERSION, "family": "ae", "data": {"name": "mnist5k"},
        "model": {"hidden": [512, 128], "latent_dim": 32, "loss": "bce"}})
    assert demos.demo_state(autoencoder, tmp_path).state == "missing"
    # the tile demo of an earlier version (beta 16, no sampling mixture) is not taken for this one
    write_json_atomic(tmp_path / tile.name / layout.CONFIG_FILE, {
        "format_version": checkpoint.FORMAT_VERSION, "family": "vae", "data": data,
        "model": {"arch": "conv", "latent_dim": 16, "loss": "gaussian", "beta": 16.0}})
    assert demos.demo_state(tile, tmp_path).note == ("demo-tile-vae holds an older version of this demo (beta 16.0, "
                                                     "not 1.0); rename or delete it to train this one")
    tile_options = {"name": "tiles", **tile.dataset_options, "tile_size": 16}  # the same model on other tiles
    write_json_atomic(tmp_path / tile.name / layout.CONFIG_FILE, {
        "format_version": checkpoint.FORMAT_VERSION, "family": "vae", "data": tile_options, "model": dict(tile.model)})
    assert "tile_size 16, not 32" in demos.demo_state(tile, tmp_path).note


def test_quick_demos_are_loadable_runs_of_every_family_and_a_second_call_skips_them(tiny_set, tmp_path, capsys):
    assert main(["demos", "--jobs", "1", "--quick", "--no-eval", "--device", "cpu", "--out", str(tmp_path)]) == 0
    families = set()
    for demo in tiny_set:
        run = checkpoint.load_run(tmp_path / demo.name)
        families.add(run.family)
        assert len(run.history["epochs"]) == 1 and run.history["status"] == "completed"
        assert run.config["data"]["name"] == demo.dataset
    assert families == {"ae", "vae", "dcgan", "vaegan"}
    stamps = {demo.name: (tmp_path / demo.name / layout.WEIGHTS_FILE).stat().st_mtime_ns for demo in tiny_set}
    assert main(["demos", "--jobs", "1", "--quick", "--no-eval", "--device", "cpu", "--out", str(tmp_path)]) == 0
    assert stamps == {demo.name: (tmp_path / demo.name / layout.WEIGHTS_FILE).stat().st_mtime_ns
                      for demo in tiny_set}
    assert "trained" in capsys.readouterr().out


def test_the_full_set_continues_quick_runs_and_restarts_a_run_that_never_saved(tiny_set, tmp_path):
    first, second = tiny_set[0], tiny_set[1]
    assert main(["demos", "--jobs", "1", "--quick", "--no-eval", "--device", "cpu", "--out", str(tmp_path), "--only", first.name]) == 0
    # died before its first epoch: a config and nothing else
    write_json_atomic(tmp_path / second.name / layout.CONFIG_FILE, {
        "format_version": checkpoint.FORMAT_VERSION, "family": second.family, "model": {},
        "data": {"name": second.dataset}})
    assert main(["demos", "--jobs", "1", "--no-eval", "--device", "cpu", "--out", str(tmp_path), "--only", first.name,
                 second.name]) == 0
    assert [state.state for state in demos.demo_states(tmp_path, demos=(first, second))] == ["trained", "trained"]
    history = checkpoint.read_json(tmp_path / first.name / layout.HISTORY_FILE)
    assert [entry["epoch"] for entry in history["epochs"]] == [1, 2]  # continued, not restarted
    assert len(checkpoint.load_run(tmp_path / second.name).history["epochs"]) == 2


def test_a_folder_holding_another_model_is_left_alone(tiny_set, tmp_path, capsys):
    dcgan = next(demo for demo in tiny_set if demo.family == "dcgan")
    assert main(["demos", "--jobs", "1", "--quick", "--no-eval", "--device", "cpu", "--out", str(tmp_path), "--only", dcgan.name]) == 0
    taken = next(demo for demo in tiny_set if demo.family == "ae")
    (tmp_path / dcgan.name).rename(tmp_path / taken.name)
    assert main(["demos", "--jobs", "1", "--quick", "--no-eval", "--only", taken.name, "--out", str(tmp_path)]) == 1
    assert "holds a different model" in capsys.readouterr().out
    assert checkpoint.read_config(tmp_path / taken.name)["family"] == "dcgan"


def test_unknown_names_and_a_run_another_process_writes_are_clear_errors(tiny_set, tmp_path, capsys):
    assert main(["demos", "--jobs", "1", "--only", "no-such-demo", "--out", str(tmp_path)]) == 2
    assert "Unknown demo no-such-demo" in capsys.readouterr().err
    first = tiny_set[0]
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path / first.name)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"held"
        assert main(["demos", "--jobs", "1", "--quick", "--no-eval", "--out", str(tmp_path), "--only", first.name]) == 2
        assert "being written by another training run" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()


def test_two_jobs_at_once_train_side_by_side_in_worker_processes(tiny_set, tmp_path, capsys, monkeypatch):
    """``--jobs 3`` on two free cores: the set goes through a job queue with two slots, GANs first; both models train at
    the same time (each started before either ended) and end as loadable, completed runs."""
    monkeypatch.setattr(demos_cli, "applied_threads", lambda: ThreadChoice(2, 2, 0.0, "two cores, idle"))
    chosen = [next(demo for demo in tiny_set if demo.family == "ae"), next(demo for demo in tiny_set
                                                                            if demo.family == "dcgan")]
    assert main(["demos", "--jobs", "3", "--quick", "--no-eval", "--device", "cpu", "--out", str(tmp_path),
                 "--only", *(demo.name for demo in chosen)]) == 0
    out = capsys.readouterr().out
    assert "--jobs 3: 2 at a time, one per free core" in out  # never more jobs than free cores
    assert "Training 2 models at a time, 1 thread each" in out
    lines = [line.split() for line in out.splitlines() if line.startswith(("started", "completed"))]
    assert [(word, name) for word, name, *_ in lines[:2]] == [("started", chosen[1].name), ("started", chosen[0].name)]
    assert sorted(name for word, name, *_ in lines[2:]) == sorted(demo.name for demo in chosen)
    for demo in chosen:
        run = checkpoint.load_run(tmp_path / demo.name)
        assert run.history["status"] == "completed" and len(run.history["epochs"]) == 1
        assert run.history["compute"][0]["threads"] == 1  # each worker kept to its share of the cores
    assert main(["demos", "--jobs", "0", "--out", str(tmp_path)]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err


HOLD_LOCK = """import sys, time
from gen_core.run.files import writing
with writing(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def test_the_demo_set_goes_into_the_job_queue_as_ordinary_jobs_that_can_be_stopped(tiny_set, tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "train_command",  # workers that only sleep: this checks the queue, not training
                        lambda arguments, processes=1: [sys.executable, "-c", "import time; time.sleep(120)"])
    queue = jobs.JobQueue(limit=1, work_dir=tmp_path / "_jobs", nice=0, threads=1, gpus=[])
    try:
        views = demos.submit_demos(queue, tmp_path, quick=True)
        assert [view.run_name for view in views] == [demo.name for demo in tiny_set]
        assert {view.owner for view in views} == {demos.DEMO_OWNER}
        listed = demos.demo_jobs(queue, tmp_path)
        assert len(listed) == len(tiny_set) and sum(view.is_training or view.state == jobs.STARTING
                                                     for view in listed) <= 1, "one slot: the rest wait"
        assert demos.submit_demos(queue, tmp_path, quick=True) == [], "a second click queues nothing twice"
        assert queue.stop(views[-1].id) == jobs.CANCELLED
        assert len(demos.demo_jobs(queue, tmp_path)) == len(tiny_set) - 1
    finally:
        queue.close(timeout=10)
