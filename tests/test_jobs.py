"""Background training jobs: stop saves cleanly, one job at a time, failures end with a message."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from gen_core import checkpoints, jobs
from gen_core.errors import TrainingError
from gen_core.training import TrainConfig, Trainer

TIMEOUT = 60  # seconds; a tiny model needs well under one, a busy machine a few


@pytest.fixture(autouse=True)
def no_job_left_running():
    yield
    job = jobs.current_job()
    if job is not None:
        job.stop()
        assert job.wait(TIMEOUT), "a training thread outlived its test"


def _trainer(build_tiny, dataset, run_dir, case="ae-mlp", **config):
    settings = {"epochs": 2, "batch_size": 64, "lr": 2e-3, "device": "cpu", "sample_count": 4, "log_every": 1,
                **config}
    return Trainer(build_tiny(case), dataset, TrainConfig(**settings), run_dir=run_dir, run_name=run_dir.name)


def _wait_for(condition, what: str):
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _hold_at_first_step(model, monkeypatch) -> threading.Event:
    """Make the model's first update wait for the returned event, so a job is surely mid-run."""
    release, real_step = threading.Event(), model.train_step

    def train_step(x, optimizers):
        assert release.wait(TIMEOUT)
        return real_step(x, optimizers)

    monkeypatch.setattr(model, "train_step", train_step)
    return release


def test_a_job_runs_to_completion_and_reports_progress(build_tiny, mnist_small, tmp_runs):
    job = jobs.start_job(_trainer(build_tiny, mnist_small, tmp_runs / "complete"), "complete")
    snapshot = jobs.wait_until_finished(job, timeout=TIMEOUT)
    assert (snapshot.status, snapshot.message) == ("completed", "Trained 2 epochs.")
    assert not snapshot.is_active and snapshot.fraction == 1.0
    assert (snapshot.epoch, snapshot.total_epochs) == (2, 2)
    assert [entry["epoch"] for entry in snapshot.epochs] == [1, 2] and len(snapshot.steps) == 12
    assert snapshot.latest_samples_epoch == 2 and snapshot.latest_samples.size[0] > 28
    assert snapshot.run_dir == str(tmp_runs / "complete") and jobs.current_job() is job
    assert checkpoints.load_run(tmp_runs / "complete").history["status"] == "completed"


def test_stop_ends_a_job_cleanly_with_a_saved_checkpoint(build_tiny, mnist_small, tmp_runs):
    run_dir = tmp_runs / "stop-me"
    job = jobs.start_job(_trainer(build_tiny, mnist_small, run_dir, epochs=500), "stop-me")
    _wait_for(lambda: len(job.snapshot().epochs) >= 1, "the first epoch")
    job.stop()
    snapshot = jobs.wait_until_finished(job, timeout=TIMEOUT)
    assert snapshot.status == "stopped" and snapshot.message.startswith("Stopped after epoch")
    assert 1 <= snapshot.epoch < 500 and not snapshot.is_active

    run = checkpoints.load_run(run_dir, with_optimizer_state=True)
    assert run.history["status"] == "stopped"
    assert len(run.history["epochs"]) == snapshot.epoch == len(snapshot.epochs)
    assert run.optimizer_state["model"]["state"]
    assert (run_dir / checkpoints.SAMPLES_DIR / f"epoch_{snapshot.epoch:03d}.png").exists()
    assert all(torch.isfinite(t).all() for t in run.model.state_dict().values())
    z = torch.zeros(2, run.model.latent_dim)
    assert torch.equal(run.model.decode(z), job.trainer.model.eval().decode(z))  # the saved weights are the last


def test_a_second_start_while_one_is_active_is_refused(build_tiny, mnist_small, tmp_runs, monkeypatch):
    first = _trainer(build_tiny, mnist_small, tmp_runs / "first", epochs=500)
    release = _hold_at_first_step(first.model, monkeypatch)
    job = jobs.start_job(first, "first")
    second = _trainer(build_tiny, mnist_small, tmp_runs / "second", epochs=1)
    with pytest.raises(TrainingError, match="'first' is still training"):
        jobs.start_job(second, "second")
    assert jobs.current_job() is job and job.snapshot().is_active

    job.stop()
    release.set()
    assert jobs.wait_until_finished(job, timeout=TIMEOUT).status == "stopped"
    follow_up = jobs.start_job(second, "second")  # allowed once the first has ended
    assert jobs.wait_until_finished(follow_up, timeout=TIMEOUT).status == "completed"
    assert jobs.current_job() is follow_up


def test_a_nan_run_ends_the_job_as_failed_with_the_message(build_tiny, mnist_small, tmp_runs):
    run_dir = tmp_runs / "explodes"
    trainer = _trainer(build_tiny, mnist_small, run_dir, case="vae-mlp", lr=1e6, epochs=3)
    snapshot = jobs.wait_until_finished(jobs.start_job(trainer, "explodes"), timeout=TIMEOUT)
    assert snapshot.status == "failed" and not snapshot.is_active
    assert "The loss became nan" in snapshot.message and "lower learning rate" in snapshot.message
    assert trainer.history["status"] == "failed" and trainer.history["message"] == snapshot.message


def test_an_unexpected_error_in_the_thread_is_reported_not_lost(build_tiny, mnist_small, tmp_runs, monkeypatch,
                                                               capsys):
    trainer = _trainer(build_tiny, mnist_small, tmp_runs / "crashes")

    def broken_step(x, optimizers):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(trainer.model, "train_step", broken_step)
    snapshot = jobs.wait_until_finished(jobs.start_job(trainer, "crashes"), timeout=TIMEOUT)
    assert (snapshot.status, snapshot.message) == ("failed", "RuntimeError: CUDA out of memory")
    assert "RuntimeError" in capsys.readouterr().err  # the traceback is printed for the log


def test_a_snapshot_is_a_copy_the_page_can_keep(build_tiny, mnist_small, tmp_runs):
    job = jobs.start_job(_trainer(build_tiny, mnist_small, tmp_runs / "copy"), "copy")
    snapshot = jobs.wait_until_finished(job, timeout=TIMEOUT)
    snapshot.epochs.clear()
    snapshot.steps.append({"step": -1})
    fresh = job.snapshot()
    assert len(fresh.epochs) == 2 and fresh.steps[-1]["step"] != -1


def test_measure_at_end_stores_prior_and_gmm_metrics_with_the_run(tmp_runs):
    """A job started with measure_at_end scores the finished run and keeps the numbers in history.json."""
    from gen_core.pipeline import prepare_training

    trainer = prepare_training("ae", {"hidden": (32,), "latent_dim": 4}, "digits",
                               TrainConfig(epochs=1, batch_size=128, device="cpu", sample_count=4), root=tmp_runs)
    job = jobs.start_job(trainer, trainer.run_name, measure_at_end=True)
    snapshot = jobs.wait_until_finished(job, timeout=300)
    assert snapshot.status == "completed"
    assert snapshot.metrics_state == "done", snapshot.metrics_message
    stored = checkpoints.read_json(trainer.run_dir / checkpoints.HISTORY_FILE)["metrics"]
    assert set(stored) == {"prior", "gmm"}
    assert 0 < stored["prior"]["metrics"]["ssim"] <= 1
    assert stored["gmm"]["epochs_trained"] == 1
