"""The command line end to end: `python -m gen_core train / sample / datasets / eval`, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gen_core import checkpoints
from gen_core.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "ae-digits"
    status = main(["train", "--model", "ae", "--dataset", "digits", "--epochs", "2", "--hidden", "32",
                   "--latent-dim", "4", "--device", "cpu", "--no-eval", "--out", str(out)])
    assert status == 0
    return out


def test_train_writes_a_complete_run_folder(trained_run):
    config = checkpoints.read_config(trained_run)
    assert config["family"] == "ae" and config["model"]["hidden"] == [32] and config["model"]["latent_dim"] == 4
    assert config["data"]["name"] == "digits"
    history = checkpoints.read_json(trained_run / "history.json")
    assert history["status"] == "completed" and len(history["epochs"]) == 2
    assert (trained_run / "model.safetensors").exists()
    assert sorted(p.name for p in (trained_run / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]


def test_train_refuses_to_overwrite_a_run_and_resume_adds_epochs(trained_run, capsys):
    assert main(["train", "--model", "ae", "--dataset", "digits", "--out", str(trained_run)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main(["train", "--resume", str(trained_run), "--epochs", "1", "--no-eval", "--device", "cpu"]) == 0
    assert len(checkpoints.read_json(trained_run / "history.json")["epochs"]) == 3


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


def test_datasets_lists_the_registry_with_offline_availability(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert {"mnist5k", "digits", "tiles", "folder", "mnist", "cifar10"} <= set(lines)
    assert lines["mnist5k"].split()[1] == "yes"


@pytest.mark.parametrize("argv, message", [
    (["train", "--model", "vae", "--dataset", "no-such-set"], "Unknown dataset"),
    (["train", "--model", "vae", "--hidden", "abc"], "--hidden"),
    (["train", "--model", "vae", "--latent-dim", "0", "--dataset", "digits"], "latent_dim"),
    (["sample", "/no/such/run", "--out", "x.png"], "No run folder"),
    (["train"], "Give --model"),
])
def test_bad_arguments_and_bad_input_exit_2_with_one_line(argv, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = subprocess.run([sys.executable, "-m", "gen_core", *argv], cwd=tmp_path, capture_output=True, text=True,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
                                 "GEN_CORE_CHECKPOINTS": str(tmp_path / "runs")})
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr
