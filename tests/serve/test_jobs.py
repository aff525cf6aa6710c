"""The job runner: each job trains in a process of its own, a fair queue in front, failures recorded.

Tests that need real training start real workers (``python -m gen_core train``, a few seconds each
to import torch); tests of the queue's order and bookkeeping use a worker that only sleeps.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from gen_core.atomic import write_json_atomic
from gen_core.places import JOBS_DIR
from gen_core.run import checkpoint, layout, live
from gen_core.run.control import request_control
from gen_core.run.start import TrainingRequest, discard_unused, reserve_run_dir
from gen_core.serve import jobs, worker

from .conftest import TIMEOUT, small_job, wait_for


@pytest.fixture
def queue(tmp_runs):
    queue = jobs.JobQueue(limit=1, work_dir=tmp_runs / JOBS_DIR, nice=0, threads=1, gpus=[])
    yield queue
    queue.close(timeout=30)
    for view in queue.jobs():  # never leave a process behind for the next test
        if view.pid and view.state != jobs.ENDED:
            os.killpg(view.pid, signal.SIGKILL)


@pytest.fixture
def sleeping_worker(monkeypatch):
    """Workers that only sleep: for the queue's order and bookkeeping, not for training."""
    monkeypatch.setattr(worker, "train_command",
                        lambda arguments, processes=1: [sys.executable, "-c", "import time; time.sleep(120)"])


def test_a_job_trains_in_a_process_of_its_own_and_writes_its_run_folder(queue, tmp_runs):
    view = queue.submit(small_job(tmp_runs, "own-process", epochs=2))
    wait_for(lambda: queue.view(view.id).pid is not None, "the worker to start")
    pid = queue.view(view.id).pid
    assert pid != os.getpid()
    view = queue.wait(view.id, TIMEOUT)
    assert (view.status, view.message) == ("completed", "Trained 2 epochs."), view.message
    progress = live.read_status(view.run_dir)
    assert progress["writer"]["pid"] == pid, "the run was written by the worker, not by this process"
    run = checkpoint.load_run(view.run_dir)
    assert len(run.history["epochs"]) == 2 and run.history["status"] == "completed"
    assert not (tmp_runs / JOBS_DIR / "own-process.json").exists(), "the settings file is cleaned up"
    # the worker's start-up (importing torch, loading the data) is learned for the next estimates
    assert view.started < progress["training_started"] < view.ended
    assert queue.startup_seconds() == pytest.approx(progress["training_started"] - view.started)
    assert queue.startup_seconds() != jobs.TYPICAL_STARTUP_S


def test_before_any_job_has_trained_the_start_up_is_the_measured_typical_one(queue):
    assert queue.startup_seconds() == jobs.TYPICAL_STARTUP_S


def test_killing_a_worker_fails_its_run_cleanly_keeps_the_saved_epochs_and_the_queue_goes_on(queue, tmp_runs):
    doomed = queue.submit(small_job(tmp_runs, "doomed", owner="ada", epochs=100_000))
    follower = queue.submit(small_job(tmp_runs, "follower", owner="bob", epochs=1))
    wait_for(lambda: len(live.read_live(doomed.run_dir).epochs) >= 1, "the first saved epoch")
    os.kill(queue.view(doomed.id).pid, signal.SIGKILL)  # what the kernel does when memory runs out

    ended = queue.wait(doomed.id, TIMEOUT)
    assert ended.status == "failed" and "killed (SIGKILL)" in ended.message and "out of memory" in ended.message
    run = checkpoint.load_run(doomed.run_dir)
    assert run.history["status"] == "failed" and run.history["message"] == ended.message
    assert len(run.history["epochs"]) >= 1, "the last good epoch is kept"
    assert live.read_live(doomed.run_dir).status == "failed"
    assert queue.wait(follower.id, TIMEOUT).status == "completed", "the next job still trains"


def test_a_worker_killed_while_scoring_leaves_a_trained_run_whose_metrics_are_missing(queue, tmp_runs):
    view = queue.submit(small_job(tmp_runs, "scored", epochs=1, measure=True))

    def scoring():
        progress = live.read_status(view.run_dir) or {}
        return isinstance(progress.get("metrics"), dict) and progress["metrics"].get("state") == "computing"

    wait_for(scoring, "the scoring after training")
    os.kill(queue.view(view.id).pid, signal.SIGKILL)  # out of memory while scoring, say

    ended = queue.wait(view.id, TIMEOUT)
    assert ended.status == "completed", "the training itself had finished"
    seen = live.read_live(view.run_dir)
    run = checkpoint.load_run(view.run_dir)
    assert seen.status == "completed" and run.history["status"] == "completed" and len(run.history["epochs"]) == 1
    # all metrics are stored at once at the end: killed before that, none are, and the
    # page says why; killed in the instant after, they are there and are reported as stored
    if run.history.get("metrics"):
        assert seen.metrics_state == "done", seen.metrics_message
    else:
        assert seen.metrics_state == "failed" and "killed (SIGKILL)" in seen.metrics_message


def test_stop_is_honoured_at_the_next_step_and_the_epoch_is_saved(queue, tmp_runs):
    view = queue.submit(small_job(tmp_runs, "stoppable", epochs=100_000))
    wait_for(lambda: len(live.read_live(view.run_dir).epochs) >= 1, "the first saved epoch")
    assert queue.stop(view.id) == "stopping"
    ended = queue.wait(view.id, TIMEOUT)
    assert ended.status == "stopped" and ended.message.startswith("Stopped after epoch")
    run = checkpoint.load_run(view.run_dir)
    assert run.history["status"] == "stopped" and 1 <= len(run.history["epochs"]) < 100_000
    assert not live.stop_requested(view.run_dir)


