"""The training-time estimate: timed steps times the steps ahead, plus a test pass per epoch."""

from __future__ import annotations

import pytest

from gen_core.run.start import prepare_training
from gen_core.training import TrainConfig, batches_per_epoch, estimate


def _probe(trainer, monkeypatch, step_seconds):
    """Fake the clock: the n-th train_step takes step_seconds(n); evaluation and statistics 0.5 s."""
    clock = [0.0]
    monkeypatch.setattr(estimate.time, "perf_counter", lambda: clock[0])
    steps_taken = []

    def train_step(batch, optimizers):
        clock[0] += step_seconds(len(steps_taken))
        steps_taken.append(len(batch))

    def evaluate():
        clock[0] += 0.4

    monkeypatch.setattr(trainer.model, "train_step", train_step)
    monkeypatch.setattr(trainer, "evaluate", evaluate)
    monkeypatch.setattr(trainer.model, "epoch_statistics", lambda images: clock.__setitem__(0, clock[0] + 0.1))
    return steps_taken


def _trainer(mnist_small):
    return prepare_training("ae", {"hidden": (16,), "latent_dim": 4}, mnist_small,
                            TrainConfig(epochs=3, batch_size=32, device="cpu"), save=False).trainer


def test_the_estimate_is_the_median_step_and_the_test_pass_times_the_work_ahead(mnist_small, monkeypatch):
    trainer = _trainer(mnist_small)
    # the first (warm-up) step is slow and must not count; one step in the middle is held up by
    # another process and must not move the estimate either
    steps_taken = _probe(trainer, monkeypatch, lambda n: 5.0 if n == 0 else (2.0 if n == 2 else 0.1))
    seconds = estimate.estimate_training_seconds(trainer, probe_steps=(3, 16), probe_seconds=1.0)
    assert len(steps_taken) == 1 + 3  # three timed steps (0.1 + 2.0 + 0.1 s) are past the 1 s budget
    steps = batches_per_epoch(len(mnist_small.train_images), 32)
    assert seconds == pytest.approx(3 * (steps * 0.1 + 0.5))


def test_the_probe_times_at_least_the_fewest_and_at_most_the_most_steps(mnist_small, monkeypatch):
    trainer = _trainer(mnist_small)
    slow = _probe(trainer, monkeypatch, lambda n: 3.0)  # each step past the budget alone
    estimate.estimate_training_seconds(trainer, probe_steps=(3, 16), probe_seconds=1.0)
    assert len(slow) == 1 + 3
    trainer = _trainer(mnist_small)
    fast = _probe(trainer, monkeypatch, lambda n: 0.001)
    estimate.estimate_training_seconds(trainer, probe_steps=(3, 8), probe_seconds=1.0)
    assert len(fast) == 1 + 8


def test_a_real_estimate_is_positive_and_leaves_nothing_on_disk(mnist_small, tmp_path):
    trainer = prepare_training("vae", {"hidden": (16,), "latent_dim": 2}, mnist_small,
                               TrainConfig(epochs=2, batch_size=128, device="cpu"), root=tmp_path, save=False).trainer
    assert estimate.estimate_training_seconds(trainer) > 0
    assert not any(tmp_path.iterdir())
