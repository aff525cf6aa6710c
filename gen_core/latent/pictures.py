"""Pictures of the latent space: decoded basis
vectors, class means and the paths between them, and the decoded grid of a 2-d latent space."""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import norm

from gen_core.errors import LatentError, ModelConfigError
from gen_core.latent.codes import decode_latents
from gen_core.latent.paths import convex_combinations
from gen_core.latent.pca import LatentMap


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
        raise LatentError(f"{len(labels)} labels were given for {len(latents)} latent codes.")
    num_classes = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    if labels.min() < 0 or labels.max() >= num_classes:
        raise LatentError(f"Class labels must be integers from 0 to {num_classes - 1}.")
    counts = torch.bincount(labels, minlength=num_classes).float()
    missing = (counts == 0).nonzero().flatten().tolist()
    if missing:
        raise LatentError(f"No latents of class {', '.join(map(str, missing))} were given, so it has no mean.")
    sums = torch.zeros(num_classes, latents.shape[1]).index_add_(0, labels, latents)
    return sums / counts.unsqueeze(1)



def manifold_coordinates(n: int = 15, span: float | None = None,
                         quantiles: tuple[float, float] = (0.05, 0.95)) -> torch.Tensor:
    """(n*n, 2) grid points, row by row from the top (high z2) to the bottom, left to right.

    By default the axes are N(0, 1) quantiles, so equal steps hold equal prior mass; ``span``
    gives an evenly spaced grid over [-span, span] instead.
    """
    if int(n) < 2:
        raise LatentError(f"The manifold grid needs at least 2 points a side; got {n}.")
    if span is None:
        low, high = quantiles
        if not 0.0 < low < high < 1.0:
            raise LatentError(f"Quantiles must satisfy 0 < low < high < 1; got {quantiles}.")
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


# -- the same pictures, from a latent map's stored codes ------------------------------------------
def decode_map_points(model, latent_map: LatentMap, indices) -> torch.Tensor:
    """The model's reconstructions of the chosen test images, from the codes already computed."""
    return decode_latents(model, torch.as_tensor(latent_map.latents[list(indices)]))


def decoded_class_means(model, latent_map: LatentMap) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean code of every class in the test set (rows in class order) and its decoding."""
    if latent_map.labels is None:
        raise LatentError("This dataset has no class labels, so there are no class means to decode.")
    means = class_means(torch.as_tensor(latent_map.latents), torch.as_tensor(latent_map.labels),
                        num_classes=len(latent_map.class_names) or None)
    return means, decode_latents(model, means)


def class_mean_path(model, latent_map: LatentMap, class_a: int, class_b: int, steps: int = 10) -> torch.Tensor:
    """Decoded convex combinations of two class means (from 1 to 7, say)."""
    means, _images = decoded_class_means(model, latent_map)
    return convex_combinations(model, means[int(class_a)], means[int(class_b)], steps)


def manifold_images(model, latent_map: LatentMap, n: int = 15) -> torch.Tensor:
    """The decoded grid of a 2-D latent space, spanning where this model's codes actually lie.

    A VAE's codes follow its N(0, I) prior, so prior quantiles cover them; a plain
    autoencoder's codes can sit anywhere, so its grid is centred on their mean and spans three
    of their standard deviations either side.
    """
    if model.has_prior or model.latent_dim != 2:
        return manifold_grid(model, n)  # explains itself when the latent is not 2-d
    span = 3.0 * float(latent_map.latents.std(axis=0).max() or 1.0)
    centre = torch.as_tensor(latent_map.latents.mean(axis=0), dtype=torch.float32)
    return decode_latents(model, manifold_coordinates(n, span=span) + centre)
