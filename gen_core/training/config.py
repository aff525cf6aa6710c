"""The settings of a training run, checked when made: what the run folder records as ``training``."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from gen_core.compute import PRECISIONS
from gen_core.errors import TrainingError
from gen_core.settings import Setting, check_settings
from gen_core.training.events import RunStatus


# The training settings the command line and the Train page generate their inputs from.
PRECISION = Setting(
    "Precision", "auto: bfloat16 where this machine has it and a short timing shows it faster, else float32; "
    "bf16: bfloat16 autocast (weights, losses and metrics stay float32)", choices=PRECISIONS,
    choice_labels={"auto": "auto", "fp32": "float32", "bf16": "bfloat16"})
COMPILE = Setting("Compile", "torch.compile the networks first (pays off only on long runs; off by default)")


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    sample_epochs: tuple[int, ...] = ()  # empty: first, last and about eight between
    sample_count: int = 64
    log_every: int = 10  # steps between history entries (each costs a device sync)
    precision: str = PRECISION.field("auto")
    compile: bool = COMPILE.field(False)

    def __post_init__(self) -> None:
        counts = {"epochs": self.epochs, "batch_size": self.batch_size, "sample_count": self.sample_count,
                  "log_every": self.log_every}
        for name, value in counts.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise TrainingError(f"{name} must be a whole number of at least 1, got {value!r}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, numbers.Real) or not 0 < self.lr < math.inf:
            raise TrainingError(f"The learning rate must be a positive number, got {self.lr!r}")
        check_settings(self, TrainingError)  # precision and compile, as described above
        try:
            self.sample_epochs = tuple(int(e) for e in self.sample_epochs)
        except (TypeError, ValueError):
            raise TrainingError(f"sample_epochs must be epoch numbers, got {self.sample_epochs!r}") from None

    def grid_epochs(self, first_epoch: int = 1) -> set[int]:
        if self.sample_epochs:
            return set(self.sample_epochs)
        every = max(1, math.ceil(self.epochs / 8))
        return {first_epoch, self.epochs, *range(every, self.epochs + 1, every)}


def new_history() -> dict:
    return {"steps": [], "epochs": [], "status": RunStatus.CREATED.value, "message": "", "metrics": {}}
