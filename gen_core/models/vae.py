"""Variational autoencoders (MLP and conv) with a beta weight on the KL term (beta-VAE)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from gen_core.errors import ModelConfigError
from gen_core.models.base import GenerativeModel
from gen_core.models.blocks import build_decoder, build_encoder, kl_per_dimension, reparameterize
from gen_core.models.config import BETA, FREE_BITS, KL_WARMUP, SAMPLING_MIXTURE, VAE_LOSS, EncoderDecoderConfig
from gen_core.models.losses import LEARNED_VARIANCE, gaussian_nll, reconstruction_loss


@dataclass
class VAEConfig(EncoderDecoderConfig):
    loss: str = VAE_LOSS.field("bce")
    beta: float = BETA.field(1.0)  # > 1 gives a beta-VAE (Higgins et al. 2017)
    kl_warmup: int = KL_WARMUP.field(0)  # epochs over which beta rises from 0 (Bowman et al. 2016)
    free_bits: float = FREE_BITS.field(0.0)  # nats per dimension (Kingma et al. 2016)
    # 0: sample from N(0, I); K: from K Gaussians fitted to the training codes (Ghosh et al. 2020)
    sampling_mixture: int = SAMPLING_MIXTURE.field(0)


# A latent dimension is active when its posterior mean moves with the image: Cov_x(E_q[z_i]) above
# this (Burda et al. 2016). Its KL is no test: a mean stuck at 0 with a variance below 1 costs KL
# and tells the decoder nothing.
ACTIVITY_THRESHOLD = 0.01

# The learned decoder sigma of the "gaussian" loss starts at a tenth of the pixel range: Adam moves a
# parameter by about its learning rate per step, so from sigma = 1 it would take thousands of steps to
# reach the few hundredths a trained decoder misses by, and until then the posterior would collapse
# as under a fixed variance. The floor keeps the likelihood finite where a decoder fits a pixel exactly.
INITIAL_LOG_SIGMA = math.log(0.1)
MIN_LOG_SIGMA = math.log(1e-3)


class GaussianEncoderDecoder(GenerativeModel):
    """Encoder -> (mu, log sigma^2), and a decoder that returns logits: the part VAE and VAE-GAN share."""

    is_variational = True

    def __init__(self, config) -> None:
        super().__init__(config)
        self.encoder_features, features = build_encoder(config.image_shape, config.arch, config.hidden, config.conv_channels)
        self.to_mu = nn.Linear(features, config.latent_dim)
        self.to_logvar = nn.Linear(features, config.latent_dim)
        self.decoder = build_decoder(config.latent_dim, config.image_shape, config.arch, config.hidden, config.conv_channels)

    @torch.no_grad()
    def average_kl_per_dimension(self, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """(latent_dim,) float64 on the CPU: each dimension's KL to the prior, averaged over ``images``."""
        total = torch.zeros(self.latent_dim, dtype=torch.float64)
        for batch in images.split(batch_size):
            mu, logvar = self.posterior(batch.to(self.device))
            total += kl_per_dimension(mu.float(), logvar.float()).sum(dim=0).double().cpu()
        return total / max(len(images), 1)

    @torch.no_grad()
    def mean_activity(self, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """(latent_dim,) float64 on the CPU: the variance over ``images`` of each dimension's posterior
        mean, Cov_x(E_q[z_i]), how much that dimension says about which image it was."""
        means = torch.cat([self.posterior(batch.to(self.device))[0].double().cpu()
                           for batch in images.split(batch_size)])
        if len(means) < 2:
            return torch.zeros(self.latent_dim, dtype=torch.float64)
        return means.var(dim=0, unbiased=False)

    def active_units(self, images: torch.Tensor, batch_size: int = 512) -> int:
        """Latent dimensions whose posterior mean varies over ``images`` by more than 0.01: the ones the
        model uses (Burda et al. 2016)."""
        return int((self.mean_activity(images, batch_size) > ACTIVITY_THRESHOLD).sum())

    def epoch_statistics(self, test_images: torch.Tensor) -> dict:
        return {"active_units": self.active_units(test_images)}

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
    ELBO is in nats per image; with ``loss="bce"`` it is exactly the Bernoulli ELBO, with
    ``loss="gaussian"`` the ELBO of a Gaussian decoder at its learned sigma (``log_sigma``).
    """

    family = "vae"
    label, a_label = "VAE / beta-VAE", "a VAE"
    loss_titles = {"loss": "Total loss", "reconstruction": "Reconstruction", "kl": "KL divergence"}

    def __init__(self, config: VAEConfig) -> None:
        super().__init__(config)
        if config.loss == LEARNED_VARIANCE:
            # log sigma of the Gaussian decoder, one per channel: learned with the weights, saved with them
            self.log_sigma = nn.Parameter(torch.full((config.image_shape[0],), INITIAL_LOG_SIGMA))
        if config.sampling_mixture:
            # the sampling mixture, saved with the weights; all-zero weights: not fitted yet (the prior is used)
            k, d = int(config.sampling_mixture), int(config.latent_dim)
            self.register_buffer("mixture_weights", torch.zeros(k))
            self.register_buffer("mixture_means", torch.zeros(k, d))
            self.register_buffer("mixture_scale_tril", torch.eye(d).repeat(k, 1, 1))

    # -- the sampling mixture (ex-post density estimation) --------------------------------------------
    @property
    def samples_from_mixture(self) -> bool:
        """Codes come from the fitted mixture: one is configured and has been fitted (its weights are not all
        zero; damaged ones, negative or NaN, are refused when drawing rather than passed over)."""
        return bool(self.config.sampling_mixture) and bool((self.mixture_weights != 0).any())

    def set_sampling_mixture(self, weights: torch.Tensor, means: torch.Tensor, scale_tril: torch.Tensor) -> None:
        """Keep a fitted mixture: component weights (K,), means (K, D) and covariance Cholesky factors (K, D, D)."""
        for buffer, value in ((self.mixture_weights, weights), (self.mixture_means, means),
                              (self.mixture_scale_tril, scale_tril)):
            buffer.copy_(torch.as_tensor(value, dtype=buffer.dtype))

    def _mixture_components(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        weights = self.mixture_weights.detach().double().cpu()
        tril = self.mixture_scale_tril.detach()
        if not (torch.isfinite(weights).all() and (weights >= 0).all() and torch.isfinite(self.mixture_means).all()
                and torch.isfinite(tril).all()):
            raise ModelConfigError("This model's saved sampling mixture holds negative or non-finite numbers (a "
                                   "damaged or hand-edited weights file); train it again or resume it for an epoch.")
        return torch.multinomial(weights, n, replacement=True, generator=generator)

    def _through_mixture(self, noise: torch.Tensor, components: torch.Tensor) -> torch.Tensor:
        """Standard normal ``noise`` (N, D) moved into the chosen components: mean + L @ noise."""
        components = components.to(self.mixture_means.device)
        spread = torch.einsum("nij,nj->ni", self.mixture_scale_tril[components], noise.to(self.mixture_means))
        return self.mixture_means[components] + spread

    def draw_codes(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """From N(0, s^2 I), or (once fitted) from the sampling mixture: the same noise, scaled by s, moved
        into components drawn by their weights."""
        noise = super().draw_codes(n, generator, temperature)
        if not self.samples_from_mixture:
            return noise
        return self._through_mixture(noise, self._mixture_components(n, generator))

    @torch.no_grad()
    def preview(self, noise: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """The fixed noise decoded, through the sampling mixture once fitted (with components drawn from a
        fixed seed, so grids still compare across epochs)."""
        if self.samples_from_mixture:
            noise = self._through_mixture(noise, self._mixture_components(len(noise), torch.Generator().manual_seed(0)))
        return super().preview(noise, images)

    @property
    def learns_variance(self) -> bool:
        return self.config.loss == LEARNED_VARIANCE

    def decoder_log_sigma(self) -> torch.Tensor:
        """The log sigma the Gaussian likelihood uses now: the learned one, held above its floor."""
        return self.log_sigma.clamp(min=MIN_LOG_SIGMA)

    @property
    def has_bernoulli_likelihood(self) -> bool:
        """Its decoder defines a normalised likelihood over [0, 1] pixels only with the bce loss."""
        return self.config.loss == "bce"

    @property
    def kl_weight(self) -> float:
        """The beta this epoch trains with: the configured one, or less during the KL warm-up."""
        return getattr(self, "_kl_weight", float(self.config.beta))

    def begin_epoch(self, epoch: int) -> None:
        warmup = int(self.config.kl_warmup)
        self._kl_weight = float(self.config.beta) * (min(1.0, (epoch - 1) / warmup) if warmup else 1.0)

    def epoch_statistics(self, test_images: torch.Tensor) -> dict:
        statistics = {**super().epoch_statistics(test_images), "beta": self.kl_weight}
        if self.learns_variance:  # the decoder's sigma, averaged over channels
            statistics["decoder_sigma"] = float(self.decoder_log_sigma().detach().exp().mean())
        return statistics

    def reconstruction_nll(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Per-image reconstruction term (summed over pixels): nats under the learned Gaussian, or the
        chosen loss."""
        if self.learns_variance:
            return gaussian_nll(logits, x, self.decoder_log_sigma())
        return reconstruction_loss(logits, x, self.config.loss, summed=True)

    def loss_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        mu, logvar = self.posterior(x)
        logits = self.decode_logits(reparameterize(mu, logvar))
        reconstruction = self.reconstruction_nll(logits, x).mean()
        per_dimension = kl_per_dimension(mu.float(), logvar.float()).mean(dim=0)  # batch mean, per dimension
        kl = per_dimension.sum()
        # Free bits: each dimension's KL counts as at least the floor in the objective (its gradient
        # stops below it); the reported KL stays the true one.
        objective_kl = per_dimension.clamp(min=float(self.config.free_bits)).sum() if self.config.free_bits else kl
        return {"loss": reconstruction + self.kl_weight * objective_kl, "reconstruction": reconstruction, "kl": kl}

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
