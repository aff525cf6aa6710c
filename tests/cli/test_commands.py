"""The command line end to end: `python -m gen_core train / sample / datasets / eval`, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gen_core.metrics.final
from gen_core.cli import main
from gen_core.data.access import resolve_data_path
from gen_core.models.presets import PRESETS
from gen_core.run import checkpoint, layout, start
from gen_core.training import batches_per_epoch

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A 2-epoch autoencoder on the 8x8 digits. Shared by the module, so tests only read it; one
    that changes a run works on a copy."""
    out = tmp_path_factory.mktemp("cli") / "ae-digits"
    status = main(["train", "--model", "ae", "--dataset", "digits", "--epochs", "2", "--hidden", "32",
                   "--latent-dim", "4", "--device", "cpu", "--no-eval", "--out", str(out)])
    assert status == 0
    return out


def _train(out: Path, *flags: str) -> int:
    return main(["train", "--epochs", "1", "--device", "cpu", "--out", str(out), *flags])


def test_train_writes_a_complete_run_folder(trained_run):
    config = checkpoint.read_config(trained_run)
    assert config["family"] == "ae" and config["model"]["hidden"] == [32] and config["model"]["latent_dim"] == 4
    assert config["data"]["name"] == "digits"
    history = checkpoint.read_json(trained_run / "history.json")
    assert history["status"] == "completed" and len(history["epochs"]) == 2
    assert history["metrics"] == {}  # --no-eval: nothing scored
    assert (trained_run / "model.safetensors").exists()
    assert sorted(p.name for p in (trained_run / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]


def test_train_refuses_to_overwrite_a_run(trained_run, capsys):
    before = (trained_run / layout.WEIGHTS_FILE).read_bytes()
    assert main(["train", "--model", "ae", "--dataset", "digits", "--out", str(trained_run)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (trained_run / layout.WEIGHTS_FILE).read_bytes() == before


def test_resume_continues_the_run_where_it_stopped(trained_run, tmp_path):
    run_dir = shutil.copytree(trained_run, tmp_path / "resumed")
    before = checkpoint.load_run(run_dir, with_optimizer_state=True)
    steps_before = before.optimizer_state["model"]["state"][0]["step"].item()
    config = checkpoint.read_config(run_dir)
    steps_per_epoch = batches_per_epoch(1437, config["training"]["batch_size"])  # digits: 1,437 training images
    assert steps_before == 2 * steps_per_epoch

    assert main(["train", "--resume", str(run_dir), "--epochs", "1", "--no-eval", "--device", "cpu"]) == 0
    after = checkpoint.load_run(run_dir, with_optimizer_state=True)
    assert [entry["epoch"] for entry in after.history["epochs"]] == [1, 2, 3]
    assert after.history["epochs"][:2] == before.history["epochs"]  # the first two epochs are kept as they were
    assert after.history["status"] == "completed"
    assert after.config["training"]["epochs"] == 3 and after.config["model"] == config["model"]
    # the optimiser went on from its saved state: its step count continues instead of restarting at 0
    assert after.optimizer_state["model"]["state"][0]["step"].item() == steps_before + steps_per_epoch
    logged = [entry["step"] for entry in after.history["steps"]]
    assert logged == sorted(set(logged))  # step numbers go on, they do not restart at 1
    third = [entry["step"] for entry in after.history["steps"] if entry["epoch"] == 3]
    assert third and all(2 * steps_per_epoch < step <= 3 * steps_per_epoch for step in third)
    assert any(not torch.equal(after.model.state_dict()[name], value)
               for name, value in before.model.state_dict().items())  # a third epoch was trained
    assert (run_dir / "samples" / "epoch_003.png").exists()
    assert after.config["data"] == config["data"]


def test_train_then_score_stores_prior_and_gmm_metrics(tmp_path, capsys):
    out = tmp_path / "scored"
    assert _train(out, "--model", "ae", "--dataset", "digits", "--hidden", "32", "--latent-dim", "4") == 0
    printed = capsys.readouterr().out
    assert "metrics (prior):" in printed and "metrics (gmm):" in printed
    stored = checkpoint.read_json(out / layout.HISTORY_FILE)["metrics"]
    assert set(stored) == {"prior", "gmm"}
    for sampler, entry in stored.items():
        assert entry["epochs_trained"] == 1 and entry["settings"]["n_samples"] == 500, sampler
        assert 0 < entry["metrics"]["ssim"] <= 1 and entry["metrics"]["frechet_feature"] > 0
    assert "class_accuracy" in stored["gmm"]["metrics"] and "class_accuracy" in stored["prior"]["unavailable"]
    assert f"ssim {stored['prior']['metrics']['ssim']:.4g}" in printed  # what it printed is what it stored


def test_scoring_that_fails_after_training_keeps_the_run_and_says_so(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the feature classifier ran out of memory")

    monkeypatch.setattr(gen_core.metrics.final, "evaluate_run", broken)
    out = tmp_path / "unscored"
    assert _train(out, "--model", "ae", "--dataset", "digits", "--hidden", "32", "--latent-dim", "4") == 0
    captured = capsys.readouterr()
    warning = [line for line in captured.err.splitlines() if "could not be scored" in line]
    assert len(warning) == 1 and "ran out of memory" in warning[0] and f"eval {out}" in warning[0]
    assert "Traceback" not in captured.err
    run = checkpoint.load_run(out)  # trained, saved and loadable; only the numbers are missing
    assert run.history["status"] == "completed" and len(run.history["epochs"]) == 1 and not run.history["metrics"]
    assert main(["sample", str(out), "--n", "4", "--out", str(tmp_path / "x.npy")]) == 0


def test_a_preset_gives_the_defaults_and_flags_override_them(tmp_path, capsys):
    preset = PRESETS["AE, 1 hidden layer"]
    out = tmp_path / "preset"
    assert _train(out, "--preset", preset.name, "--dataset", "digits", "--latent-dim", "3", "--no-eval") == 0
    config = checkpoint.read_config(out)
    assert config["family"] == preset.family
    expected = {**preset.model, "latent_dim": 3}  # the flag wins over the preset
    for key, value in expected.items():
        assert config["model"][key] == (list(value) if isinstance(value, tuple) else value), key
    assert config["model"]["image_shape"] == [1, 8, 8]  # sized to the dataset, not to the preset's MNIST
    assert config["training"]["lr"] == preset.training["lr"] and config["training"]["epochs"] == 1
    assert main(["train", "--preset", "No such preset", "--out", str(tmp_path / "x")]) == 2
    assert "Unknown preset" in capsys.readouterr().err
    assert main(["train", "--preset", preset.name, "--model", "vae", "--out", str(tmp_path / "y")]) == 2
    assert "not vae" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def _large_images(folder: Path) -> Path:
    """Three grey photographs-to-be: smooth random fields of 80x64, 72x72 and 40x48 pixels."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, (height, width) in {"big.png": (80, 64), "square.png": (72, 72), "small.png": (40, 48)}.items():
        field = rng.random((height // 8 + 1, width // 8 + 1))
        picture = Image.fromarray((field * 255).astype(np.uint8)).resize((width, height), Image.BILINEAR)
        picture.save(folder / name)
    return folder


def test_tiles_from_a_folder_with_a_chosen_tile_size(tmp_path, capsys):
    images = _large_images(tmp_path / "large")
    out = tmp_path / "tiles-run"
    assert _train(out, "--model", "vae", "--hidden", "32", "--latent-dim", "2", "--dataset", "tiles",
                  "--tiles-from", str(images), "--tile-size", "16", "--tiles-per-epoch", "64", "--no-eval") == 0
    config = checkpoint.read_config(out)
    assert config["data"]["name"] == "tiles" and config["data"]["tile_size"] == 16
    recorded = config["data"]["path"]  # relative to its data folder: no server path in a run
    assert not Path(recorded).is_absolute() and resolve_data_path(recorded) == images.resolve()
    assert config["model"]["image_shape"] == [1, 16, 16]
    dataset = start.dataset_for_run(config)  # what resume and eval reload
    assert dataset.train_images.shape == (64, 1, 16, 16)
    assert "held out for testing: small.png" in dataset.description  # the image with the least area
    capsys.readouterr()
    assert _train(tmp_path / "too-big", "--model", "vae", "--dataset", "tiles", "--tiles-from", str(images),
                  "--tile-size", "100", "--no-eval") == 2
    assert capsys.readouterr().err.startswith("error: ") and not (tmp_path / "too-big").exists()


def test_sample_writes_a_png_grid_and_a_float_array(trained_run, tmp_path):
    assert main(["sample", str(trained_run), "--n", "9", "--seed", "1", "--out", str(tmp_path / "grid.png")]) == 0
    grid = Image.open(tmp_path / "grid.png")
    assert grid.size == (3 * (8 + 2) + 2, 3 * (8 + 2) + 2)  # 3x3 tiles of 8 px with 2 px padding
    assert main(["sample", str(trained_run), "--n", "5", "--out", str(tmp_path / "x.npy"),
                 "--sampler", "gaussian", "--class", "3"]) == 0
    array = np.load(tmp_path / "x.npy")
    assert array.shape == (5, 1, 8, 8) and array.dtype == np.float32
    assert 0.0 <= array.min() and array.max() <= 1.0


def test_eval_json_prints_one_object_with_the_metrics(trained_run, capsys):
    capsys.readouterr()
    assert main(["eval", str(trained_run), "--json", "--samples", "50", "--no-inception"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["family"] == "ae" and report["sampler"] == "prior"
    assert 0 < report["metrics"]["ssim"] <= 1
    assert "elbo" in report["unavailable"]  # a plain autoencoder has no ELBO, and says why
    assert "active_units" in report["unavailable"] and "active_units" not in report["metrics"]


def test_eval_json_reports_a_vae_s_active_units(tmp_path, capsys):
    out = tmp_path / "vae-digits"
    assert _train(out, "--model", "vae", "--dataset", "digits", "--hidden", "32", "--latent-dim", "4",
                  "--no-eval") == 0
    capsys.readouterr()
    assert main(["eval", str(out), "--json", "--samples", "20", "--iwae-k", "2", "--class-samples", "2",
                 "--no-inception"]) == 0
    report = json.loads(capsys.readouterr().out)
    units = report["metrics"]["active_units"]
    assert isinstance(units, int) and 0 <= units <= 4
    # the test set is under a thousand images: the history's last epoch counted the same ones
    assert units == checkpoint.read_history(out)["epochs"][-1]["active_units"]


def test_datasets_lists_the_registry_with_offline_availability(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert {"mnist5k", "digits", "tiles", "folder", "mnist", "cifar10"} <= set(lines)
    assert lines["mnist5k"].split()[1] == "yes"


@pytest.mark.parametrize("argv, message", [
    (["train", "--model", "vae", "--hidden", "abc"], "--hidden"),
    (["train", "--model", "vae", "--latent-dim", "0", "--dataset", "digits"], "latent_dim"),
    (["sample", "/no/such/run", "--out", "x.png"], "No run at"),
    (["train"], "Give --model"),
])
def test_bad_arguments_and_bad_input_exit_2_with_one_line(argv, message, tmp_path, monkeypatch, capsys):
    """In this process (a fresh interpreter per case costs 10-30 s on a busy machine); the test below
    runs the real entry point once."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GEN_CORE_CHECKPOINTS", str(tmp_path / "runs"))
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's errors leave through sys.exit
        code = exit.code
    assert code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], lines
    assert not list(tmp_path.iterdir())  # nothing written


def test_python_m_gen_core_exits_2_with_one_line_and_nothing_else(tmp_path):
    """The real entry point in a fresh interpreter: no warning or traceback from start-up joins the
    one-line reason."""
    result = subprocess.run([sys.executable, "-m", "gen_core", "train", "--model", "vae", "--dataset", "no-such-set"],
                            cwd=tmp_path, capture_output=True, text=True,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
                                 "GEN_CORE_CHECKPOINTS": str(tmp_path / "runs")})
    assert result.returncode == 2 and result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Unknown dataset" in lines[0], result.stderr


@pytest.mark.parametrize("by", ["name", "path"])
def test_sample_eval_and_resume_each_take_a_run_name_or_a_path(trained_run, tmp_path, monkeypatch, by):
    root = tmp_path / "runs"
    run_dir = shutil.copytree(trained_run, root / "my-ae")
    monkeypatch.setenv("GEN_CORE_CHECKPOINTS", str(root))
    monkeypatch.chdir(tmp_path)  # so a bare name is not also a path from here
    run = "my-ae" if by == "name" else str(run_dir)
    assert main(["sample", run, "--n", "4", "--out", str(tmp_path / "four.npy")]) == 0
    assert np.load(tmp_path / "four.npy").shape == (4, 1, 8, 8)
    assert main(["eval", run, "--samples", "10", "--class-samples", "2", "--no-inception", "--json"]) == 0
    assert main(["train", "--resume", run, "--epochs", "1", "--device", "cpu", "--no-eval"]) == 0
    assert len(checkpoint.read_history(run_dir)["epochs"]) == 3
    assert main(["sample", "no-such-run", "--out", str(tmp_path / "x.png")]) == 2


def test_gmm_prints_the_criterion_per_k_and_the_best_one_and_sample_takes_a_component(trained_run, tmp_path, capsys):
    assert main(["gmm", str(trained_run), "--class", "3", "--k", "1-4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert sorted(result["bic"]) == ["1", "2", "3", "4"] and sorted(result["aic"]) == ["1", "2", "3", "4"]
    assert result["bic"][str(result["best_k"])] == min(result["bic"].values())
    assert main(["sample", str(trained_run), "--sampler", "gmm", "--class", "3", "--components", "2",
                 "--component", "1", "--n", "5", "--out", str(tmp_path / "one.npy")]) == 0
    assert np.load(tmp_path / "one.npy").shape == (5, 1, 8, 8)
    with pytest.raises(SystemExit) as refused:
        main(["gmm", str(trained_run), "--class", "3", "--k", "0-3"])
    assert refused.value.code == 2 and "like 1-20" in capsys.readouterr().err
    assert main(["sample", str(trained_run), "--sampler", "gmm", "--class", "3", "--components", "2",
                 "--component", "2", "--out", str(tmp_path / "x.npy")]) == 2
    assert "no component 2" in capsys.readouterr().err
