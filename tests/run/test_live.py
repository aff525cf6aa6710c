"""The run folder as the contract: the run writer's live status, stop requests, and how readers see a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from gen_core.run.start import TrainingRun
from gen_core.atomic import write_json_atomic
from gen_core.run import checkpoint, layout, live
from gen_core.training import TrainConfig, Trainer
from gen_core.training.events import Step


def _trainer(build_tiny, dataset, run_dir, **config):
    settings = {"epochs": 2, "batch_size": 64, "lr": 2e-3, "device": "cpu", "sample_count": 4, "log_every": 1,
                **config}
    return TrainingRun(Trainer(build_tiny("ae-mlp"), dataset, TrainConfig(**settings)), run_dir)


def test_a_run_writer_leaves_a_finished_live_status(build_tiny, mnist_small, tmp_runs):
    run_dir = tmp_runs / "watched"
    run = _trainer(build_tiny, mnist_small, run_dir)
    assert run.writer is not None and live.read_status(run_dir)["status"] == "starting"
    before_fit = time.time()
    run.fit()
    progress = live.read_status(run_dir)
    assert (progress["status"], progress["message"]) == ("completed", "Trained 2 epochs.")
    assert progress["epoch"] == 2 and progress["step"] == progress["total_steps"] == 12
    assert progress["steps_per_epoch"] == 6 and progress["samples_epoch"] == 2
    assert progress["writer"]["pid"] == os.getpid() and progress["recent_steps"] == []
    # the first step's wall-clock start, after the writer started: what a job queue learns as start-up
    assert progress["writer"]["started"] <= progress["training_started"]
    assert before_fit - 0.01 <= progress["training_started"] <= before_fit + progress["elapsed"]
    seen = live.read_live(run_dir)
    assert not seen.is_active and seen.fraction == 1.0 and len(seen.epochs) == 2 and len(seen.steps) == 12
    assert seen.samples_path.name == "epoch_002.png" and seen.has_weights


def test_a_stop_request_ends_the_run_after_the_current_step(build_tiny, mnist_small, tmp_runs):
    run_dir = tmp_runs / "stop-me"
    run_dir.mkdir()
    live.request_stop(run_dir)  # left over from an earlier process: the new writer clears it
    run = _trainer(build_tiny, mnist_small, run_dir, epochs=500)
    writer = run.writer
    assert not live.stop_requested(run_dir)

    def on_event(event):
        if isinstance(event, Step) and event.entry["epoch"] == 2:
            live.request_stop(run_dir)
            writer._checked = -1.0  # look at the folder on the next step, not 0.2 s later

    history = run.fit(on_event=on_event)
    assert history["status"] == "stopped" and 2 <= len(history["epochs"]) < 500
    assert live.read_status(run_dir)["status"] == "stopped"
    assert not live.stop_requested(run_dir), "an honoured request is removed"
    assert checkpoint.load_run(run_dir).history["status"] == "stopped"


def test_a_run_whose_writer_died_reads_as_failed_and_record_end_keeps_its_epochs(build_tiny, mnist_small,
                                                                                 tmp_runs):
    run_dir = tmp_runs / "orphan"
    _trainer(build_tiny, mnist_small, run_dir, epochs=1).fit()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    progress = {"status": "running", "epoch": 1, "total_epochs": 5, "step": 6, "total_steps": 30,
                "writer": {"host": live.socket.gethostname(), "pid": gone.pid, "started": 0}}
    write_json_atomic(run_dir / layout.LIVE_FILE, progress)
    assert not live.is_training(run_dir)
    seen = live.read_live(run_dir)
    assert seen.status == "failed" and "without saying why" in seen.message

    live.record_end(run_dir, "failed", "Killed.")
    run = checkpoint.load_run(run_dir)
    assert (run.history["status"], run.history["message"]) == ("failed", "Killed.")
    assert len(run.history["epochs"]) == 1, "the saved epoch is kept"


def test_a_writer_on_another_machine_counts_as_alive_until_it_goes_quiet(tmp_runs):
    progress = {"status": "running", "writer": {"host": "another-machine", "pid": 1}, "updated": 1000.0}
    assert live.writer_alive(progress, now=1000.0 + live.STALE_AFTER - 1)
    assert not live.writer_alive(progress, now=1000.0 + live.STALE_AFTER + 1)


@pytest.mark.parametrize("content", [b"", b"[1, 2]", b"{\"status\": 3}", b"\xff\xfe", b"{\"status\": \"running\","
                                     b" \"writer\": [1], \"recent_steps\": {\"a\": 1}, \"epoch\": \"x\"}"])
def test_malformed_progress_files_never_break_a_reader(tmp_runs, content):
    run_dir = tmp_runs / "odd"
    run_dir.mkdir()
    (run_dir / layout.LIVE_FILE).write_bytes(content)
    (run_dir / layout.HISTORY_FILE).write_text(json.dumps({"epochs": [1, {"epoch": 1}], "steps": "x"}))
    seen = live.read_live(run_dir)
    assert not seen.is_active and seen.epochs == [{"epoch": 1}] and seen.steps == []
    assert not live.is_training(run_dir)
