"""Validation shared by the model config dataclasses."""

from __future__ import annotations

import numbers
from dataclasses import fields

from gen_core.errors import ModelConfigError
from gen_core.models.blocks import default_conv_channels
from gen_core.models.losses import RECONSTRUCTION_LOSSES


def as_int_tuple(values) -> tuple[int, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [v for v in values.replace(",", " ").split() if v]
    try:
        sizes = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise ModelConfigError(f"Layer sizes must be whole numbers, got {values!r}") from None
    if any(size < 1 for size in sizes):
        raise ModelConfigError(f"Layer sizes must be at least 1, got {sizes}")
    return sizes


def check_image_shape(image_shape) -> tuple[int, int, int]:
    try:
        shape = as_int_tuple(image_shape)
    except ModelConfigError:
        shape = ()
    if len(shape) != 3 or shape[0] not in (1, 3) or min(shape[1:]) < 4:
        raise ModelConfigError(f"image_shape must be (channels 1 or 3, height >= 4, width >= 4), got {image_shape}")
    return shape  # type: ignore[return-value]


def check_positive(name: str, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ModelConfigError(f"{name} must be a whole number of at least {minimum}, got {value!r}")
    return value


def check_fraction(name: str, value) -> float:
    """A probability-like setting (dropout, label smoothing): 0 <= value < 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ModelConfigError(f"{name} must be at least 0 and below 1, got {value!r}")
    return value


def check_conv_depth(image_shape: tuple[int, int, int], channels: tuple[int, ...]) -> None:
    """Each stride-2 stage halves the image; the last one still needs a 2x2 input."""
    if min(image_shape[1:]) < 2 ** len(channels):
        raise ModelConfigError(f"{len(channels)} conv stages (conv_channels {channels}) halve a "
                               f"{image_shape[1]}x{image_shape[2]} image below 1 pixel; use fewer entries")


def check_choice(name: str, value: str, choices) -> str:
    if value not in choices:
        raise ModelConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def check_reconstruction_loss(value: str) -> str:
    return check_choice("loss", value, RECONSTRUCTION_LOSSES)


def check_encoder_decoder(config) -> None:
    """Normalise and check the fields AE, VAE and VAE-GAN configs share (in place).

    An empty ``conv_channels`` is filled from the image size; conv stages must not halve the
    image below one pixel.
    """
    config.image_shape = check_image_shape(config.image_shape)
    config.hidden = as_int_tuple(config.hidden)
    config.conv_channels = as_int_tuple(config.conv_channels) or default_conv_channels(config.image_shape)
    check_positive("latent_dim", config.latent_dim)
    check_choice("arch", config.arch, ("mlp", "conv"))
    if config.arch == "conv":
        check_conv_depth(config.image_shape, config.conv_channels)


def check_non_negative(config, *names: str) -> None:
    for name in names:
        if not getattr(config, name) >= 0:
            raise ModelConfigError(f"{name} must be >= 0, got {getattr(config, name)}")


def config_from_dict(cls, values: dict):
    """Build a config dataclass from JSON data, rejecting unknown keys with a clear message."""
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ModelConfigError(f"Unknown {cls.__name__} settings: {', '.join(sorted(unknown))}")
    return cls(**values)
