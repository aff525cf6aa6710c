"""What the Trainer tells its listeners, and the states a run goes through.

The Trainer knows no folder: it emits one event per logged step, one per finished epoch and one
at the end, each carrying a ``Snapshot`` of where the run stands, so a listener (the run writer,
a progress bar, a test) never reads the trainer's insides. ``Epoch`` also carries everything a
checkpoint holds (``SavePoint``) and, at the chosen epochs, the sample grid and (for a model with
an encoder) the codes of the training timeline's test images.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable


class RunStatus(str, Enum):
    """A run's lifecycle, as history.json and the live status file record it."""

    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    COMPLETED = "completed"
    STOPPED = "stopped"
    FAILED = "failed"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value

    @property
    def is_active(self) -> bool:
        return self in (RunStatus.STARTING, RunStatus.RUNNING)

    @property
    def is_final(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.STOPPED, RunStatus.FAILED)


ACTIVE_STATUSES = tuple(status.value for status in RunStatus if status.is_active)
FINAL_STATUSES = tuple(status.value for status in RunStatus if status.is_final)


@dataclass(frozen=True)
class Snapshot:
    """Where a run stands: epochs and optimiser steps done (this process's count), of how many."""

    epoch: int = 0
    total_epochs: int = 0
    step: int = 0
    total_steps: int = 0
    elapsed: float = 0.0
    steps_per_epoch: float | None = None

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def eta_seconds(self) -> float | None:
        if self.step == 0 or self.total_steps == 0:
            return None
        return self.elapsed / self.step * (self.total_steps - self.step)


@dataclass(frozen=True)
class SavePoint:
    """What a checkpoint holds after an epoch: the model, its optimisers, the history so far and
    the settings to record. Only the process that writes (rank 0) gets one."""

    model: Any
    optimizers: dict
    history: dict
    training: dict
    data: dict


@dataclass(frozen=True)
class Step:
    snapshot: Snapshot
    entry: dict  # {"step", "epoch", loss terms...}, as history.json's steps record it


@dataclass(frozen=True)
class Epoch:
    snapshot: Snapshot
    entry: dict  # the epoch's means, test losses and speed, as history.json's epochs record it
    grid: Any = None  # a PIL image of the fixed noise decoded, at the chosen epochs
    save: SavePoint | None = None
    codes: Any = None  # gen_core.latent.timeline.TimelineCodes at the same epochs, for models with an encoder


@dataclass(frozen=True)
class End:
    snapshot: Snapshot
    status: RunStatus
    message: str
    history: dict  # what the saved weights' history should read: steps past the last save dropped


@dataclass(frozen=True)
class Control:
    """Step-through training (gen_core.training.stepping): the run paused, stepped, resumed or took a
    new learning rate, beta or D:G ratio."""

    snapshot: Snapshot
    state: dict  # paused, steps taken, rate, beta, ratio, why a request was ignored
    changes: list  # what was just applied, as history.json's "controls" records it
    grid: Any = None  # the fixed noise decoded, each time the run comes to a pause


Event = Step | Epoch | End | Control
Listener = Callable[[Event], None]


def fan_out(*listeners: Listener | None) -> Listener:
    """One listener that calls each given one in turn (None entries are skipped)."""
    chosen = [listener for listener in listeners if listener is not None]

    def on_event(event: Event) -> None:
        for listener in chosen:
            listener(event)
    return on_event
