"""What the explore pages (Samples, Latent sliders, Interpolate) ask of a model, in one place.

The pages stay UI only: they pick numbers with widgets and hand them here, and get back tensors
or PIL images ready to show. ``decode_to_pil`` is the hot path of the slider page: one slider
move decodes one latent, so it avoids everything a batch call needs (chunking, concatenation).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image

from gen_core.checkpoints import SAMPLES_DIR
from gen_core.errors import ModelConfigError, SamplerError
from gen_core.images import decode_image, to_pil
from gen_core.latent import (
    FOUND_BY_OPTIMISATION, LatentPCA, ProgressCallback, decode_latents, encode_dataset,
    latent_from_pca_coords, latents_for,
)

EPOCH_GRID_PATTERN = re.compile(r"^epoch_(\d+)\.png$")
MAX_DIMENSION_SLIDERS = 16
PRIOR_RANGE_STD = 3.0


@contextlib.contextmanager
def _one_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run this thread's CPU ops on one core, then restore its previous setting.

    One latent is too little work to split: with two or more OpenMP threads, each small op
    waits at a barrier for cores that a training job (or another session) is using, which
    measured 20-150 ms per decode on a busy 2-core machine against under 1 ms single-threaded.
    With PyTorch's OpenMP backend the setting is per calling thread, so a training thread
    elsewhere keeps its own.
    """
    if device.type != "cpu":
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def decode_to_pil(model, latent, upscale: int = 10) -> Image.Image:
    """One latent (D,) or (1, D) to a display-ready image, enlarged ``upscale`` times.

    This is what one slider move costs. ``inference_mode`` skips autograd bookkeeping, which
    matters at this size: a small decoder runs in well under a millisecond, so overheads dominate.
    """
    codes = torch.as_tensor(latent, dtype=torch.float32)
    if codes.numel() != model.latent_dim:
        raise SamplerError(f"This model decodes {model.latent_dim}-d codes; got {codes.numel()} values.")
    codes = codes.reshape(1, model.latent_dim)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), _one_cpu_thread(model.device):
            image = model.decode(codes.to(model.device)).float().cpu()
    finally:
        model.train(was_training)
    return to_pil(image[0], upscale=upscale)


def display_upscale(image_shape, width_px: int = 280) -> int:
    """The whole-number enlargement that brings an image closest to ``width_px`` on screen."""
    return max(1, round(width_px / max(int(image_shape[-1]), 1)))


# -- what the encoded test set says about the latent space -----------------------------------
@dataclass
class LatentSummary:
    """Test-set codes and their per-dimension spread, computed once per model and cached."""

    latents: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    scale: torch.Tensor  # Cholesky factor of the codes' covariance: mean + scale @ noise fits them


def summarise_latents(model, images: torch.Tensor, max_images: int = 10_000) -> LatentSummary:
    """Encode (up to ``max_images``) test images; the spread sets slider ranges for AEs."""
    latents = encode_dataset(model, images[:max_images])
    if len(latents) < 2:
        raise SamplerError("At least two test images are needed to see how the codes spread.")
    covariance = torch.cov(latents.T.double()).reshape(latents.shape[1], latents.shape[1])
    jitter = 1e-6 * torch.eye(len(covariance), dtype=torch.float64) * max(float(covariance.diagonal().mean()), 1e-6)
    scale = torch.linalg.cholesky(covariance + jitter).float()
    return LatentSummary(latents, latents.mean(dim=0), latents.std(dim=0).clamp_min(1e-6), scale)


def random_latent(model, seed: int, summary: LatentSummary | None = None) -> torch.Tensor:
    """A random code (D,): a prior draw, or for a plain AE (no prior) a draw from a Gaussian
    fitted (full covariance) to its test codes, so it lands where real images do."""
    generator = torch.Generator().manual_seed(int(seed))
    noise = torch.randn(model.latent_dim, generator=generator)
    if summary is not None and not has_prior(model):
        return summary.mean + summary.scale @ noise
    return noise


def has_prior(model) -> bool:
    """Whether N(0, I) is a meaningful place to draw codes: VAEs are trained towards it and GANs
    sample from it, but a plain AE never sees it."""
    return bool(model.is_variational or model.is_adversarial or not model.has_encoder)


