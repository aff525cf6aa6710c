"""What a model, a dataset or a request may ask for, checked before any memory is spent on it.

A run folder, a zip or a form field can describe a model of any size and ask for any number of
images; one careless or hostile request must not take the memory of a machine many people use.
Each limit is a plain constant, named in the message that refuses a request, and listed in the
README ("Serving a class"). They are generous for the models and data this app is made for.
"""

from __future__ import annotations

import math

import torch

from gen_core.errors import GenCoreError

MAX_IMAGE_SIDE = 1024  # pixels, for a model's input images and for tiles
MAX_PARAMETERS = 200_000_000  # 800 MB of float32 weights, about 2.4 GB with Adam's state
MAX_SAMPLES_IN_MEMORY_BYTES = 2 * 2**30  # float32 images one request may hold or write (sample, eval)
MAX_GRID_IMAGES = 10_000  # images in one PNG grid
MAX_COMPONENTS = 250  # Gaussians in one latent mixture (a class sampler's, a VAE's sampling mixture)
MAX_GRID_PIXELS = 100_000_000  # and the pixels of that grid
MAX_SAVED_GRID_PIXELS = 16_000_000  # a sample grid read from a run folder (64 images of 256 px: 4.4 million)
MAX_TILE_SET_BYTES = 2 * 2**30  # float32 tiles drawn for one epoch plus the test tiles
MAX_DATASET_BYTES = 4 * 2**30  # float32 images of a folder dataset, or the large images tiles are cut from
MAX_EPOCHS = 100_000
MAX_CLASSES = 100  # classes of a folder dataset (one per sub-folder)
MAX_EVAL_SAMPLES = 50_000  # generated images one evaluation scores
MAX_IWAE_K = 5_000  # importance samples per test image


class LimitError(GenCoreError, ValueError):
    """A request is larger than this server allows."""


def gib(size_bytes: float) -> str:
    return f"{size_bytes / 2**30:.3g} GB" if size_bytes >= 2**30 else f"{size_bytes / 2**20:.3g} MB"


def check_image_shape(image_shape) -> None:
    channels, height, width = (int(value) for value in image_shape)
    if max(height, width) > MAX_IMAGE_SIDE:
        raise LimitError(f"Images of {height}x{width} pixels are larger than this server allows "
                         f"(at most {MAX_IMAGE_SIDE} pixels a side).")


def check_model_size(model_class, config) -> None:
    """Build the model on PyTorch's "meta" device (shapes only, no memory) and count it.

    Refuses images with a side above MAX_IMAGE_SIDE and models above MAX_PARAMETERS, so a config
    asking for a 100,000 x 100,000 input or 10^10 weights is refused in milliseconds instead of
    exhausting the machine.
    """
    check_image_shape(config.image_shape)
    try:
        with torch.device("meta"):
            model = model_class(config)
    except (RuntimeError, OverflowError, TypeError, ValueError, MemoryError):  # a size no tensor can have
        raise LimitError("These settings ask for layers larger than any model this server can build.") from None
    parameters = sum(parameter.numel() for parameter in model.parameters())
    if parameters > MAX_PARAMETERS:
        size = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
        raise LimitError(f"These settings make a model of {parameters:,} parameters ({gib(size)} of weights); "
                         f"this server allows at most {MAX_PARAMETERS:,}. Use smaller layers or images.")


def check_image_batch(count: int, image_shape, what: str, limit_bytes: int = MAX_SAMPLES_IN_MEMORY_BYTES,
                      error: type[GenCoreError] = LimitError) -> None:
    """``count`` float32 images of ``image_shape`` must fit in ``limit_bytes`` (else ``error``)."""
    per_image = 4 * math.prod(int(value) for value in image_shape)
    if count * per_image > limit_bytes:
        most = max(1, limit_bytes // per_image)
        raise error(f"{count:,} {what} of {'x'.join(str(v) for v in image_shape)} would take "
                         f"{gib(count * per_image)}; the limit is {gib(limit_bytes)} ({most:,} {what}).")


def check_count(name: str, value: int, most: int) -> None:
    if value > most:
        raise LimitError(f"{name} is {value:,}; this server allows at most {most:,}.")


def check_grid(count: int, image_shape) -> None:
    """A PNG grid of ``count`` images: at most MAX_GRID_IMAGES images and MAX_GRID_PIXELS pixels."""
    check_count("The number of images in a PNG grid", count, MAX_GRID_IMAGES)
    _, height, width = (int(value) for value in image_shape)
    if count * (height + 2) * (width + 2) > MAX_GRID_PIXELS:
        raise LimitError(f"A grid of {count:,} images of {height}x{width} would have over "
                         f"{MAX_GRID_PIXELS / 1e6:.0f} million pixels; ask for fewer, or write a .npy file.")


def check_evaluation_size(n_samples: int, class_samples: int, iwae_k: int) -> None:
    check_count("The number of samples to score", int(n_samples), MAX_EVAL_SAMPLES)
    check_count("The number of images per class", int(class_samples), MAX_EVAL_SAMPLES // 10)
    check_count("The number of importance samples k", int(iwae_k), MAX_IWAE_K)
