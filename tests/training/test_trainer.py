"""The trainer: resuming, failing cleanly on NaN, sample grids, settings checks, awkward batch sizes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from gen_core.run.start import TrainingRun
from gen_core.training.events import End, Epoch, Step
from gen_core.data import ImageDataset
from gen_core.errors import TrainingError
from gen_core.run import checkpoint, layout, start
from gen_core.training import TrainConfig, Trainer, batches_per_epoch


def _config(**overrides) -> TrainConfig:
    settings = {"epochs": 2, "batch_size": 64, "lr": 2e-3, "device": "cpu", "sample_count": 16,
                "sample_epochs": (0,), "log_every": 2}
    return TrainConfig(**{**settings, **overrides})


def _weights_are_finite(model) -> bool:
    return all(torch.isfinite(tensor).all() for tensor in model.state_dict().values() if tensor.is_floating_point())


# ---------------------------------------------------------------- resume

def test_resume_continues_from_the_saved_epoch_with_optimizer_state(build_tiny, mnist_small, tmp_runs,
                                                                    monkeypatch):
    run_dir = tmp_runs / "resume-me"
    first = TrainingRun(Trainer(build_tiny("vae-mlp"), mnist_small, _config(epochs=2)), run_dir)
    first.fit()
    saved_steps = first.trainer.optimizers["model"].state_dict()["state"][0]["step"].item()
    assert saved_steps == 2 * 6  # 384 images in batches of 64, two epochs
    saved = checkpoint.load_run(run_dir, with_optimizer_state=True)

    monkeypatch.setattr(start, "dataset_for_run", lambda config: mnist_small)
    resumed = start.resume_training(run_dir, extra_epochs=2, device="cpu")
    assert resumed.trainer.start_epoch == 2 and resumed.trainer.config.epochs == 4
    assert resumed.trainer.config.lr == 2e-3 and resumed.trainer.config.batch_size == 64  # from the saved run
    state = resumed.trainer.optimizers["model"].state_dict()["state"]
    for index, values in saved.optimizer_state["model"]["state"].items():
        for key, value in values.items():
            assert torch.equal(state[index][key], value), (index, key)
    assert all(torch.equal(a, b) for a, b in zip(resumed.model.parameters(), saved.model.parameters()))

    history = resumed.fit()
    assert [entry["epoch"] for entry in history["epochs"]] == [1, 2, 3, 4]
    assert resumed.trainer.optimizers["model"].state_dict()["state"][0]["step"].item() == saved_steps + 2 * 6
    on_disk = checkpoint.load_run(run_dir)
    assert [entry["epoch"] for entry in on_disk.history["epochs"]] == [1, 2, 3, 4]
    assert on_disk.history["status"] == "completed"
    assert on_disk.config["training"]["epochs"] == 4
    step_numbers = [entry["step"] for entry in on_disk.history["steps"]]
    assert step_numbers == sorted(set(step_numbers)) and step_numbers[-1] == 24  # no restart at 1
    assert history["epochs"][-1]["test_loss"] < history["epochs"][1]["test_loss"]  # it kept learning


def test_resume_needs_at_least_one_more_epoch(build_tiny, mnist_small, tmp_runs):
    run_dir = tmp_runs / "done"
    TrainingRun(Trainer(build_tiny("ae-mlp"), mnist_small, _config(epochs=1)), run_dir).fit()
    with pytest.raises(TrainingError, match="at least one more epoch"):
        start.resume_training(run_dir, extra_epochs=0, device="cpu")


def test_dataset_for_run_reloads_the_recorded_dataset():
    dataset = start.dataset_for_run({"data": {"name": "mnist5k"}})
    assert dataset.train_images.shape == (4500, 1, 28, 28)
    with pytest.raises(TrainingError, match="does not record which dataset"):
        start.dataset_for_run({"data": {}})


def test_prepare_training_sizes_the_model_to_the_data_and_picks_a_fresh_folder(mnist_small, tmp_runs):
    tiny = ImageDataset("digits", torch.rand(40, 1, 8, 8), torch.rand(10, 1, 8, 8), source={"name": "digits"})
    trainer = start.prepare_training("ae", {"hidden": (16,), "latent_dim": 2}, tiny, _config(epochs=1),
                                        root=tmp_runs, name="My run!")
    assert trainer.model.image_shape == (1, 8, 8)
    assert trainer.run_dir == tmp_runs / "My-run" and trainer.name == "My-run"
    trainer.fit()
    again = start.prepare_training("ae", {"hidden": (16,), "latent_dim": 2}, tiny, _config(epochs=1),
                                      root=tmp_runs, name="My run!")
    assert again.run_dir == tmp_runs / "My-run-2"
    assert checkpoint.load_run(trainer.run_dir).config["data"] == {"name": "digits"}


# ---------------------------------------------------------------- failing cleanly

def _poison_after(model, monkeypatch, good_steps: int):
    """After ``good_steps`` updates the weights turn NaN and the step reports a NaN loss."""
    real_step, calls = model.train_step, {"count": 0}

    def train_step(x, optimizers):
        calls["count"] += 1
        if calls["count"] <= good_steps:
            return real_step(x, optimizers)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.fill_(float("nan"))
        return {"loss": torch.tensor(float("nan")), "reconstruction": torch.tensor(float("nan"))}

    monkeypatch.setattr(model, "train_step", train_step)


def test_a_nan_loss_fails_cleanly_and_keeps_the_last_good_checkpoint(build_tiny, mnist_small, tmp_runs,
                                                                     monkeypatch):
    model = build_tiny("ae-mlp")
    _poison_after(model, monkeypatch, good_steps=6 + 3)  # epoch 1 is fine, epoch 2 breaks at step 10
    ended = []
    run_dir = tmp_runs / "nan-run"
    trainer = TrainingRun(Trainer(model, mnist_small, _config(epochs=3)), run_dir)
    with pytest.raises(TrainingError, match=r"The loss became nan \(loss, reconstruction\) in epoch 2"):
        trainer.fit(on_event=lambda event: ended.append(event) if isinstance(event, End) else None)
    assert [(event.status, event.message) for event in ended] == [("failed", trainer.trainer.history["message"])]
    history = json.loads((run_dir / layout.HISTORY_FILE).read_text())
    assert history["status"] == "failed" and "lower learning rate" in history["message"]
    assert [entry["epoch"] for entry in history["epochs"]] == [1]
    run = checkpoint.load_run(run_dir)
    assert _weights_are_finite(run.model) and not _weights_are_finite(model)
    decoded = run.model.decode(torch.zeros(2, run.model.latent_dim))
    assert torch.isfinite(decoded).all()


def test_a_huge_learning_rate_fails_cleanly_after_a_good_epoch(build_tiny, mnist_small, tmp_runs):
    run_dir = tmp_runs / "lr-run"
    good = TrainingRun(Trainer(build_tiny("vae-mlp"), mnist_small, _config(epochs=1)), run_dir)
    good.fit()
    good_weights = checkpoint.load_run(run_dir).model.state_dict()
    saved = checkpoint.load_run(run_dir)
    exploding = TrainingRun(Trainer(saved.model, mnist_small, _config(epochs=2, lr=1e6),
                        history=saved.history), run_dir)
    with pytest.raises(TrainingError, match="epoch 2.*Try a lower learning rate"):
        exploding.fit()
    after = checkpoint.load_run(run_dir)
    assert after.history["status"] == "failed" and len(after.history["epochs"]) == 1
    assert all(torch.equal(after.model.state_dict()[k], v) for k, v in good_weights.items())
    assert _weights_are_finite(after.model)


def test_an_unexpected_crash_is_recorded_as_failed_not_left_running(build_tiny, mnist_small, tmp_runs,
                                                                    monkeypatch):
    model = build_tiny("ae-mlp")
    real_step, calls = model.train_step, {"count": 0}

    def train_step(x, optimizers):
        calls["count"] += 1
        if calls["count"] > 6:
            raise RuntimeError("out of memory")
        return real_step(x, optimizers)

    monkeypatch.setattr(model, "train_step", train_step)
    run_dir = tmp_runs / "crash"
    with pytest.raises(RuntimeError, match="out of memory"):
        TrainingRun(Trainer(model, mnist_small, _config(epochs=2)), run_dir).fit()
    history = json.loads((run_dir / layout.HISTORY_FILE).read_text())
    assert history["status"] == "failed" and history["message"] == "RuntimeError: out of memory"


def test_should_stop_ends_after_the_current_step_and_saves(build_tiny, mnist_small, tmp_runs):
    run_dir = tmp_runs / "stop"
    trainer = TrainingRun(Trainer(build_tiny("ae-mlp"), mnist_small, _config(epochs=5)), run_dir)
    history = trainer.fit(should_stop=lambda: trainer.trainer.snapshot().step >= 8)  # in epoch 2, of 6 steps each
    assert history["status"] == "stopped" and history["message"] == "Stopped after epoch 2 of 5."
    assert [entry.get("partial", False) for entry in history["epochs"]] == [False, True]
    assert (run_dir / layout.SAMPLES_DIR / "epoch_002.png").exists()  # the stop gets a grid
    assert checkpoint.load_run(run_dir).history["status"] == "stopped"


# ---------------------------------------------------------------- sample grids

def test_sample_grids_are_written_at_the_chosen_epochs(build_tiny, mnist_small, tmp_runs):
    run_dir = tmp_runs / "grids"
    events = []
    trainer = TrainingRun(Trainer(build_tiny("vae-mlp"), mnist_small, _config(epochs=4, sample_epochs=(1, 3))), run_dir)
    trainer.fit(on_event=events.append)
    grids = sorted(path.name for path in (run_dir / layout.SAMPLES_DIR).iterdir())
    assert grids == ["epoch_001.png", "epoch_003.png"]
    with Image.open(run_dir / layout.SAMPLES_DIR / "epoch_003.png") as grid:
        assert grid.size == (4 * 30 + 2, 4 * 30 + 2)  # 16 samples, 4 x 4 tiles of 28 px + 2 px padding
        pixels = torch.from_numpy(np.asarray(grid.convert("L"), dtype=np.float32))
    assert pixels.std() > 10  # a picture, not a blank tile
    sample_events = [event for event in events if isinstance(event, Epoch) and event.grid is not None]
    assert [event.entry["epoch"] for event in sample_events] == [1, 3]
    assert sample_events[0].grid.size == (4 * 30 + 2, 4 * 30 + 2)
    assert [type(event).__name__ for event in events if not isinstance(event, Step)][-2:] == ["Epoch", "End"]


def test_grids_from_fixed_noise_compare_across_epochs(build_tiny, mnist_small):
    trainer = Trainer(build_tiny("vae-mlp"), mnist_small, _config(epochs=1))
    first, again = trainer.preview_images(), trainer.preview_images()
    assert torch.equal(first, again) and first.shape == (16, 1, 28, 28)


def test_autoencoder_grids_show_originals_over_reconstructions(build_tiny, mnist_small):
    trainer = Trainer(build_tiny("ae-mlp"), mnist_small, _config(epochs=1))
    preview = trainer.preview_images()
    assert preview.shape == (16, 1, 28, 28)
    assert torch.equal(preview[:8], mnist_small.test_images[:8])
    assert not torch.equal(preview[8:], mnist_small.test_images[:8])


def test_default_grid_epochs_cover_first_last_and_between():
    assert TrainConfig(epochs=20).grid_epochs() == {1, 3, 6, 9, 12, 15, 18, 20}
    assert TrainConfig(epochs=3).grid_epochs() == {1, 2, 3}
    # a run resumed at epoch 7 of 10 draws its first new epoch, the last, and the regular ones between
    assert TrainConfig(epochs=10).grid_epochs(first_epoch=7) & set(range(7, 11)) == {7, 8, 10}
    assert TrainConfig(epochs=10, sample_epochs=(2, 5)).grid_epochs(first_epoch=7) == {2, 5}  # chosen epochs win


# ---------------------------------------------------------------- settings and batch edge cases

@pytest.mark.parametrize("settings", [
    {"epochs": 0}, {"epochs": 2.5}, {"batch_size": 0}, {"batch_size": "64"}, {"lr": 0}, {"lr": -1e-3},
    {"lr": float("nan")}, {"lr": float("inf")}, {"lr": "fast"}, {"log_every": 0}, {"sample_count": 0},
    {"sample_epochs": ("first",)},
])
def test_bad_training_settings_raise_training_error(settings):
    with pytest.raises(TrainingError):
        TrainConfig(**settings)


def test_train_config_from_saved_json_ignores_unknown_keys():
    config = start.train_config_from_dict({"epochs": 3, "lr": 1e-3, "sample_epochs": [1, 3], "old_key": 1},
                                             device="cpu")
    assert (config.epochs, config.sample_epochs, config.device) == (3, (1, 3), "cpu")


@pytest.mark.parametrize("case", ["ae-mlp", "dcgan"])
def test_a_single_leftover_image_is_skipped(case, build_tiny, mnist_small):
    """65 images in batches of 64: BatchNorm cannot train on the one left over, nor can a std."""
    odd = ImageDataset("mnist5k", mnist_small.train_images[:65], mnist_small.test_images[:20])
    trainer = Trainer(build_tiny(case), odd, _config(epochs=2))
    history = trainer.fit()
    assert history["status"] == "completed"
    snapshot = trainer.snapshot()
    assert snapshot.step == snapshot.total_steps == 2 and snapshot.fraction == 1.0
    assert _weights_are_finite(trainer.model)  # includes the autoencoder's code statistics
    assert torch.isfinite(trainer.model.sample(4)).all()


def test_batches_per_epoch_counts_what_the_trainer_runs():
    assert [batches_per_epoch(n, 64) for n in (1, 2, 64, 65, 66, 128)] == [1, 1, 1, 1, 2, 2]
    assert batches_per_epoch(5, 1) == 5


def test_history_entries_are_finite_numbers(build_tiny, mnist_small):
    history = Trainer(build_tiny("vaegan"), mnist_small, _config(epochs=1)).fit()
    entry = history["epochs"][0]
    for key in ("train_loss", "train_kl", "train_discriminator", "test_loss", "test_feature_reconstruction"):
        assert math.isfinite(entry[key])
    assert entry["images_per_sec"] > 0 and len(history["steps"]) == 3  # 6 steps, logged every 2
