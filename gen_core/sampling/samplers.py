"""Latent samplers fitted on latent codes: per-class Gaussians and perturbed real codes.

A plain autoencoder has no prior to sample, so one can fit a distribution to the encoded
training set of each class (one Gaussian, or a Gaussian mixture: ``mixture.py``) and decode
draws from it, or perturb the code of a real image instead. Samplers are shaped like
scikit-learn estimators: ``fit(latents, labels)`` returns self, learned attributes end in
``_``, and ``sample(n, class_label, seed)`` returns ``(latents, labels)`` with the same draws for
the same seed. Sampling never mutates a fitted sampler, so one cached object can serve many pages.
"""

from __future__ import annotations

import numpy as np
import torch

from gen_core.errors import SamplerError


def _as_latents(latents) -> np.ndarray:
    if isinstance(latents, torch.Tensor):
        latents = latents.detach().cpu().numpy()
    values = np.asarray(latents, dtype=np.float64)
    if values.ndim != 2 or len(values) == 0:
        raise SamplerError(f"A sampler is fitted to latent codes of shape (N, D); got {values.shape}.")
    if not np.isfinite(values).all():
        raise SamplerError("Some latent codes are NaN or infinite; the model may have diverged.")
    return values


def _as_labels(labels, count: int) -> np.ndarray:
    if labels is None:
        return np.zeros(count, dtype=np.int64)
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if len(labels) != count:
        raise SamplerError(f"{len(labels)} labels were given for {count} latent codes.")
    return labels


class LatentSampler:
    """Shared fitting and sampling bookkeeping; subclasses say how one class is drawn."""

    min_points_per_class = 2

    def _fit_classes(self, latents, labels) -> dict[int, np.ndarray]:
        values = _as_latents(latents)
        label_values = _as_labels(labels, len(values))
        self.labelled_ = labels is not None
        self.latent_dim_ = values.shape[1]
        self.classes_, self.class_counts_ = np.unique(label_values, return_counts=True)
        for label, count in zip(self.classes_, self.class_counts_):
            if count < self.min_points_per_class:
                raise SamplerError(f"Class {label} has only {count} latent code(s); this sampler needs at "
                                   f"least {self.min_points_per_class} per class.")
        return {int(label): values[label_values == label] for label in self.classes_}

    def _draw(self, label: int, count: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _sample_labels(self, n: int, class_label, rng: np.random.Generator) -> np.ndarray:
        if not hasattr(self, "classes_"):
            raise SamplerError(f"This {type(self).__name__} has not been fitted yet; fit it to latents first.")
        if class_label is None:
            return rng.choice(self.classes_, size=n, p=self.class_counts_ / self.class_counts_.sum())
        if not self.labelled_:
            raise SamplerError("This sampler was fitted without labels, so it cannot sample a class.")
        if int(class_label) not in set(self.classes_.tolist()):
            raise SamplerError(f"There is no class {class_label}; the classes are "
                               f"{', '.join(map(str, self.classes_))}.")
        return np.full(n, int(class_label), dtype=np.int64)

    def sample(self, n: int, class_label: int | None = None,
               seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` latent codes (float32, CPU) and their class labels (None if fitted without labels).

        Without ``class_label``, classes are drawn in proportion to their share of the data.
        """
        if int(n) < 0:
            raise SamplerError(f"Cannot draw {n} samples.")
        rng = np.random.default_rng(seed)
        labels = self._sample_labels(int(n), class_label, rng)
        latents = np.empty((int(n), self.latent_dim_))
        for label in np.unique(labels):
            rows = labels == label
            latents[rows] = self._draw(int(label), int(rows.sum()), rng)
        latent_tensor = torch.as_tensor(latents, dtype=torch.float32)
        return latent_tensor, (torch.as_tensor(labels) if self.labelled_ else None)



def _jittered_cholesky(covariance: np.ndarray, jitter: float) -> np.ndarray:
    """Cholesky factor, adding growing multiples of the identity until it exists.

    A class with no more codes than dimensions has a singular sample covariance.
    """
    scale = max(float(np.mean(np.diag(covariance))), 1e-12)
    identity = np.eye(len(covariance))
    for attempt in range(8):
        try:
            return np.linalg.cholesky(covariance + (jitter * 10 ** attempt) * scale * identity)
        except np.linalg.LinAlgError:
            continue
    raise SamplerError("The class covariance could not be made positive definite; the latents may be degenerate.")


class ClassGaussianSampler(LatentSampler):
    """One Gaussian per class from its sample mean and covariance .

    ``covariance_scale`` multiplies the covariance when drawing (the spread scales by its
    square root); shrinking it keeps samples recognisable. It is read at sample time,
    so a slider can change it without refitting.
    """

    def __init__(self, covariance_scale: float = 1.0, jitter: float = 1e-6) -> None:
        self.covariance_scale = covariance_scale
        self.jitter = jitter

    def fit(self, latents, labels=None) -> "ClassGaussianSampler":
        by_class = self._fit_classes(latents, labels)
        self.means_ = np.stack([codes.mean(axis=0) for codes in by_class.values()])
        self.covariances_ = np.stack([np.cov(codes, rowvar=False).reshape(self.latent_dim_, -1)
                                      for codes in by_class.values()])
        self.cholesky_ = np.stack([_jittered_cholesky(cov, self.jitter) for cov in self.covariances_])
        return self

    def _draw(self, label: int, count: int, rng: np.random.Generator) -> np.ndarray:
        if float(self.covariance_scale) < 0:
            raise SamplerError(f"The covariance scale must be zero or more; got {self.covariance_scale}.")
        index = int(np.searchsorted(self.classes_, label))
        noise = rng.standard_normal((count, self.latent_dim_)) @ self.cholesky_[index].T
        return self.means_[index] + np.sqrt(float(self.covariance_scale)) * noise


class PerturbSampler(LatentSampler):
    """The code of a random real image plus Gaussian noise.

    ``noise_std`` is in latent units; with ``relative=True`` it is a fraction of each
    dimension's spread instead, which suits autoencoders whose codes are not unit-scale.
    """

    min_points_per_class = 1

    def __init__(self, noise_std: float = 0.5, relative: bool = False) -> None:
        self.noise_std = noise_std
        self.relative = relative

    def fit(self, latents, labels=None) -> "PerturbSampler":
        self.latents_by_class_ = self._fit_classes(latents, labels)
        all_latents = np.concatenate(list(self.latents_by_class_.values()))
        self.latent_std_ = all_latents.std(axis=0) if len(all_latents) > 1 else np.ones(self.latent_dim_)
        return self

    def _draw(self, label: int, count: int, rng: np.random.Generator) -> np.ndarray:
        if float(self.noise_std) < 0:
            raise SamplerError(f"The noise level must be zero or more; got {self.noise_std}.")
        codes = self.latents_by_class_[label]
        picked = codes[rng.integers(0, len(codes), size=count)]
        spread = self.latent_std_ if self.relative else 1.0
        return picked + float(self.noise_std) * spread * rng.standard_normal((count, self.latent_dim_))

