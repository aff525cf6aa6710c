"""Deterministic autoencoders: 1-, 5- and 9-hidden-layer MLPs, and a conv variant."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gen_core.models.base import GenerativeModel
from gen_core.models.blocks import build_decoder, build_encoder
from gen_core.models.config import HIDDEN, HIDDEN_PRESETS, LOSS, EncoderDecoderConfig
from gen_core.models.losses import reconstruction_loss


@dataclass
class AEConfig(EncoderDecoderConfig):
    hidden: tuple[int, ...] = HIDDEN.field(HIDDEN_PRESETS["mlp5"])
    loss: str = LOSS.field("bce")


class Autoencoder(GenerativeModel):
    """x -> code -> x. Trains on the chosen reconstruction loss alone.

    A plain autoencoder has no prior. Its code distribution, the one every sample of it comes
    from (Samples page, Tiles page, ``eval``, ``sample``), is a diagonal Gaussian whose mean and
    spread track the codes of the training batches: exponential running averages kept as
    buffers, so they are saved with the weights and need no data to sample. That makes random
    samples land where the decoder has been trained; a full-covariance or per-class fit is one
    of the fitted samplers in ``gen_core.sampling``.
    """

    family = "ae"
    label, a_label = "Autoencoder", "an autoencoder"
    loss_titles = {"loss": "Total loss", "reconstruction": "Reconstruction"}
    has_prior = False

    def __init__(self, config: AEConfig) -> None:
        super().__init__(config)
        self.encoder_features, features = build_encoder(config.image_shape, config.arch, config.hidden, config.conv_channels)
        self.to_code = nn.Linear(features, config.latent_dim)
        self.decoder = build_decoder(config.latent_dim, config.image_shape, config.arch, config.hidden, config.conv_channels)
        self.register_buffer("code_mean", torch.zeros(config.latent_dim))
        self.register_buffer("code_std", torch.ones(config.latent_dim))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_code(self.encoder_features(x))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z).float())

    def draw_codes(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """``n`` codes from the running code statistics: code_mean + code_std * N(0, s^2 I) at
        temperature s (0 gives the mean code)."""
        return self.code_mean + self.code_std * super().draw_codes(n, generator, temperature)

    def _losses(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        codes = self.encode(x)
        loss = reconstruction_loss(self.decode_logits(codes), x, self.config.loss).mean()
        return loss, codes

    def train_step(self, x, optimizers):
        optimizer = optimizers["model"]
        with self.autocast():
            loss, codes = self._losses(x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if len(codes) > 1:  # running code statistics for draw_codes (a std needs two codes)
            with torch.no_grad():
                self.code_mean.lerp_(codes.float().mean(0), 0.05)
                self.code_std.lerp_(codes.float().std(0).clamp_min(1e-4), 0.05)
        return {"loss": loss.detach(), "reconstruction": loss.detach()}

    @torch.no_grad()
    def evaluation_losses(self, x):
        with self.autocast():
            loss, _ = self._losses(x)
        return {"loss": loss, "reconstruction": loss}
