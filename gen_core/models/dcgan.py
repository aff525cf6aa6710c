"""DCGAN (Radford et al. 2016), sized for small images such as MNIST.

Generator: dense -> reshape -> stride-2 transposed convs (BatchNorm + LeakyReLU) -> conv -> tanh.
Discriminator: 3x3 convs with LeakyReLU (the first at stride 1, then stride 2) -> flatten ->
dropout -> dense logit. The full-size MNIST nets are ``gen_channels=(256, 128)`` and
``disc_channels=(56, 112, 224)`` (``DCGAN_MNIST_FULL_SIZE``); the defaults here are smaller so a
CPU trains them in minutes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from gen_core.errors import ModelConfigError
from gen_core.models.base import GenerativeModel
from gen_core.models.blocks import Dropout, adversarial_loss, flat_features, to_signed
from gen_core.models.config import DISC_CHANNELS, DROPOUT, LATENT_DIM, check_image_shape
from gen_core.settings import Setting, check_settings

DCGAN_MNIST_FULL_SIZE = {"gen_channels": (256, 128), "disc_channels": (56, 112, 224), "latent_dim": 100}
D_HISTOGRAM_BINS = 20  # equal bins of D's belief over 0..1, recorded at grid epochs


def default_gen_channels(image_shape) -> tuple[int, ...]:
    return (128, 64, 32) if min(image_shape[1:]) <= 32 else (256, 128, 64, 32)


@dataclass
class DCGANConfig:
    image_shape: tuple[int, int, int] = (1, 28, 28)  # from the dataset, not a user setting
    latent_dim: int = LATENT_DIM.field(100)
    gen_channels: tuple[int, ...] = Setting(
        "Generator channels", "The first is the dense layer's feature map; each next one doubles the image size. "
        "Empty picks them from the image size.").field(())
    disc_channels: tuple[int, ...] = DISC_CHANNELS.field((32, 64, 128))
    dropout: float = DROPOUT.field(0.4)
    label_smoothing: float = Setting("Label smoothing", "Real labels become 1 - this for the discriminator.",
                                     minimum=0.0, below=1.0, step=0.05).field(0.0)

    def __post_init__(self) -> None:
        self.image_shape = check_image_shape(self.image_shape)
        check_settings(self)
        self.gen_channels = self.gen_channels or default_gen_channels(self.image_shape)
        if not self.disc_channels:
            raise ModelConfigError("disc_channels needs at least one entry (the critic's first conv layer)")
        scale = 2 ** (len(self.gen_channels) - 1)
        if self.image_shape[1] % scale or self.image_shape[2] % scale:
            raise ModelConfigError(
                f"gen_channels {self.gen_channels} upsample {len(self.gen_channels) - 1} times (x{scale}), "
                f"which does not divide the image size {self.image_shape[1]}x{self.image_shape[2]}; "
                "use fewer channel entries")


class Generator(nn.Module):
    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        channels, height, width = config.image_shape
        scale = 2 ** (len(config.gen_channels) - 1)
        self.start_shape = (config.gen_channels[0], height // scale, width // scale)
        self.dense = nn.Sequential(nn.Linear(config.latent_dim, math.prod(self.start_shape)),
                                   nn.BatchNorm1d(math.prod(self.start_shape)), nn.LeakyReLU(0.2))
        layers: list[nn.Module] = []
        for in_channels, out_channels in zip(config.gen_channels[:-1], config.gen_channels[1:]):
            layers += [nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1),
                       nn.BatchNorm2d(out_channels), nn.LeakyReLU(0.2)]
        layers += [nn.Conv2d(config.gen_channels[-1], channels, 3, padding=1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1]."""
        return self.net(self.dense(z).view(-1, *self.start_shape))


