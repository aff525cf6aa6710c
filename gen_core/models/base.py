"""The surface every generative model in the app shares.

A page or a metric never needs to know which family it holds: it calls ``encode``, ``decode``,
``draw_codes`` and ``reconstruct``, and asks the model what it can do (``has_encoder``,
``has_prior``, ``is_variational``) instead of checking its family name. Images are float tensors in
[0, 1] at this boundary, whatever a family uses inside (DCGAN works in [-1, 1]).

Each family also says how it trains, so the ``Trainer`` stays generic: ``make_optimizers``
builds its optimisers and ``train_step`` does one update and returns every loss term.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from gen_core.compute import autocast, fused_adam_available


class GenerativeModel(nn.Module):
    # What a family says of itself, read before any model is built (``family_class(name).label``):
    family: ClassVar[str] = ""
    label: ClassVar[str] = ""  # how menus and tables name the family
    a_label: ClassVar[str] = ""  # the same in a sentence, with its article: "a VAE", "an autoencoder"
    min_epochs: ClassVar[int] = 5  # epochs before its pictures look right on a small dataset
    # Titles of the loss terms its train_step reports, for charts ("loss" is always the headline).
    loss_titles: ClassVar[dict[str, str]] = {"loss": "Total loss"}
    has_encoder: ClassVar[bool] = True
    # Trained towards (or sampling from) the prior N(0, I), so prior draws land where the decoder
    # has learnt: VAEs and GANs. A plain autoencoder never sees a prior (see Autoencoder.draw_codes).
    has_prior: ClassVar[bool] = True
    is_variational: ClassVar[bool] = False
    # A posterior q(z|x) and a decoder that is a Bernoulli likelihood p(x|z): what ELBO and IWAE need.
    has_bernoulli_likelihood: bool = False
    is_adversarial: ClassVar[bool] = False

    def __init__(self, config) -> None:
        super().__init__()
        self.config = config
        self.precision = "fp32"  # "bf16" while the Trainer trains in bfloat16 (gen_core.compute)

    def autocast(self):
        """Context for forward passes: bfloat16 autocast while training in bf16, else nothing.

        Families wrap only their forward computations in it; backward runs outside, as
        PyTorch's AMP guide recommends. bfloat16 needs no gradient scaler. Weights stay float32,
        and losses are computed in float32 (``reconstruction_loss`` and the KL cast first), so a
        model trained in bf16 loads, samples and is measured in float32.
        """
        return autocast(self.precision, self.device)

    # -- shape -------------------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return int(self.config.latent_dim)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.config.image_shape)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # -- the shared surface ------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent code of images ``x`` (the posterior mean for VAEs)."""
        raise NotImplementedError(f"{self.family} models have no encoder")

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] for latent codes ``z`` of shape (N, latent_dim)."""
        raise NotImplementedError

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def draw_codes(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """``n`` codes from the model's own code distribution: its prior N(0, I), or N(0, s^2 I) at
        temperature s (the same noise scaled, so one seed gives the same directions at every s).

        The noise is drawn on the CPU, so one seed gives the same codes on every device.
        """
        noise = torch.randn(n, self.latent_dim, generator=generator, device="cpu")
        return (noise if temperature == 1.0 else noise * float(temperature)).to(self.device)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images decoded from ``draw_codes``."""
        return self.decode(self.draw_codes(n, generator))

    @torch.no_grad()
    def preview(self, noise: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """The images a training grid shows, from the same noise and test images every epoch (so
        grids compare across epochs): ``noise`` decoded when the model has a prior; otherwise (a
        plain autoencoder) test images over their reconstructions, which is what it learns."""
        if self.has_prior:
            return self.decode(noise)
        half = images[: max(1, len(images) // 2)]
        return torch.cat([half, self.reconstruct(half)])

    # -- training ----------------------------------------------------------------------------
    def begin_epoch(self, epoch: int) -> None:
        """Called by the Trainer before each epoch (a schedule such as the VAE's KL warm-up)."""

    def epoch_statistics(self, test_images: torch.Tensor) -> dict:
        """Numbers the history records after each epoch besides the losses (the VAE's active units
        and beta); computed on at most a thousand test images."""
        return {}

    def grid_statistics(self, noise: torch.Tensor, real_images: torch.Tensor) -> dict:
        """What the history records at grid epochs besides the grid, from the fixed noise and the fixed
        test images (a GAN's histograms of D(x) and D(G(z))); called in eval mode without gradients."""
        return {}

    # A GAN's two players: the optimisers that train "discriminator" and "generator", so step-through
    # training can update one alone (gen_core.training.stepping); empty for one-player families.
    players: dict[str, tuple[str, ...]] = {}

    def make_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        return {"model": self.adam(self.parameters(), lr)}

    def adam(self, parameters, lr: float, betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Adam:
        """Adam with its fused kernel where the device has one (faster than the per-tensor loop:
        the optimiser step was a fifth of an MLP VAE's step on the CPU)."""
        return torch.optim.Adam(parameters, lr=lr, betas=betas, fused=fused_adam_available(self.device) or None)

    def train_step(self, x: torch.Tensor, optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, torch.Tensor]:
        """One update on batch ``x``; returns every loss term as a detached scalar tensor.

        The key ``"loss"`` is the headline number (total objective, or the generator's for GANs).
        Values stay tensors so the trainer can skip a GPU sync per step. A GAN (``players``) steps
        only the optimisers it is given, and still returns every term.
        """
        raise NotImplementedError

    @torch.no_grad()
    def evaluation_losses(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The same loss terms on a batch without updating (for the test set)."""
        raise NotImplementedError
