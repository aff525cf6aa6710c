"""Looking inside a model's latent space: encoding, PCA, interpolation and GAN inversion.

Everything here goes through the shared ``GenerativeModel`` surface (``encode``, ``decode``,
``latent_dim``, ``has_encoder``, ``device``), so the same explorer works for every family.
Models are switched to eval mode for each call and put back afterwards: batch-norm layers in
training mode would both fail on a single latent and drift their running statistics.
Results come back on the CPU (tensors for images and latents, numpy where a plot wants it).
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import numpy as np
import torch
from scipy.stats import norm
from sklearn.decomposition import PCA

from gen_core.errors import ModelConfigError, SamplerError

FOUND_BY_ENCODER = "encoder"
FOUND_BY_OPTIMISATION = "optimisation"
INTERPOLATION_METHODS = ("lerp", "slerp")

ProgressCallback = Callable[[float, str], None]


@contextlib.contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Eval mode and no gradients for the duration; the previous mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def _check_images(model, images: torch.Tensor) -> None:
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(model.image_shape):
        raise ModelConfigError(f"These images are {tuple(images.shape[1:])} but the model works on "
                               f"{tuple(model.image_shape)} images (channels, height, width).")


def decode_latents(model, latents: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Decode in batches on the model's device; images come back on the CPU."""
    latents = torch.as_tensor(latents, dtype=torch.float32).reshape(-1, model.latent_dim)
    with evaluating(model):
        chunks = [model.decode(chunk.to(model.device)).float().cpu() for chunk in latents.split(batch_size)]
    return torch.cat(chunks) if chunks else torch.empty(0, *model.image_shape)


