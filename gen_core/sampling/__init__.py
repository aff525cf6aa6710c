"""Where new latent codes come from, and the one function that draws images from them.

``draw.py``: ``draw_images(model, n, seed, sampler)``, the model's own code distribution when
``sampler`` is None (at a chosen temperature), else a fitted sampler; ``samplers.py``: per-class Gaussians and perturbed
real codes; ``mixture.py``: per-class Gaussian mixtures and the K each class supports.
"""

from gen_core.sampling.draw import (FITTED_SAMPLERS, MAX_TEMPERATURE, PRIOR, SAMPLER_NAMES, SAMPLER_SETTINGS,
                                    SAMPLER_TITLES, check_temperature, draw_class_rows, draw_codes, draw_images,
                                    fit_sampler, make_sampler, prior_description, sampler_settings,
                                    sampler_unusable_reason, usable_samplers)
from gen_core.sampling.mixture import (COVARIANCE_TYPES, MAX_COMPONENTS, ClassMixtureSampler, TooManyComponentsError,
                                       component_limits, information_criteria, max_components)
from gen_core.sampling.samplers import ClassGaussianSampler, LatentSampler, PerturbSampler

__all__ = [
    "COVARIANCE_TYPES", "FITTED_SAMPLERS", "MAX_COMPONENTS", "MAX_TEMPERATURE", "check_temperature",
    "PRIOR", "SAMPLER_NAMES", "SAMPLER_SETTINGS", "SAMPLER_TITLES",
    "ClassGaussianSampler", "ClassMixtureSampler", "LatentSampler", "PerturbSampler", "TooManyComponentsError", "component_limits", "information_criteria",
    "draw_class_rows", "draw_codes", "draw_images", "fit_sampler", "make_sampler", "max_components", "prior_description", "sampler_settings", "sampler_unusable_reason", "usable_samplers",
]
