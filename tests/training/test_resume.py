"""What resuming means (gen_core.training.epochs): after a completed epoch, a stop inside one, a failure, for
every optimiser of the GAN families; and that the same seed gives the same weights on the CPU."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from gen_core.run.start import TrainingRun
from gen_core.errors import TrainingError
from gen_core.run import checkpoint, start
from gen_core.training import TrainConfig, Trainer
from gen_core.training.epochs import batches_per_epoch, epoch_end, epoch_order, per_process_batch, resume_point

STEPS_PER_EPOCH = 6  # 384 images in batches of 64


def _config(**overrides) -> TrainConfig:
    settings = {"epochs": 2, "batch_size": 64, "lr": 2e-3, "device": "cpu", "sample_count": 16,
                "sample_epochs": (0,), "log_every": 2}
    return TrainConfig(**{**settings, **overrides})


def _same_weights(a, b) -> bool:
    first, second = a.state_dict(), b.state_dict()
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def _uninterrupted(build_tiny, case, data, epochs):
    trainer = Trainer(build_tiny(case), data, _config(epochs=epochs))
    trainer.fit()
    return trainer.model


@pytest.fixture
def resume_from(monkeypatch, mnist_small):
    monkeypatch.setattr(start, "dataset_for_run", lambda config: mnist_small)
    return lambda run_dir, extra: start.resume_training(run_dir, extra, device="cpu")


@pytest.mark.parametrize("case", ["vae-mlp", "dcgan"])
def test_resuming_after_a_completed_epoch_gives_the_weights_of_an_uninterrupted_run(case, build_tiny, mnist_small,
                                                                                   tmp_runs, resume_from):
    run_dir = tmp_runs / case
    TrainingRun(Trainer(build_tiny(case), mnist_small, _config(epochs=1)), run_dir).fit()
    resumed = resume_from(run_dir, 1)
    resumed.fit()
    assert _same_weights(resumed.model, _uninterrupted(build_tiny, case, mnist_small, epochs=2))


def test_a_stopped_epoch_is_continued_where_it_stopped_not_counted_as_done(build_tiny, mnist_small, tmp_runs,
                                                                         resume_from):
    run_dir = tmp_runs / "stopped"
    stopped = TrainingRun(Trainer(build_tiny("ae-mlp"), mnist_small, _config(epochs=3)), run_dir)
    history = stopped.fit(should_stop=lambda: stopped.trainer.snapshot().step >= 8)  # 2 steps into epoch 2
    assert history["status"] == "stopped"
    assert history["epochs"][-1]["partial"] and history["epochs"][-1]["images_done"] == 2 * 64
    assert resume_point(checkpoint.load_run(run_dir).history) == (1, 128)

    resumed = resume_from(run_dir, 2)  # the rest of epoch 2, then epoch 3
    assert resumed.trainer.config.epochs == 3 and resumed.trainer.snapshot().total_steps == 0
    history = resumed.fit()
    assert resumed.trainer.snapshot().total_steps == resumed.trainer.snapshot().step == 4 + STEPS_PER_EPOCH
    assert [entry["epoch"] for entry in history["epochs"]] == [1, 2, 3]
    assert not any(entry.get("partial") for entry in history["epochs"])
    assert [entry["images"] for entry in history["epochs"]] == [384, 384, 384]
    assert [entry["step"] for entry in history["epochs"]] == [6, 12, 18]
    # An autoencoder's step draws nothing at random, so with the same image order it ends exactly
    # where an uninterrupted run does.
    assert _same_weights(resumed.model, _uninterrupted(build_tiny, "ae-mlp", mnist_small, epochs=3))


@pytest.mark.parametrize("case", ["dcgan", "vaegan"])
def test_a_stopped_gan_resumes_every_optimiser_and_sees_each_image_once(case, build_tiny, mnist_small, tmp_runs,
                                                                       resume_from, monkeypatch):
    run_dir = tmp_runs / case
    stopped = TrainingRun(Trainer(build_tiny(case), mnist_small, _config(epochs=2)), run_dir)
    stopped.fit(should_stop=lambda: stopped.trainer.snapshot().step >= 9)  # 3 steps into epoch 2
    saved = checkpoint.load_run(run_dir, with_optimizer_state=True).optimizer_state
    assert len(saved) >= 2 and {state["state"][0]["step"].item() for state in saved.values()} == {9}

    resumed = resume_from(run_dir, 1)
    seen = []
    real_step = resumed.model.train_step
    monkeypatch.setattr(resumed.model, "train_step", lambda x, optimizers: seen.append(x.clone()) or real_step(x, optimizers))
    resumed.fit()
    for name, optimizer in resumed.trainer.optimizers.items():
        assert optimizer.state_dict()["state"][0]["step"].item() == 2 * STEPS_PER_EPOCH, name
    # The second half of epoch 2 is exactly the images its order had not reached.
    order = epoch_order(len(mnist_small.train_images), 0, 2)
    assert torch.equal(torch.cat(seen), mnist_small.train_images[order[3 * 64:]])


def test_resuming_after_a_failure_redoes_the_failed_epoch(build_tiny, mnist_small, tmp_runs, resume_from,
                                                          monkeypatch):
    run_dir = tmp_runs / "failed"
    model = build_tiny("vae-mlp")
    real_step, calls = model.train_step, {"count": 0}

    def breaks_in_epoch_2(x, optimizers):
        calls["count"] += 1
        if calls["count"] == STEPS_PER_EPOCH + 4:
            raise RuntimeError("out of memory")
        return real_step(x, optimizers)

    monkeypatch.setattr(model, "train_step", breaks_in_epoch_2)
    with pytest.raises(RuntimeError):
        TrainingRun(Trainer(model, mnist_small, _config(epochs=3)), run_dir).fit()
    failed = checkpoint.load_run(run_dir)
    assert failed.history["status"] == "failed" and [e["epoch"] for e in failed.history["epochs"]] == [1]
    assert any(entry["step"] > STEPS_PER_EPOCH for entry in failed.history["steps"])  # what happened is kept

    resumed = resume_from(run_dir, 2)
    history = resumed.fit()
    steps = [entry["step"] for entry in history["steps"]]
    assert steps == sorted(set(steps)) and steps[-1] == 3 * STEPS_PER_EPOCH  # the failed epoch's steps replaced
    assert [entry["epoch"] for entry in history["epochs"]] == [1, 2, 3]
    assert _same_weights(resumed.model, _uninterrupted(build_tiny, "vae-mlp", mnist_small, epochs=3))


def test_the_same_seed_gives_the_same_weights_and_another_seed_does_not(mnist_small):
    def train(seed):
        config = _config(epochs=2, seed=seed)
        return start.prepare_training("dcgan", {"gen_channels": (32, 16, 8), "disc_channels": (8, 16),
                                                   "latent_dim": 16}, mnist_small, config, save=False)

    first, again, other = train(0), train(0), train(1)
    assert _same_weights(first.model, again.model) and not _same_weights(first.model, other.model)
    for trainer in (first, again, other):
        trainer.fit()
    assert _same_weights(first.model, again.model) and not _same_weights(first.model, other.model)


def test_epoch_orders_are_fixed_permutations():
    assert torch.equal(epoch_order(100, 0, 3), epoch_order(100, 0, 3))
    assert sorted(epoch_order(100, 0, 3).tolist()) == list(range(100))
    assert not torch.equal(epoch_order(100, 0, 3), epoch_order(100, 0, 4))
    assert not torch.equal(epoch_order(100, 0, 3), epoch_order(100, 1, 3))


def test_where_an_epoch_ends_and_how_many_steps_it_takes():
    assert [batches_per_epoch(n, 64) for n in (1, 2, 64, 65, 66, 128)] == [1, 1, 1, 1, 2, 2]
    assert batches_per_epoch(5, 1) == 5
    # Two processes of 32: a last global batch needs two images per process (four in all).
    assert [epoch_end(n, 64, 2) for n in (64, 67, 68, 100)] == [64, 64, 68, 100]
    assert [batches_per_epoch(n, 32, 2) for n in (64, 67, 68, 100)] == [1, 1, 2, 2]
    assert batches_per_epoch(384, 64, start=128) == 4 and batches_per_epoch(384, 64, start=383) == 0


def test_resume_point_and_the_total_batch_kept_across_process_counts():
    assert resume_point({"epochs": []}) == (0, 0)
    assert resume_point({"epochs": [{"epoch": 1}, {"epoch": 2, "partial": True, "images_done": 50}]}) == (1, 50)
    assert resume_point({"epochs": [{"epoch": 1}, {"epoch": 2, "partial": True}]}) == (2, 0)  # older runs
    assert per_process_batch({"batch_size": 32, "world_size": 2, "total_batch_size": 64}, 4) == 16
    assert per_process_batch({"batch_size": 128}, 2) == 64
    with pytest.raises(TrainingError, match="cannot share equally"):
        per_process_batch({"batch_size": 64, "world_size": 1}, 3)


def test_a_stop_in_the_last_step_of_an_epoch_completes_it(build_tiny, mnist_small):
    trainer = Trainer(build_tiny("ae-mlp"), mnist_small, dataclasses.replace(_config(), epochs=3))
    history = trainer.fit(should_stop=lambda: trainer.snapshot().step >= STEPS_PER_EPOCH)
    assert history["status"] == "stopped" and not history["epochs"][-1].get("partial")
    assert resume_point(history) == (1, 0)
