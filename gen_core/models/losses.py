"""Reconstruction losses, per image.

Three losses for the MLP autoencoders (d = number of pixels):
    mse       (1/d) sum (F(x)_i - x_i)^2
    bce       -sum x_i log F(x)_i + (1 - x_i) log(1 - F(x)_i)
    euclidean ||F(x) - x||^2
and the mean absolute error ("mae").

VAEs need the reconstruction term on the scale of a log-likelihood (a sum over pixels) or the KL
term swamps it, so ``summed=True`` turns the two per-pixel means into sums.

A VAE may also take "gaussian": a Gaussian decoder with a learned variance (a calibrated decoder,
the sigma-VAE of Rybkin, Daniilidis & Levine 2021), ``gaussian_nll``. The summed squared error is
the Gaussian negative log-likelihood with a fixed variance of 0.5 per pixel, up to a constant; on
images that vary by a few hundredths around their own mean that variance makes all their structure
worth a few nats, less than the KL cost of coding it, and the posterior collapses. Learning sigma
puts the reconstruction term on the scale of the errors the decoder actually makes.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

RECONSTRUCTION_LOSSES = ("bce", "mse", "euclidean", "mae")
LEARNED_VARIANCE = "gaussian"  # needs the model's own log sigma, so only the VAE offers it
VAE_RECONSTRUCTION_LOSSES = (*RECONSTRUCTION_LOSSES, LEARNED_VARIANCE)


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
    if kind == LEARNED_VARIANCE:
        raise ValueError("The gaussian loss learns its variance: use gaussian_nll with the model's log sigma")
    raise ValueError(f"Unknown reconstruction loss {kind!r}; choose from {', '.join(RECONSTRUCTION_LOSSES)}")


def gaussian_nll(logits: torch.Tensor, target: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """Per-image negative log-likelihood in nats of ``target`` under N(sigmoid(logits), sigma^2) per pixel,
    with ``log_sigma`` one value per channel (C,):

        sum over pixels of  1/2 log(2 pi) + log sigma_c + (x_i - mean_i)^2 / (2 sigma_c^2),

    which for one channel is D/2 log(2 pi sigma^2) + SSE / (2 sigma^2), D the number of pixels. A density
    over the real line, so for images whose errors are far below 1 it is negative.
    """
    mean = torch.sigmoid(logits.float())
    variance = torch.exp(2 * log_sigma.float()).view(1, -1, *([1] * (target.dim() - 2))).expand_as(mean)
    per_pixel = F.gaussian_nll_loss(mean, target.float(), variance, full=True, eps=0.0, reduction="none")
    return per_pixel.flatten(1).sum(1)
