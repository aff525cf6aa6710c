"""How a training job becomes a process: ``python -m gen_core train --request FILE``.

The app trains through the command line, so the app and a terminal share one code path: the job
queue writes the request to a file, builds the command here (through torchrun when a job uses
several GPUs) and starts it in a process group of its own, at a lower priority than the web
server. What the process does is then read from its run folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from gen_core.compute import CORES_ENV
from gen_core.training.distributed import torchrun_command

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def train_command(arguments: list[str], processes: int = 1) -> list[str]:
    """The command that trains: ``python -m gen_core train ...``, or through torchrun with one process
    per GPU of this machine."""
    if processes <= 1:
        return [sys.executable, "-m", "gen_core", "train", *arguments]
    return torchrun_command(arguments, processes)


def worker_environment(threads: int | None = None, gpus: list[int] | None = None) -> dict[str, str]:
    """The worker's environment: this project importable, unbuffered output for the log, the cores
    left to it (``threads``: the thread policy in the worker chooses within them, by the load it
    finds, so a worker leaves cores to the web server) and the GPUs it may use."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("TQDM_MININTERVAL", "5")  # a progress bar line every few seconds in the log, not ten a second
    if threads:
        env[CORES_ENV] = str(threads)
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


def prune_logs(folder: Path, keep: int) -> None:
    """Keep the newest ``keep`` worker logs in ``folder``."""
    logs = sorted(folder.glob("*.log"), key=lambda path: path.stat().st_mtime, reverse=True)
    for log in logs[keep:]:
        log.unlink(missing_ok=True)


def memory_used(group: int) -> int:
    """Resident bytes of every process in process group ``group`` (a worker and what it started,
    torchrun's ranks included), read from /proc; 0 where /proc is not there."""
    page, total = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096, 0
    try:
        entries = [entry for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return 0
    for pid in entries:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            if int(fields[2]) != group:  # after the command name: state, ppid, pgrp, ...
                continue
            with open(f"/proc/{pid}/statm", "rb") as statm:
                total += int(statm.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue  # it ended while we looked
    return total
