"""Variational autoencoders (MLP and conv) with a beta weight on the KL term (beta-VAE)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gen_core.models.base import GenerativeModel
from gen_core.models.blocks import build_decoder, build_encoder, kl_to_standard_normal, reparameterize
from gen_core.models.config import BETA, LOSS, EncoderDecoderConfig
from gen_core.models.losses import reconstruction_loss


@dataclass
class VAEConfig(EncoderDecoderConfig):
    loss: str = LOSS.field("bce")
    beta: float = BETA.field(1.0)  # > 1 gives a beta-VAE (Higgins et al. 2017)


class GaussianEncoderDecoder(GenerativeModel):
    """Encoder -> (mu, log sigma^2), and a decoder that returns logits: the part VAE and VAE-GAN share."""

    is_variational = True

    def __init__(self, config) -> None:
        super().__init__(config)
        self.encoder_features, features = build_encoder(config.image_shape, config.arch, config.hidden, config.conv_channels)
        self.to_mu = nn.Linear(features, config.latent_dim)
        self.to_logvar = nn.Linear(features, config.latent_dim)
        self.decoder = build_decoder(config.latent_dim, config.image_shape, config.arch, config.hidden, config.conv_channels)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.encoder_features(x)
        return self.to_mu(features), self.to_logvar(features)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z).float())


class VAE(GaussianEncoderDecoder):
    """Encoder -> (mu, log sigma^2) -> reparameterised z -> decoder, loss = recon + beta * KL.

    The reconstruction term is summed over pixels (a log-likelihood up to constants) so the
    ELBO is in nats per image; with ``loss="bce"`` it is exactly the Bernoulli ELBO.
    """

    family = "vae"
    label, a_label = "VAE / beta-VAE", "a VAE"
    loss_titles = {"loss": "Total loss", "reconstruction": "Reconstruction", "kl": "KL divergence"}

    @property
    def has_bernoulli_likelihood(self) -> bool:
        """Its decoder defines a normalised likelihood over [0, 1] pixels only with the bce loss."""
        return self.config.loss == "bce"

    def loss_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        mu, logvar = self.posterior(x)
        logits = self.decode_logits(reparameterize(mu, logvar))
        reconstruction = reconstruction_loss(logits, x, self.config.loss, summed=True).mean()
        kl = kl_to_standard_normal(mu.float(), logvar.float()).mean()
        return {"loss": reconstruction + self.config.beta * kl, "reconstruction": reconstruction, "kl": kl}

    def train_step(self, x, optimizers):
        optimizer = optimizers["model"]
        with self.autocast():
            terms = self.loss_terms(x)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()
        return {name: value.detach() for name, value in terms.items()}

    @torch.no_grad()
    def evaluation_losses(self, x):
        with self.autocast():
            return self.loss_terms(x)
