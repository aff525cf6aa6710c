"""Codes in and images out: encode, decode and reconstruct through the shared model surface.

Everything here goes through ``GenerativeModel`` (``encode``, ``decode``, ``latent_dim``,
``has_encoder``, ``device``), so the same explorer works for every family. Models are switched
to eval mode for each call and put back afterwards: batch-norm layers in training mode would
both fail on a single latent and drift their running statistics. Results come back on the CPU.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from PIL import Image

from gen_core.errors import LatentError, ModelConfigError
from gen_core.images import to_pil


@contextlib.contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Eval mode and no gradients for the duration; the previous mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def check_images_fit(model, images: torch.Tensor) -> None:
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(model.image_shape):
        raise ModelConfigError(f"These images are {tuple(images.shape[1:])} but the model works on "
                               f"{tuple(model.image_shape)} images (channels, height, width).")


def decode_latents(model, latents: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Decode in batches on the model's device; images come back on the CPU."""
    latents = torch.as_tensor(latents, dtype=torch.float32).reshape(-1, model.latent_dim)
    with evaluating(model):
        chunks = [model.decode(chunk.to(model.device)).float().cpu() for chunk in latents.split(batch_size)]
    return torch.cat(chunks) if chunks else torch.empty(0, *model.image_shape)


def encode_dataset(model, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Latent codes (N, latent_dim) of ``images``; the posterior mean for VAEs."""
    if not model.has_encoder:
        raise ModelConfigError(f"This {model.family or 'model'} model has no encoder, so images cannot be "
                               "encoded directly; their latents have to be found by optimisation instead.")
    check_images_fit(model, images)
    with evaluating(model):
        chunks = [model.encode(chunk.to(model.device)).float().cpu() for chunk in images.split(batch_size)]
    return torch.cat(chunks) if chunks else torch.empty(0, model.latent_dim)



def per_image_mse(images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(1/d) sum_i (x_i - t_i)^2 per image, d = number of pixel values.

    Unit: squared intensity per pixel (images in [0, 1]), so 0 to 1; lower is better.
    """
    return (images.float() - targets.float()).pow(2).flatten(1).mean(dim=1)


def reconstructions(model, images: torch.Tensor) -> torch.Tensor:
    """decode(encode(x)) in eval mode; models without an encoder raise ModelConfigError."""
    return decode_latents(model, encode_dataset(model, images))


def decode_to_pil(model, latent, upscale: int = 10) -> Image.Image:
    """One latent (D,) or (1, D) to a display-ready image, enlarged ``upscale`` times.

    This is what one slider move costs. ``inference_mode`` skips autograd bookkeeping, which
    matters at this size: a small decoder runs in well under a millisecond, so overheads dominate.
    The web server runs it on one thread, set once at start-up (``gen_core.compute``): with two,
    each small op waited at a barrier for a core a training job was using (20-150 ms per decode on
    a busy 2-core machine, against under 1 ms).
    """
    codes = torch.as_tensor(latent, dtype=torch.float32)
    if codes.numel() != model.latent_dim:
        raise LatentError(f"This model decodes {model.latent_dim}-d codes; got {codes.numel()} values.")
    codes = codes.reshape(1, model.latent_dim)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            image = model.decode(codes.to(model.device)).float().cpu()
    finally:
        model.train(was_training)
    return to_pil(image[0], upscale=upscale)

