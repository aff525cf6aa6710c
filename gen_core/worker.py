"""How a training job becomes a process: ``python -m gen_core train`` with a settings file.

The app trains through the command line, so the app and a terminal share one code path: the job
runner writes the Train page's choices to a JSON settings file, builds the command (through
torchrun when a job uses several GPUs) and starts it in a process group of its own, at a lower
priority than the web server. What the process does is then read from its run folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from gen_core import checkpoints
from gen_core.errors import GenCoreError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SETTINGS_KEYS = ("family", "model", "dataset", "dataset_options", "training")
_MAX_SETTINGS_BYTES = 1_000_000


def write_settings_file(path: Path, family: str, model: dict, dataset: str, dataset_options: dict,
                        training: dict) -> Path:
    """Write what ``train --settings FILE`` reads: the same values the Train page shows."""
    settings = {"family": family, "model": dict(model), "dataset": dataset,
                "dataset_options": dict(dataset_options or {}), "training": dict(training)}
    checkpoints.write_json_atomic(Path(path), settings)
    return Path(path)


def read_settings_file(path: Path) -> dict:
    """Read and check a settings file: one object with the five entries, each of the right type."""
    path = Path(path)
    try:
        if path.stat().st_size > _MAX_SETTINGS_BYTES:
            raise GenCoreError(f"The settings file {path.name} is larger than {_MAX_SETTINGS_BYTES:,} bytes")
    except FileNotFoundError:
        raise GenCoreError(f"No settings file {path.name}") from None
    settings = checkpoints.read_json(path)
    if not isinstance(settings, dict) or sorted(settings) != sorted(SETTINGS_KEYS):
        raise GenCoreError(f"The settings file {path.name} must hold one object with exactly: {', '.join(SETTINGS_KEYS)}")
    kinds = {"family": str, "model": dict, "dataset": str, "dataset_options": dict, "training": dict}
    for key, kind in kinds.items():
        if not isinstance(settings[key], kind):
            raise GenCoreError(f"In {path.name}, {key!r} must be a {kind.__name__}")
    return settings


def train_command(arguments: list[str], processes: int = 1) -> list[str]:
    """The command that trains: ``python -m gen_core train ...``, or through torchrun with one process
    per GPU of this machine."""
    if processes <= 1:
        return [sys.executable, "-m", "gen_core", "train", *arguments]
    from gen_core.distributed import torchrun_command
    return torchrun_command(arguments, processes)


def worker_environment(threads: int | None = None, gpus: list[int] | None = None) -> dict[str, str]:
    """The worker's environment: this project importable, unbuffered output for the log, the torch
    thread count (so a worker leaves cores to the web server) and the GPUs it may use."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("TQDM_MININTERVAL", "5")  # a progress bar line every few seconds in the log, not ten a second
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(gpu) for gpu in gpus)
    return env


def start_worker(command: list[str], log_path: Path, env: dict[str, str], nice: int = 0) -> subprocess.Popen:
    """Start ``command`` in a new session (its own process group), output to ``log_path``; lower its
    priority by ``nice`` so page reruns win the CPU when both want it."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   env=env, cwd=PROJECT_ROOT, start_new_session=True)
    if nice and hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, process.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + nice))
        except OSError:
            pass  # it may already have ended; the priority is a nicety
    return process


def signal_group(process: subprocess.Popen, signum: int) -> None:
    """Send ``signum`` to the worker and everything it started (torchrun's ranks)."""
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def exit_reason(return_code: int, log_path: Path | None) -> str:
    """Why a worker ended without recording it, in words for the person who started it."""
    if return_code < 0:
        name = signal.Signals(-return_code).name if -return_code in signal.Signals._value2member_map_ else \
            f"signal {-return_code}"
        if -return_code == signal.SIGKILL:
            return ("The training process was killed (SIGKILL), most often because the machine ran out of memory. "
                    "The saved epochs are kept.")
        return f"The training process was ended by {name}. The saved epochs are kept."
    if return_code == 2 and log_path is not None:
        line = _last_error_line(log_path)
        if line:
            return line
    return f"The training process ended with exit code {return_code}; the server log has the details."


def _last_error_line(log_path: Path) -> str:
    """The one-line reason the command line printed (``error: ...``), without any folder path."""
    try:
        lines = log_path.read_bytes()[-4000:].decode(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        if line.startswith("error: "):
            words = [word if "/" not in word else Path(word.strip("'\",.:;")).name or "…"
                     for word in line[len("error: "):].split(" ")]
            return " ".join(words)[:300]
    return ""


def reserve_run_dir(root: Path, family: str, dataset: str, name: str | None = None) -> Path:
    """Create a fresh, empty run folder now, so two jobs queued with one name get two folders."""
    from gen_core.runs import new_run_dir

    for _ in range(1000):
        candidate = new_run_dir(Path(root), family, dataset, name)
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            continue
    raise GenCoreError("Could not find a free run folder name; choose another run name")


def discard_reserved(run_dir: Path) -> None:
    """Remove a reserved run folder that never received a run (a job cancelled, refused, or failed
    before its first save); a folder holding anything else is left alone."""
    from gen_core.run_files import LOCK_FILE
    from gen_core.run_progress import PROGRESS_FILE, STOP_FILE

    run_dir = Path(run_dir)
    if not run_dir.is_dir() or (run_dir / checkpoints.CONFIG_FILE).exists():
        return
    if {p.name for p in run_dir.iterdir()} <= {PROGRESS_FILE, STOP_FILE, LOCK_FILE, checkpoints.SAMPLES_DIR}:
        shutil.rmtree(run_dir, ignore_errors=True)


def prune_logs(folder: Path, keep: int) -> None:
    """Keep the newest ``keep`` worker logs in ``folder``."""
    logs = sorted(folder.glob("*.log"), key=lambda path: path.stat().st_mtime, reverse=True)
    for log in logs[keep:]:
        log.unlink(missing_ok=True)
