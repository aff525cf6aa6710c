"""Dataset loaders: embedded sets, torchvision raw files, image folders and zips, the registry."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets
from PIL import Image

from gen_core.data import (dataset_names, embedded, folders, indices_of_class, list_datasets, load_dataset,
                           load_image_folder)
from gen_core.data.access import resolve_data_path
from gen_core.data.torchvision_sets import local_files_present
from gen_core.errors import DatasetError

# ---------------------------------------------------------------- embedded datasets

def test_mnist5k_has_a_stratified_fixed_split_of_real_digits():
    dataset = load_dataset("mnist5k")
    assert dataset.train_images.shape == (4500, 1, 28, 28)
    assert dataset.test_images.shape == (500, 1, 28, 28)
    assert dataset.train_images.dtype == torch.float32 and dataset.train_labels.dtype == torch.int64
    assert dataset.train_images.min() == 0.0 and dataset.train_images.max() == 1.0
    assert dataset.test_labels.bincount().tolist() == [50] * 10
    assert dataset.train_labels.bincount().tolist() == [450] * 10
    assert dataset.class_names == [str(d) for d in range(10)]
    # a handwritten digit is mostly dark background with some bright strokes
    assert 0.05 < dataset.train_images.mean() < 0.25
    assert load_dataset("mnist5k").test_images is dataset.test_images  # cached, same split


def test_digits_are_scaled_to_unit_range_with_stratified_split():
    dataset = load_dataset("digits")
    assert dataset.train_images.shape == (1437, 1, 8, 8) and dataset.test_images.shape == (360, 1, 8, 8)
    assert dataset.train_images.max() == 1.0 and dataset.train_images.min() == 0.0
    test_counts = dataset.test_labels.bincount().float()
    train_counts = dataset.train_labels.bincount().float()
    assert torch.allclose(test_counts / 360, train_counts / 1437, atol=0.01)


def test_lfw_faces_are_upscaled_unlabeled_faces():
    dataset = load_dataset("lfw_faces")
    assert dataset.image_shape == (1, 32, 32)
    assert (len(dataset.train_images), len(dataset.test_images)) == (90, 10)
    assert not dataset.has_labels
    assert 0.0 <= dataset.train_images.min() and dataset.train_images.max() <= 1.0


def test_listed_sizes_and_shapes_match_the_loaded_embedded_sets():
    rows = {row["name"]: row for row in list_datasets()}
    for name in embedded.SPLIT_SIZES:
        dataset = load_dataset(name)
        row = rows[name]
        assert row["offline_available"] is True
        assert (row["train_size"], row["test_size"]) == (len(dataset.train_images), len(dataset.test_images))
        assert row["image_shape"] == dataset.image_shape
    assert rows["folder"]["image_shape"] is None and rows["folder"]["train_size"] is None


# ---------------------------------------------------------------- registry

def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(DatasetError) as error:
        load_dataset("no_such_set")
    assert "mnist5k" in str(error.value) and "folder" in str(error.value)
    assert {"mnist5k", "digits", "mnist", "fashion_mnist", "cifar10", "folder"} <= set(dataset_names())


def test_unknown_option_is_a_dataset_error_listing_accepted_options():
    with pytest.raises(DatasetError, match="accepted: root, download, limit"):
        load_dataset("mnist", rot="/tmp")


# ---------------------------------------------------------------- torchvision raw files

def _write_idx(path, array: np.ndarray, compress: bool = False) -> None:
    magic = 0x0800 + array.ndim  # 0x08: unsigned bytes; 2051 for images, 2049 for labels
    header = struct.pack(f">{1 + array.ndim}I", magic, *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def _write_mnist_style(root, folder_name: str, train: int = 20, test: int = 10):
    raw = root / folder_name / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    splits = {}
    for prefix, count in (("train", train), ("t10k", test)):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        images[0, 0, 0], images[0, 0, 1] = 255, 51
        labels = np.arange(count) % 10
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images, compress=prefix == "t10k")
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        splits[prefix] = (images, labels)
    return splits


@pytest.mark.parametrize("name, folder_name", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_style_sets_load_from_local_idx_files(tmp_path, name, folder_name):
    splits = _write_mnist_style(tmp_path, folder_name)
    assert local_files_present(name, tmp_path)
    dataset = load_dataset(name, root=str(tmp_path), download=False)
    assert dataset.train_images.shape == (20, 1, 28, 28) and dataset.test_images.shape == (10, 1, 28, 28)
    assert dataset.train_images[0, 0, 0, 0] == 1.0
    assert dataset.train_images[0, 0, 0, 1] == pytest.approx(0.2)
    expected = torch.from_numpy(splits["t10k"][0]).float().div(255).unsqueeze(1)
    assert torch.equal(dataset.test_images, expected)  # the .gz test files were unpacked and read
    assert dataset.train_labels.tolist() == (np.arange(20) % 10).tolist()
    assert len(dataset.class_names) == 10
    limited = load_dataset(name, root=str(tmp_path), download=False, limit=12)
    assert (len(limited.train_images), len(limited.test_images)) == (12, 2)


def test_offline_check_uses_the_data_root_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("GEN_CORE_DATA", str(tmp_path))
    assert not {row["name"]: row for row in list_datasets()}["mnist"]["offline_available"]
    _write_mnist_style(tmp_path, "MNIST")
    assert {row["name"]: row for row in list_datasets()}["mnist"]["offline_available"]
    assert len(load_dataset("mnist", download=False).train_images) == 20


def _write_cifar10(root, per_batch: int = 4):
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    for file_name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        pixels = np.zeros((per_batch, 3, 32, 32), dtype=np.uint8)
        pixels[:, 0] = 255  # the red plane comes first in CIFAR's row layout
        batch = {"data": pixels.reshape(per_batch, 3072), "labels": list(range(per_batch))}
        (folder / file_name).write_bytes(pickle.dumps(batch))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))


def test_cifar10_loads_local_batches_channels_first(tmp_path, monkeypatch):
    # torchvision accepts CIFAR files only when their MD5 matches the official release, which
    # hand-written files cannot; check existence only, as the real check would for real files.
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity",
                        lambda path, md5=None: os.path.isfile(path))
    _write_cifar10(tmp_path)
    dataset = load_dataset("cifar10", root=str(tmp_path), download=False)
    assert dataset.train_images.shape == (20, 3, 32, 32) and dataset.test_images.shape == (4, 3, 32, 32)
    assert dataset.train_images[:, 0].min() == 1.0 and dataset.train_images[:, 1:].max() == 0.0
    assert dataset.class_names[0] == "airplane" and dataset.test_labels.tolist() == [0, 1, 2, 3]


def test_missing_files_without_download_say_where_to_put_them(tmp_path):
    with pytest.raises(DatasetError) as error:
        load_dataset("mnist", root=str(tmp_path), download=False)
    message = str(error.value)
    assert "MNIST/raw" in message and "train-images-idx3-ubyte" in message
    assert str(tmp_path) not in message  # a visitor may read this: the folder's name, never the server path
    with pytest.raises(DatasetError, match="cifar-10-batches-py"):
        load_dataset("cifar10", root=str(tmp_path), download=False)


@pytest.mark.parametrize("name, dataset_class", [("fashion_mnist", "FashionMNIST"), ("cifar10", "CIFAR10")])
def test_failed_download_is_a_dataset_error(tmp_path, monkeypatch, name, dataset_class):
    def no_network(self):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(getattr(torchvision.datasets, dataset_class), "download", no_network)
    with pytest.raises(DatasetError, match="download failed.*Network is unreachable"):
        load_dataset(name, root=str(tmp_path))


# ---------------------------------------------------------------- image folders and zips

def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _sixteen_bit(value: int, size: int = 12) -> Image.Image:
    return Image.fromarray(np.full((size, size), value, dtype=np.uint16))


def test_sixteen_bit_pixels_are_scaled_not_clipped():
    for value16, value8 in ((0, 0), (257 * 100, 100), (65535, 255)):
        image = Image.open(io.BytesIO(_png_bytes(_sixteen_bit(value16))))
        assert image.mode == "I;16"
        assert np.all(folders.decode_image(_png_bytes(image), 8, 1) == value8)


def test_transparency_becomes_white_and_palettes_decode_to_their_colours():
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    assert np.all(folders.decode_image(_png_bytes(rgba), 8, 3) == 255)
    palette = Image.new("RGB", (10, 10), (200, 30, 40)).quantize(colors=4)
    assert palette.mode == "P"
    assert np.abs(folders.decode_image(_png_bytes(palette), 8, 3).astype(int) - [200, 30, 40]).max() <= 4


def test_wide_images_are_centre_cropped_before_resizing():
    wide = np.zeros((20, 40, 3), dtype=np.uint8)
    wide[:, :10] = (255, 0, 0)
    wide[:, 10:30] = (0, 255, 0)
    wide[:, 30:] = (0, 0, 255)
    pixels = folders.decode_image(_png_bytes(Image.fromarray(wide)), 16, 3)
    assert pixels.shape == (16, 16, 3)
    # resampling may bleed a few levels across the crop edge; uncropped, a quarter would be red
    assert pixels[..., 1].min() >= 240 and pixels[..., [0, 2]].max() <= 15


@pytest.fixture
def mixed_folder(tmp_path):
    """Six good images of different modes, plus a corrupt PNG, a text file and a hidden file."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.new("RGB", (30, 20), (255, 0, 0)).save(folder / "red.png")
    Image.new("RGB", (24, 24), (0, 0, 255)).save(folder / "blue.jpg", quality=95)
    Image.new("RGBA", (16, 16), (0, 255, 0, 255)).save(folder / "green_rgba.png")
    Image.new("RGB", (16, 16), (10, 20, 30)).quantize(colors=2).save(folder / "palette.png")
    _sixteen_bit(257 * 100).save(folder / "gray16.png")
    Image.new("L", (16, 16), 7).save(folder / "gray.tif")
    (folder / "corrupt.png").write_bytes(_png_bytes(Image.new("RGB", (16, 16)))[:40])
    (folder / "notes.txt").write_text("not an image")
    (folder / ".DS_Store").write_bytes(b"\0\1\2")
    return folder


