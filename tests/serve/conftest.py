"""Helpers shared by the job queue's tests: a small job's request, and waiting for a worker."""

from __future__ import annotations

import time

from gen_core.run.start import TrainingRequest, reserve_run_dir
from gen_core.serve import jobs

TIMEOUT = 180  # seconds; a worker needs a few to start on a busy 2-core machine


def small_job(root, name, owner="ada", epochs=2, measure=False, **training) -> jobs.JobRequest:
    """A two-layer autoencoder on the embedded digits, in a fresh run folder under ``root``."""
    run_dir = reserve_run_dir(root, "ae", "digits", name)
    training = {"epochs": epochs, "batch_size": 64, "device": "cpu", "sample_count": 4, "log_every": 1, **training}
    request = TrainingRequest(run_dir, "ae", {"hidden": [16], "latent_dim": 2}, "digits", {}, training,
                              evaluate=measure)
    return jobs.JobRequest(request, owner=owner, owner_label=owner)


def wait_for(condition, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
