"""Images as pages show and remember them: whole-number enlargement, batches, content keys."""

from __future__ import annotations

import hashlib

import numpy as np
import torch


def display_upscale(image_shape, width_px: int = 280) -> int:
    """The whole-number enlargement that brings an image closest to ``width_px`` on screen."""
    return max(1, round(width_px / max(int(image_shape[-1]), 1)))


def image_fingerprint(images: torch.Tensor) -> str:
    """A short content hash, so pages can remember a slow inversion per input image."""
    array = np.ascontiguousarray(torch.as_tensor(images).detach().cpu().float().numpy())
    return hashlib.sha1(array.tobytes() + str(array.shape).encode()).hexdigest()[:16]


def stack_images(images: list[torch.Tensor]) -> torch.Tensor:
    """(C, H, W) images into one (N, C, H, W) batch."""
    return torch.stack([torch.as_tensor(image, dtype=torch.float32) for image in images])

