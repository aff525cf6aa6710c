"""Do the Train page's time estimates hold? Each estimate against the real run, idle and on a busy CPU.

The estimate is made as the Train page makes it (``ui/estimates.py``): in a process that runs the
web server's thread policy (one thread), a throwaway trainer times a few steps and one test pass
(``gen_core.training.estimate``). The real run is then trained as the page trains it: a job of the
app's queue (``gen_core.serve.jobs``), in its own worker process with the cores the queue leaves it.
Two figures per run: the training time against the timed estimate (the worker's history, from its
first step to its last test pass) and the wait a student sees (from submitting the job to its end,
process start-up and the final save included, scoring left out) against what the quick start says:
the timed estimate plus the queue's start-up (``JobQueue.startup_seconds``: the typical figure until
the queue has timed a worker of its own; one queue serves every run here, as one serves the app).
Goal: each within a factor of 1.5, idle and with two extra processes spinning on the CPU, each in a
session of its own (as other programs are: see ``busy_processes``).

Usage: python bench/bench_estimates.py [--cases quick-start conv-vae dcgan] [--conditions idle contention]
                                      [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_contention import busy_processes  # noqa: E402  (this folder is on the path when run as a script)
from gen_core.compute import apply_thread_policy  # noqa: E402
from gen_core.data import load_dataset  # noqa: E402
from gen_core.models.presets import QUICK_START  # noqa: E402
from gen_core.run import checkpoint  # noqa: E402
from gen_core.run.start import TrainingRequest, prepare_training, train_config_from_dict  # noqa: E402
from gen_core.serve.jobs import JobQueue, JobRequest  # noqa: E402
from gen_core.training.estimate import estimate_training_seconds  # noqa: E402

CASES = {
    "quick-start": (QUICK_START.family, dict(QUICK_START.model), dict(QUICK_START.training)),
    "conv-vae": ("vae", {"arch": "conv", "latent_dim": 10, "beta": 4.0, "loss": "bce"},
                 {"epochs": 3, "lr": 1e-3, "batch_size": 128}),
    "dcgan": ("dcgan", {"latent_dim": 32}, {"epochs": 2, "lr": 2e-4, "batch_size": 64}),
}


def estimate(family: str, model: dict, training: dict, dataset) -> float:
    run = prepare_training(family, model, dataset, train_config_from_dict({**training, "device": "cpu"}), save=False)
    return estimate_training_seconds(run.trainer)


def real_run(queue: JobQueue, folder: Path, family: str, model: dict, training: dict) -> tuple[float, float]:
    """(training seconds from the history, seconds from submitting the job to its end)."""
    request = TrainingRequest(folder / "run", family, model, "mnist5k", {}, {**training, "device": "cpu"},
                              evaluate=False)
    submitted = time.perf_counter()
    job = queue.submit(JobRequest(request, "bench", "bench"))
    queue.wait(job.id, timeout=1800)
    waited = time.perf_counter() - submitted
    history = checkpoint.load_run(folder / "run").history
    return history["epochs"][-1]["elapsed"], waited


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--conditions", nargs="+", choices=["idle", "contention"], default=["idle", "contention"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    apply_thread_policy(role="server")  # the page times the estimate in the web server's process
    dataset = load_dataset("mnist5k")
    results = []
    jobs_folder = tempfile.TemporaryDirectory()
    queue = JobQueue(limit=1, work_dir=Path(jobs_folder.name), gpus=[])
    for condition in args.conditions:
        # other work in sessions of its own: the web server, the workers and other programs each are one
        with busy_processes(2 if condition == "contention" else 0, own_sessions=True):
            for case in args.cases:
                family, model, training = CASES[case]
                load = os.getloadavg()[0]
                predicted = estimate(family, model, training, dataset)
                startup = queue.startup_seconds()  # as the page adds it, before this run
                with tempfile.TemporaryDirectory() as folder:
                    trained, waited = real_run(queue, Path(folder), family, model, training)
                row = {"condition": condition, "case": case, "load": round(load, 2), "estimate_s": round(predicted, 1),
                       "startup_estimate_s": round(startup, 1), "training_s": round(trained, 1),
                       "wait_s": round(waited, 1), "training_ratio": round(trained / predicted, 2),
                       "wait_ratio": round(waited / (predicted + startup), 2)}
                results.append(row)
                print(f"{condition:<10} {case:<11} load {load:4.1f}  estimate {predicted:6.1f} s + start-up "
                      f"{startup:4.1f} s  training {trained:6.1f} s (x{row['training_ratio']:.2f})  "
                      f"wait {waited:6.1f} s (x{row['wait_ratio']:.2f})  goal: within x1.5", flush=True)
    queue.close(timeout=30)
    jobs_folder.cleanup()
    if args.json:
        args.json.write_text(json.dumps({"results": results}, indent=1))


if __name__ == "__main__":
    main()