def encode_dataset(model, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Latent codes (N, latent_dim) of ``images``; the posterior mean for VAEs."""
    if not model.has_encoder:
        raise ModelConfigError(f"This {model.family or 'model'} model has no encoder, so images cannot be "
                               "encoded directly; their latents have to be found by optimisation instead.")
    _check_images(model, images)
    with evaluating(model):
        chunks = [model.encode(chunk.to(model.device)).float().cpu() for chunk in images.split(batch_size)]
    return torch.cat(chunks) if chunks else torch.empty(0, model.latent_dim)


def _as_numpy(latents) -> np.ndarray:
    if isinstance(latents, torch.Tensor):
        latents = latents.detach().cpu().numpy()
    return np.asarray(latents, dtype=np.float64)


class LatentPCA:
    """PCA of latent codes, shaped like a scikit-learn estimator.

    ``explained_variance_`` holds the eigenvalues of the sample covariance (seed 004, Fig. 7):
    a slow decay means the code really uses all its dimensions and a 2-D projection hides a lot.
    """

    def __init__(self, n_components: int | None = None) -> None:
        self.n_components = n_components

    def fit(self, latents) -> "LatentPCA":
        values = _as_numpy(latents)
        if values.ndim != 2 or len(values) < 2:
            raise SamplerError(f"PCA needs at least two latent codes of shape (N, D); got {values.shape}.")
        if self.n_components is not None and not 1 <= self.n_components <= min(values.shape):
            raise SamplerError(f"PCA of {values.shape} latents keeps 1 to {min(values.shape)} components, "
                               f"not {self.n_components}.")
        self.pca_ = PCA(n_components=self.n_components, svd_solver="full").fit(values)
        self.components_ = self.pca_.components_
        self.explained_variance_ = self.pca_.explained_variance_
        self.explained_variance_ratio_ = self.pca_.explained_variance_ratio_
        self.mean_ = self.pca_.mean_
        return self

    def transform(self, latents) -> np.ndarray:
        """Coordinates along the principal directions (column 0 and 1 give the 2-D projection)."""
        return self.pca_.transform(_as_numpy(latents))

    def inverse_transform(self, coords) -> np.ndarray:
        return self.pca_.inverse_transform(np.atleast_2d(_as_numpy(coords)))

    def slider_ranges(self, n_std: float = 3.0) -> list[tuple[float, float]]:
        """(low, high) per principal direction: ``n_std`` standard deviations either side."""
        stds = np.sqrt(self.explained_variance_)
        return [(-n_std * float(std), n_std * float(std)) for std in stds]


def latent_from_pca_coords(pca: LatentPCA, coords) -> torch.Tensor:
    """Latent codes (N, D) for coordinates along the first principal directions.

    ``coords`` may hold fewer values than the PCA has components (one per slider shown);
    the rest stay at zero, i.e. at the mean of the data along those directions.
    """
    coords = np.atleast_2d(_as_numpy(coords))
    n_kept = len(pca.components_)
    if coords.shape[1] > n_kept:
        raise SamplerError(f"{coords.shape[1]} coordinates were given but the PCA keeps {n_kept} directions.")
    padded = np.zeros((len(coords), n_kept))
    padded[:, : coords.shape[1]] = coords
    return torch.as_tensor(pca.inverse_transform(padded), dtype=torch.float32)


# -- interpolation ---------------------------------------------------------------------------
def _endpoints(z0, z1) -> tuple[torch.Tensor, torch.Tensor]:
    start = torch.as_tensor(z0, dtype=torch.float32).detach().cpu().reshape(-1)
    end = torch.as_tensor(z1, dtype=torch.float32).detach().cpu().reshape(-1)
    if start.shape != end.shape:
        raise SamplerError(f"Cannot interpolate between latents of {len(start)} and {len(end)} dimensions.")
    return start, end


def _fractions(steps: int) -> torch.Tensor:
    if int(steps) < 2:
        raise SamplerError(f"An interpolation needs at least 2 steps (both ends); got {steps}.")
    return torch.linspace(0.0, 1.0, int(steps)).unsqueeze(1)


def _lerp_at(start: torch.Tensor, end: torch.Tensor, fractions: torch.Tensor) -> torch.Tensor:
    return (1 - fractions) * start + fractions * end


def _slerp_at(start: torch.Tensor, end: torch.Tensor, fractions: torch.Tensor,
              parallel_tolerance: float = 1e-4) -> torch.Tensor:
    start64, end64, fractions64 = start.double(), end.double(), fractions.double()
    cosine = torch.dot(start64, end64) / (start64.norm() * end64.norm()).clamp_min(1e-12)
    omega = torch.arccos(cosine.clamp(-1.0, 1.0))
    if torch.sin(omega).abs() < parallel_tolerance:
        return _lerp_at(start, end, fractions)
    weights_start = torch.sin((1 - fractions64) * omega) / torch.sin(omega)
    weights_end = torch.sin(fractions64 * omega) / torch.sin(omega)
    return (weights_start * start64 + weights_end * end64).float()


def lerp(z0, z1, steps: int) -> torch.Tensor:
    """``steps`` codes on the straight line from ``z0`` to ``z1``, both ends included."""
    start, end = _endpoints(z0, z1)
    return _lerp_at(start, end, _fractions(steps))


def slerp(z0, z1, steps: int) -> torch.Tensor:
    """Interpolation along the great circle, which keeps codes at the norm typical of the prior.

    Straight lines between two Gaussian samples pass near the origin, where the prior puts
    almost no mass (White, "Sampling Generative Networks", 2016). For nearly parallel or
    opposite vectors the circle is ill-defined, so those fall back to ``lerp``.
    """
    start, end = _endpoints(z0, z1)
    return _slerp_at(start, end, _fractions(steps))


def _path(z0, z1, fractions: torch.Tensor, method: str) -> torch.Tensor:
    if method not in INTERPOLATION_METHODS:
        raise SamplerError(f"Unknown interpolation {method!r}; choose one of {', '.join(INTERPOLATION_METHODS)}.")
    start, end = _endpoints(z0, z1)
    return (_lerp_at if method == "lerp" else _slerp_at)(start, end, fractions)


def interpolate(model, z0, z1, steps: int = 10, method: str = "lerp") -> torch.Tensor:
    """Images decoded along the path from ``z0`` to ``z1`` (``method`` "lerp" or "slerp")."""
    return decode_latents(model, _path(z0, z1, _fractions(steps), method))


def mix(model, z0, z1, percent: float, method: str = "lerp") -> torch.Tensor:
    """One image (1, C, H, W): ``percent`` of the way from ``z0`` (0) to ``z1`` (100)."""
    if not 0.0 <= float(percent) <= 100.0:
        raise SamplerError(f"The mix must be between 0 and 100 percent; got {percent}.")
    return decode_latents(model, _path(z0, z1, torch.tensor([[float(percent) / 100.0]]), method))


# -- inversion -------------------------------------------------------------------------------
@contextlib.contextmanager
def _frozen(model: torch.nn.Module) -> Iterator[None]:
    """Parameters stop requiring gradients (so they cannot change) and are restored after."""
    flags = [parameter.requires_grad for parameter in model.parameters()]
    was_training = model.training
    model.eval()
    try:
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        yield
    finally:
        for parameter, flag in zip(model.parameters(), flags):
            parameter.requires_grad_(flag)
        model.train(was_training)


def _per_image_mse(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (reconstruction.float() - target).pow(2).flatten(1).mean(dim=1)


def _optimise_latents(model, targets, starts, steps, lr, report) -> tuple[torch.Tensor, torch.Tensor]:
    """Adam on every (restart, image) code at once; returns the best restart per image."""
    restarts = len(starts)
    latents = starts.flatten(0, 1).clone().requires_grad_(True)
    repeated_targets = targets.repeat(restarts, 1, 1, 1)
    optimiser = torch.optim.Adam([latents], lr=lr)
    for step in range(steps):
        optimiser.zero_grad(set_to_none=True)
        # A sum (not a mean) keeps each code's gradient independent of how many share the batch.
        _per_image_mse(model.decode(latents), repeated_targets).sum().backward()
        optimiser.step()
        report(step + 1)
    with torch.no_grad():
        errors = _per_image_mse(model.decode(latents), repeated_targets).view(restarts, len(targets))
    best = errors.argmin(dim=0)
    columns = torch.arange(len(targets), device=best.device)
    return latents.detach().view(restarts, len(targets), -1)[best, columns].cpu(), errors[best, columns].cpu()


def invert_generator(model, images: torch.Tensor, steps: int = 300, lr: float = 0.05, restarts: int = 1,
                     seed: int = 0, batch_size: int = 256,
                     progress: ProgressCallback | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Latents whose decoding best matches ``images``, found by Adam on z (pixel MSE).

    This is how a model without an encoder (a GAN) can still place a real image in its latent
    space. Each image starts from ``restarts`` prior draws and keeps the best; the model's
    weights are frozen throughout. Returns CPU latents (N, D) and each image's final MSE.
    """
    _check_images(model, images)
    if steps < 1 or restarts < 1 or lr <= 0:
        raise SamplerError("Inversion needs at least one step and one restart, and a positive learning rate.")
    generator = torch.Generator().manual_seed(int(seed))
    starts = torch.randn(restarts, len(images), model.latent_dim, generator=generator)
    chunks = range(0, len(images), batch_size)
    latents, errors = [], []
    with _frozen(model), torch.enable_grad():
        for chunk_index, first in enumerate(chunks):
            def report(step: int) -> None:
                if progress is not None and (step % 10 == 0 or step == steps):
                    progress((chunk_index + step / steps) / len(chunks),
                             f"Optimising latents: step {step} of {steps}, batch {chunk_index + 1} of {len(chunks)}")
            targets = images[first:first + batch_size].to(model.device).float()
            chunk_starts = starts[:, first:first + batch_size].to(model.device)
            chunk_latents, chunk_errors = _optimise_latents(model, targets, chunk_starts, steps, lr, report)
            latents.append(chunk_latents)
            errors.append(chunk_errors)
    if not latents:
        return torch.empty(0, model.latent_dim), torch.empty(0)
    return torch.cat(latents), torch.cat(errors)


def latents_for(model, images: torch.Tensor, **inversion_kwargs) -> tuple[torch.Tensor, str]:
    """Latents of ``images`` and how they were found: ``"encoder"`` or ``"optimisation"``.

    Pages use the second value to tell the user that a GAN's latents are an approximation.
    """
    if model.has_encoder:
        return encode_dataset(model, images), FOUND_BY_ENCODER
    latents, _errors = invert_generator(model, images, **inversion_kwargs)
    return latents, FOUND_BY_OPTIMISATION


# -- pictures of the latent space (seed 004, Figs. 5-6; the VAE manifold figure) ---------------
def decoded_basis_vectors(model, scale: float = 1.0, max_vectors: int = 64) -> torch.Tensor:
    """decode(scale * e_i) for the first ``max_vectors`` standard basis vectors.

    Recognisable digits here suggest the code clusters whole images rather than composing parts.
    """
    count = min(model.latent_dim, int(max_vectors))
    basis = torch.eye(model.latent_dim)[:count] * float(scale)
    return decode_latents(model, basis)


def class_means(latents: torch.Tensor, labels: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
    """Mean latent of each class; row ``c`` belongs to label ``c``."""
    latents = torch.as_tensor(latents, dtype=torch.float32).cpu()
    labels = torch.as_tensor(labels).long().cpu().reshape(-1)
    if len(labels) != len(latents) or len(labels) == 0:
        raise SamplerError(f"{len(labels)} labels were given for {len(latents)} latent codes.")
    num_classes = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    if labels.min() < 0 or labels.max() >= num_classes:
        raise SamplerError(f"Class labels must be integers from 0 to {num_classes - 1}.")
    counts = torch.bincount(labels, minlength=num_classes).float()
    missing = (counts == 0).nonzero().flatten().tolist()
    if missing:
        raise SamplerError(f"No latents of class {', '.join(map(str, missing))} were given, so it has no mean.")
    sums = torch.zeros(num_classes, latents.shape[1]).index_add_(0, labels, latents)
    return sums / counts.unsqueeze(1)


def convex_combinations(model, mean_a, mean_b, steps: int = 10) -> torch.Tensor:
    """Images along (1 - t) * mean_a + t * mean_b: how the decoder warps one class into another."""
    return decode_latents(model, lerp(mean_a, mean_b, steps))


def manifold_coordinates(n: int = 15, span: float | None = None,
                         quantiles: tuple[float, float] = (0.05, 0.95)) -> torch.Tensor:
    """(n*n, 2) grid points, row by row from the top (high z2) to the bottom, left to right.

    By default the axes are N(0, 1) quantiles, so equal steps hold equal prior mass; ``span``
    gives an evenly spaced grid over [-span, span] instead.
    """
    if int(n) < 2:
        raise SamplerError(f"The manifold grid needs at least 2 points a side; got {n}.")
    if span is None:
        low, high = quantiles
        if not 0.0 < low < high < 1.0:
            raise SamplerError(f"Quantiles must satisfy 0 < low < high < 1; got {quantiles}.")
        axis = norm.ppf(np.linspace(low, high, int(n)))
    else:
        axis = np.linspace(-float(span), float(span), int(n))
    grid_x, grid_y = np.meshgrid(axis, axis[::-1])
    return torch.as_tensor(np.stack([grid_x.ravel(), grid_y.ravel()], axis=1), dtype=torch.float32)


def manifold_grid(model, n: int = 15, span: float | None = None,
                  quantiles: tuple[float, float] = (0.05, 0.95)) -> torch.Tensor:
    """Images decoded over a grid of a 2-D latent space (the classic VAE manifold figure)."""
    if model.latent_dim != 2:
        raise ModelConfigError(
            f"The manifold grid needs a model with a 2-d latent space; this one has {model.latent_dim} "
            "dimensions. Train with latent_dim=2, or explore with the PCA sliders instead."
        )
    return decode_latents(model, manifold_coordinates(n, span, quantiles))
