"""Model families, built by name: ``build_model("vae", image_shape=(1, 28, 28), latent_dim=2)``."""

from __future__ import annotations

from dataclasses import asdict

from gen_core.errors import ModelConfigError
from gen_core.limits import check_model_size
from gen_core.models.autoencoder import AEConfig, Autoencoder
from gen_core.models.base import GenerativeModel
from gen_core.models.config import HIDDEN_PRESETS, config_from_dict
from gen_core.models.dcgan import DCGAN, DCGANConfig
from gen_core.models.losses import RECONSTRUCTION_LOSSES
from gen_core.models.summary import LayerSummary, layer_summary
from gen_core.models.vae import VAE, VAEConfig
from gen_core.models.vaegan import VAEGAN, VAEGANConfig

FAMILIES: dict[str, tuple[type, type[GenerativeModel]]] = {
    "ae": (AEConfig, Autoencoder),
    "vae": (VAEConfig, VAE),
    "dcgan": (DCGANConfig, DCGAN),
    "vaegan": (VAEGANConfig, VAEGAN),
}

FAMILY_LABELS = {name: model_class.label for name, (_config, model_class) in FAMILIES.items()}


def _family(name: str):
    try:
        return FAMILIES[name]
    except KeyError:
        raise ModelConfigError(f"Unknown model family {name!r}; choose from {', '.join(FAMILIES)}") from None


def family_class(family: str) -> type[GenerativeModel] | None:
    """The model class of a family name (None for a name this version does not know), to ask it
    what it can do (``has_encoder``, ``has_prior``, ...) before any model is loaded."""
    entry = FAMILIES.get(family)
    return None if entry is None else entry[1]


def family_label(family: str, in_sentence: bool = False) -> str:
    """How the pages name a family: "VAE-GAN", or in a sentence "a VAE-GAN" (the name itself for
    a family this version does not know)."""
    model_class = family_class(family)
    if model_class is None:
        return str(family)
    return model_class.a_label if in_sentence else model_class.label


def sentence_start(text: str) -> str:
    """``text`` with a capital first letter and the rest as it is ("a VAE-GAN" -> "A VAE-GAN")."""
    return text[:1].upper() + text[1:]


def make_config(family: str, **settings):
    """The family's config dataclass from keyword settings (unknown keys are an error)."""
    config_class, _ = _family(family)
    return config_from_dict(config_class, settings)


def build_model(family: str, config=None, **settings) -> GenerativeModel:
    """The model, after checking its size against gen_core.limits (nothing is allocated before)."""
    config_class, model_class = _family(family)
    if config is None:
        config = make_config(family, **settings)
    elif not isinstance(config, config_class):
        raise ModelConfigError(f"{family} needs a {config_class.__name__}, got {type(config).__name__}")
    check_model_size(model_class, config)
    return model_class(config)


def config_to_dict(config) -> dict:
    """JSON-ready settings (tuples become lists)."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(config).items()}


__all__ = [
    "FAMILIES", "FAMILY_LABELS", "GenerativeModel", "AEConfig", "VAEConfig", "DCGANConfig", "VAEGANConfig",
    "Autoencoder", "VAE", "DCGAN", "VAEGAN", "HIDDEN_PRESETS", "RECONSTRUCTION_LOSSES", "build_model", "family_class", "family_label", "sentence_start",
    "make_config", "config_to_dict", "layer_summary", "LayerSummary",
]
