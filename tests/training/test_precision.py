"""How a run computes is recorded and kept: the precision asked for and chosen, with its reason, in the
history; honoured on resume; a run trained in bfloat16 loads and samples in float32; Adam's fused
kernel kept across a resume."""

from __future__ import annotations

import pytest
import torch

from gen_core.cli import main
from gen_core.errors import TrainingError
from gen_core.run import checkpoint, start
from gen_core.run.start import TrainingRun
from gen_core.training import TrainConfig, Trainer


def _config(**overrides) -> TrainConfig:
    settings = {"epochs": 1, "batch_size": 64, "lr": 2e-3, "device": "cpu", "sample_count": 16, "sample_epochs": (0,)}
    return TrainConfig(**{**settings, **overrides})


@pytest.fixture
def bf16_run(build_tiny, mnist_small, tmp_runs):
    run_dir = tmp_runs / "bf16"
    TrainingRun(Trainer(build_tiny("vae-mlp"), mnist_small, _config(precision="bf16")), run_dir).fit()
    return run_dir


def test_bf16_training_runs_its_forward_passes_in_bfloat16_and_keeps_float32_weights_and_losses(build_tiny,
                                                                                               mnist_small):
    trainer = Trainer(build_tiny("vae-mlp"), mnist_small, _config(precision="bf16"))
    seen = []
    hooks = [module.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
             for module in trainer.model.modules() if isinstance(module, torch.nn.Linear)]
    terms = trainer.model.train_step(trainer.train_images[:64], trainer.optimizers)
    for hook in hooks:
        hook.remove()
    assert seen and set(seen) == {torch.bfloat16}
    assert all(value.dtype == torch.float32 for value in terms.values())
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())


def test_the_precision_and_its_reason_are_recorded_and_honoured_on_resume(bf16_run, mnist_small, monkeypatch):
    history = checkpoint.load_run(bf16_run).history
    assert checkpoint.read_config(bf16_run)["training"]["precision"] == "bf16"
    first = history["compute"][0]
    assert (first["precision_asked"], first["precision"], first["from_epoch"]) == ("bf16", "bf16", 1)
    assert first["precision_reason"] and first["threads"] >= 1 and first["threads_reason"]
    assert first["optimizer"] == "Adam, fused"

    monkeypatch.setattr(start, "dataset_for_run", lambda config: mnist_small)
    resumed = start.resume_training(bf16_run, 1, device="cpu")
    assert resumed.trainer.config.precision == "bf16" and resumed.model.precision == "bf16"
    assert all(group["fused"] for optimizer in resumed.trainer.optimizers.values()
               for group in optimizer.param_groups)
    resumed.fit()
    sessions = checkpoint.load_run(bf16_run).history["compute"]
    assert [(s["from_epoch"], s["precision"]) for s in sessions] == [(1, "bf16"), (2, "bf16")]
    changed = start.resume_training(bf16_run, 1, device="cpu", precision="fp32")  # a resume may change it
    assert changed.model.precision == "fp32"


def test_a_bf16_run_loads_and_samples_in_float32(bf16_run):
    run = checkpoint.load_run(bf16_run)
    assert run.model.precision == "fp32"
    assert all(p.dtype == torch.float32 for p in run.model.parameters())
    samples = run.model.sample(8, torch.Generator().manual_seed(0))
    assert samples.dtype == torch.float32 and torch.isfinite(samples).all()
    assert 0.0 <= float(samples.min()) and float(samples.max()) <= 1.0


def test_precision_comes_from_the_train_command_and_a_bad_value_is_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", "ae", "--dataset", "digits", "--epochs", "1", "--hidden", "8", "--latent-dim",
                 "2", "--no-eval", "--device", "cpu", "--precision", "fp32", "--out", str(out)]) == 0
    sessions = checkpoint.load_run(out).history["compute"]
    assert sessions[0]["precision"] == "fp32" and sessions[0]["precision_reason"] == "fp32 asked for"
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(["train", "--model", "ae", "--precision", "half"])
    error = capsys.readouterr().err
    assert exited.value.code == 2 and "--precision" in error and "half" in error and error.count("\n") == 1
    with pytest.raises(TrainingError, match="precision must be one of"):
        TrainConfig(precision="fp16")
