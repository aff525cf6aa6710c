"""Step-through training's request channel: ``<run>/control.json``, beside the stop request.

A viewer (the Train page, a terminal) writes what it wants of a running run with
``request_control``; the process training it reads the file between batches through a
``ControlReader``, which looks at the file's modification stamp and parses it only when it changed.
The file is untrusted (anyone who can write the folder can edit it): it is read through one
schema (gen_core.training.stepping.check_controls), and a file that fails it is ignored, the reason
shown in the run's progress, never a crash.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, replace
from pathlib import Path

from gen_core.atomic import write_json_atomic
from gen_core.run import layout
from gen_core.training.stepping import ControlError, Controls, MAX_STEP_ID, check_controls

MAX_CONTROL_BYTES = 4096


def read_control(run_dir: Path) -> Controls:
    """The run's control request (the defaults when there is none); ControlError when it is not valid."""
    path = Path(run_dir) / layout.CONTROL_FILE
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CONTROL_BYTES + 1)
    except FileNotFoundError:
        return Controls()
    except OSError as error:
        raise ControlError(f"{layout.CONTROL_FILE} could not be read ({type(error).__name__})") from None
    if len(raw) > MAX_CONTROL_BYTES:
        raise ControlError(f"{layout.CONTROL_FILE} is larger than {MAX_CONTROL_BYTES:,} bytes")
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ControlError(f"{layout.CONTROL_FILE} is not valid JSON") from None
    return check_controls(value)


def request_control(run_dir: Path, step: str | None = None, **changes) -> Controls:
    """Ask the process training ``run_dir`` for ``changes`` (fields of ``Controls``: paused, lr, beta,
    d_steps, g_steps, step_count, step_player); ``step`` "batch" or "epoch" asks for one more step
    (it pauses the run too). Returns what was written; ControlError for a value out of bounds."""
    try:
        current = read_control(run_dir)
    except ControlError:  # a broken file is replaced by the request
        current = Controls()
    if step is not None:
        changes.update(paused=True, step_unit=step, step_id=(current.step_id + 1) % MAX_STEP_ID)
    try:
        wanted = replace(current, **changes)
    except TypeError:
        raise ControlError(f"unknown control: {', '.join(sorted(changes))[:80]}") from None
    wanted = check_controls(asdict(wanted))
    write_json_atomic(Path(run_dir) / layout.CONTROL_FILE, asdict(wanted))
    return wanted


def clear_control(run_dir: Path) -> None:
    """Forget the requests (and the paused run's grid) left by an earlier process."""
    for name in (layout.CONTROL_FILE, layout.STEP_GRID_FILE):
        (Path(run_dir) / name).unlink(missing_ok=True)


class ControlReader:
    """The Trainer's ``control`` callable for a run folder: the newest Controls when the file changed
    since the last call, None when it did not; ControlError (once per change) when it is not valid."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / layout.CONTROL_FILE
        self._stamp: tuple | None = None

    def __call__(self) -> Controls | None:
        try:
            info = os.stat(self.path)
            stamp = (info.st_mtime_ns, info.st_ino, info.st_size)
        except OSError:
            stamp = None
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        return read_control(self.path.parent)
