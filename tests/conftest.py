"""Shared fixtures for the engine tests: a small real MNIST subset, tiny models, a runs folder.

Every test run writes its runs under a temporary GEN_CORE_CHECKPOINTS, never into the
repository's checkpoints/ folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from gen_core.data import ImageDataset, load_dataset
from gen_core.models import build_model
from gen_core.run import checkpoint, layout
from gen_core.training import new_history

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


@pytest.fixture(scope="session", autouse=True)
def temporary_files_are_data_folders(tmp_path_factory) -> Path:
    """Datasets are read only inside the data folders (gen_core.data.access); tests keep their
    image folders under pytest's temporary folder, so that is the data folder here."""
    base = tmp_path_factory.getbasetemp()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GEN_CORE_DATA_DIRS", str(base))
        yield base


def small_mnist_subset() -> ImageDataset:
    """384 training and 100 test images drawn at random (fixed seed) from the embedded mnist5k."""
    full = load_dataset("mnist5k")
    order = torch.randperm(len(full.train_images), generator=torch.Generator().manual_seed(0))[:384]
    return ImageDataset("mnist5k", full.train_images[order], full.test_images[:100],
                        full.train_labels[order], full.test_labels[:100], list(full.class_names),
                        source={"name": "mnist5k"})


@pytest.fixture(scope="session")
def mnist_small() -> ImageDataset:
    """384 training and 100 test images drawn at random (fixed seed) from the embedded mnist5k."""
    return small_mnist_subset()


@pytest.fixture(scope="session")
def trained_digits_ae(tmp_path_factory) -> Path:
    """The run folder of a small MLP autoencoder really trained on the 8x8 digits (20 epochs, a few
    seconds on a CPU): its reconstructions and its per-class mixture samples look like digits.
    Shared by the session, so tests read it and never write into it (copy it first)."""
    from gen_core.run.start import prepare_training
    from gen_core.training import TrainConfig

    torch.manual_seed(0)
    trainer = prepare_training("ae", {"hidden": (64,), "latent_dim": 8}, "digits",
                               TrainConfig(epochs=20, batch_size=32, lr=3e-3, device="cpu", sample_epochs=(20,)),
                               root=tmp_path_factory.mktemp("trained-digits-ae"), name="digits-ae")
    assert trainer.fit()["status"] == "completed"
    return trainer.run_dir


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


# 16x16 models and random images, for the latent-space and page-helper tests.
SMALL_SHAPE = (1, 16, 16)


@pytest.fixture(scope="session")
def build_small():
    """``build_small("vae", latent_dim=4)``: a 16x16 model in eval mode, the same weights every time."""
    def build(family: str, latent_dim: int = 4, **settings):
        torch.manual_seed(0)
        defaults = {"gen_channels": (8, 4), "disc_channels": (4,)} if family == "dcgan" else {"hidden": (32,)}
        return build_model(family, image_shape=SMALL_SHAPE, latent_dim=latent_dim, **{**defaults, **settings}).eval()
    return build


@pytest.fixture(scope="session")
def small_images() -> torch.Tensor:
    return torch.rand(40, *SMALL_SHAPE, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="session")
def small_ae(build_small):
    return build_small("ae")


@pytest.fixture(scope="session")
def small_vae(build_small):
    return build_small("vae")


@pytest.fixture(scope="session")
def small_gan(build_small):
    return build_small("dcgan")


@pytest.fixture(scope="session")
def digits() -> ImageDataset:
    return load_dataset("digits")


@pytest.fixture(scope="session")
def digits_ae_map(digits):
    """A 6-d autoencoder on the 8x8 digits and the latent map of their test set."""
    from gen_core.latent import build_latent_map

    torch.manual_seed(0)
    model = build_model("ae", hidden=(32,), latent_dim=6, image_shape=(1, 8, 8)).eval()
    return model, build_latent_map(model, digits.test_images, digits.test_labels, digits.class_names)


def write_long_run(run_dir, model, epochs: int = 1001):
    """A run whose history holds ``epochs`` epochs, with grids at 998 to ``epochs``: each grid a
    flat image whose grey level says its epoch."""
    history = {**new_history(), "status": "completed",
               "epochs": [{"epoch": epoch, "train_loss": 1.0, "test_loss": 1.0} for epoch in range(1, epochs + 1)]}
    checkpoint.save_run(run_dir, model, data={"name": "mnist5k"}, training={"epochs": epochs}, history=history)
    for epoch in range(998, epochs + 1):
        layout.grid_path(run_dir, epoch).parent.mkdir(exist_ok=True)
        Image.new("L", (30, 30), color=epoch - 990).save(layout.grid_path(run_dir, epoch))
    return run_dir


# A tiny MLP autoencoder on the 8x8 digits through the command line: what CLI tests train first.
SMALL_AE_ARGS = ["--model", "ae", "--dataset", "digits", "--hidden", "32", "--latent-dim", "4", "--device", "cpu",
                 "--no-eval"]
