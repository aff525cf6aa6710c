"""Scores that see structure, not brightness: per-image contrast, and one display stretch.

Plain sharpness (gradient magnitude, Laplacian variance) is measured in intensity units, so on
low-contrast tiles (grey microscopy with thin dark vessels) a faint checkerboard from transposed
convolutions can score as high as real vessels, and flat grey squares then look "nearly as sharp
as real". The RMS contrast of each image, the standard deviation of its pixel values (Peli
1990), averaged over channels, tells them apart: a flat square scores 0. (A sharpness measured on
contrast-stretched images was tried and left out: stretching turns faint pixel noise into
"detail", so it rated flat noisy squares sharper than real vessels.)
"""

from __future__ import annotations

import torch

def _float_cpu(images: torch.Tensor) -> torch.Tensor:
    return images.detach().float().cpu()


def rms_contrast(images: torch.Tensor) -> torch.Tensor:
    """Per image, the standard deviation of its pixel values (per channel, then averaged)."""
    images = _float_cpu(images)
    return images.flatten(2).std(dim=2, correction=0).mean(dim=1)


def stretch_like(images: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Map the intensity range [low, high] to [0, 1] for display, clipping outside it.

    One stretch for real, reconstructed and generated images alike (from the real ones'
    percentiles), so a flat tile looks flat and a faint vessel as faint as it really is.
    """
    images = _float_cpu(images)
    return ((images - low) / max(high - low, 1e-6)).clamp_(0.0, 1.0)


def display_range(real: torch.Tensor, percentile: float = 1.0) -> tuple[float, float]:
    """The ``percentile`` and ``100 - percentile`` intensities of ``real``: a robust stretch."""
    values = _float_cpu(real).flatten()
    if values.numel() > 1_000_000:  # quantile() refuses very large inputs; a strided subset is plenty
        values = values[:: values.numel() // 1_000_000 + 1]
    low, high = torch.quantile(values, torch.tensor([percentile / 100, 1 - percentile / 100])).tolist()
    return (low, high) if high > low else (low, low + 1e-3)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")


def structure_scores(samples: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
    """Mean per-image contrast of samples and real images, and their ratio."""
    values = {"contrast_samples": float(rms_contrast(samples).mean()),
              "contrast_real": float(rms_contrast(real).mean())}
    values["contrast_ratio"] = _ratio(values["contrast_samples"], values["contrast_real"])
    return values
