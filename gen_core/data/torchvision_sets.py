"""MNIST, Fashion-MNIST and CIFAR-10 through torchvision: local files first, download second.

The whole split is converted straight from torchvision's ``.data``/``.targets`` arrays into
one tensor (no per-sample PIL round trip). CIFAR-10's batches are Python pickles; torchvision
only opens them after their MD5 matches the official release, so a foreign file is refused
rather than unpickled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gen_core.data.access import check_dataset_root, shown_folder
from gen_core.data.base import ImageDataset
from gen_core.errors import DatasetError

DATA_ROOT_ENV = "GEN_CORE_DATA"
MNIST_RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                   "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR10_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                 "data_batch_5", "test_batch", "batches.meta")


@dataclass(frozen=True)
class TorchvisionSet:
    name: str
    class_name: str  # the torchvision.datasets class
    description: str
    image_shape: tuple[int, int, int]
    split_sizes: tuple[int, int]


TORCHVISION_SETS = {
    "mnist": TorchvisionSet("mnist", "MNIST", "MNIST: 70,000 handwritten digits, 28x28 grayscale",
                            (1, 28, 28), (60000, 10000)),
    "fashion_mnist": TorchvisionSet("fashion_mnist", "FashionMNIST",
                                    "Fashion-MNIST: 70,000 clothing images in 10 classes, 28x28 grayscale",
                                    (1, 28, 28), (60000, 10000)),
    "cifar10": TorchvisionSet("cifar10", "CIFAR10", "CIFAR-10: 60,000 photos in 10 classes, 32x32 colour",
                              (3, 32, 32), (50000, 10000)),
}


def default_data_root() -> Path:
    return Path(os.environ.get(DATA_ROOT_ENV) or "data_cache")


def expected_files(name: str, root: str | Path | None = None) -> list[Path]:
    """The files a dataset needs under ``root`` (MNIST-style files may also be ``.gz``)."""
    spec = TORCHVISION_SETS[name]
    root = check_dataset_root(root, default_data_root()) if root is not None else default_data_root()
    if spec.class_name == "CIFAR10":
        return [root / "cifar-10-batches-py" / file for file in CIFAR10_FILES]
    return [root / spec.class_name / "raw" / file for file in MNIST_RAW_FILES]


def local_files_present(name: str, root: str | Path | None = None) -> bool:
    """Whether ``name`` can be loaded without a network (existence only: no checksum, so it is quick)."""
    return all(path.is_file() or _gz_of(path).is_file() for path in expected_files(name, root))


def load_torchvision_set(name: str, root: str | Path | None = None, download: bool = True,
                         limit: int | None = None) -> ImageDataset:
    """Load the official train/test split; ``limit`` keeps the first N train and N//6 test images."""
    spec = TORCHVISION_SETS[name]
    root = check_dataset_root(root, default_data_root()) if root is not None else default_data_root()
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise DatasetError(f"{name}: limit must be a positive whole number, got {limit!r}")
    train_set, test_set = _open_splits(spec, root, download)
    train_x, train_y = _to_tensors(train_set, limit)
    test_x, test_y = _to_tensors(test_set, None if limit is None else max(1, limit // 6))
    return ImageDataset(name, train_x, test_x, train_y, test_y, list(train_set.classes),
                        description=spec.description)


def _open_splits(spec: TorchvisionSet, root: Path, download: bool):
    import torchvision.datasets

    dataset_class = getattr(torchvision.datasets, spec.class_name)
    if spec.class_name != "CIFAR10":
        _unpack_gz_files(expected_files(spec.name, root))
    try:
        return dataset_class(str(root), train=True), dataset_class(str(root), train=False)
    except (AssertionError, ValueError, TypeError, OSError, EOFError) as error:  # unreadable idx/pickle
        raise DatasetError(f"{spec.name}: the files under {shown_folder(root)} are damaged ({error}). "
                           "Delete them and download or copy them again.") from error
    except RuntimeError:  # torchvision's "Dataset not found or corrupted"
        if not download:
            raise DatasetError(_missing_files_message(spec, root, "downloading is switched off")) from None
    try:
        return (dataset_class(str(root), train=True, download=True),
                dataset_class(str(root), train=False, download=True))
    except Exception as error:  # any failed download (no network, proxy, bad checksum) means the same to a user
        reason = f"the download failed ({type(error).__name__}: {str(error).strip()[:200]})"
        raise DatasetError(_missing_files_message(spec, root, reason)) from error


def _to_tensors(split, limit: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = torch.as_tensor(np.asarray(split.data)[:limit])
    labels = torch.as_tensor(np.asarray(split.targets)[:limit], dtype=torch.int64)
    if pixels.ndim == 3:  # MNIST-style (N, H, W)
        pixels = pixels.unsqueeze(1)
    else:  # CIFAR-style (N, H, W, C)
        pixels = pixels.permute(0, 3, 1, 2)
    return pixels.float().div_(255.0).contiguous(), labels


def _unpack_gz_files(raw_files: list[Path]) -> None:
    """torchvision reads only the unpacked idx files; unpack ``.gz`` copies a user put there."""
    import gzip
    import shutil

    for raw_file in raw_files:
        packed = _gz_of(raw_file)
        if not raw_file.is_file() and packed.is_file():
            partial = raw_file.with_name(raw_file.name + ".partial")
            try:
                with gzip.open(packed, "rb") as source, open(partial, "wb") as target:
                    shutil.copyfileobj(source, target)
                partial.replace(raw_file)
            except (OSError, EOFError) as error:
                partial.unlink(missing_ok=True)
                raise DatasetError(f"Could not unpack {packed}: {error}") from error


def _gz_of(path: Path) -> Path:
    return path.with_name(path.name + ".gz")


def _missing_files_message(spec: TorchvisionSet, root: Path, reason: str) -> str:
    if spec.class_name == "CIFAR10":
        where = (f"Unpack the official cifar-10-python.tar.gz so that {shown_folder(root)}cifar-10-batches-py/ holds "
                 f"{', '.join(CIFAR10_FILES)}.")
    else:
        folder = f"{shown_folder(root)}{spec.class_name}/raw"
        where = f"Put these files (each may also be .gz) in {folder}/: {', '.join(MNIST_RAW_FILES)}."
    return (f"{spec.name}: the files are not under {shown_folder(root)} and {reason}. {where} "
            f"Set the {DATA_ROOT_ENV} environment variable or the root option to use another folder.")