def test_folder_loads_good_images_and_counts_skipped_files(mixed_folder):
    dataset, skipped = load_image_folder(mixed_folder, size=16, channels=3, test_fraction=0.2)
    assert skipped == 2  # corrupt.png and notes.txt; hidden files are not counted
    assert (len(dataset.train_images), len(dataset.test_images)) == (4, 2)
    assert dataset.image_shape == (3, 16, 16) and not dataset.has_labels
    everything = torch.cat([dataset.train_images, dataset.test_images])
    assert everything.dtype == torch.float32 and 0 <= everything.min() and everything.max() <= 1
    gray16 = torch.full((3, 16, 16), 100 / 255)
    assert any(torch.allclose(image, gray16) for image in everything)
    assert "skipped 2" in dataset.description and "notes.txt" in dataset.description


def test_folder_through_the_registry_keeps_skipped_count_and_source(mixed_folder):
    dataset = load_dataset("folder", path=str(mixed_folder), size=8, channels="grayscale", seed=3)
    assert dataset.image_shape == (1, 8, 8)
    assert "skipped 2" in dataset.description
    # recorded relative to its data folder: a run's config.json names no server path
    source = dict(dataset.source)
    recorded = source.pop("path")
    assert source == {"name": "folder", "size": 8, "channels": "grayscale", "seed": 3}
    assert not Path(recorded).is_absolute() and resolve_data_path(recorded) == mixed_folder.resolve()


