"""Training speed on a busy CPU: the thread policy against fixed thread counts, with and without two
busy processes, for the three ways training starts.

  cli    python -m gen_core train (an MLP VAE, 2 epochs of the embedded MNIST sample)
  demo   python -m gen_core demos --quick --only demo-vae-2d (10 epochs)
  queue  a job of the app's queue (gen_core.serve.jobs): the worker process the Train page starts

Each is run with the policy's own choice ("policy"), and with --threads 1 and --threads N (every
core) for comparison, and with every core under OpenMP's passive wait policy (OMP_WAIT_POLICY=PASSIVE:
a thread waiting at a barrier sleeps instead of spinning, which should matter most when the cores
are shared), alternating, in two conditions: as the machine is ("as is"), and with two
extra processes spinning on the CPU ("contention"). Speed is images per second over the training
steps, read from the run's history (process start-up and scoring left out). Goals:
under contention the policy keeps >= 80% of the one-thread run; as is (idle), >= 95% of the best
fixed count. The load average is printed with each condition: on a shared machine "as is" is not
idle, so read the ratios, not the absolute figures.

Usage: python bench/bench_contention.py [--entries cli demo queue] [--repeats 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gen_core.compute import THREADS_ENV, usable_cores  # noqa: E402
from gen_core.run import checkpoint  # noqa: E402
from gen_core.run.start import TrainingRequest  # noqa: E402
from gen_core.serve.jobs import JobQueue, JobRequest  # noqa: E402

SPIN = "while True: pass"


@contextmanager
def busy_processes(count: int, own_sessions: bool = False):
    """``count`` extra processes spinning on the CPU while the block runs (none: the machine as it is).

    ``own_sessions``: each in a session of its own, as other programs on the machine are. Linux's
    scheduler (with autogroup, the default on desktop and server kernels) shares the CPU fairly
    between sessions first, so spinners in this bench's session slow down what runs in it (a
    command it starts) but hardly a queued job, whose worker has a session of its own."""
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN], start_new_session=own_sessions) for _ in range(count)]
    try:
        time.sleep(3 if spinners else 0)  # until the kernel's counters and the load average see them
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
TRAIN = ["--model", "vae", "--hidden", "512,256", "--latent-dim", "16", "--dataset", "mnist5k", "--epochs", "2",
         "--no-eval", "--device", "cpu"]


def images_per_second(run_dir: Path) -> float:
    epochs = checkpoint.load_run(run_dir).history["epochs"]
    return sum(e["images"] for e in epochs) / sum(e["images"] / e["images_per_sec"] for e in epochs)


PASSIVE = "passive"  # a variant's threads given as (count, PASSIVE): every core, OpenMP threads sleep when waiting


def environment(threads) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in (THREADS_ENV, "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")}
    env["PYTHONPATH"] = str(REPO)
    if isinstance(threads, tuple):
        threads, _passive = threads
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    if threads:
        env[THREADS_ENV] = str(threads)
    return env


def run_cli(folder: Path, threads) -> float:
    out = folder / "cli"
    subprocess.run([sys.executable, "-m", "gen_core", "train", *TRAIN, "--out", str(out)], check=True,
                   env=environment(threads), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return images_per_second(out)


def run_demo(folder: Path, threads) -> float:
    subprocess.run([sys.executable, "-m", "gen_core", "demos", "--quick", "--only", "demo-vae-2d", "--no-eval",
                    "--device", "cpu", "--out", str(folder)], check=True, env=environment(threads), cwd=REPO,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return images_per_second(folder / "demo-vae-2d")


def run_queued(folder: Path, threads) -> float:
    """A job through the app's queue; the queue's worker environment is the app's (its cores share)."""
    saved = {key: os.environ.pop(key, None) for key in (THREADS_ENV, "OMP_WAIT_POLICY")}
    os.environ.update({key: value for key, value in environment(threads).items()
                       if key in (THREADS_ENV, "OMP_WAIT_POLICY")})
    try:
        queue = JobQueue(limit=1, work_dir=folder / "_jobs", nice=0, gpus=[])
        request = TrainingRequest(folder / "queued", "vae", {"hidden": (512, 256), "latent_dim": 16}, "mnist5k", {},
                                  {"epochs": 2, "device": "cpu"}, evaluate=False)
        job = queue.submit(JobRequest(request, "bench", "bench"))
        queue.wait(job.id, timeout=1800)
        queue.close()
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None)
            if value is not None:
                os.environ[key] = value
    return images_per_second(folder / "queued")


ENTRIES = {"cli": run_cli, "demo": run_demo, "queue": run_queued}


def measure(entry: str, variants: dict, repeats: int) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, threads in variants.items():  # alternating, so a change in load hits every variant
            with tempfile.TemporaryDirectory() as folder:
                rates[name].append(ENTRIES[entry](Path(folder), threads))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", nargs="+", choices=list(ENTRIES), default=list(ENTRIES))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cores = usable_cores({})
    variants = {"policy": None, "1 thread": 1, f"{cores} threads": cores, f"{cores} passive": (cores, PASSIVE)}
    results = []
    for condition in ("as is", "contention"):
        with busy_processes(2 if condition == "contention" else 0):
            load_before = os.getloadavg()[0]
            for entry in args.entries:
                rates = measure(entry, variants, args.repeats)
                medians = {name: statistics.median(values) for name, values in rates.items()}
                counts = (medians["1 thread"], medians[f"{cores} threads"])  # the best thread count, idle
                reference = medians["1 thread"] if condition == "contention" else max(counts)
                results.append({"condition": condition, "entry": entry, "load_before": round(load_before, 2),
                                "load_after": round(os.getloadavg()[0], 2), "images_per_sec": rates,
                                "medians": medians, "policy_ratio": medians["policy"] / reference,
                                "goal": 0.8 if condition == "contention" else 0.95})
                row = results[-1]
                print(f"{condition:<10} {entry:<5} load {row['load_before']:5.2f}-{row['load_after']:5.2f}  "
                      + "  ".join(f"{name} {value:8.0f}" for name, value in medians.items())
                      + f"  images/s   policy/{'1 thread' if condition == 'contention' else 'best'} "
                        f"{row['policy_ratio']:.2f} (goal >= {row['goal']})", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"cores": cores, "repeats": args.repeats, "results": results}, indent=1))


if __name__ == "__main__":
    main()
