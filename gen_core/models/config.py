"""What model configs share: the settings every family describes once, and their checks.

Each setting is a ``Setting`` (label, help, range, choices); a config dataclass declares it as a
field (``latent_dim: int = LATENT_DIM.field(32)``), and ``check_settings`` validates it from that
description. The CLI's flags and the Train page's widgets are generated from the same fields.
AE, VAE and VAE-GAN share ``EncoderDecoderConfig``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from gen_core.errors import ModelConfigError
from gen_core.limits import MAX_COMPONENTS
from gen_core.models.blocks import ARCHITECTURES, default_conv_channels
from gen_core.models.losses import LEARNED_VARIANCE, RECONSTRUCTION_LOSSES, VAE_RECONSTRUCTION_LOSSES
from gen_core.settings import Setting, check_settings, int_tuple

# Encoder hidden sizes; the decoder mirrors them and the code (latent_dim) sits between, so
# "mlp5" is 784-512-128-32-128-512-784: five hidden layers.
HIDDEN_PRESETS: dict[str, tuple[int, ...]] = {
    "mlp1": (),
    "mlp5": (512, 128),
    "mlp9": (512, 256, 128, 64),
}

LATENT_DIM = Setting("Latent dimension", "Size of the code z. 2 gives a latent space you can draw as a map.",
                     minimum=1, maximum=4096)
ARCH = Setting("Architecture", "mlp: dense layers over the flattened pixels; conv: stride-2 convolutions.",
               choices=ARCHITECTURES)
HIDDEN = Setting("Hidden layer sizes", "Encoder widths, comma separated (or mlp1, mlp5, mlp9); the decoder "
                 "mirrors them. Empty: one dense layer straight to the code.", only_when=("arch", "mlp"),
                 aliases=HIDDEN_PRESETS)
CONV_CHANNELS = Setting("Conv channels", "Channels per stride-2 stage, comma separated; empty picks them "
                        "from the image size.", only_when=("arch", "conv"))
LOSS = Setting("Reconstruction loss", "bce: Bernoulli log-likelihood (best for near-binary digits); "
               "mse / euclidean / mae: distances.", choices=RECONSTRUCTION_LOSSES)
VAE_LOSS = Setting(LOSS.label, LOSS.help + " gaussian: a Gaussian likelihood whose variance the model learns "
                   "(a calibrated decoder), for grey photographs and tiles where a fixed-variance loss makes "
                   "the structure too cheap to code.", choices=VAE_RECONSTRUCTION_LOSSES,
                   choice_labels={LEARNED_VARIANCE: "gaussian, learned variance"})
BETA = Setting("beta (KL weight)", "1 is a plain VAE; above 1 a beta-VAE with more disentangled, blurrier codes.",
               minimum=0.0, step=0.5)
KL_WARMUP = Setting("KL warm-up (epochs)", "beta rises linearly from 0 to its value over this many epochs, so the "
                    "decoder learns to use the code before the KL term pulls it to the prior; 0: no warm-up.",
                    minimum=0, maximum=10_000)
FREE_BITS = Setting("Free bits (nats per dimension)", "each latent dimension's KL counts as at least this much in "
                    "the objective, so a dimension is not pushed all the way to the prior; 0: off.",
                    minimum=0.0, maximum=100.0, step=0.05)
SAMPLING_MIXTURE = Setting("Sampling mixture (K)", "0: samples decode codes from the prior N(0, I). K: from a "
                           "mixture of K full-covariance Gaussians fitted to the training images' codes after "
                           "each epoch (ex-post density estimation), which samples where the codes really are "
                           "when they do not fill the prior; the ELBO is still the N(0, I) one.",
                           minimum=0, maximum=MAX_COMPONENTS)
DISC_CHANNELS = Setting("Discriminator channels", "Channels of the critic's conv layers, comma separated.")
DROPOUT = Setting("Discriminator dropout", "Fraction of the critic's activations dropped in training.",
                  minimum=0.0, below=1.0, step=0.05)


@dataclass
class EncoderDecoderConfig:
    """The fields AE, VAE and VAE-GAN share: an encoder and a decoder mirroring it."""

    image_shape: tuple[int, int, int] = (1, 28, 28)  # from the dataset, not a user setting
    latent_dim: int = LATENT_DIM.field(32)
    arch: str = ARCH.field("mlp")
    hidden: tuple[int, ...] = HIDDEN.field((512, 256))
    conv_channels: tuple[int, ...] = CONV_CHANNELS.field(())

    def __post_init__(self) -> None:
        """Check every described field; an empty ``conv_channels`` is filled from the image size,
        and conv stages must not halve the image below one pixel."""
        self.image_shape = check_image_shape(self.image_shape)
        check_settings(self)
        self.conv_channels = self.conv_channels or default_conv_channels(self.image_shape)
        if self.arch == "conv":
            check_conv_depth(self.image_shape, self.conv_channels)


def check_image_shape(image_shape) -> tuple[int, int, int]:
    try:
        shape = int_tuple("image_shape", image_shape)
    except ModelConfigError:
        shape = ()
    if len(shape) != 3 or shape[0] not in (1, 3) or min(shape[1:]) < 4:
        raise ModelConfigError(f"image_shape must be (channels 1 or 3, height >= 4, width >= 4), got {image_shape}")
    return shape  # type: ignore[return-value]


def check_conv_depth(image_shape: tuple[int, int, int], channels: tuple[int, ...]) -> None:
    """Each stride-2 stage halves the image; the last one still needs a 2x2 input."""
    if min(image_shape[1:]) < 2 ** len(channels):
        raise ModelConfigError(f"{len(channels)} conv stages (conv_channels {channels}) halve a "
                               f"{image_shape[1]}x{image_shape[2]} image below 1 pixel; use fewer entries")


def config_from_dict(cls, values: dict):
    """Build a config dataclass from JSON data, rejecting unknown keys with a clear message."""
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ModelConfigError(f"Unknown {cls.__name__} settings: {', '.join(sorted(unknown))}")
    return cls(**values)
