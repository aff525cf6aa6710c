"""The run writer: listens to a Trainer's events and keeps its run folder up to date.

After every epoch it saves the sample grid (at the chosen epochs), then the checkpoint (weights,
optimiser state, settings and history, committed together: gen_core.run.checkpoint, with the
training timeline's codes at the grid epochs: gen_core.run.timeline); while the
run trains it keeps the live status file (gen_core.run.live) a few times a second, and it
answers ``should_stop`` from the stop request a viewer leaves in the folder, and ``controls`` from
its step-through requests (gen_core.run.control)::

    writer = RunWriter(run_dir)
    trainer.fit(on_event=writer.on_event, should_stop=writer.should_stop, control=writer.controls)

A writer on a rank other than 0 of a distributed run (``enabled=False``) only answers
``should_stop``. The writer also reports the scoring that follows training (``measuring``).
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from gen_core.atomic import write_json_atomic
from gen_core.images import save_png_atomic
from gen_core.run import checkpoint, layout, live
from gen_core.run.control import ControlReader, clear_control
from gen_core.run.timeline import codes_writer
from gen_core.training.events import Control, End, Epoch, Event, RunStatus, Snapshot, Step

_HEARTBEAT = 20.0  # the writer rewrites its status at least this often while it trains
_MAX_RECENT_STEPS = 2000


class StopRequested(Exception):
    """Raised from a scoring callback when a stop request interrupts scoring a finished run."""


class RunWriter:
    def __init__(self, run_dir: Path, name: str | None = None, enabled: bool = True,
                 min_interval: float = 0.5) -> None:
        self.run_dir, self.enabled, self.min_interval = Path(run_dir), enabled, min_interval
        self.name = name or self.run_dir.name
        self.started = time.time()
        self._written = self._checked = 0.0
        self._stop = self._epoch_saved = False
        self.controls = ControlReader(self.run_dir)
        self._state = {"status": RunStatus.STARTING.value, "message": "", "epoch": 0, "total_epochs": 0, "step": 0,
                       "total_steps": 0, "steps_per_epoch": None, "elapsed": 0.0, "eta_seconds": None,
                       "recent_steps": [], "recent_controls": [], "control": None, "samples_epoch": None,
                       "metrics": {"state": "", "message": "", "fraction": 0.0},
                       "writer": {"host": socket.gethostname(), "pid": os.getpid(), "started": self.started}}
        if enabled:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            live.clear_stop(self.run_dir)  # requests left over from an earlier process
            clear_control(self.run_dir)
            self._write(force=True)

    # -- the trainer's events ----------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        state = self._state
        self._copy(event.snapshot)
        if isinstance(event, Step):
            self._forget_saved()
            state["status"] = RunStatus.RUNNING.value
            state["recent_steps"] = (state["recent_steps"] + [event.entry])[-_MAX_RECENT_STEPS:]
            self._write()
        elif isinstance(event, Epoch):
            self._save_epoch(event)
            state["status"], state["epoch"], self._epoch_saved = RunStatus.RUNNING.value, event.entry["epoch"], True
            self._write(force=True)
        elif isinstance(event, Control):
            self._forget_saved()
            state["control"] = event.state
            state["recent_controls"] = (state["recent_controls"] + event.changes)[-_MAX_RECENT_STEPS:]
            if event.grid is not None and self.enabled and not self.folder_gone():
                save_png_atomic(event.grid, self.run_dir / layout.STEP_GRID_FILE)
                state["step_grid_step"] = event.snapshot.step
            self._write(force=True)
        elif isinstance(event, End):
            if self.enabled and (self.run_dir / layout.WEIGHTS_FILE).exists():
                checkpoint.save_history(self.run_dir, event.history)  # never ahead of the saved weights
            self.finish(event.status, event.message)

    def _forget_saved(self) -> None:
        if self._epoch_saved:  # the saved history.json holds the steps and controls logged before
            self._state["recent_steps"], self._state["recent_controls"], self._epoch_saved = [], [], False

    def _save_epoch(self, event: Epoch) -> None:
        if not self.enabled or event.save is None or self.folder_gone():
            return
        if event.grid is not None:
            save_png_atomic(event.grid, layout.grid_path(self.run_dir, event.entry["epoch"]))
            self._state["samples_epoch"] = event.entry["epoch"]
        save = event.save
        files = {} if event.codes is None else {layout.codes_name(event.entry["epoch"]): codes_writer(event.codes)}
        checkpoint.save_run(self.run_dir, save.model, data=save.data, training=save.training, history=save.history,
                            optimizers=save.optimizers, name=self.name, files=files)

    def finish(self, status: RunStatus | str, message: str) -> None:
        """Record how the run ended (also for an end the trainer could not report: an interrupt)."""
        status = RunStatus(status)
        if self._epoch_saved:
            self._state["recent_steps"], self._state["recent_controls"] = [], []
        self._state["control"] = None
        self._state["status"], self._state["message"] = status.value, message
        if status is RunStatus.STOPPED and self.enabled:
            live.clear_stop(self.run_dir)  # honoured
        if self.enabled and not self.folder_gone():
            clear_control(self.run_dir)  # nothing trains to read it now
        self._write(force=True)

    def _copy(self, snapshot: Snapshot) -> None:
        if snapshot.elapsed and "training_started" not in self._state:
            # when the trainer took its first step, on the wall clock: what came before (the process
            # starting, the data loading) is the start-up a job queue learns to add to its estimates
            self._state["training_started"] = round(time.time() - snapshot.elapsed, 3)
        self._state.update(step=snapshot.step, total_steps=snapshot.total_steps, elapsed=round(snapshot.elapsed, 3),
                           eta_seconds=snapshot.eta_seconds, total_epochs=snapshot.total_epochs,
                           steps_per_epoch=snapshot.steps_per_epoch)

    def folder_gone(self) -> bool:
        """The run folder was removed or renamed while the run trained (from a shell, say): the run
        stops and nothing re-creates the folder."""
        return self.enabled and not self.run_dir.is_dir()

    def should_stop(self) -> bool:
        """True once a stop request is in the run folder, or the folder is gone (checked at most every 0.2 s)."""
        now = time.monotonic()
        if not self._stop and now - self._checked >= 0.2:
            self._checked = now
            self._stop = live.stop_requested(self.run_dir) or self.folder_gone()
            if now - self._written >= _HEARTBEAT:
                self._write()
        return self._stop

    # -- scoring after training ------------------------------------------------------------------
    def measuring(self, fraction: float, message: str) -> None:
        """Progress of scoring the finished run; raises StopRequested when a stop was asked for."""
        self._state["metrics"] = {"state": "computing", "message": message, "fraction": round(fraction, 3)}
        self._write()
        if self.should_stop():
            raise StopRequested()

    def measured(self, state: str, message: str) -> None:
        self._state["metrics"] = {"state": state, "message": message, "fraction": 1.0}
        if state == "skipped":
            live.clear_stop(self.run_dir)
        self._write(force=True)

    def _write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._written < self.min_interval) or self.folder_gone():
            return
        self._written = now
        self._state["updated"] = time.time()
        write_json_atomic(self.run_dir / layout.LIVE_FILE, self._state)
