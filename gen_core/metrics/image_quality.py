"""Per-image scores that need no model: structural similarity and sharpness.

Sharpness puts a number on "VAE images are blurry": a pixel-wise loss averages
over plausible images, which lowers edge contrast, so samples of a blurry model score well
below real images on both measures while a GAN's stay close to them.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F
from torchmetrics.functional.image import image_gradients, structural_similarity_index_measure

from gen_core.errors import ImageInputError

SSIM_KERNEL = 11  # Wang et al. 2004: an 11x11 Gaussian window with sigma 1.5
SSIM_SIGMA = 1.5


def _check_images(images: torch.Tensor, name: str = "images") -> torch.Tensor:
    if images.ndim != 4:
        raise ImageInputError(f"{name} must be a batch (N, C, H, W); got shape {tuple(images.shape)}.")
    return images.detach().float().cpu()


def ssim_per_image(images: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """SSIM of each image against its reference (torchmetrics), on the [0, 1] intensity range.

    SSIM = l * c * s, the product of luminance, contrast and structure agreement in a Gaussian
    window, averaged over the image (Wang et al. 2004). Unitless in [-1, 1]; 1 means identical.
    Images smaller than the standard 11-px window use the largest odd window that fits, with
    sigma scaled to match.
    """
    images, references = _check_images(images), _check_images(references, "references")
    if images.shape != references.shape:
        raise ImageInputError(f"SSIM compares images of one shape; got {tuple(images.shape)} and "
                              f"{tuple(references.shape)}.")
    if len(images) == 0:
        return torch.empty(0)
    smallest = min(images.shape[-2:])
    kernel = min(SSIM_KERNEL, smallest if smallest % 2 else smallest - 1)
    sigma = SSIM_SIGMA * kernel / SSIM_KERNEL
    return structural_similarity_index_measure(images, references, kernel_size=kernel, sigma=sigma,
                                               data_range=1.0, reduction="none")


def gradient_magnitude(images: torch.Tensor) -> torch.Tensor:
    """Per image, the mean of sqrt(dx^2 + dy^2) over pixels and channels.

    dx, dy are forward differences between neighbouring pixels (torchmetrics' image_gradients),
    so the unit is intensity change per pixel step, in [0, sqrt(2)]. Higher is sharper.
    """
    images = _check_images(images)
    dy, dx = image_gradients(images)
    return torch.sqrt(dx.pow(2) + dy.pow(2)).flatten(1).mean(1)


_LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def laplacian_variance(images: torch.Tensor) -> torch.Tensor:
    """Per image, the variance of its 3x3 Laplacian response (Pech-Pacheco et al. 2000).

    The classic focus measure: blur removes the high frequencies the Laplacian responds to.
    Computed over interior pixels only (no padding), per channel, then averaged over channels.
    Unit: squared intensity (images in [0, 1]). Higher is sharper.
    """
    images = _check_images(images)
    channels = images.shape[1]
    kernel = _LAPLACIAN.view(1, 1, 3, 3).repeat(channels, 1, 1, 1)
    response = F.conv2d(images, kernel, groups=channels)
    return response.flatten(2).var(dim=2).mean(dim=1)
