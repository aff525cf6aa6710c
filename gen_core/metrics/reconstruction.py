"""How well a model with an encoder gives back its test images: MSE, BCE and SSIM per image.

Reconstructions are deterministic: decode(encode(x)), with the posterior mean for VAEs, which is
what the app shows next to an original.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from gen_core.errors import ModelConfigError
from gen_core.latent import evaluating, per_image_mse
from gen_core.metrics.image_quality import ssim_per_image


def per_image_bce(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """-sum_i [x_i log x_hat_i + (1 - x_i) log(1 - x_hat_i)] per image, x_hat = sigmoid(logits).

    Unit: nats per image (a sum over pixels, the scale of a VAE's reconstruction term).
    For grey (not 0/1) pixels its minimum is the targets' own entropy, not 0; lower is better.
    """
    return F.binary_cross_entropy_with_logits(logits.flatten(1).float(), images.flatten(1).float(),
                                              reduction="none").sum(1)


def _logits(model, latents: torch.Tensor) -> torch.Tensor:
    if hasattr(model, "decode_logits"):
        return model.decode_logits(latents).float()
    probabilities = model.decode(latents).float().clamp(1e-6, 1 - 1e-6)
    return torch.log(probabilities) - torch.log1p(-probabilities)


def reconstruction_scores(model, images: torch.Tensor, batch_size: int = 256) -> dict[str, torch.Tensor]:
    """Per-image ``mse``, ``bce`` and ``ssim`` of ``images`` against their reconstructions (CPU).

    See ``per_image_mse``, ``per_image_bce`` and ``image_quality.ssim_per_image`` for units.
    """
    if not model.has_encoder:
        raise ModelConfigError(f"A {model.family} model has no encoder, so it cannot reconstruct images.")
    scores: dict[str, list[torch.Tensor]] = {"mse": [], "bce": [], "ssim": []}
    with evaluating(model):
        for batch in images.split(batch_size):
            batch = batch.to(model.device).float()
            logits = _logits(model, model.encode(batch))
            reconstructions = torch.sigmoid(logits)
            scores["mse"].append(per_image_mse(reconstructions, batch).cpu())
            scores["bce"].append(per_image_bce(logits, batch).cpu())
            scores["ssim"].append(ssim_per_image(reconstructions.cpu(), batch.cpu()))
    return {name: torch.cat(values) if values else torch.empty(0) for name, values in scores.items()}
