"""How long a training run will take on this machine now: a few real training steps, timed.

A fixed promise ("seconds on a laptop") is wrong on a busy lab server; timing the actual model on
the actual data and device, under the current load, gives an estimate worth showing.
"""

from __future__ import annotations

import time

from gen_core.data.base import iter_batches
from gen_core.training import Trainer, batches_per_epoch


def estimate_training_seconds(trainer: Trainer, probe_steps: int = 4) -> float:
    """Seconds ``trainer`` would need for its remaining epochs, from ``probe_steps`` timed steps and
    one timed test-set pass (the first step is a warm-up and not counted).

    The probe trains the trainer's model: use a throwaway trainer (``prepare_training(save=False)``).
    """
    config, model = trainer.config, trainer.model
    batches = iter_batches(trainer.train_images, config.batch_size, shuffle=False)
    model.train()
    timed, seconds = 0, 0.0
    for index, batch in enumerate(batches):
        if index > probe_steps:
            break
        started = time.perf_counter()
        model.train_step(batch.to(trainer.device), trainer.optimizers)
        if index > 0:
            timed, seconds = timed + 1, seconds + time.perf_counter() - started
    per_step = seconds / max(timed, 1)
    started = time.perf_counter()
    trainer.evaluate()
    per_test_pass = time.perf_counter() - started
    epochs = max(0, config.epochs - trainer.start_epoch)
    steps = batches_per_epoch(len(trainer.train_images), config.batch_size)
    return epochs * (steps * per_step + per_test_pass)
