"""One way to draw images from a model: codes from a source, decoded.

The source is the model's own code distribution (``sampler=None``, named "prior": N(0, I) for
VAEs and GANs, the recorded code statistics for a plain autoencoder, a VAE's fitted sampling
mixture when it has one, see ``draw_codes`` on the model) or any fitted latent sampler. Every page, the command line, the metrics and the tiles
draw through ``draw_images``, so one model, source and seed give the same images everywhere.
"""

from __future__ import annotations

import inspect
import math

import torch

from gen_core.errors import SamplerError
from gen_core.latent import decode_latents
from gen_core.models import family_class, family_label, sentence_start
from gen_core.progress import ProgressCallback
from gen_core.sampling.mixture import COVARIANCE_TYPES, MAX_COMPONENTS, ClassMixtureSampler
from gen_core.sampling.samplers import ClassGaussianSampler, LatentSampler, PerturbSampler
from gen_core.settings import Setting

PRIOR = "prior"  # the model's own code distribution: nothing to fit
MAX_TEMPERATURE = 1.5  # the prior's standard deviation s, at most: past it most decoded codes are far off
FITTED_SAMPLERS: dict[str, type[LatentSampler]] = {
    "gaussian": ClassGaussianSampler, "gmm": ClassMixtureSampler, "perturb": PerturbSampler}
SAMPLER_NAMES = (PRIOR, *FITTED_SAMPLERS)
SAMPLER_TITLES = {PRIOR: "Prior", "gaussian": "One Gaussian per class", "gmm": "Gaussian mixture per class",
                  "perturb": "Noisy real codes"}

# The fitted samplers' settings, described once: the command line's flags come from these, and
# each sampler takes the ones its constructor names (``sampler_settings``).
SAMPLER_SETTINGS = (
    Setting("Components per class (K)", "Gaussians in each class's mixture (gmm)", kind=int, name="n_components",
            default=10, minimum=1, maximum=MAX_COMPONENTS, flag="--components"),
    Setting("Covariance", "shape of each Gaussian of the mixture (gmm)", kind=str, name="covariance_type",
            default="full", choices=COVARIANCE_TYPES, flag="--covariance"),
    Setting("Component", "draw from this one component (0 to K - 1) of each class's mixture (gmm)", kind=int,
            name="component", default=None, minimum=0, maximum=MAX_COMPONENTS - 1),
    Setting("Covariance scale", "the class covariance is multiplied by this (gaussian)", kind=float,
            name="covariance_scale", default=1.0, minimum=0.0),
    Setting("Noise", "standard deviation of the noise added to real codes (perturb)", kind=float,
            name="noise_std", default=0.5, minimum=0.0),
)


def prior_description(model) -> str:
    """Where the "prior" source takes a model's codes from, in a few words."""
    if getattr(model, "samples_from_mixture", False):
        return f"its {model.config.sampling_mixture}-Gaussian sampling mixture"
    return "the prior" if model.has_prior else "its codes' spread"


def sampler_settings(name: str, values: dict) -> dict:
    """The entries of ``values`` that the sampler called ``name`` takes (the prior takes none)."""
    sampler_class = FITTED_SAMPLERS.get(name)
    accepted = set() if sampler_class is None else set(inspect.signature(sampler_class).parameters)
    return {key: value for key, value in values.items() if key in accepted}


def sampler_unusable_reason(family: str, sampler: str) -> str | None:
    """Why a family cannot draw from ``sampler`` (None when it can): a fitted sampler is fitted to
    the encoded training set, so it needs a model with an encoder; the prior needs nothing."""
    if sampler == PRIOR or getattr(family_class(family), "has_encoder", True):
        return None
    return (f"{sentence_start(family_label(family, in_sentence=True))} has no encoder, so its training images cannot "
            f"be encoded to fit the {SAMPLER_TITLES.get(sampler, sampler).lower()} sampler; use its prior.")


def usable_samplers(family: str, names=SAMPLER_NAMES) -> list[str]:
    """The samplers of ``names`` a family can draw from."""
    return [name for name in names if sampler_unusable_reason(family, name) is None]


