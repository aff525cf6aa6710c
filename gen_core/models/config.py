"""Validation shared by the model config dataclasses."""

from __future__ import annotations

from dataclasses import fields

from gen_core.errors import ModelConfigError
from gen_core.models.losses import RECONSTRUCTION_LOSSES


def as_int_tuple(values) -> tuple[int, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [v for v in values.replace(",", " ").split() if v]
    return tuple(int(v) for v in values)


def check_image_shape(image_shape) -> tuple[int, int, int]:
    shape = as_int_tuple(image_shape)
    if len(shape) != 3 or shape[0] not in (1, 3) or min(shape[1:]) < 4:
        raise ModelConfigError(f"image_shape must be (channels 1 or 3, height >= 4, width >= 4), got {image_shape}")
    return shape  # type: ignore[return-value]


def check_positive(name: str, value, minimum=1):
    if value < minimum:
        raise ModelConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def check_choice(name: str, value: str, choices) -> str:
    if value not in choices:
        raise ModelConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def check_reconstruction_loss(value: str) -> str:
    return check_choice("loss", value, RECONSTRUCTION_LOSSES)


def config_from_dict(cls, values: dict):
    """Build a config dataclass from JSON data, rejecting unknown keys with a clear message."""
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ModelConfigError(f"Unknown {cls.__name__} settings: {', '.join(sorted(unknown))}")
    return cls(**values)
