"""Training: the loop (``trainer``), its settings (``config``), what it tells its listeners
(``events``), what an epoch is and how a run resumes (``epochs``), several processes
(``distributed``) and how long a run will take (``estimate``). It knows no folder: a run folder
is written by ``gen_core.run.writer``, which listens to the trainer's events."""

from gen_core.training.config import TrainConfig, new_history
from gen_core.training.epochs import batches_per_epoch
from gen_core.training.events import RunStatus, Snapshot
from gen_core.training.trainer import Trainer

__all__ = ["RunStatus", "Snapshot", "TrainConfig", "Trainer", "batches_per_epoch", "new_history"]
