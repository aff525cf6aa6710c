"""Reconstruction losses, per image.

Three losses for the MLP autoencoders (d = number of pixels):
    mse       (1/d) sum (F(x)_i - x_i)^2
    bce       -sum x_i log F(x)_i + (1 - x_i) log(1 - F(x)_i)
    euclidean ||F(x) - x||^2
and the mean absolute error ("mae").

VAEs need the reconstruction term on the scale of a log-likelihood (a sum over pixels) or the KL
term swamps it, so ``summed=True`` turns the two per-pixel means into sums.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

RECONSTRUCTION_LOSSES = ("bce", "mse", "euclidean", "mae")


def reconstruction_loss(logits: torch.Tensor, target: torch.Tensor, kind: str, summed: bool = False) -> torch.Tensor:
    """Per-image reconstruction loss of decoder ``logits`` (pre-sigmoid) against ``target``.

    Works on logits so BCE is computed stably (and under mixed precision).
    """
    flat_logits = logits.flatten(1).float()
    flat_target = target.flatten(1).float()
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(flat_logits, flat_target, reduction="none").sum(1)
    recon = torch.sigmoid(flat_logits)
    if kind in ("mse", "euclidean"):
        squared = (recon - flat_target).pow(2)
        return squared.sum(1) if (kind == "euclidean" or summed) else squared.mean(1)
    if kind == "mae":
        absolute = (recon - flat_target).abs()
        return absolute.sum(1) if summed else absolute.mean(1)
    raise ValueError(f"Unknown reconstruction loss {kind!r}; choose from {', '.join(RECONSTRUCTION_LOSSES)}")
