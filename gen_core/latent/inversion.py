"""Codes for given images: the encoder when there is one, else a search of the latent space.

A model without an encoder (a GAN) can still place a real image in its latent space: Adam on
the code until the decoded image matches it (pixel MSE), with the weights frozen throughout.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

import torch

from gen_core.errors import LatentError
from gen_core.latent.codes import check_images_fit, decode_latents, encode_dataset, per_image_mse
from gen_core.progress import ProgressCallback

FOUND_BY_ENCODER = "encoder"
FOUND_BY_OPTIMISATION = "optimisation"


@contextlib.contextmanager
def _frozen(model: torch.nn.Module) -> Iterator[None]:
    """Parameters stop requiring gradients (so they cannot change) and are restored after."""
    flags = [parameter.requires_grad for parameter in model.parameters()]
    was_training = model.training
    model.eval()
    try:
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        yield
    finally:
        for parameter, flag in zip(model.parameters(), flags):
            parameter.requires_grad_(flag)
        model.train(was_training)


def _optimise_latents(model, targets, starts, steps, lr, report) -> tuple[torch.Tensor, torch.Tensor]:
    """Adam on every (restart, image) code at once; returns the best restart per image."""
    restarts = len(starts)
    latents = starts.flatten(0, 1).clone().requires_grad_(True)
    repeated_targets = targets.repeat(restarts, 1, 1, 1)
    optimiser = torch.optim.Adam([latents], lr=lr)
    for step in range(steps):
        optimiser.zero_grad(set_to_none=True)
        # A sum (not a mean) keeps each code's gradient independent of how many share the batch.
        per_image_mse(model.decode(latents), repeated_targets).sum().backward()
        optimiser.step()
        report(step + 1)
    with torch.no_grad():
        errors = per_image_mse(model.decode(latents), repeated_targets).view(restarts, len(targets))
    best = errors.argmin(dim=0)
    columns = torch.arange(len(targets), device=best.device)
    return latents.detach().view(restarts, len(targets), -1)[best, columns].cpu(), errors[best, columns].cpu()


def invert_generator(model, images: torch.Tensor, steps: int = 300, lr: float = 0.05, restarts: int = 1,
                     seed: int = 0, batch_size: int = 256,
                     progress: ProgressCallback | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Latents whose decoding best matches ``images``, found by Adam on z (pixel MSE).

    This is how a model without an encoder (a GAN) can still place a real image in its latent
    space. Each image starts from ``restarts`` prior draws and keeps the best; the model's
    weights are frozen throughout. Returns CPU latents (N, D) and each image's final MSE.
    """
    check_images_fit(model, images)
    if steps < 1 or restarts < 1 or lr <= 0:
        raise LatentError("Inversion needs at least one step and one restart, and a positive learning rate.")
    generator = torch.Generator().manual_seed(int(seed))
    starts = torch.randn(restarts, len(images), model.latent_dim, generator=generator)
    chunks = range(0, len(images), batch_size)
    latents, errors = [], []
    with _frozen(model), torch.enable_grad():
        for chunk_index, first in enumerate(chunks):
            def report(step: int) -> None:
                if progress is not None and (step % 10 == 0 or step == steps):
                    progress((chunk_index + step / steps) / len(chunks),
                             f"Optimising latents: step {step} of {steps}, batch {chunk_index + 1} of {len(chunks)}")
            targets = images[first:first + batch_size].to(model.device).float()
            chunk_starts = starts[:, first:first + batch_size].to(model.device)
            chunk_latents, chunk_errors = _optimise_latents(model, targets, chunk_starts, steps, lr, report)
            latents.append(chunk_latents)
            errors.append(chunk_errors)
    if not latents:
        return torch.empty(0, model.latent_dim), torch.empty(0)
    return torch.cat(latents), torch.cat(errors)


def latents_for(model, images: torch.Tensor, **inversion_kwargs) -> tuple[torch.Tensor, str]:
    """Latents of ``images`` and how they were found: ``"encoder"`` or ``"optimisation"``.

    Pages use the second value to tell the user that a GAN's latents are an approximation.
    """
    if model.has_encoder:
        return encode_dataset(model, images), FOUND_BY_ENCODER
    latents, _errors = invert_generator(model, images, **inversion_kwargs)
    return latents, FOUND_BY_OPTIMISATION



@dataclass
class FoundLatents:
    """Codes for some images, how they were found, and how well they reproduce the images."""

    latents: torch.Tensor
    reconstructions: torch.Tensor
    errors: torch.Tensor
    found_by: str

    @property
    def by_optimisation(self) -> bool:
        return self.found_by == FOUND_BY_OPTIMISATION


def find_latents(model, images: torch.Tensor, steps: int = 200, restarts: int = 2,
                 progress: ProgressCallback | None = None) -> FoundLatents:
    """Encode the images, or (for a GAN) search its latent space for codes that redraw them."""
    images = torch.as_tensor(images, dtype=torch.float32)
    if images.ndim == 3:
        images = images.unsqueeze(0)
    options = {} if model.has_encoder else {"steps": int(steps), "restarts": int(restarts), "progress": progress}
    latents, found_by = latents_for(model, images, **options)
    redrawn = decode_latents(model, latents)
    return FoundLatents(latents, redrawn, per_image_mse(redrawn, images), found_by)

