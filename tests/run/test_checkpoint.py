"""Run folders on disk: exact save/load round trips, optimiser state, and refusing bad files."""

from __future__ import annotations

import json
import pickle
import struct

import pytest
import torch
from safetensors.torch import save_file

from gen_core.run.start import TrainingRun
from gen_core.data import ImageDataset
from gen_core.errors import CheckpointError
from gen_core.models import build_model
from gen_core.places import default_root
from gen_core.run import checkpoint, layout
from gen_core.training import TrainConfig, Trainer


def _trained_run(model, dataset, run_dir, epochs=1):
    trainer = TrainingRun(Trainer(model, dataset, TrainConfig(epochs=epochs, batch_size=64, lr=2e-3, device="cpu",
                                                  sample_count=4, sample_epochs=(0,))), run_dir)
    trainer.fit()
    return trainer


@pytest.fixture
def saved_ae(tmp_runs, build_tiny):
    """A freshly saved (untrained) tiny MLP autoencoder with latent_dim 8."""
    run_dir = tmp_runs / "saved-ae"
    checkpoint.save_run(run_dir, build_tiny("ae-mlp"), data={"name": "mnist5k"}, training={},
                         history={"epochs": [], "status": "created"})
    return run_dir


def test_save_then_load_gives_identical_outputs(tiny_case, build_tiny, mnist_small, tmp_runs):
    small = ImageDataset("mnist5k", mnist_small.train_images[:128], mnist_small.test_images[:16],
                         source={"name": "mnist5k"})
    trainer = _trained_run(build_tiny(tiny_case), small, tmp_runs / tiny_case)  # moves BatchNorm/code stats
    model = trainer.model.eval()
    run = checkpoint.load_run(trainer.run_dir)
    assert run.family == model.family and run.name == tiny_case
    assert run.model.config == model.config
    assert not run.model.training
    z = torch.randn(6, model.latent_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(run.model.decode(z), model.decode(z))
        images = small.test_images[:6]
        if model.has_encoder:
            assert torch.equal(run.model.encode(images), model.encode(images))
        if hasattr(model, "discriminator"):
            assert torch.equal(run.model.discriminator(images), model.discriminator(images))
        assert torch.equal(run.model.draw_codes(4, torch.Generator().manual_seed(2)),
                           model.draw_codes(4, torch.Generator().manual_seed(2)))
    saved_state, loaded_state = model.state_dict(), run.model.state_dict()
    assert saved_state.keys() == loaded_state.keys()
    assert all(torch.equal(saved_state[k], loaded_state[k]) for k in saved_state)  # buffers too
    assert run.history["status"] == "completed" and len(run.history["epochs"]) == 1


def test_optimizer_state_round_trips_exactly(build_tiny, mnist_small, tmp_runs):
    trainer = _trained_run(build_tiny("vaegan"), mnist_small, tmp_runs / "opt", epochs=1)
    run = checkpoint.load_run(trainer.run_dir, with_optimizer_state=True)
    assert set(run.optimizer_state) == {"encoder", "decoder", "discriminator"}
    for name, optimizer in trainer.trainer.optimizers.items():
        original, loaded = optimizer.state_dict(), run.optimizer_state[name]
        assert loaded["param_groups"] == json.loads(json.dumps(original["param_groups"]))
        assert original["state"].keys() == loaded["state"].keys() and original["state"]
        for index, values in original["state"].items():
            assert values.keys() == loaded["state"][index].keys()
            for key, value in values.items():
                assert torch.equal(value, loaded["state"][index][key]), (name, index, key)
    # ... and a fresh optimiser accepts it
    fresh = run.model.make_optimizers(1e-3)
    for name, optimizer in fresh.items():
        optimizer.load_state_dict(run.optimizer_state[name])
        assert tuple(optimizer.param_groups[0]["betas"]) == (0.5, 0.999)
        assert torch.equal(next(iter(optimizer.state.values()))["step"],
                           next(iter(trainer.trainer.optimizers[name].state.values()))["step"])


def test_load_without_optimizer_state_by_default(saved_ae):
    assert checkpoint.load_run(saved_ae).optimizer_state == {}


# ---------------------------------------------------------------- corrupt and mismatched runs

def _truncate_weights(run_dir):
    path = run_dir / layout.WEIGHTS_FILE
    path.write_bytes(path.read_bytes()[:-100])


def _garbage_weights(run_dir):
    (run_dir / layout.WEIGHTS_FILE).write_bytes(bytes(range(256)) * 8)


def _weights_header_not_json(run_dir):
    (run_dir / layout.WEIGHTS_FILE).write_bytes(struct.pack("<Q", 12) + b"{not json..}")


def _empty_weights(run_dir):
    (run_dir / layout.WEIGHTS_FILE).write_bytes(b"")


def _missing_weights(run_dir):
    (run_dir / layout.WEIGHTS_FILE).unlink()


def _config_not_json(run_dir):
    (run_dir / layout.CONFIG_FILE).write_text('{"format_version": 1, "family": "ae",')


def _config_binary(run_dir):
    (run_dir / layout.CONFIG_FILE).write_bytes(b"\xff\xfe\x00garbage")


def _config_a_list(run_dir):
    (run_dir / layout.CONFIG_FILE).write_text("[1, 2, 3]")


def _edit_config(**changes):
    def edit(run_dir):
        config = json.loads((run_dir / layout.CONFIG_FILE).read_text())
        config.update(changes)
        (run_dir / layout.CONFIG_FILE).write_text(json.dumps(config))
    edit.__name__ = f"_config_{'_'.join(changes)}"
    return edit


def _history_not_json(run_dir):
    (run_dir / layout.HISTORY_FILE).write_text("{{{")


@pytest.mark.parametrize("damage, message", [
    (_truncate_weights, "not a readable safetensors file"),
    (_garbage_weights, "not a readable safetensors file"),
    (_weights_header_not_json, "not a readable safetensors file"),
    (_empty_weights, "not a readable safetensors file"),
    (_missing_weights, "missing"),
    (_config_not_json, "not valid JSON"),
    (_config_binary, "not valid JSON"),
    (_config_a_list, "settings"),
    (_edit_config(format_version=2), "format version 2"),
    (_edit_config(format_version="1"), "format version '1'"),
    (_edit_config(family="gpt"), "Unknown model family"),
    (_edit_config(model={"latent_dim": 8, "depth": 3}), "Unknown AEConfig settings: depth"),
    (_edit_config(model={"latent_dim": -1}), "latent_dim"),
    (_history_not_json, "not valid JSON"),
], ids=lambda value: getattr(value, "__name__", "")[1:] if callable(value) else "")
def test_a_damaged_run_raises_checkpoint_error_with_a_clear_message(saved_ae, damage, message):
    damage(saved_ae)
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load_run(saved_ae)


def test_missing_config_or_folder_is_a_checkpoint_error(saved_ae, tmp_runs):
    with pytest.raises(CheckpointError, match="No run folder"):
        checkpoint.load_run(tmp_runs / "nothing-here")
    (saved_ae / layout.CONFIG_FILE).unlink()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        checkpoint.load_run(saved_ae)


def test_weights_for_another_latent_size_are_refused(saved_ae):
    """config.json says latent_dim 8; the weights come from a latent_dim 4 model."""
    torch.manual_seed(0)
    other = build_model("ae", hidden=(64,), latent_dim=4)
    save_file(other.state_dict(), str(saved_ae / layout.WEIGHTS_FILE))
    with pytest.raises(CheckpointError, match=r"do not match the model.*shape mismatch.*saved \(4, 64\), model needs \(8, 64\)"):
        checkpoint.load_run(saved_ae)


def test_weights_with_missing_and_extra_tensors_are_refused(saved_ae):
    state = checkpoint.load_run(saved_ae).model.state_dict()
    state["decoder.extra"] = torch.zeros(3)
    del state["to_code.bias"]
    save_file(state, str(saved_ae / layout.WEIGHTS_FILE))
    with pytest.raises(CheckpointError, match="missing to_code.bias; unexpected decoder.extra"):
        checkpoint.load_run(saved_ae)


def test_malformed_optimizer_state_is_a_checkpoint_error(build_tiny, mnist_small, tmp_runs):
    trainer = _trained_run(build_tiny("ae-mlp"), mnist_small, tmp_runs / "opt")
    (trainer.run_dir / layout.OPTIMIZER_META_FILE).write_text('{"model": {"param_groups": []}}')
    with pytest.raises(CheckpointError, match="optimiser state"):
        checkpoint.load_run(trainer.run_dir, with_optimizer_state=True)
    (trainer.run_dir / layout.OPTIMIZER_FILE).write_bytes(b"\x00" * 20)
    with pytest.raises(CheckpointError, match="optimizer.safetensors is not a readable"):
        checkpoint.load_run(trainer.run_dir, with_optimizer_state=True)


class _Payload:
    """Unpickling this creates a marker file: proof that a loader ran pickle on user data."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_nothing_is_unpickled(saved_ae, tmp_path, monkeypatch):
    marker = tmp_path / "unpickled"
    weights = saved_ae / layout.WEIGHTS_FILE
    good_weights = weights.read_bytes()
    payload = pickle.dumps(_Payload(marker))

    def refuse(*args, **kwargs):
        raise AssertionError("a loader tried to unpickle a file")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    weights.write_bytes(payload)  # pickled weights under the safetensors name
    with pytest.raises(CheckpointError, match="model.safetensors is not a readable safetensors file"):
        checkpoint.load_run(saved_ae)
    weights.write_bytes(good_weights)  # good weights, pickled optimiser state
    (saved_ae / layout.OPTIMIZER_FILE).write_bytes(payload)
    (saved_ae / layout.OPTIMIZER_META_FILE).write_text('{"model": {"param_groups": [], "scalars": {}}}')
    with pytest.raises(CheckpointError, match="optimizer.safetensors is not a readable safetensors file"):
        checkpoint.load_run(saved_ae, with_optimizer_state=True)
    assert checkpoint.load_run(saved_ae).family == "ae"  # the good weights load without pickle
    assert not marker.exists()


def test_save_run_writes_only_data_files_and_no_temporaries(saved_ae):
    names = sorted(path.name for path in saved_ae.iterdir())
    assert names == [".lock", "config.json", "history.json", "model.safetensors"]  # .lock: the writer's lock
    config = json.loads((saved_ae / layout.CONFIG_FILE).read_text())
    assert config["format_version"] == checkpoint.FORMAT_VERSION and config["family"] == "ae"
    assert config["model"]["hidden"] == [64] and config["name"] == "saved-ae"


def test_default_root_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GEN_CORE_CHECKPOINTS", str(tmp_path / "elsewhere"))
    assert default_root() == tmp_path / "elsewhere"
