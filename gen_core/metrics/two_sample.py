"""Classifier two-sample test (C2ST): can a small classifier tell generated images from real ones?

Lopez-Paz & Oquab (2017), "Revisiting classifier two-sample tests". Label held-out real images 1
and generated images 0, train a classifier on half of each, and measure its accuracy on the other
half. If the two sets come from one distribution no classifier beats chance on unseen images, so
the held-out accuracy is near 0.5; the more it can tell them apart, the closer it gets to 1.0.
Unlike a distance between feature means, it needs no labels and no pretrained network, so it works
for every dataset (digits, tiles), and a blank or flat sample is caught at once.

The accuracy is a fraction of ``n_test`` independent held-out images, so its uncertainty is that of
a binomial proportion; the interval is Wilson's score interval (95% by default).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from gen_core.errors import ImageInputError

MIN_IMAGES = 10  # per set; fewer leaves a test half too small to say anything


@dataclass(frozen=True)
class C2STSettings:
    """How the classifier is trained: a few hundred Adam steps are enough for 32x32 images."""

    steps: int = 400
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    test_fraction: float = 0.5
    confidence: float = 0.95
    seed: int = 0


@dataclass(frozen=True)
class C2STResult:
    accuracy: float  # held-out accuracy: 0.5 cannot tell them apart, 1.0 always can
    low: float  # the confidence interval of that accuracy (Wilson score)
    high: float
    confidence: float
    n_train: int  # images the classifier was trained on (real and generated together)
    n_test: int  # held-out images it was scored on (half real, half generated)
    train_accuracy: float  # far above ``accuracy``: it memorised rather than found a difference

    def as_dict(self) -> dict:
        return asdict(self)


class TwoSampleClassifier(nn.Module):
    """Two conv-ReLU-pool stages, a global average and a max over positions, then one logit.

    Small on purpose (about 6k weights): it is trained from scratch on a few hundred images.
    Pooling over positions makes it a texture detector, which suits tiles and digits alike and
    keeps its size independent of the image size.
    """

    def __init__(self, channels: int, width: int = 32) -> None:
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Conv2d(channels, width // 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(width // 2, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(2 * width + 2 * channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.trunk(x)
        # Image-wide brightness and contrast go in as they are: a set of flat squares differs in them.
        pooled = [features.mean((2, 3)), features.amax((2, 3)), x.mean((2, 3)), x.std((2, 3))]
        return self.head(torch.cat(pooled, dim=1)).squeeze(1)


def wilson_interval(successes: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a binomial proportion (good near 0 and 1, unlike the normal one)."""
    if total <= 0:
        return 0.0, 1.0
    z = math.sqrt(2) * torch.special.erfinv(torch.tensor(confidence, dtype=torch.float64)).item()
    share = successes / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def _checked(images: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ImageInputError(f"The {name} images must be a batch (N, C, H, W); got {shape}.")
    if len(images) < MIN_IMAGES:
        raise ImageInputError(f"A two-sample test needs at least {MIN_IMAGES} {name} images; got {len(images)}.")
    images = images.detach().float().cpu()
    if not torch.isfinite(images).all():
        raise ImageInputError(f"The {name} images hold NaN or infinite values.")
    return images


def distinct_images(images: torch.Tensor) -> torch.Tensor:
    """``images`` without exact repeats, in their first-seen order."""
    _, inverse = torch.unique(images.flatten(1), dim=0, return_inverse=True)
    first = torch.full((int(inverse.max()) + 1,), len(images), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(len(images)), reduce="amin")
    return images[first.sort().values]


def _split(images: torch.Tensor, n: int, n_test: int, generator: torch.Generator):
    order = torch.randperm(len(images), generator=generator)[:n]
    return images[order[n_test:]], images[order[:n_test]]


def _train(net: TwoSampleClassifier, images: torch.Tensor, labels: torch.Tensor, settings: C2STSettings,
           generator: torch.Generator) -> None:
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    net.train()
    for _ in range(settings.steps):
        batch = torch.randint(len(images), (min(settings.batch_size, len(images)),), generator=generator)
        batch = batch.to(images.device)
        loss = F.binary_cross_entropy_with_logits(net(images[batch]), labels[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


@torch.no_grad()
def _accuracy(net: TwoSampleClassifier, images: torch.Tensor, labels: torch.Tensor) -> tuple[int, int]:
    net.eval()
    predictions = torch.cat([net(batch) > 0 for batch in images.split(512)])
    return int((predictions == labels.bool()).sum()), len(labels)


def classifier_two_sample_test(real: torch.Tensor, generated: torch.Tensor, settings: C2STSettings | None = None,
                               device: str | torch.device = "cpu") -> C2STResult:
    """Held-out accuracy of a classifier trained to tell ``real`` from ``generated`` images.

    Both sets are cut to the smaller one's size, so chance is exactly 0.5; each is split the same
    way into a training part and a held-out part (``test_fraction``). ``real`` should be images the
    model never trained on (its test set), or a model that copies its training set would pass.
    Exact repeats among the real images are dropped first: a small held-out image gives few
    distinct tiles, and a repeat on both sides of the split would be recognised, not judged.
    Repeats among generated images are kept: a model that draws the same image again and again
    should be caught. The result is the same for the same ``settings.seed`` and inputs on one device.
    """
    settings = settings or C2STSettings()
    real = distinct_images(_checked(real, "real"))
    real, generated = _checked(real, "distinct real"), _checked(generated, "generated")
    if real.shape[1:] != generated.shape[1:]:
        raise ImageInputError(f"Real and generated images differ in shape: {tuple(real.shape[1:])} and "
                              f"{tuple(generated.shape[1:])}.")
    n = min(len(real), len(generated))
    n_test = max(1, min(n - 1, round(n * settings.test_fraction)))
    generator = torch.Generator().manual_seed(int(settings.seed))
    real_train, real_test = _split(real, n, n_test, generator)
    fake_train, fake_test = _split(generated, n, n_test, generator)
    device = torch.device(device)
    train_images = torch.cat([real_train, fake_train]).to(device)
    train_labels = torch.cat([torch.ones(len(real_train)), torch.zeros(len(fake_train))]).to(device)
    test_images = torch.cat([real_test, fake_test]).to(device)
    test_labels = torch.cat([torch.ones(n_test), torch.zeros(n_test)]).to(device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(int(settings.seed))
        net = TwoSampleClassifier(real.shape[1]).to(device)
        _train(net, train_images, train_labels, settings, generator)
    correct, total = _accuracy(net, test_images, test_labels)
    train_correct, train_total = _accuracy(net, train_images, train_labels)
    low, high = wilson_interval(correct, total, settings.confidence)
    return C2STResult(accuracy=correct / total, low=low, high=high, confidence=settings.confidence,
                      n_train=len(train_images), n_test=total, train_accuracy=train_correct / train_total)