# -- Samples page -----------------------------------------------------------------------------
def sample_images(model, n: int, seed: int, summary: LatentSummary | None = None) -> torch.Tensor:
    """``n`` images from random codes (see ``random_latent``); the same seed gives the same grid."""
    if int(n) < 1:
        raise SamplerError(f"Ask for at least one sample; got {n}.")
    latents = torch.stack([random_latent(model, int(seed) * 100_003 + index, summary) for index in range(int(n))])
    return decode_latents(model, latents)


@dataclass(frozen=True)
class EpochGrid:
    epoch: int
    path: Path


def epoch_grids(run_dir) -> list[EpochGrid]:
    """The sample grids the trainer saved (``samples/epoch_NNN.png``), oldest first."""
    folder = Path(run_dir) / SAMPLES_DIR
    if not folder.is_dir():
        return []
    found = [EpochGrid(int(match.group(1)), path) for path in folder.iterdir()
             if (match := EPOCH_GRID_PATTERN.match(path.name)) and path.is_file()]
    return sorted(found, key=lambda grid: grid.epoch)


def spread_evenly(items: list, count: int) -> list:
    """At most ``count`` items, evenly spaced, always keeping the first and the last."""
    if count < 1:
        return []
    if len(items) <= count:
        return list(items)
    if count == 1:
        return [items[-1]]
    positions = np.linspace(0, len(items) - 1, count).round().astype(int)
    return [items[position] for position in dict.fromkeys(positions.tolist())]


def epoch_grid_image(grid: EpochGrid, width_px: int = 400) -> Image.Image:
    """A saved grid enlarged (nearest, whole factor) to at least ``width_px``.

    Browsers blur small images they stretch but shrink big ones cleanly, so erring large keeps
    28-pixel digits crisp in a narrow column.
    """
    picture = decode_image(grid.path.read_bytes())
    factor = max(1, math.ceil(width_px / max(picture.width, 1)))
    if factor == 1:
        return picture
    return picture.resize((picture.width * factor, picture.height * factor), Image.Resampling.NEAREST)


def random_indices(total: int, count: int, seed: int) -> list[int]:
    """``count`` distinct positions out of ``total`` (all of them when there are fewer), by seed."""
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randperm(int(total), generator=generator)[: max(0, int(count))].tolist()


def reconstruction_rows(originals: torch.Tensor, redrawn: torch.Tensor, per_row: int = 8) -> list[torch.Tensor]:
    """Rows for ``side_by_side``: ``per_row`` originals, then their reconstructions, and so on."""
    rows = []
    for first in range(0, len(originals), per_row):
        rows += [originals[first:first + per_row], redrawn[first:first + per_row]]
    return rows


def reconstructions(model, images: torch.Tensor) -> torch.Tensor:
    """decode(encode(x)) in eval mode; models without an encoder raise ModelConfigError."""
    return decode_latents(model, encode_dataset(model, images))


