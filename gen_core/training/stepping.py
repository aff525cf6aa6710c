"""Step-through training: pause and resume a run, step one batch or one epoch while it is paused,
train only a GAN's discriminator or only its generator, set their step ratio, and change the
learning rate (and a VAE's beta) while it trains.

Whoever trains hands ``Trainer.fit`` a ``control`` callable; the Trainer asks it between batches.
It returns the newest ``Controls`` when they changed since it was last asked, None when they did
not, and raises ``ControlError`` when what it read is not valid (the run writer reads them from
the run folder: gen_core.run.control). ``Stepper`` turns them into what the loop does next; the
Trainer knows nothing of where they come from.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, fields
from typing import Callable

from gen_core.errors import GenCoreError

PLAYERS = ("both", "discriminator", "generator")
STEP_UNITS = ("batch", "epoch")
MAX_LR = 1.0
MAX_BETA = 1000.0
MAX_RATIO = 10
MAX_STEP_COUNT = 1000
MAX_STEP_ID = 2**53
POLL_SECONDS = 0.1  # how often a paused run looks for a step, a resume or a stop


class ControlError(GenCoreError, ValueError):
    """A control request that is not valid; the run ignores it and says why."""


@dataclass(frozen=True)
class Controls:
    """What the people watching a run want of it now. A step is asked for by a new ``step_id``."""

    paused: bool = False
    step_id: int = 0
    step_unit: str = "batch"
    step_count: int = 1
    step_player: str = "both"
    lr: float | None = None  # None: the rate it trains with stays
    beta: float | None = None
    d_steps: int = 1  # the discriminator : generator step ratio, d_steps : g_steps
    g_steps: int = 1


CONTROL_KEYS = tuple(field.name for field in fields(Controls))


def check_controls(value) -> Controls:
    """``value`` (parsed JSON) as Controls, or ControlError naming the first entry that is wrong."""
    if type(value) is not dict:
        raise ControlError("the control request must be an object")
    unknown = sorted(str(key)[:40] for key in value if key not in CONTROL_KEYS)
    if unknown:
        raise ControlError(f"the control request has unknown entries: {', '.join(unknown[:5])}")
    if type(value.get("paused", False)) is not bool:
        raise ControlError("paused must be true or false")
    _whole(value, "step_id", 0, MAX_STEP_ID)
    _whole(value, "step_count", 1, MAX_STEP_COUNT)
    _whole(value, "d_steps", 1, MAX_RATIO)
    _whole(value, "g_steps", 1, MAX_RATIO)
    _choice(value, "step_unit", STEP_UNITS)
    _choice(value, "step_player", PLAYERS)
    _rate(value, "lr", MAX_LR)
    _rate(value, "beta", MAX_BETA, zero=True)
    return Controls(**value)


def _whole(value: dict, key: str, least: int, most: int) -> None:
    if key in value and (type(value[key]) is not int or not least <= value[key] <= most):
        raise ControlError(f"{key} must be a whole number from {least} to {most:,}")


def _choice(value: dict, key: str, choices: tuple[str, ...]) -> None:
    if key in value and value[key] not in choices:
        raise ControlError(f"{key} must be one of {', '.join(choices)}")


def _rate(value: dict, key: str, most: float, zero: bool = False) -> None:
    number = value.get(key)
    if number is not None and (type(number) not in (int, float) or not math.isfinite(number)
                               or not (0 <= number if zero else 0 < number) or number > most):
        raise ControlError(f"{key} must be a number {'from 0' if zero else 'above 0'} and at most {most:g}")


class Stepper:
    """Turns the newest Controls into the loop's next move. ``model.players`` names the optimisers
    of a GAN's two players; a family without them trains every optimiser at every step."""

    def __init__(self, model, optimizers: dict, control: Callable[[], Controls | None]) -> None:
        self.model, self.optimizers, self.control = model, optimizers, control
        self.players: dict[str, tuple[str, ...]] = dict(getattr(model, "players", {}) or {})
        self.wanted = Controls()
        self.paused = False
        self.steps_taken = 0  # steps asked for while paused and done
        self.message = ""
        self._seen_step = 0
        self._batches_left, self._to_epoch_end, self._step_player = 0, False, "both"
        self._ratio_batch = 0

    # -- reading the controls ---------------------------------------------------------------------
    def poll(self, step: int, epoch: int) -> list[dict]:
        """Read the controls; apply a new rate, beta or ratio at once (the next update uses them).
        Returns the changes made, as the history records them."""
        try:
            wanted = self.control()
        except ControlError as error:
            self.message = f"Control request ignored: {error}."
            return []
        if wanted is None:
            return []
        self.message = ""
        return self._apply(wanted, step, epoch)

    def _apply(self, wanted: Controls, step: int, epoch: int) -> list[dict]:
        before, self.wanted = self.wanted, wanted
        changes = []
        if wanted.lr is not None and wanted.lr != self.learning_rate():
            for optimizer in self.optimizers.values():
                for group in optimizer.param_groups:
                    group["lr"] = float(wanted.lr)
            changes.append({"step": step, "epoch": epoch, "lr": float(wanted.lr)})
        if self.has_beta and wanted.beta is not None and wanted.beta != self.model.config.beta:
            self.model.config.beta = float(wanted.beta)
            self.model.begin_epoch(epoch)  # the epoch's KL weight follows (a warm-up keeps its share)
            changes.append({"step": step, "epoch": epoch, "beta": float(wanted.beta)})
        ratio = (wanted.d_steps, wanted.g_steps)
        if ratio != (before.d_steps, before.g_steps) and self.players:
            self._ratio_batch = 0
            changes.append({"step": step, "epoch": epoch, "d_steps": ratio[0], "g_steps": ratio[1]})
        self.paused = wanted.paused
        if not wanted.paused:
            self._batches_left, self._to_epoch_end = 0, False
        if wanted.step_id != self._seen_step:
            self._seen_step = wanted.step_id
            if wanted.paused:  # a step only means something while paused
                self._grant(wanted)
        return changes

    def _grant(self, wanted: Controls) -> None:
        self._to_epoch_end = wanted.step_unit == "epoch"
        self._batches_left = 0 if self._to_epoch_end else wanted.step_count
        self._step_player = wanted.step_player if self.players else "both"

    @property
    def has_beta(self) -> bool:
        return hasattr(getattr(self.model, "config", None), "beta")

    def learning_rate(self) -> float:
        first = next(iter(self.optimizers.values()))
        return float(first.param_groups[0]["lr"])

    # -- what the loop does -----------------------------------------------------------------------
    def step_optimizers(self) -> dict:
        """The optimisers the next batch steps: all of them, or one GAN player's (a step asked for
        one player, or the ratio's turn)."""
        if not self.players:
            return self.optimizers
        if self.stepping and self._step_player != "both":
            return self._player(self._step_player)
        d_steps, g_steps = self.wanted.d_steps, self.wanted.g_steps
        if d_steps == g_steps == 1:
            return self.optimizers
        # In a cycle of max(d, g) batches, the player with fewer steps updates on the last ones only.
        cycle = max(d_steps, g_steps)
        phase = self._ratio_batch % cycle
        self._ratio_batch += 1
        if phase >= cycle - min(d_steps, g_steps):
            return self.optimizers
        return self._player("discriminator" if d_steps > g_steps else "generator")

    def _player(self, player: str) -> dict:
        return {name: self.optimizers[name] for name in self.players[player]}

    @property
    def stepping(self) -> bool:
        """Paused, but running a step that was asked for."""
        return self.paused and (self._batches_left > 0 or self._to_epoch_end)

    def batch_done(self) -> None:
        if self.paused and self._batches_left > 0:
            self._batches_left -= 1
            if self._batches_left == 0:
                self.steps_taken += 1

    def epoch_done(self) -> None:
        if self.paused and self._to_epoch_end:
            self._to_epoch_end = False
            self.steps_taken += 1

    def must_wait(self) -> bool:
        return self.paused and not self.stepping

    def wait(self, should_stop: Callable[[], bool], on_change: Callable[[list[dict]], None], step: int,
             epoch: int) -> bool:
        """Sleep while paused, reading the controls and the stop request; returns True when asked to
        stop. ``on_change`` hears of every change applied meanwhile (a new rate while paused)."""
        while self.must_wait():
            if should_stop():
                return True
            time.sleep(POLL_SECONDS)
            message = self.message
            changes = self.poll(step, epoch)
            if changes or message != self.message:
                on_change(changes)
        return False

    def state(self) -> dict:
        """What the progress file shows of the controls."""
        return {"paused": self.paused, "stepping": self.stepping, "steps_taken": self.steps_taken,
                "lr": self.learning_rate(), "beta": float(self.model.config.beta) if self.has_beta else None,
                "d_steps": self.wanted.d_steps, "g_steps": self.wanted.g_steps, "message": self.message}
