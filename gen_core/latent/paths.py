"""Paths through latent space: straight lines and great circles between two codes, decoded."""

from __future__ import annotations

import torch

from gen_core.errors import LatentError
from gen_core.latent.codes import decode_latents

INTERPOLATION_METHODS = ("lerp", "slerp")


def _endpoints(z0, z1) -> tuple[torch.Tensor, torch.Tensor]:
    start = torch.as_tensor(z0, dtype=torch.float32).detach().cpu().reshape(-1)
    end = torch.as_tensor(z1, dtype=torch.float32).detach().cpu().reshape(-1)
    if start.shape != end.shape:
        raise LatentError(f"Cannot interpolate between latents of {len(start)} and {len(end)} dimensions.")
    return start, end


def _fractions(steps: int) -> torch.Tensor:
    if int(steps) < 2:
        raise LatentError(f"An interpolation needs at least 2 steps (both ends); got {steps}.")
    return torch.linspace(0.0, 1.0, int(steps)).unsqueeze(1)


def _lerp_at(start: torch.Tensor, end: torch.Tensor, fractions: torch.Tensor) -> torch.Tensor:
    return (1 - fractions) * start + fractions * end


def _slerp_at(start: torch.Tensor, end: torch.Tensor, fractions: torch.Tensor,
              parallel_tolerance: float = 1e-4) -> torch.Tensor:
    start64, end64, fractions64 = start.double(), end.double(), fractions.double()
    cosine = torch.dot(start64, end64) / (start64.norm() * end64.norm()).clamp_min(1e-12)
    omega = torch.arccos(cosine.clamp(-1.0, 1.0))
    if torch.sin(omega).abs() < parallel_tolerance:
        return _lerp_at(start, end, fractions)
    weights_start = torch.sin((1 - fractions64) * omega) / torch.sin(omega)
    weights_end = torch.sin(fractions64 * omega) / torch.sin(omega)
    return (weights_start * start64 + weights_end * end64).float()


def lerp(z0, z1, steps: int) -> torch.Tensor:
    """``steps`` codes on the straight line from ``z0`` to ``z1``, both ends included."""
    start, end = _endpoints(z0, z1)
    return _lerp_at(start, end, _fractions(steps))


def slerp(z0, z1, steps: int) -> torch.Tensor:
    """Interpolation along the great circle, which keeps codes at the norm typical of the prior.

    Straight lines between two Gaussian samples pass near the origin, where the prior puts
    almost no mass (White, "Sampling Generative Networks", 2016). For nearly parallel or
    opposite vectors the circle is ill-defined, so those fall back to ``lerp``.
    """
    start, end = _endpoints(z0, z1)
    return _slerp_at(start, end, _fractions(steps))


def _path(z0, z1, fractions: torch.Tensor, method: str) -> torch.Tensor:
    if method not in INTERPOLATION_METHODS:
        raise LatentError(f"Unknown interpolation {method!r}; choose one of {', '.join(INTERPOLATION_METHODS)}.")
    start, end = _endpoints(z0, z1)
    return (_lerp_at if method == "lerp" else _slerp_at)(start, end, fractions)


def interpolate(model, z0, z1, steps: int = 10, method: str = "lerp") -> torch.Tensor:
    """Images decoded along the path from ``z0`` to ``z1`` (``method`` "lerp" or "slerp")."""
    return decode_latents(model, _path(z0, z1, _fractions(steps), method))


def mix(model, z0, z1, percent: float, method: str = "lerp") -> torch.Tensor:
    """One image (1, C, H, W): ``percent`` of the way from ``z0`` (0) to ``z1`` (100)."""
    if not 0.0 <= float(percent) <= 100.0:
        raise LatentError(f"The mix must be between 0 and 100 percent; got {percent}.")
    return decode_latents(model, _path(z0, z1, torch.tensor([[float(percent) / 100.0]]), method))



def convex_combinations(model, mean_a, mean_b, steps: int = 10) -> torch.Tensor:
    """Images along (1 - t) * mean_a + t * mean_b: how the decoder warps one class into another."""
    return decode_latents(model, lerp(mean_a, mean_b, steps))
