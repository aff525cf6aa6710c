"""Device choice, precision and data placement, by faking what the machine reports (runs anywhere)."""

from __future__ import annotations

import contextlib

import pytest
import torch

from gen_core.cli import main
from gen_core.device import keeps_data_on_device, pick_device
from gen_core.training import TrainConfig, Trainer
from gen_core.training.distributed import Group

GIB = 1024 ** 3


@pytest.fixture
def machine(monkeypatch):
    """``machine(cuda=..., mps=...)`` makes torch report those accelerators as present or absent."""
    def fake(cuda: bool = False, mps: bool = False) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    return fake


@pytest.mark.parametrize(("cuda", "mps", "expected"), [(True, True, "cuda"), (False, True, "mps"),
                                                       (False, False, "cpu")])
def test_auto_prefers_cuda_then_mps_then_the_cpu(machine, cuda, mps, expected):
    machine(cuda=cuda, mps=mps)
    assert pick_device("auto") == torch.device(expected)
    assert pick_device("CPU") == torch.device("cpu")


@pytest.mark.parametrize(("request_", "reason"), [("cuda", "no CUDA GPU"), ("cuda:1", "no CUDA GPU"),
                                                  ("mps", "Metal backend is not available")])
def test_an_absent_accelerator_is_a_clear_exit_2_from_the_cli(machine, request_, reason, tmp_path, capsys):
    machine(cuda=False, mps=False)
    with pytest.raises(ValueError, match=reason):
        pick_device(request_)
    status = main(["train", "--model", "ae", "--dataset", "digits", "--epochs", "1", "--hidden", "8",
                   "--latent-dim", "2", "--no-eval", "--device", request_, "--out", str(tmp_path / "run")])
    error = capsys.readouterr().err
    assert status == 2 and reason in error and "Traceback" not in error
    assert not (tmp_path / "run").exists()


def test_a_cpu_without_bfloat16_instructions_trains_in_float32(build_tiny, mnist_small, monkeypatch):
    monkeypatch.setattr("gen_core.compute.cpu_bf16_instructions", lambda cpuinfo=None: "")
    trainer = Trainer(build_tiny("vae-mlp"), mnist_small, TrainConfig(epochs=1, device="cpu", precision="auto"))
    assert trainer.model.precision == "fp32" and "no bfloat16 instructions" in trainer.precision.reason
    assert isinstance(trainer.model.autocast(), contextlib.nullcontext)  # no autocast in float32


def test_data_stays_on_a_gpu_when_it_takes_under_a_quarter_of_its_free_memory(monkeypatch):
    reported = []

    def mem_get_info(device=None):
        reported.append(device)
        return 8 * GIB, 80 * GIB  # (free, total)

    monkeypatch.setattr(torch.cuda, "mem_get_info", mem_get_info)
    gpu = torch.device("cuda", 0)
    assert keeps_data_on_device(gpu, 2 * GIB - 1)
    assert not keeps_data_on_device(gpu, 2 * GIB)
    assert reported == [gpu, gpu]  # the free memory of that GPU, not of another
    assert keeps_data_on_device(torch.device("cpu"), 100 * GIB) and keeps_data_on_device(torch.device("mps"), GIB)


def test_the_trainer_places_data_by_that_rule(build_tiny, mnist_small, monkeypatch):
    decisions = []
    monkeypatch.setattr("gen_core.training.trainer.keeps_data_on_device",
                        lambda device, nbytes: decisions.append((device, nbytes)) or False)
    trainer = Trainer(build_tiny("ae-mlp"), mnist_small, TrainConfig(epochs=1, device="cpu"))
    images = len(mnist_small.train_images) + len(mnist_small.test_images)
    assert decisions == [(torch.device("cpu"), images * 28 * 28 * 4)]
    assert trainer.data_device == torch.device("cpu")


def test_each_process_of_a_machine_takes_its_own_gpu():
    assert Group(rank=3, world_size=4, local_rank=1).device_for(torch.device("cuda")) == torch.device("cuda", 1)
    assert Group(rank=3, world_size=4, local_rank=1).device_for(torch.device("cpu")) == torch.device("cpu")
    assert Group().device_for(torch.device("cuda")) == torch.device("cuda")  # one process: as asked
