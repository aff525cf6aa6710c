"""VAE-GAN (Larsen et al. 2016): a VAE whose decoder doubles as a GAN generator.

Three nets train jointly, each on its own terms:
  encoder        beta * KL + feature reconstruction (+ pixel reconstruction)
  decoder        feature reconstruction (+ pixel reconstruction) + adversarial_weight * fool-D loss
  discriminator  real vs. reconstructed vs. prior-sampled images
The feature reconstruction compares the discriminator's last conv features of x and of its
reconstruction (a learned similarity, which is what sharpens VAE blur). A pixel term weighted by
``pixel_weight`` keeps small-budget CPU runs stable; set it to 0 for the paper's pure version.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gen_core.models.blocks import adversarial_loss, kl_to_standard_normal, reparameterize, to_signed
from gen_core.models.config import ARCH, BETA, DISC_CHANNELS, DROPOUT, EncoderDecoderConfig
from gen_core.models.dcgan import Discriminator, discriminator_histogram
from gen_core.models.losses import reconstruction_loss
from gen_core.models.vae import GaussianEncoderDecoder
from gen_core.settings import Setting


@dataclass
class VAEGANConfig(EncoderDecoderConfig):
    arch: str = ARCH.field("conv")
    disc_channels: tuple[int, ...] = DISC_CHANNELS.field((32, 64, 128))
    dropout: float = DROPOUT.field(0.3)
    beta: float = BETA.field(1.0)
    pixel_weight: float = Setting("Pixel loss weight", "Weight of the per-pixel reconstruction term.",
                                  minimum=0.0, step=0.5).field(1.0)
    adversarial_weight: float = Setting("Adversarial weight", "Weight of the discriminator-feature terms.",
                                        minimum=0.0, step=0.5).field(10.0)


class VAEGAN(GaussianEncoderDecoder):
    family = "vaegan"
    label, a_label = "VAE-GAN", "a VAE-GAN"
    min_epochs = 10
    loss_titles = {"loss": "Total loss", "pixel_reconstruction": "Pixel reconstruction",
                   "feature_reconstruction": "Feature reconstruction", "kl": "KL divergence",
                   "generator": "Generator", "discriminator": "Discriminator", "d_real": "D(real)",
                   "d_fake": "D(fake)"}
    is_adversarial = True
    players = {"discriminator": ("discriminator",), "generator": ("encoder", "decoder")}
    has_bernoulli_likelihood = True  # its pixel term is always the Bernoulli log-likelihood

    def __init__(self, config: VAEGANConfig) -> None:
        super().__init__(config)
        self.discriminator = Discriminator(config.image_shape, config.disc_channels, config.dropout)

    def grid_statistics(self, noise: torch.Tensor, real_images: torch.Tensor) -> dict:
        return {"d_histogram": discriminator_histogram(self.discriminator, real_images, self.decode(noise))}

    def _encoder_parameters(self):
        return [*self.encoder_features.parameters(), *self.to_mu.parameters(), *self.to_logvar.parameters()]

    def make_optimizers(self, lr: float):
        betas = (0.5, 0.999)
        return {"encoder": self.adam(self._encoder_parameters(), lr, betas),
                "decoder": self.adam(self.decoder.parameters(), lr, betas),
                "discriminator": self.adam(self.discriminator.parameters(), lr, betas)}

    def _forward_terms(self, x):
        mu, logvar = self.posterior(x)
        logits = self.decode_logits(reparameterize(mu, logvar))
        prior_logits = self.decode_logits(torch.randn_like(mu))
        return {"kl": kl_to_standard_normal(mu.float(), logvar.float()).mean(),
                "pixel_reconstruction": reconstruction_loss(logits, x, "bce").mean(),
                "reconstructed": torch.sigmoid(logits), "prior_sampled": torch.sigmoid(prior_logits)}

    def _discriminator_loss(self, x, reconstructed, prior_sampled):
        """The discriminator's loss, and its mean belief that real images and images decoded from the
        prior are real: D(x) and D(G(z)), each in [0, 1]."""
        real_logits, prior_logits = self.discriminator(to_signed(x)), self.discriminator(to_signed(prior_sampled))
        loss = (adversarial_loss(real_logits, True)
                + 0.5 * adversarial_loss(self.discriminator(to_signed(reconstructed)), False)
                + 0.5 * adversarial_loss(prior_logits, False))
        return loss, torch.sigmoid(real_logits.detach().float()).mean(), torch.sigmoid(prior_logits.detach().float()).mean()

    def _generator_terms(self, x, terms):
        # The critic's features of x are a fixed target (no graph), and the reconstruction's
        # features serve both terms: its logit is the head on them, not a second pass through the
        # convolutions (which were most of a step's time).
        with torch.no_grad():
            real_features = self.discriminator.features(to_signed(x))
        fake_features = self.discriminator.features(to_signed(terms["reconstructed"]))
        feature_reconstruction = 0.5 * (fake_features - real_features).pow(2).sum(1).mean()
        fool = 0.5 * (adversarial_loss(self.discriminator.head(fake_features).squeeze(1), True)
                      + adversarial_loss(self.discriminator(to_signed(terms["prior_sampled"])), True))
        return feature_reconstruction, fool

    def _headline(self, terms, feature_reconstruction):
        cfg = self.config
        return cfg.beta * terms["kl"] + cfg.pixel_weight * terms["pixel_reconstruction"] + feature_reconstruction

    def train_step(self, x, optimizers):
        cfg = self.config
        with self.autocast():
            terms = self._forward_terms(x)
            d_loss, d_real, d_fake = self._discriminator_loss(x, terms["reconstructed"].detach(),
                                                              terms["prior_sampled"].detach())
        if "discriminator" in optimizers:  # a player whose optimisers are not given is not updated
            optimizers["discriminator"].zero_grad(set_to_none=True)
            d_loss.backward()
            optimizers["discriminator"].step()

        with self.autocast():
            feature_reconstruction, fool = self._generator_terms(x, terms)
        reconstruction = feature_reconstruction + cfg.pixel_weight * terms["pixel_reconstruction"]
        encoder_loss = cfg.beta * terms["kl"] + reconstruction
        decoder_loss = reconstruction + cfg.adversarial_weight * fool
        if "encoder" in optimizers:
            for name in ("encoder", "decoder"):
                optimizers[name].zero_grad(set_to_none=True)
            # Each loss only reaches its own net's parameters (``inputs=``), as in Larsen et al.
            encoder_loss.backward(inputs=self._encoder_parameters(), retain_graph=True)
            decoder_loss.backward(inputs=list(self.decoder.parameters()))
            optimizers["encoder"].step()
            optimizers["decoder"].step()
        return {"loss": self._headline(terms, feature_reconstruction).detach(), "kl": terms["kl"].detach(),
                "pixel_reconstruction": terms["pixel_reconstruction"].detach(),
                "feature_reconstruction": feature_reconstruction.detach(),
                "generator": fool.detach(), "discriminator": d_loss.detach(), "d_real": d_real, "d_fake": d_fake}

    @torch.no_grad()
    def evaluation_losses(self, x):
        with self.autocast():
            terms = self._forward_terms(x)
            d_loss, d_real, d_fake = self._discriminator_loss(x, terms["reconstructed"], terms["prior_sampled"])
            feature_reconstruction, fool = self._generator_terms(x, terms)
        return {"loss": self._headline(terms, feature_reconstruction), "kl": terms["kl"],
                "pixel_reconstruction": terms["pixel_reconstruction"],
                "feature_reconstruction": feature_reconstruction, "generator": fool, "discriminator": d_loss,
                "d_real": d_real, "d_fake": d_fake}