def make_sampler(name: str, **params) -> LatentSampler | None:
    """A sampler by its name in ``SAMPLER_NAMES``, with its settings as keyword arguments.

    "prior" gives None: the model draws its own codes (see ``draw_codes``).
    """
    if name not in SAMPLER_NAMES:
        raise SamplerError(f"Unknown sampler {name!r}; choose one of {', '.join(SAMPLER_NAMES)}.")
    sampler_class = FITTED_SAMPLERS.get(name)
    accepted = [] if sampler_class is None else list(inspect.signature(sampler_class).parameters)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise SamplerError(f"The {name!r} sampler has no setting {', '.join(unknown)}; "
                           f"its settings are {', '.join(accepted) or 'none'}.")
    return None if sampler_class is None else sampler_class(**params)


def fit_sampler(name: str, latents, labels=None, progress: ProgressCallback | None = None,
                **params) -> LatentSampler | None:
    """Build a sampler by name and fit it (None for "prior"); only the mixture reports progress."""
    sampler = make_sampler(name, **params)
    if isinstance(sampler, ClassMixtureSampler):
        return sampler.fit(latents, labels, progress=progress)
    return None if sampler is None else sampler.fit(latents, labels)


def check_temperature(temperature: float, sampler: LatentSampler | None = None) -> float:
    """A temperature (the prior's standard deviation s) must be a finite number from 0 to
    ``MAX_TEMPERATURE``, and applies to the prior only."""
    value = float(temperature)
    if not math.isfinite(value) or not 0.0 <= value <= MAX_TEMPERATURE:
        raise SamplerError(f"The temperature must be a number from 0 to {MAX_TEMPERATURE:g}; got {temperature}.")
    if sampler is not None and value != 1.0:
        raise SamplerError("The temperature scales the prior; a fitted sampler draws at its own spread "
                           "(its covariance or noise settings).")
    return value


def draw_codes(model, n: int, seed: int | None = 0, sampler: LatentSampler | None = None,
               class_label: int | None = None, temperature: float = 1.0) -> torch.Tensor:
    """``n`` codes (CPU) from ``sampler``, or from the model's own distribution when it is None.

    ``temperature`` s draws the prior's codes from N(0, s^2 I) instead (for a plain autoencoder,
    its code statistics' spread times s): the same seed scales the same noise, so s = 0 gives the
    centre code for every sample, small s sharp but alike images, large s varied but stranger ones.
    """
    if int(n) < 0:
        raise SamplerError(f"Cannot draw {n} samples.")
    temperature = check_temperature(temperature, sampler)
    if sampler is None:
        if class_label is not None:
            raise SamplerError("The prior has no classes; choose a class-aware sampler to pick a class.")
        generator = torch.Generator()
        if seed is None:
            generator.seed()  # a fresh random stream
        else:
            generator.manual_seed(int(seed))
        return model.draw_codes(int(n), generator, temperature).float().cpu()
    latents, _labels = sampler.sample(int(n), class_label=class_label, seed=seed)
    if latents.shape[1] != model.latent_dim:
        raise SamplerError(f"The sampler was fitted to {latents.shape[1]}-d latents but the model's "
                           f"latent space has {model.latent_dim} dimensions; fit it again to this model.")
    return latents


def draw_images(model, n: int, seed: int | None = 0, sampler: LatentSampler | None = None,
                class_label: int | None = None, batch_size: int = 512, temperature: float = 1.0) -> torch.Tensor:
    """``n`` images (CPU, in [0, 1]) decoded from ``draw_codes``; the same seed, the same images."""
    return decode_latents(model, draw_codes(model, n, seed, sampler, class_label, temperature), batch_size=batch_size)


def draw_class_rows(model, sampler: LatentSampler | None, n_per_row: int, class_labels,
                    seed: int | None = 0) -> list[torch.Tensor]:
    """One batch of ``n_per_row`` images per entry of ``class_labels`` (None: no class).

    Each row gets its own seed, so adding or removing a class leaves the other rows unchanged.
    """
    return [draw_images(model, n_per_row, None if seed is None else int(seed) + position, sampler, label)
            for position, label in enumerate(class_labels)]
