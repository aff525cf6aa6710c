"""Shared fixtures for the engine tests: a small real MNIST subset, tiny models, a runs folder.

Every test run writes its runs under a temporary GEN_CORE_CHECKPOINTS, never into the
repository's checkpoints/ folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gen_core.data import ImageDataset, load_dataset
from gen_core.models import build_model

# The engine tests train models with a few thousand parameters: splitting such small matrix
# products over threads costs more than it saves, and on a busy 2-core machine extra threads
# spin against other processes (a 3 s test took 40 s with 2 threads under load).
torch.set_num_threads(1)

# Small configurations of every family, sized for 28x28 MNIST and a CPU.
TINY_SETTINGS: dict[str, tuple[str, dict]] = {
    "ae-mlp": ("ae", {"hidden": (64,), "latent_dim": 8}),
    "ae-conv": ("ae", {"arch": "conv", "conv_channels": (8, 16), "latent_dim": 8}),
    "vae-mlp": ("vae", {"hidden": (64,), "latent_dim": 4}),
    "vae-conv-beta": ("vae", {"arch": "conv", "conv_channels": (8, 16), "latent_dim": 4, "beta": 4.0}),
    "dcgan": ("dcgan", {"gen_channels": (32, 16, 8), "disc_channels": (8, 16), "latent_dim": 16}),
    "vaegan": ("vaegan", {"conv_channels": (8, 16), "disc_channels": (8, 16), "latent_dim": 8}),
}


@pytest.fixture(scope="session", autouse=True)
def isolated_checkpoints_root(tmp_path_factory) -> Path:
    """Point the default runs folder at a temporary one for the whole session."""
    root = tmp_path_factory.mktemp("default-checkpoints")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GEN_CORE_CHECKPOINTS", str(root))
        yield root


@pytest.fixture(scope="session")
def mnist_small() -> ImageDataset:
    """384 training and 100 test images drawn at random (fixed seed) from the embedded mnist5k."""
    full = load_dataset("mnist5k")
    order = torch.randperm(len(full.train_images), generator=torch.Generator().manual_seed(0))[:384]
    return ImageDataset("mnist5k", full.train_images[order], full.test_images[:100],
                        full.train_labels[order], full.test_labels[:100], list(full.class_names),
                        source={"name": "mnist5k"})


@pytest.fixture
def tmp_runs(tmp_path) -> Path:
    """An empty runs folder for one test."""
    root = tmp_path / "runs"
    root.mkdir()
    return root


@pytest.fixture
def build_tiny():
    """``build_tiny("vae-mlp")``: a freshly initialised tiny model, the same weights every time."""
    def build(case: str, seed: int = 0, **overrides):
        family, settings = TINY_SETTINGS[case]
        torch.manual_seed(seed)
        return build_model(family, image_shape=(1, 28, 28), **{**settings, **overrides})
    return build


@pytest.fixture(params=sorted(TINY_SETTINGS))
def tiny_case(request) -> str:
    """Each tiny configuration in turn (for tests that must hold for every family)."""
    return request.param
