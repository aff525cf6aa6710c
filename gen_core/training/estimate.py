"""How long a training run will take on this machine now: a few real training steps, timed.

A fixed promise ("seconds on a laptop") is wrong on a busy lab server; timing the actual model on
the actual data and device, under the current load, gives an estimate worth showing.
"""

from __future__ import annotations

import statistics
import time

from gen_core.data.base import iter_batches
from gen_core.training import Trainer, batches_per_epoch


PROBE_STEPS = (3, 16)  # timed steps: at least the first, at most the second
PROBE_SECONDS = 1.0  # stop timing steps once this much time has gone into them (past the minimum)


def estimate_training_seconds(trainer: Trainer, probe_steps: tuple[int, int] = PROBE_STEPS,
                              probe_seconds: float = PROBE_SECONDS) -> float:
    """Seconds ``trainer`` would need for its remaining epochs, from the median of a few timed steps, one
    timed test-set pass with the epoch's statistics and one timed fit of a sampling mixture, if the model
    has one (the first step is a warm-up and not counted). The median, over as many steps as about a
    second allows: on a busy machine a single step can take several times its usual time, and four
    steps averaged made the estimate 2-3x the real run (``bench/bench_estimates.py``).

    The probe trains the trainer's model: use a throwaway trainer (``prepare_training(save=False)``).
    """
    config, model = trainer.config, trainer.model
    fewest, most = probe_steps
    model.train()
    durations: list[float] = []
    for index, batch in enumerate(iter_batches(trainer.train_images, config.batch_size, shuffle=False)):
        started = time.perf_counter()
        model.train_step(batch.to(trainer.device), trainer.optimizers)
        if index > 0:
            durations.append(time.perf_counter() - started)
        if len(durations) >= most or (len(durations) >= fewest and sum(durations) >= probe_seconds):
            break
    per_step = statistics.median(durations) if durations else 0.0
    started = time.perf_counter()
    trainer.evaluate()
    model.epoch_statistics(trainer.test_images)  # active units and the like, computed after every epoch
    per_test_pass = time.perf_counter() - started
    epochs = max(0, config.epochs - trainer.start_epoch)
    started = time.perf_counter()
    trainer.refit_sampling_mixture()  # a VAE's sampling mixture, refitted at the grid epochs and the last
    refits = len(config.grid_epochs(trainer.start_epoch + 1) | {config.epochs}) if trainer.sampling_mixture else 0
    per_refit = time.perf_counter() - started
    steps = batches_per_epoch(len(trainer.train_images), config.batch_size)
    return epochs * (steps * per_step + per_test_pass) + refits * per_refit
