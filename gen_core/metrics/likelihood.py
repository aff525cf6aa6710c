"""The VAE's own yardsticks on the test set: ELBO, its KL term, and the IWAE log-likelihood.

All three treat the decoder as Bernoulli, p(x|z) = prod_i sigmoid(logit_i)^x_i (1 - sigmoid)^(1-x_i),
which is the likelihood a ``loss="bce"`` VAE (and the VAE-GAN's pixel term) trains. Grey pixels
are used as they are, not binarised, so values sit below the binarised-MNIST numbers in papers;
they compare between models on the same data. The ELBO here always has beta = 1: a beta-VAE
trains a different objective but is scored on the true bound.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from gen_core.errors import ModelConfigError
from gen_core.latent import evaluating

LOG_2PI = math.log(2 * math.pi)
MAX_DECODES_PER_BATCH = 8192


def has_bernoulli_decoder(model) -> bool:
    """True when the model defines a normalised likelihood these scores can use."""
    return bool(model.is_variational and hasattr(model, "posterior") and model.has_bernoulli_likelihood)


def _log_normal(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * ((z - mean).pow(2) / logvar.exp() + logvar + LOG_2PI).sum(-1)


def _bernoulli_log_likelihood(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    return -F.binary_cross_entropy_with_logits(logits.flatten(1).float(), images.flatten(1).float(),
                                               reduction="none").sum(1)


def _batch_scores(model, images: torch.Tensor, k: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    mu, logvar = (value.float() for value in model.posterior(images))
    noise = torch.randn((k, *mu.shape), generator=generator).to(mu.device)
    latents = mu + torch.exp(0.5 * logvar) * noise  # (k, batch, latent_dim)
    logits = model.decode_logits(latents.flatten(0, 1))
    repeated = images.unsqueeze(0).expand(k, *images.shape).flatten(0, 1)
    log_px_z = _bernoulli_log_likelihood(logits, repeated).view(k, len(images))
    zeros = torch.zeros_like(mu)
    log_weights = log_px_z + _log_normal(latents, zeros, zeros) - _log_normal(latents, mu, logvar)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)
    return {"elbo": log_px_z.mean(0) - kl, "kl": kl,
            "log_likelihood": torch.logsumexp(log_weights, dim=0) - math.log(k)}


def posterior_kl(model, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Per image KL(q(z|x) || N(0, I)) in nats, in closed form (for any model with ``posterior``)."""
    parts = []
    with evaluating(model):
        for batch in images.split(batch_size):
            mu, logvar = (value.float() for value in model.posterior(batch.to(model.device).float()))
            parts.append((-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)).double().cpu())
    return torch.cat(parts) if parts else torch.empty(0)


def likelihood_scores(model, images: torch.Tensor, k: int = 64, seed: int = 0) -> dict[str, torch.Tensor]:
    """Per-image ``elbo``, ``kl`` and IWAE ``log_likelihood`` (CPU tensors, nats per image).

    kl      KL(q(z|x) || N(0, I)), in closed form; >= 0.
    elbo    E_q[log p(x|z)] - KL, the expectation estimated from the same k draws z_j ~ q(z|x).
    log_likelihood
            log (1/k) sum_j p(x|z_j) p(z_j) / q(z_j|x)   (Burda et al. 2016, IWAE bound)
            a lower bound on log p(x) whose expectation rises with k towards it; k = 1 gives the
            ELBO in expectation. Costs k decoder passes per image.
    """
    if not has_bernoulli_decoder(model):
        raise ModelConfigError("ELBO and log-likelihood need a VAE with a Bernoulli (BCE) decoder; "
                               f"this {model.family} model does not define one.")
    if int(k) < 1:
        raise ModelConfigError(f"The number of importance samples k must be at least 1; got {k}.")
    k = int(k)
    generator = torch.Generator().manual_seed(int(seed))
    batch_size = max(1, MAX_DECODES_PER_BATCH // k)
    parts: dict[str, list[torch.Tensor]] = {"elbo": [], "kl": [], "log_likelihood": []}
    with evaluating(model):
        for batch in images.split(batch_size):
            for name, values in _batch_scores(model, batch.to(model.device).float(), k, generator).items():
                parts[name].append(values.double().cpu())
    return {name: torch.cat(values) if values else torch.empty(0) for name, values in parts.items()}


def bits_per_dim(log_likelihood_nats: float, dimensions: int) -> float:
    """-log p(x) / (D ln 2): the negative log-likelihood in bits per pixel value; lower is better."""
    return -float(log_likelihood_nats) / (int(dimensions) * math.log(2))
