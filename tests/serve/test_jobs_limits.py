"""Limits that hold: one waiting job per person across names, workers of an earlier server
adopted, a wall-clock and a memory limit per job, a removed run folder."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import time
from dataclasses import replace

import pytest

from gen_core.atomic import write_json_atomic
from gen_core.places import JOBS_DIR
from gen_core.run import layout
from gen_core.run.start import TrainingRequest, reserve_run_dir
from gen_core.run.writer import RunWriter
from gen_core.serve import jobs, worker

from .conftest import small_job, wait_for


@pytest.fixture
def queue(tmp_runs):
    queue = jobs.JobQueue(limit=1, work_dir=tmp_runs / JOBS_DIR, nice=0, threads=1, gpus=[], memory_limit=None)
    yield queue
    queue.close(timeout=30)
    for view in queue.jobs():
        if view.pid and view.state != jobs.ENDED:
            os.killpg(view.pid, signal.SIGKILL)


@pytest.fixture
def sleeping_worker(monkeypatch):
    monkeypatch.setattr(worker, "train_command",
                        lambda arguments, processes=1: [sys.executable, "-c", "import time; time.sleep(120)"])


def test_one_person_waits_with_one_job_whatever_the_name(queue, tmp_runs, sleeping_worker):
    queue.submit(small_job(tmp_runs, "first", owner="student:ada"))
    second = replace(small_job(tmp_runs, "second", owner="student:ada2"), person="browser:1")
    queue.submit(second)
    third = replace(small_job(tmp_runs, "third", owner="student:ada3"), person="browser:1")
    with pytest.raises(jobs.QueueError, match="already have a job waiting"):
        queue.submit(third)
    queue.submit(replace(small_job(tmp_runs, "fourth", owner="student:bob"), person="browser:2"))


def test_workers_an_earlier_server_started_hold_their_slots(tmp_runs, sleeping_worker):
    run_dir = reserve_run_dir(tmp_runs, "ae", "digits", "still-training")
    sleeper = worker.start_worker([sys.executable, "-c", "import time; time.sleep(120)"], tmp_runs / "s.log",
                                  dict(os.environ))
    try:
        write_json_atomic(run_dir / layout.LIVE_FILE, {"status": "running", "updated": time.time(),
                                                       "writer": {"host": socket.gethostname(), "pid": sleeper.pid,
                                                                  "started": time.time()}})
        TrainingRequest(run_dir, "ae", {}, "digits", {}, {"epochs": 1}).write(tmp_runs / JOBS_DIR / "left-1.json")
        restarted = jobs.JobQueue(limit=1, work_dir=tmp_runs / JOBS_DIR, nice=0, threads=1, gpus=[], memory_limit=None)
        try:
            view = restarted.submit(small_job(tmp_runs, "new-one"))
            wait_for(lambda: restarted.adopted(), "the earlier worker to be adopted", timeout=30)
            time.sleep(1.0)
            assert restarted.view(view.id).state == jobs.QUEUED, "the slot is the earlier worker's"
            sleeper.kill()
            sleeper.wait()
            wait_for(lambda: restarted.view(view.id).state != jobs.QUEUED, "the slot to free", timeout=30)
        finally:
            restarted.close(timeout=10)
    finally:
        if sleeper.poll() is None:
            sleeper.kill()


def test_a_job_is_stopped_at_its_time_limit_and_its_owner_is_told(queue, tmp_runs, sleeping_worker, monkeypatch):
    monkeypatch.setattr(jobs, "STOP_GRACE", 0.5)  # the sleeping worker never honours a stop request
    view = queue.submit(replace(small_job(tmp_runs, "timed", owner="student:ada"), time_limit=0.5))
    ended = queue.wait(view.id, 60)
    assert ended.status == "stopped" and "time limit" in ended.message
    assert queue.seconds_used("student:ada") > 0


def test_a_worker_past_its_memory_limit_is_ended_with_a_clear_message(queue, tmp_runs, monkeypatch):
    monkeypatch.setattr(worker, "train_command", lambda arguments, processes=1: [
        sys.executable, "-c", "import time; block = bytearray(200 * 2**20); time.sleep(120)"])
    view = queue.submit(replace(small_job(tmp_runs, "greedy"), memory_limit=50 * 2**20))
    ended = queue.wait(view.id, 60)
    assert ended.status == "failed" and "memory" in ended.message and "one job may use" in ended.message


def test_a_run_folder_removed_while_it_trains_stops_its_worker_and_is_not_re_created(queue, tmp_runs,
                                                                                      sleeping_worker):
    view = queue.submit(small_job(tmp_runs, "removed"))
    wait_for(lambda: queue.view(view.id).pid is not None, "the worker to start")
    write_json_atomic(view.run_dir / layout.LIVE_FILE, {"status": "running", "updated": time.time(), "writer": {
        "host": socket.gethostname(), "pid": queue.view(view.id).pid, "started": time.time()}})  # as a worker does
    wait_for(lambda: queue.view(view.id).state == jobs.RUNNING, "the job to train")
    (view.run_dir / layout.WEIGHTS_FILE).write_bytes(b"saved")  # its first epoch saved, as a worker does
    wait_for(lambda: queue._job(view.id).saved_once, "the queue to see a saved epoch")
    shutil.rmtree(view.run_dir)
    ended = queue.wait(view.id, 60)
    assert "removed" in ended.message and not view.run_dir.exists()


def test_the_run_writer_stops_when_its_folder_is_removed(tmp_runs):
    writer = RunWriter(tmp_runs / "vanishing", min_interval=0)
    assert not writer.should_stop()
    shutil.rmtree(tmp_runs / "vanishing")
    time.sleep(0.25)
    assert writer.should_stop()
    writer.finish("stopped", "gone")
    assert not (tmp_runs / "vanishing").exists(), "the writer did not re-create the folder"