def test_a_job_in_its_own_process_pauses_steps_one_batch_and_resumes(queue, tmp_runs):
    view = queue.submit(small_job(tmp_runs, "steppable", epochs=100_000))
    wait_for(lambda: len(live.read_live(view.run_dir).epochs) >= 1, "the first saved epoch")
    request_control(view.run_dir, paused=True)
    wait_for(lambda: live.read_live(view.run_dir).is_paused, "the job to pause")
    paused_at = live.read_live(view.run_dir).step
    request_control(view.run_dir, step="batch")
    wait_for(lambda: live.read_live(view.run_dir).control.get("steps_taken") == 1, "the step")
    stepped = live.read_live(view.run_dir)
    assert stepped.step == paused_at + 1 and stepped.is_paused and stepped.step_grid_path is not None
    request_control(view.run_dir, paused=False)
    wait_for(lambda: live.read_live(view.run_dir).step > paused_at + 3, "training to go on")
    assert queue.stop(view.id) == "stopping" and queue.wait(view.id, TIMEOUT).status == "stopped"


def test_a_nan_loss_fails_the_job_with_the_trainers_message(queue, tmp_runs):
    view = queue.submit(small_job(tmp_runs, "explodes", epochs=3, lr=1e9))
    ended = queue.wait(view.id, TIMEOUT)
    assert ended.status == "failed" and "The loss became" in ended.message and "lower learning rate" in ended.message


def test_jobs_wait_in_order_one_waiting_job_per_owner(queue, tmp_runs, sleeping_worker):
    first = queue.submit(small_job(tmp_runs, "first", owner="ada"))
    second = queue.submit(small_job(tmp_runs, "second", owner="bob"))
    third = queue.submit(small_job(tmp_runs, "third", owner="cyd"))
    wait_for(lambda: queue.view(first.id).is_training, "the first job to start")
    assert [(v.run_name, v.place) for v in queue.jobs()] == [("first", 0), ("second", 1), ("third", 2)]
    with pytest.raises(jobs.QueueError, match="already have a job waiting"):
        queue.submit(small_job(tmp_runs, "bobs-second", owner="bob"))
    queue.submit(small_job(tmp_runs, "adas-next", owner="ada"))  # ada's first one trains: she may queue one

    assert queue.stop(second.id) == "cancelled"  # instant: it never had a process
    assert queue.view(second.id).status == "cancelled" and not second.run_dir.exists()
    assert [(v.run_name, v.place) for v in queue.jobs(include_ended=False)] == [
        ("first", 0), ("third", 1), ("adas-next", 2)]
    queue.stop(first.id)  # a worker that never wrote progress is ended at once
    wait_for(lambda: queue.view(third.id).is_training, "the next in line to start")
    assert queue.view(first.id).status == "stopped"


def test_the_wait_estimate_plays_the_queue_forward(queue, tmp_runs, sleeping_worker):
    running = queue.submit(small_job(tmp_runs, "running", owner="ada"))
    waiting = queue.submit(small_job(tmp_runs, "waiting", owner="bob"))
    wait_for(lambda: queue.view(running.id).is_training, "the first job to start")
    assert queue.view(waiting.id).estimated_start is None, "nothing known yet: no estimate"
    progress = {"status": "running", "eta_seconds": 90.0, "updated": time.time(),
                "writer": {"host": "x", "pid": 1, "started": time.time()}}
    write_json_atomic(running.run_dir / layout.LIVE_FILE, progress)
    wait_for(lambda: queue.view(running.id).state == jobs.RUNNING, "the progress file to be seen")
    assert queue.view(waiting.id).estimated_start == pytest.approx(90.0)
    (running.run_dir / layout.LIVE_FILE).unlink()  # so the sleeping worker is ended, not asked


def test_estimated_starts_play_slots_forward():
    # two slots: one frees in 30 s, one in 100 s; the waiting jobs take them in turn
    starts = jobs.estimate_starts([(1, 30.0), (1, 100.0)], [(7, 1, 50.0), (8, 1, 20.0), (9, 2, 10.0)], slots=2)
    assert starts == {7: 30.0, 8: 80.0, 9: 100.0}
    assert jobs.estimate_starts([(1, None)], [(1, 1, 5.0)], slots=1) == {1: None}, "unknown ahead: unknown"
    assert jobs.estimate_starts([], [(1, 1, None), (2, 1, 5.0)], slots=1) == {1: 0.0, 2: None}


def test_a_run_folder_cannot_have_two_jobs(queue, tmp_runs, sleeping_worker):
    request = small_job(tmp_runs, "taken")
    queue.submit(request)
    with pytest.raises(jobs.QueueError, match="already has a job"):
        queue.submit(jobs.JobRequest(TrainingRequest(request.run_dir, resume=True, extra_epochs=1), owner="bob"))


def test_reserved_folders_get_fresh_names(tmp_runs):
    first = reserve_run_dir(tmp_runs, "ae", "digits", "same")
    second = reserve_run_dir(tmp_runs, "ae", "digits", "same")
    assert (first.name, second.name) == ("same", "same-2") and first.is_dir() and second.is_dir()
    discard_unused(second)
    assert not second.exists()


def test_the_default_limit_is_one_per_gpu_or_the_operators_setting(monkeypatch):
    monkeypatch.delenv("LATENT_LAB_MAX_JOBS", raising=False)
    monkeypatch.setattr(jobs, "gpu_count", lambda: 0)
    assert jobs.default_limit() == 1
    monkeypatch.setattr(jobs, "gpu_count", lambda: 4)
    assert jobs.default_limit() == 4
    monkeypatch.setenv("LATENT_LAB_MAX_JOBS", "2")
    assert jobs.default_limit() == 2
    monkeypatch.setenv("LATENT_LAB_MAX_JOBS", "lots")
    assert jobs.default_limit() == 4
