"""Directions between classes in the latent space: "from 4 towards 9", latent arithmetic, and several
directions made orthonormal so that sliders along them move the code independently.

A class direction is mean(codes of class b) - mean(codes of class a). Added to an image's code it
asks the decoder for "this image, but more like b than a" (latent arithmetic, as word vectors do
king - man + woman). Directions chosen together are orthonormalised with a QR decomposition
(``torch.linalg.qr``, Householder reflections: the same result as Gram-Schmidt in order, without its
loss of orthogonality in floating point), so the first keeps its direction and each later one keeps
only its part that the earlier ones do not already cover.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from gen_core.errors import LatentError
from gen_core.latent.codes import decode_latents
from gen_core.latent.pictures import class_means

# A direction whose part outside the span of the earlier ones is shorter than this share of its own
# length adds nothing new (it lies, up to rounding, in their plane).
DEPENDENT_SHARE = 1e-4


@dataclass
class ClassMeans:
    """The mean code of each class present among some codes; ``classes[i]`` owns ``means[i]``."""

    classes: list[int]
    means: torch.Tensor  # (P, D)
    class_names: list[str] = field(default_factory=list)

    def name(self, label: int) -> str:
        return self.class_names[label] if 0 <= label < len(self.class_names) else str(label)

    def mean_of(self, label) -> torch.Tensor:
        """The mean code of class ``label``; a class with no codes here is refused in one line."""
        try:
            position = self.classes.index(int(label))
        except (TypeError, ValueError):
            shown = ", ".join(self.name(c) for c in self.classes)
            raise LatentError(f"Class {str(label)[:40]!r} is not among this model's classes ({shown}).") from None
        return self.means[position]

    def direction(self, from_class, to_class) -> torch.Tensor:
        """mean(to_class) - mean(from_class), the (D,) direction "from a towards b"."""
        start, end = self.mean_of(from_class), self.mean_of(to_class)
        if int(from_class) == int(to_class):
            raise LatentError(f"Choose two different classes: from {self.name(int(from_class))} to itself is no "
                              "direction.")
        return end - start


def class_mean_table(latents, labels, class_names=()) -> ClassMeans:
    """The mean code of every class among ``labels`` (codes of unlabelled data have no classes)."""
    if labels is None:
        raise LatentError("This model's data has no class labels, so there are no class directions.")
    latents = torch.as_tensor(latents, dtype=torch.float32).cpu()
    labels = torch.as_tensor(labels).long().cpu().reshape(-1)
    if len(labels) == 0 or len(labels) != len(latents):
        raise LatentError(f"{len(labels)} labels were given for {len(latents)} latent codes.")
    present, positions = torch.unique(labels, sorted=True, return_inverse=True)
    return ClassMeans([int(c) for c in present], class_means(latents, positions, num_classes=len(present)),
                      [str(name) for name in class_names])


def latent_arithmetic(codes, table: ClassMeans, from_class, to_class, strength: float = 1.0) -> torch.Tensor:
    """codes + strength * (mean(to_class) - mean(from_class)): each code moved "from a towards b"."""
    codes = torch.as_tensor(codes, dtype=torch.float32).cpu()
    direction = table.direction(from_class, to_class)
    if codes.shape[-1] != direction.shape[0]:
        raise LatentError(f"Codes of {codes.shape[-1]} dimensions cannot move along a {direction.shape[0]}-d "
                          "direction.")
    return codes + float(strength) * direction


def arithmetic_images(model, code, table: ClassMeans, from_class, to_class,
                      strengths=(0.0, 0.5, 1.0, 1.5)) -> torch.Tensor:
    """decode(code + s * (mean(to_class) - mean(from_class))) for each s: a strip from the image towards b."""
    code = torch.as_tensor(code, dtype=torch.float32).reshape(-1)
    moved = torch.stack([latent_arithmetic(code, table, from_class, to_class, strength) for strength in strengths])
    return decode_latents(model, moved)


def orthonormal_directions(vectors) -> torch.Tensor:
    """(K, D) orthonormal rows spanning the same space as the K rows of ``vectors``, in their order.

    Row k is vector k with its parts along rows 0..k-1 removed, scaled to length 1 and pointing the
    same way as vector k. A vector that adds no new direction is refused, naming it.
    """
    if isinstance(vectors, (list, tuple)):  # one (D,) vector each
        vectors = [torch.as_tensor(vector, dtype=torch.float64).cpu().reshape(-1) for vector in vectors]
        vectors = torch.stack(vectors) if vectors else torch.empty(0, 0)
    vectors = torch.as_tensor(vectors, dtype=torch.float64).cpu()
    if vectors.ndim != 2 or len(vectors) == 0:
        raise LatentError(f"Directions must be a (K, D) array with K at least 1; got shape {tuple(vectors.shape)}.")
    count, dims = vectors.shape
    if count > dims:
        raise LatentError(f"{count} directions cannot be independent in a {dims}-d latent space; choose at most "
                          f"{dims}.")
    lengths = vectors.norm(dim=1)
    if not torch.isfinite(vectors).all() or (lengths == 0).any():
        raise LatentError("A direction of length zero (or not a number) has no way to point.")
    basis, triangle = torch.linalg.qr(vectors.T)  # vectors.T = basis @ triangle, triangle upper triangular
    new_parts = triangle.diagonal()
    for index in range(count):
        if abs(float(new_parts[index])) <= DEPENDENT_SHARE * float(lengths[index]):
            raise LatentError(f"Direction {index + 1} lies in the span of the ones before it, so it adds no new "
                              "way to move; choose another pair of classes.")
    signs = torch.sign(new_parts)  # QR may flip a column; flip it back to point along its vector
    return (basis * signs).T.float()
