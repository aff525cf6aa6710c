"""Data-parallel training with torchrun: 2 processes, gloo on the CPU.

One torchrun launch (tests/ddp_worker.py) trains every tiny family and resumes a one-process run
with two processes; a second launches ``-m gen_core train`` and kills one of its processes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY_SETTINGS
from ddp_worker import BATCH_PER_PROCESS, EPOCHS, train_config

from gen_core.run import checkpoint, layout, start
from gen_core.training.distributed import Group, torchrun_command

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

# The same total batch (64), seed and data in one process and in two: each global batch is the
# same 64 images either way and the gradients are averaged, so an autoencoder (no random draws
# in a step) differs only in the order floating-point sums are taken: 1e-5 relative. A VAE draws
# its reparameterisation noise in each process, so the two runs differ as two noise seeds do:
# 3 % relative (observed about 1 % after three epochs).
TOLERANCE = {"ae-mlp": 1e-5, "vae-mlp": 0.03}


def _environment() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def ddp_root(tmp_path_factory, mnist_small) -> Path:
    root = tmp_path_factory.mktemp("ddp")
    one_epoch = dataclasses.replace(train_config(batch_size=2 * BATCH_PER_PROCESS), epochs=1)
    family, settings = TINY_SETTINGS["ae-mlp"]
    start.prepare_training(family, settings, mnist_small, one_epoch, run_dir=root / "resume-me").fit()
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(REPO / "tests" / "ddp_worker.py"), str(root)]
    result = subprocess.run(command, cwd=REPO, env=_environment(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    return root


def _mmd_to(real: torch.Tensor, samples: torch.Tensor) -> float:
    x, y = samples.flatten(1), real.flatten(1)
    bandwidth = float(torch.cdist(y, y).pow(2).median())

    def kernel_mean(a, b):
        return torch.exp(-torch.cdist(a, b).pow(2) / bandwidth).mean()

    return float(kernel_mean(x, x) + kernel_mean(y, y) - 2 * kernel_mean(x, y))


@pytest.mark.parametrize("case", sorted(TINY_SETTINGS))
def test_every_family_trains_across_two_processes_into_one_run_folder(case, ddp_root, mnist_small):
    run = checkpoint.load_run(ddp_root / case)
    history, training = run.history, run.config["training"]
    assert history["status"] == "completed"
    assert [entry["epoch"] for entry in history["epochs"]] == list(range(1, EPOCHS + 1))
    assert all(entry["images"] == len(mnist_small.train_images) for entry in history["epochs"])  # each once
    assert (training["world_size"], training["batch_size"], training["total_batch_size"]) == (2, 32, 64)
    assert sorted(p.name for p in (ddp_root / case / layout.SAMPLES_DIR).iterdir()) == ["epoch_003.png"]
    assert [epoch for epoch, _ in layout.timeline_files(ddp_root / case)] == ([3] if run.model.has_encoder else [])
    assert not list((ddp_root / case).glob(".*.tmp"))
    samples = run.model.sample(8, torch.Generator().manual_seed(0))
    assert samples.shape == (8, 1, 28, 28) and torch.isfinite(samples).all()
    if run.model.family == "dcgan":  # a generator's loss need not fall; its samples must move towards digits
        family, settings = TINY_SETTINGS[case]
        untrained = start.prepare_training(family, settings, mnist_small, train_config(), save=False).model.eval()
        real, noise = mnist_small.test_images, torch.Generator().manual_seed(7)
        before = _mmd_to(real, untrained.sample(100, noise))
        after = _mmd_to(real, run.model.sample(100, torch.Generator().manual_seed(7)))
        assert after < 0.8 * before, (before, after)
    else:
        losses = [entry["test_loss"] for entry in history["epochs"]]
        assert losses == sorted(losses, reverse=True) and losses[-1] < 0.9 * losses[0], losses


@pytest.mark.parametrize("case", sorted(TOLERANCE))
def test_one_and_two_processes_agree_with_the_same_total_batch(case, ddp_root, mnist_small):
    family, settings = TINY_SETTINGS[case]
    one = start.prepare_training(family, settings, mnist_small, train_config(batch_size=2 * BATCH_PER_PROCESS),
                                    save=False).fit()["epochs"][-1]["test_loss"]
    two = checkpoint.load_run(ddp_root / case).history["epochs"][-1]["test_loss"]
    assert abs(one - two) <= TOLERANCE[case] * abs(one), (one, two)


def test_a_run_resumes_with_a_different_number_of_processes(ddp_root, mnist_small, tmp_path, monkeypatch):
    one_then_two = checkpoint.load_run(ddp_root / "resume-me")  # 1 epoch in one process, then 1 in two
    assert [(entry["epoch"], entry["step"]) for entry in one_then_two.history["epochs"]] == [(1, 6), (2, 12)]
    training = one_then_two.config["training"]
    assert (training["world_size"], training["batch_size"], training["total_batch_size"]) == (2, 32, 64)
    assert one_then_two.history["epochs"][1]["test_loss"] < one_then_two.history["epochs"][0]["test_loss"]

    two_then_one = shutil.copytree(ddp_root / "ae-mlp", tmp_path / "ae-mlp")
    monkeypatch.setattr(start, "dataset_for_run", lambda config: mnist_small)
    trainer = start.resume_training(two_then_one, 1, device="cpu")
    assert trainer.trainer.config.batch_size == 64  # the total batch is kept
    trainer.fit()
    resumed = checkpoint.load_run(two_then_one, with_optimizer_state=True)
    assert resumed.config["training"]["world_size"] == 1 and len(resumed.history["epochs"]) == EPOCHS + 1
    assert resumed.optimizer_state["model"]["state"][0]["step"].item() == 6 * (EPOCHS + 1)


def _child_with_rank(parent: int, rank: int) -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent_of_entry = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environment = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if parent_of_entry == parent and f"RANK={rank}".encode() in environment:
            return int(entry.name)
    return None


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the rank's process through /proc")
def test_killing_one_process_fails_the_run_and_keeps_the_last_good_epoch(tmp_path):
    out = tmp_path / "killed"
    arguments = ["--model", "ae", "--dataset", "digits", "--hidden", "32", "--latent-dim", "4", "--epochs", "500",
                 "--batch-size", "16", "--device", "cpu", "--no-eval", "--out", str(out)]
    launcher = subprocess.Popen(torchrun_command(arguments, 2), cwd=REPO, env=_environment(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while not (out / layout.HISTORY_FILE).exists() and launcher.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        victim = _child_with_rank(launcher.pid, 1)
        assert victim is not None, "no process with rank 1"
        os.kill(victim, signal.SIGKILL)
        stdout, _ = launcher.communicate(timeout=300)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode != 0
    assert "batch 16 per process, 32 in total" in stdout
    history = json.loads((out / layout.HISTORY_FILE).read_text())
    assert history["status"] == "failed"
    assert history["message"].startswith("Another training process ended unexpectedly"), history["message"]
    done = [entry["epoch"] for entry in history["epochs"]]
    assert done == list(range(1, len(done) + 1)) and 1 <= len(done) < 500
    run = checkpoint.load_run(out)
    assert all(torch.isfinite(t).all() for t in run.model.state_dict().values() if t.is_floating_point())


def test_the_torchrun_command_for_one_machine_and_for_several():
    one = torchrun_command(["--model", "vae"], 4, python="python")
    assert one == ["python", "-m", "torch.distributed.run", "--nproc_per_node=4", "--standalone",
                   "-m", "gen_core", "train", "--model", "vae"]
    several = torchrun_command([], 8, nnodes=2, rdzv_endpoint="node1:29500", python="python")
    assert "--nnodes=2" in several and "--rdzv-endpoint=node1:29500" in several and "--standalone" not in several
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="number of processes"):
            torchrun_command([], bad)
    with pytest.raises(ValueError, match="rendezvous"):
        torchrun_command([], 2, nnodes=2)


def test_a_global_batch_is_split_into_contiguous_shares_weighted_by_size():
    """Gradients are summed with weight share / batch, so uneven shares still give the batch mean."""
    first, second = Group(rank=0, world_size=2), Group(rank=1, world_size=2)
    assert first.share(torch.arange(7)).tolist() == [0, 1, 2, 3] and first._step_weight == [4 / 7]
    assert second.share(torch.arange(7)).tolist() == [4, 5, 6] and second._step_weight == [3 / 7]
    assert Group().share(torch.arange(7)).tolist() == list(range(7))  # one process: the whole batch
    images = torch.arange(5)
    assert torch.cat([Group(rank=r, world_size=2).part_of(images) for r in (0, 1)]).tolist() == list(range(5))