def per_image_mse(images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return (images.float() - targets.float()).pow(2).flatten(1).mean(dim=1)


def indices_of_class(labels, class_index: int | None) -> list[int]:
    """Positions in the test set holding ``class_index`` (all positions for None)."""
    labels = torch.as_tensor(labels).reshape(-1)
    if class_index is None:
        return list(range(len(labels)))
    return (labels == int(class_index)).nonzero().flatten().tolist()


# -- finding codes for given images (encoder or optimisation) ---------------------------------
@dataclass
class FoundLatents:
    """Codes for some images, how they were found, and how well they reproduce the images."""

    latents: torch.Tensor
    reconstructions: torch.Tensor
    errors: torch.Tensor
    found_by: str

    @property
    def by_optimisation(self) -> bool:
        return self.found_by == FOUND_BY_OPTIMISATION


def find_latents(model, images: torch.Tensor, steps: int = 200, restarts: int = 2,
                 progress: ProgressCallback | None = None) -> FoundLatents:
    """Encode the images, or (for a GAN) search its latent space for codes that redraw them."""
    images = torch.as_tensor(images, dtype=torch.float32)
    if images.ndim == 3:
        images = images.unsqueeze(0)
    options = {} if model.has_encoder else {"steps": int(steps), "restarts": int(restarts), "progress": progress}
    latents, found_by = latents_for(model, images, **options)
    redrawn = decode_latents(model, latents)
    return FoundLatents(latents, redrawn, per_image_mse(redrawn, images), found_by)


def image_fingerprint(images: torch.Tensor) -> str:
    """A short content hash, so pages can remember a slow inversion per input image."""
    array = np.ascontiguousarray(torch.as_tensor(images).detach().cpu().float().numpy())
    return hashlib.sha1(array.tobytes() + str(array.shape).encode()).hexdigest()[:16]


def stack_images(images: list[torch.Tensor]) -> torch.Tensor:
    """(C, H, W) images into one (N, C, H, W) batch."""
    return torch.stack([torch.as_tensor(image, dtype=torch.float32) for image in images])


# -- slider axes (latent sliders page) --------------------------------------------------------
@dataclass
class SliderAxes:
    """What each slider moves: one latent dimension each, or one principal direction each.

    Coordinates the sliders do not show (the dimensions past the first 16, the directions past
    the ones shown) stay where the starting code put them, so an untouched slider set decodes
    exactly the starting image.
    """

    kind: str  # "dim" or "pc"
    labels: list[str]
    ranges: list[tuple[float, float]]
    dims: list[int] = field(default_factory=list)
    pca: LatentPCA | None = None
    explained: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def coords_of(self, latent) -> list[float]:
        """Slider positions for a code, clipped into each slider's range."""
        values = torch.as_tensor(latent, dtype=torch.float32).reshape(-1)
        if self.kind == "dim":
            raw = values[self.dims].tolist()
        else:
            raw = self.pca.transform(values.unsqueeze(0).numpy())[0, : len(self)].tolist()
        return [min(max(value, low), high) for value, (low, high) in zip(raw, self.ranges)]

    def latent_at(self, coords, base) -> torch.Tensor:
        """The code (D,) with the shown coordinates set to ``coords`` and the rest from ``base``."""
        coords = [float(value) for value in coords]
        if len(coords) != len(self):
            raise SamplerError(f"{len(coords)} slider values were given for {len(self)} sliders.")
        base = torch.as_tensor(base, dtype=torch.float32).reshape(-1)
        if self.kind == "dim":
            latent = base.clone()
            latent[self.dims] = torch.tensor(coords)
            return latent
        full = self.pca.transform(base.unsqueeze(0).numpy())[0]
        full[: len(coords)] = coords
        return latent_from_pca_coords(self.pca, full)[0]

    def random_coords(self, seed: int) -> list[float]:
        """Random positions: a draw of about one standard deviation per slider, clipped."""
        generator = np.random.default_rng(int(seed))
        return [float(np.clip(generator.normal(0.0, 1.0) * (high - low) / (2 * PRIOR_RANGE_STD) + (high + low) / 2,
                              low, high)) for low, high in self.ranges]


def dimension_axes(model, summary: LatentSummary | None = None, max_dims: int = MAX_DIMENSION_SLIDERS,
                   n_std: float = PRIOR_RANGE_STD) -> SliderAxes:
    """A slider per latent dimension (the first ``max_dims``).

    Models with a prior get +-3 around 0, where almost all its mass lies; a plain AE's codes
    can sit anywhere, so its ranges follow the test codes: mean +- (n_std + 1) std.
    """
    dims = list(range(min(model.latent_dim, int(max_dims))))
    if summary is None or has_prior(model):
        ranges = [(-n_std, n_std) for _ in dims]
    else:
        ranges = [(float(summary.mean[d] - (n_std + 1) * summary.std[d]),
                   float(summary.mean[d] + (n_std + 1) * summary.std[d])) for d in dims]
    return SliderAxes("dim", [f"z{d + 1}" for d in dims], ranges, dims=dims)


def pca_axes(summary: LatentSummary, n_directions: int, n_std: float = PRIOR_RANGE_STD,
             prior: bool = False) -> SliderAxes:
    """A slider per principal direction of the test codes, largest variance first.

    Ranges are ``n_std`` standard deviations of the codes along each direction. With ``prior``
    they reach at least +-n_std too: a prior draw has unit spread along every direction, and
    directions the encoder barely uses would otherwise clip it.
    """
    latent_dim = summary.latents.shape[1]
    if not 1 <= int(n_directions) <= latent_dim:
        raise ModelConfigError(f"Choose between 1 and {latent_dim} principal directions; got {n_directions}.")
    pca = LatentPCA().fit(summary.latents)
    shown = min(int(n_directions), len(pca.components_))
    # A direction the codes never vary along still gets a usable (tiny) slider.
    floor = n_std if prior else 1e-3
    ranges = [(min(low, -floor), max(high, floor)) for low, high in pca.slider_ranges(n_std)[:shown]]
    return SliderAxes("pc", [f"PC {k + 1}" for k in range(shown)], ranges, pca=pca,
                      explained=[float(ratio) for ratio in pca.explained_variance_ratio_[:shown]])
