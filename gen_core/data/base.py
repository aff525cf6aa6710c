"""The in-memory dataset every model trains on, and the registry that names them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from gen_core.data.access import recorded_path
from gen_core.errors import DatasetError
from gen_core.settings import Setting


@dataclass
class ImageDataset:
    """Train and test images held in memory as float32 tensors (N, C, H, W) in [0, 1].

    Batches are sliced straight from these tensors (see ``iter_batches``) instead of being
    assembled per sample through PIL: for datasets that fit in memory that is several times
    faster, and it lets the whole set live on the GPU.

    ``resample_train``, when set, draws a fresh training set for an epoch (tile datasets use
    it so each epoch sees new tile positions); it takes the epoch number and returns images.
    """

    name: str
    train_images: torch.Tensor
    test_images: torch.Tensor
    train_labels: torch.Tensor | None = None
    test_labels: torch.Tensor | None = None
    class_names: list[str] = field(default_factory=list)
    description: str = ""
    source: dict = field(default_factory=dict)  # how to load it again (stored in checkpoints)
    resample_train: Callable[[int], torch.Tensor] | None = None

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            images = getattr(self, f"{split}_images")
            if images.ndim != 4:
                raise DatasetError(f"{self.name}: {split} images must be (N, C, H, W), got {tuple(images.shape)}")
            labels = getattr(self, f"{split}_labels")
            if labels is not None and len(labels) != len(images):
                raise DatasetError(f"{self.name}: {len(labels)} {split} labels for {len(images)} images")
        if self.train_images.shape[1:] != self.test_images.shape[1:]:
            raise DatasetError(f"{self.name}: train and test images differ in shape")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        channels, height, width = self.train_images.shape[1:]
        return int(channels), int(height), int(width)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def has_labels(self) -> bool:
        return self.train_labels is not None

    def to(self, device: torch.device | str) -> "ImageDataset":
        """Move images and labels to ``device`` in place and return self."""
        self.train_images = self.train_images.to(device)
        self.test_images = self.test_images.to(device)
        if self.train_labels is not None:
            self.train_labels = self.train_labels.to(device)
        if self.test_labels is not None:
            self.test_labels = self.test_labels.to(device)
        return self


def iter_batches(images: torch.Tensor, batch_size: int, shuffle: bool = True,
                 generator: torch.Generator | None = None):
    """Yield batches sliced from an in-memory tensor; the last batch may be smaller."""
    n = len(images)
    if shuffle:
        order = torch.randperm(n, generator=generator, device="cpu").to(images.device)
        for start in range(0, n, batch_size):
            yield images[order[start:start + batch_size]]
    else:
        for start in range(0, n, batch_size):
            yield images[start:start + batch_size]


def indices_of_class(labels, class_index: int | None) -> list[int]:
    """Positions in a split holding ``class_index`` (all positions for None)."""
    labels = torch.as_tensor(labels).reshape(-1)
    if class_index is None:
        return list(range(len(labels)))
    return (labels == int(class_index)).nonzero().flatten().tolist()


@dataclass(frozen=True)
class DatasetInfo:
    """A registry entry: how to load a dataset and whether it can be loaded without a network."""

    name: str
    description: str
    loader: Callable[..., ImageDataset]
    offline_check: Callable[[], bool]
    image_shape: tuple[int, int, int] | None = None  # None: depends on options (folders, tiles)
    options: tuple[Setting, ...] = ()  # what the loader takes: CLI flags and Train widgets come from these


_REGISTRY: dict[str, DatasetInfo] = {}


def register_dataset(info: DatasetInfo) -> None:
    _REGISTRY[info.name] = info


def dataset_names() -> list[str]:
    return sorted(_REGISTRY)


def dataset_info(name: str) -> DatasetInfo:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise DatasetError(f"Unknown dataset {name!r}. Known: {', '.join(dataset_names())}") from None


def load_dataset(name: str, **options) -> ImageDataset:
    """Load a registered dataset by name; ``options`` go to its loader (e.g. ``path=``)."""
    dataset = dataset_info(name).loader(**options)
    recorded = {k: recorded_path(v) if k == "path" and isinstance(v, str) else v for k, v in options.items()}
    dataset.source = {"name": name, **{k: v for k, v in recorded.items() if _is_json_value(v)}}
    return dataset


def _is_json_value(value) -> bool:
    return isinstance(value, (str, int, float, bool, type(None), list, tuple))
