"""The training-time estimate: timed steps times the steps ahead, plus a test pass per epoch."""

from __future__ import annotations

import pytest

from gen_core.run.start import prepare_training
from gen_core.training import TrainConfig, batches_per_epoch, estimate


def test_the_estimate_is_the_timed_step_and_test_pass_times_the_work_ahead(mnist_small, monkeypatch):
    trainer = prepare_training("ae", {"hidden": (16,), "latent_dim": 4}, mnist_small,
                               TrainConfig(epochs=3, batch_size=64, device="cpu"), save=False).trainer
    clock = [0.0]
    monkeypatch.setattr(estimate.time, "perf_counter", lambda: clock[0])
    steps_taken = []

    def train_step(batch, optimizers):  # the first (warm-up) step is slow and must not count
        clock[0] += 5.0 if not steps_taken else 0.1
        steps_taken.append(len(batch))

    def evaluate():
        clock[0] += 0.5

    monkeypatch.setattr(trainer.model, "train_step", train_step)
    monkeypatch.setattr(trainer, "evaluate", evaluate)
    seconds = estimate.estimate_training_seconds(trainer, probe_steps=3)
    assert len(steps_taken) == 4  # one warm-up, three timed
    steps = batches_per_epoch(len(mnist_small.train_images), 64)
    assert seconds == pytest.approx(3 * (steps * 0.1 + 0.5))


def test_a_real_estimate_is_positive_and_leaves_nothing_on_disk(mnist_small, tmp_path):
    trainer = prepare_training("vae", {"hidden": (16,), "latent_dim": 2}, mnist_small,
                               TrainConfig(epochs=2, batch_size=128, device="cpu"), root=tmp_path, save=False).trainer
    assert estimate.estimate_training_seconds(trainer) > 0
    assert not any(tmp_path.iterdir())
