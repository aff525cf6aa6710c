"""A run's live status: what a training process keeps in its run folder and every viewer reads.

The run folder is the contract between whoever trains (the app's job runner, a terminal, a job on
another machine writing to a shared folder) and whoever looks. Beside the checkpoint files a
training process keeps two small files:

    <run>/progress.json   status, epoch and step counters, time left, the steps logged since the
                          last saved epoch, the metrics phase, who writes (host, pid) and when;
                          replaced atomically, at most a few times a second
    <run>/stop.request    present when someone asked the run to stop: the process looks for it
                          between steps, finishes the step, saves the epoch and ends

history.json, written after every epoch, holds the rest. A reader needs nothing from the writer's
process, so a run started anywhere shows the same, and a viewer never blocks a trainer.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from gen_core.atomic import write_bytes_atomic, write_json_atomic
from gen_core.errors import GenCoreError
from gen_core.run import checkpoint, layout
from gen_core.training.events import ACTIVE_STATUSES, RunStatus

METRICS_STORED = "Metrics stored with the run."  # how a finished scoring is reported
STALE_AFTER = 600.0  # seconds without a word from a writer on another machine before it counts as gone


def request_stop(run_dir: Path) -> None:
    """Ask the process training ``run_dir`` to stop after its current step."""
    write_bytes_atomic(Path(run_dir) / layout.STOP_FILE, f"{time.time()}\n".encode())


def stop_requested(run_dir: Path) -> bool:
    return (Path(run_dir) / layout.STOP_FILE).exists()


def clear_stop(run_dir: Path) -> None:
    (Path(run_dir) / layout.STOP_FILE).unlink(missing_ok=True)


# -- reading ---------------------------------------------------------------------------------------
@dataclass
class LiveRun:
    """A run as its folder shows it now, for a page to draw."""

    run_dir: Path
    status: str
    message: str = ""
    epoch: int = 0
    total_epochs: int = 0
    step: int = 0
    total_steps: int = 0
    steps_per_epoch: float | None = None
    eta_seconds: float | None = None
    updated: float = 0.0
    writer_host: str = ""
    writer_pid: int = 0
    writer_started: float = 0.0
    steps: list[dict] = field(default_factory=list)  # history's steps, then the ones logged since
    epochs: list[dict] = field(default_factory=list)
    samples_path: Path | None = None  # the newest sample grid
    samples_epoch: int | None = None
    metrics_state: str = ""  # "", "computing", "done", "failed" or "skipped"
    metrics_message: str = ""
    metrics_fraction: float = 0.0
    controls: list[dict] = field(default_factory=list)  # learning rate, beta, ratio changes, as history's
    control: dict = field(default_factory=dict)  # step-through state: paused, steps taken, rate, message
    step_grid_path: Path | None = None  # the fixed noise decoded where the paused run stands

    @property
    def is_paused(self) -> bool:
        return self.is_active and self.control.get("paused") is True

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def fraction(self) -> float:
        if self.status == RunStatus.COMPLETED:
            return 1.0
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def has_weights(self) -> bool:
        return (self.run_dir / layout.WEIGHTS_FILE).exists()


def read_status(run_dir: Path) -> dict | None:
    """The progress record of ``run_dir``, or None when there is none or it is not readable."""
    try:
        value = json.loads((Path(run_dir) / layout.LIVE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) and isinstance(value.get("status"), str) else None


def writer_alive(progress: dict, now: float | None = None) -> bool:
    """Whether the process that writes ``progress`` still runs: asked of the OS on this machine, judged
    by the time of its last word for a writer on another one."""
    writer = progress.get("writer") if isinstance(progress.get("writer"), dict) else {}
    pid, host = writer.get("pid"), writer.get("host")
    if host == socket.gethostname() and isinstance(pid, int) and pid > 0:
        return pid_alive(pid)
    updated = progress.get("updated")
    return isinstance(updated, (int, float)) and (now or time.time()) - updated < STALE_AFTER


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    except OSError:
        return False
    return True


def is_training(run_dir: Path) -> bool:
    """True while a live process trains ``run_dir`` (wherever it was started)."""
    progress = read_status(run_dir)
    return progress is not None and progress["status"] in ACTIVE_STATUSES and writer_alive(progress)


def read_live(run_dir: Path) -> LiveRun:
    """Progress, history and newest grid of ``run_dir`` together. A run whose writer died while it
    was active reads as failed; a folder with no progress file reads from its history alone."""
    run_dir = Path(run_dir)
    progress = read_status(run_dir) or {}
    history = _read_history(run_dir)
    status = progress.get("status") or history.get("status") or RunStatus.UNKNOWN.value
    message = progress.get("message") or history.get("message") or ""
    if status in ACTIVE_STATUSES and progress and not writer_alive(progress):
        status, message = RunStatus.FAILED.value, "The training process ended without saying why; the saved epochs are kept."
    epochs = [e for e in history.get("epochs", []) if isinstance(e, dict)]
    steps = [s for s in history.get("steps", []) if isinstance(s, dict)]
    last_step = steps[-1].get("step", 0) if steps else 0
    steps += [s for s in _list(progress.get("recent_steps")) if isinstance(s, dict)
              and _number(s.get("step")) > _number(last_step)]
    controls = [c for c in _list(history.get("controls")) if isinstance(c, dict)]
    last_control = controls[-1].get("step", 0) if controls else 0
    controls += [c for c in _list(progress.get("recent_controls")) if isinstance(c, dict)
                 and _number(c.get("step")) > _number(last_control)]
    control = progress.get("control") if isinstance(progress.get("control"), dict) and status in ACTIVE_STATUSES else {}
    step_grid = run_dir / layout.STEP_GRID_FILE
    samples_path, samples_epoch = newest_samples(run_dir)
    writer = progress.get("writer") if isinstance(progress.get("writer"), dict) else {}
    metrics = progress.get("metrics") if isinstance(progress.get("metrics"), dict) else {}
    total_epochs = _number(progress.get("total_epochs")) or len(epochs)
    return LiveRun(
        run_dir=run_dir, status=status, message=str(message)[:500],
        epoch=max(int(_number(progress.get("epoch"))), len(epochs)), total_epochs=int(total_epochs),
        step=int(_number(progress.get("step"))), total_steps=int(_number(progress.get("total_steps"))),
        steps_per_epoch=_number(progress.get("steps_per_epoch")) or None,
        eta_seconds=_number(progress.get("eta_seconds")) if progress.get("eta_seconds") is not None else None,
        updated=_number(progress.get("updated")), writer_host=str(writer.get("host", "")),
        writer_pid=int(_number(writer.get("pid"))), writer_started=_number(writer.get("started")),
        steps=steps, epochs=epochs, samples_path=samples_path, samples_epoch=samples_epoch,
        metrics_state=str(metrics.get("state", "")), metrics_message=str(metrics.get("message", ""))[:300],
        metrics_fraction=_number(metrics.get("fraction")), controls=controls, control=control,
        step_grid_path=step_grid if control.get("paused") and step_grid.is_file() else None)


def newest_samples(run_dir: Path) -> tuple[Path | None, int | None]:
    newest = layout.newest_grid(run_dir)
    return (newest[1], newest[0]) if newest else (None, None)


def record_end(run_dir: Path, status: str, message: str) -> None:
    """Write how a run ended, for a process that could not (killed, out of memory): in progress.json
    and, when epochs were saved, in history.json. The weights of the last completed epoch stay."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return
    progress = read_status(run_dir) or {}
    progress.update(status=status, message=message, updated=time.time())
    write_json_atomic(run_dir / layout.LIVE_FILE, progress)
    if (run_dir / layout.WEIGHTS_FILE).exists():
        try:  # under the run's writer lock, which the dead process no longer holds
            checkpoint.update_history(run_dir, lambda history: history.update(status=status, message=message))
        except GenCoreError:  # another writer took the run over meanwhile, or its history is unreadable
            pass


def record_scoring_failed(run_dir: Path, message: str) -> None:
    """The process died while scoring a trained run: the run is fine, its metrics are missing (or,
    when it died between storing them and saying so, they are there and are said to be)."""
    progress = read_status(run_dir)
    if progress is None:
        return
    if _read_history(Path(run_dir)).get("metrics"):
        progress["metrics"] = {"state": "done", "message": METRICS_STORED, "fraction": 1.0}
    else:
        progress["metrics"] = {"state": "failed", "message": message, "fraction": 1.0}
    write_json_atomic(Path(run_dir) / layout.LIVE_FILE, progress)


def _read_history(run_dir: Path) -> dict:
    try:
        value = json.loads((run_dir / layout.HISTORY_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _number(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _list(value) -> list:
    return value if isinstance(value, list) else []
