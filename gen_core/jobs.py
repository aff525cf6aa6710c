"""Training in a background thread, so the app stays responsive while a model trains.

A ``TrainingJob`` wraps a ``Trainer``; the thread appends history entries under a lock and a page
polls ``snapshot()`` (a consistent copy) every second or so. Only one job trains at a time in a
process: on a laptop CPU two runs would each go at half speed, and a second browser tab should
see the first tab's run rather than silently start another.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time
import traceback
from dataclasses import dataclass, field

from gen_core import checkpoints
from gen_core.errors import RunBusyError, TrainingError
from gen_core.training import Trainer


@dataclass
class JobSnapshot:
    run_name: str
    run_dir: str | None
    status: str  # "starting", "running", "stopped", "completed", "failed"
    message: str
    fraction: float
    eta_seconds: float | None
    epoch: int
    total_epochs: int
    steps: list[dict] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    latest_samples: object | None = None  # PIL image of the newest grid
    latest_samples_epoch: int | None = None
    metrics_state: str = ""  # "", "computing", "done" or "failed": scoring after training ends
    metrics_message: str = ""
    metrics_fraction: float = 0.0

    @property
    def is_active(self) -> bool:
        return self.status in ("starting", "running")


class TrainingJob:
    def __init__(self, trainer: Trainer, run_name: str, measure_at_end: bool = False) -> None:
        self.trainer = trainer
        self.run_name = run_name
        self.measure_at_end = measure_at_end and trainer.run_dir is not None
        self._metrics_state, self._metrics_message, self._metrics_fraction = "", "", 0.0
        self._lock = threading.Lock()
        self._stop_requested = threading.Event()
        self._status, self._message = "starting", ""
        self._steps: list[dict] = []
        self._epochs: list[dict] = list(trainer.history["epochs"])
        self._samples, self._samples_epoch = None, None
        self._thread = threading.Thread(target=self._run, name=f"train-{run_name}", daemon=True)

    def start(self) -> "TrainingJob":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the run to finish its current step, save and end."""
        self._stop_requested.set()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _on_event(self, kind: str, payload: dict) -> None:
        with self._lock:
            if kind == "step":
                self._status = "running"
                self._steps.append(payload)
            elif kind == "epoch":
                self._status = "running"
                self._epochs.append(payload)
            elif kind == "samples":
                self._samples, self._samples_epoch = payload["image"], payload["epoch"]
            elif kind == "end":
                self._status, self._message = payload["status"], payload["message"]

    def _run(self) -> None:
        """Train (and score) holding the run folder's writer lock throughout: another process or
        job writing the same folder is refused before any work (gen_core.run_files)."""
        run_dir = self.trainer.run_dir
        try:
            with checkpoints.writer_lock(run_dir) if run_dir else contextlib.nullcontext():
                self._train_and_measure()
        except RunBusyError as error:
            with self._lock:
                self._status, self._message = "failed", str(error)

    def _train_and_measure(self) -> None:
        try:
            self.trainer.fit(on_event=self._on_event, should_stop=self._stop_requested.is_set)
        except TrainingError:
            return  # status and message were set by the "end" event; the last good save is kept
        except Exception as error:  # anything else (out of memory, a bug) must not vanish silently
            with self._lock:
                self._status = "failed"
                self._message = f"{type(error).__name__}: {error}"
            traceback.print_exc()
            return
        if self.measure_at_end:
            self._measure()

    def _measure(self) -> None:
        """Score the saved run (the model is already usable; this only adds numbers)."""
        from gen_core.metrics.final import measure_finished_run

        def progress(fraction: float, message: str) -> None:
            with self._lock:
                self._metrics_fraction, self._metrics_message = fraction, message

        with self._lock:
            self._metrics_state = "computing"
        try:
            measure_finished_run(self.trainer.run_dir, device=str(self.trainer.device), progress=progress)
            state, message = "done", "Metrics stored with the run."
        except Exception as error:  # a metric failing must not turn a finished run into a failure
            state, message = "failed", f"Metrics could not be computed: {type(error).__name__}: {error}"
            traceback.print_exc()
        with self._lock:
            self._metrics_state, self._metrics_message, self._metrics_fraction = state, message, 1.0

    def snapshot(self) -> JobSnapshot:
        progress = self.trainer.progress
        with self._lock:
            return JobSnapshot(
                run_name=self.run_name, run_dir=str(self.trainer.run_dir) if self.trainer.run_dir else None,
                status=self._status, message=self._message, fraction=progress.fraction,
                eta_seconds=progress.eta_seconds, epoch=progress.epoch, total_epochs=progress.total_epochs,
                steps=copy.copy(self._steps), epochs=copy.copy(self._epochs),
                latest_samples=self._samples, latest_samples_epoch=self._samples_epoch,
                metrics_state=self._metrics_state, metrics_message=self._metrics_message,
                metrics_fraction=self._metrics_fraction)


_jobs_lock = threading.Lock()
_current_job: TrainingJob | None = None


def current_job() -> TrainingJob | None:
    """The job that is training now, or the last one that did (so a page can show its result)."""
    return _current_job


def start_job(trainer: Trainer, run_name: str, measure_at_end: bool = False) -> TrainingJob:
    """Start a background run; refuse clearly if another one is still training.

    With ``measure_at_end`` the finished run is scored (gen_core.metrics) in the same thread and
    the metrics stored in its history.json; the snapshot's ``metrics_state`` follows that.
    """
    global _current_job
    with _jobs_lock:
        if _current_job is not None and _current_job.snapshot().is_active:
            raise TrainingError(
                f"Run {_current_job.run_name!r} is still training. Stop it or wait for it to finish first.")
        _current_job = TrainingJob(trainer, run_name, measure_at_end).start()
        return _current_job


def wait_until_finished(job: TrainingJob, timeout: float = 600.0, poll: float = 0.05) -> JobSnapshot:
    """Block until ``job`` ends (for scripts and tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not job.wait(poll):
        pass
    return job.snapshot()