def _write_class_folder(root, counts: dict[str, int]) -> None:
    for class_index, (class_name, count) in enumerate(counts.items()):
        (root / class_name).mkdir(parents=True)
        for i in range(count):
            Image.new("L", (12, 12), 40 * class_index + i).save(root / class_name / f"{i}.png")


def test_subfolders_become_sorted_classes_with_stratified_split(tmp_path):
    _write_class_folder(tmp_path / "pets", {"dogs": 5, "cats": 5})
    (tmp_path / "pets" / "README.txt").write_text("two classes")
    dataset, skipped = load_image_folder(tmp_path / "pets", size=8, channels=1, test_fraction=0.2)
    assert skipped == 1
    assert dataset.class_names == ["cats", "dogs"]
    assert dataset.test_labels.bincount(minlength=2).tolist() == [1, 1]
    assert dataset.train_labels.bincount(minlength=2).tolist() == [4, 4]


def test_zip_with_a_root_folder_ignores_macos_metadata_and_refuses_traversal(tmp_path):
    archive_path = tmp_path / "pets.zip"
    png = _png_bytes(Image.new("RGB", (12, 12), (9, 9, 9)))
    with zipfile.ZipFile(archive_path, "w") as archive:
        for name in ["pets/cats/a.png", "pets/cats/b.png", "pets/dogs/c.png", "pets/dogs/d.png"]:
            archive.writestr(name, png)
        archive.writestr("__MACOSX/pets/cats/._a.png", b"resource fork")
        archive.writestr("../evil.png", png)
        archive.writestr("pets/notes.txt", "hello")
    dataset, skipped = load_image_folder(archive_path, size=8, test_fraction=0.5)
    assert skipped == 2  # ../evil.png refused, notes.txt unreadable; __MACOSX ignored
    assert dataset.class_names == ["cats", "dogs"]
    assert len(dataset.train_images) + len(dataset.test_images) == 4
    assert not (tmp_path.parent / "evil.png").exists()


def test_images_too_large_to_decode_safely_are_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(folders, "MAX_IMAGE_PIXELS", 1000)
    Image.new("RGB", (50, 50)).save(tmp_path / "huge.png")
    for i in range(2):
        Image.new("RGB", (20, 20)).save(tmp_path / f"small{i}.png")
    dataset, skipped = load_image_folder(tmp_path, size=8)
    assert skipped == 1 and len(dataset.train_images) + len(dataset.test_images) == 2


def test_empty_or_unreadable_folders_are_dataset_errors(tmp_path):
    with pytest.raises(DatasetError, match="No readable images"):
        load_image_folder(tmp_path)
    (tmp_path / "a.txt").write_text("text")
    with pytest.raises(DatasetError, match="1 files could not be read"):
        load_image_folder(tmp_path)
    with pytest.raises(DatasetError, match="No folder"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(DatasetError, match="neither a folder nor a .zip"):
        load_image_folder(tmp_path / "a.txt")


@pytest.mark.parametrize("options", [{"channels": 2}, {"size": 0}, {"test_fraction": 1.0}])
def test_bad_folder_options_are_dataset_errors(tmp_path, options):
    with pytest.raises(DatasetError):
        load_image_folder(tmp_path, **options)


def test_indices_of_class():
    labels = torch.tensor([3, 1, 3, 0])
    assert indices_of_class(labels, 3) == [0, 2]
    assert indices_of_class(labels, None) == [0, 1, 2, 3]
    assert indices_of_class(labels, 7) == []