class Discriminator(nn.Module):
    def __init__(self, image_shape: tuple[int, int, int], channels: tuple[int, ...], dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = image_shape[0]
        for index, out_channels in enumerate(channels):
            # In place: a convolution's backward does not need its output, and the copy it saves is a
            # fifth of the critic's activation traffic at 28x28.
            layers += [nn.Conv2d(in_channels, out_channels, 3, stride=1 if index == 0 else 2, padding=1),
                       nn.LeakyReLU(0.2, inplace=True)]
            in_channels = out_channels
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Sequential(Dropout(dropout), nn.Linear(flat_features(layers, image_shape), 1))

    def forward(self, x_signed: torch.Tensor) -> torch.Tensor:
        """Real/fake logits, shape (N,), for images in [-1, 1]."""
        return self.head(self.features(x_signed)).squeeze(1)


@torch.no_grad()
def discriminator_histogram(discriminator: Discriminator, real_images: torch.Tensor, fake_images: torch.Tensor,
                            bins: int = D_HISTOGRAM_BINS) -> dict[str, list[int]]:
    """How many real and how many generated images (both in [0, 1]) the discriminator believes real
    with each probability, counted in ``bins`` equal bins over 0..1: D(x) and D(G(z)) at a glance."""
    def counts(images: torch.Tensor) -> list[int]:
        beliefs = torch.sigmoid(discriminator(to_signed(images)).float())
        return torch.histc(beliefs, bins=bins, min=0.0, max=1.0).long().tolist()
    return {"real": counts(real_images), "fake": counts(fake_images)}


class DCGAN(GenerativeModel):
    family = "dcgan"
    label, a_label = "DCGAN", "a DCGAN"
    min_epochs = 10
    loss_titles = {"loss": "Generator loss", "generator": "Generator", "discriminator": "Discriminator",
                   "d_real": "D(real)", "d_fake": "D(fake)"}
    has_encoder = False
    is_adversarial = True
    players = {"discriminator": ("discriminator",), "generator": ("generator",)}

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__(config)
        self.generator = Generator(config)
        self.discriminator = Discriminator(config.image_shape, config.disc_channels, config.dropout)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return (self.generator(z).float() + 1) / 2

    def grid_statistics(self, noise: torch.Tensor, real_images: torch.Tensor) -> dict:
        return {"d_histogram": discriminator_histogram(self.discriminator, real_images, self.decode(noise))}

    def make_optimizers(self, lr: float):
        # Radford et al.: Adam with beta1 = 0.5 keeps the two-player game from oscillating.
        return {"generator": self.adam(self.generator.parameters(), lr, (0.5, 0.999)),
                "discriminator": self.adam(self.discriminator.parameters(), lr, (0.5, 0.999))}

    def _discriminator_loss(self, real_signed, fake_signed):
        real_logits = self.discriminator(real_signed)
        fake_logits = self.discriminator(fake_signed)
        smoothing = self.config.label_smoothing
        real_loss = adversarial_loss(real_logits, True) if not smoothing else \
            nn.functional.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, 1 - smoothing))
        return real_loss + adversarial_loss(fake_logits, False), real_logits, fake_logits

    def train_step(self, x, optimizers):
        """Algorithm 1 of Goodfellow et al. with k = 1 and the non-saturating generator loss; a player
        whose optimiser is not given is not updated."""
        real = to_signed(x)
        z = torch.randn(len(x), self.latent_dim, device=x.device)
        with self.autocast():
            fake = self.generator(z)
            d_loss, real_logits, fake_logits = self._discriminator_loss(real, fake.detach())
        if "discriminator" in optimizers:
            optimizers["discriminator"].zero_grad(set_to_none=True)
            d_loss.backward()
            optimizers["discriminator"].step()

        with self.autocast(), torch.set_grad_enabled("generator" in optimizers):
            g_loss = adversarial_loss(self.discriminator(fake), True)
        if "generator" in optimizers:
            optimizers["generator"].zero_grad(set_to_none=True)
            # Only the generator's gradients: the critic's weight gradients would be thrown away.
            g_loss.backward(inputs=list(self.generator.parameters()))
            optimizers["generator"].step()
        return {"loss": g_loss.detach(), "generator": g_loss.detach(), "discriminator": d_loss.detach(),
                "d_real": torch.sigmoid(real_logits.detach()).mean(), "d_fake": torch.sigmoid(fake_logits.detach()).mean()}

    @torch.no_grad()
    def evaluation_losses(self, x):
        with self.autocast():
            fake = self.generator(torch.randn(len(x), self.latent_dim, device=x.device))
            d_loss, real_logits, fake_logits = self._discriminator_loss(to_signed(x), fake)
            g_loss = adversarial_loss(fake_logits, True)
        return {"loss": g_loss, "generator": g_loss, "discriminator": d_loss,
                "d_real": torch.sigmoid(real_logits).mean(), "d_fake": torch.sigmoid(fake_logits).mean()}
