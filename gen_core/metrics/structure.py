"""Scores that see structure, not brightness: per-image contrast, and sharpness after a contrast stretch.

Plain sharpness (gradient magnitude, Laplacian variance) is measured in intensity units, so it
mixes two things: how much contrast an image has and how fine its detail is. On low-contrast
tiles (grey microscopy with thin dark vessels) a few brightness steps or a faint checkerboard
from transposed convolutions can score as high as real vessels, and flat grey squares then look
"nearly as sharp as real". Here the two are separated:

* **contrast**: the RMS contrast of each image, the standard deviation of its pixel values
  (Peli 1990), averaged over channels. A flat square scores 0.
* **normalised sharpness**: the same sharpness measures on each image stretched to zero mean and
  unit standard deviation, so only the *shape* of its variation counts. Stretching divides by
  ``max(contrast, floor)``, with ``floor`` a quarter of the real images' median contrast: an
  image with almost no contrast is not blown up into noise, it stays nearly flat and scores low.
"""

from __future__ import annotations

import torch

from gen_core.metrics.image_quality import gradient_magnitude, laplacian_variance

FLOOR_SHARE = 0.25  # of the real images' median contrast: the least contrast a stretch assumes


def _float_cpu(images: torch.Tensor) -> torch.Tensor:
    return images.detach().float().cpu()


def rms_contrast(images: torch.Tensor) -> torch.Tensor:
    """Per image, the standard deviation of its pixel values (per channel, then averaged)."""
    images = _float_cpu(images)
    return images.flatten(2).std(dim=2, correction=0).mean(dim=1)


def contrast_floor(real: torch.Tensor) -> float:
    """The least contrast a stretch divides by: FLOOR_SHARE of the real images' median contrast."""
    median = float(rms_contrast(real).median()) if len(real) else 0.0
    return max(FLOOR_SHARE * median, 1e-6)


def contrast_normalise(images: torch.Tensor, floor: float) -> torch.Tensor:
    """Each image (per channel) to zero mean and unit standard deviation, dividing by at least ``floor``."""
    images = _float_cpu(images)
    mean = images.mean(dim=(2, 3), keepdim=True)
    spread = images.std(dim=(2, 3), keepdim=True, correction=0).clamp_min(float(floor))
    return (images - mean) / spread


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
    """Contrast of samples against real images, and both sharpness measures after the stretch."""
    floor = contrast_floor(real)
    values = {"contrast_samples": float(rms_contrast(samples).mean()),
              "contrast_real": float(rms_contrast(real).mean())}
    values["contrast_ratio"] = _ratio(values["contrast_samples"], values["contrast_real"])
    stretched_samples, stretched_real = contrast_normalise(samples, floor), contrast_normalise(real, floor)
    for name, measure in (("sharpness_normalised", gradient_magnitude), ("laplacian_normalised", laplacian_variance)):
        values[f"{name}_samples"] = float(measure(stretched_samples).mean())
        values[f"{name}_real"] = float(measure(stretched_real).mean())
        values[f"{name}_ratio"] = _ratio(values[f"{name}_samples"], values[f"{name}_real"])
    return values
