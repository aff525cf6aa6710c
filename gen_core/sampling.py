"""Where to draw new latent codes from: the prior, per-class Gaussians and mixtures, perturbed codes.

A plain autoencoder has no prior to sample, so seed 004 fits a distribution to the encoded
training set of each class (one Gaussian, or a Gaussian mixture) and decodes draws from it;
seed 002 perturbs the code of a real image instead. Samplers are shaped like scikit-learn
estimators: ``fit(latents, labels)`` returns self, learned attributes end in ``_``, and
``sample(n, class_label, seed)`` returns ``(latents, labels)`` with the same draws for the
same seed. Sampling never mutates a fitted sampler, so one cached object can serve many pages.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Callable

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from gen_core.errors import SamplerError
from gen_core.latent import decode_latents
from gen_core.novelty import (NearestMatches, nearest_matches, nearest_matches_by_row,  # noqa: F401  (re-exported)
                              nearest_training_images, novelty_baseline)

SAMPLER_NAMES = ("prior", "gaussian", "gmm", "perturb")
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
MAX_COMPONENTS = 250


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


class PriorSampler(LatentSampler):
    """N(0, I): the prior a VAE or GAN was trained towards; needs no fitting beyond the size."""

    def __init__(self, latent_dim: int | None = None) -> None:
        self.latent_dim = latent_dim

    def fit(self, latents=None, labels=None) -> "PriorSampler":
        dim = _as_latents(latents).shape[1] if latents is not None else self.latent_dim
        if dim is None or int(dim) < 1:
            raise SamplerError("The prior sampler needs a latent size: give latent_dim or fit it to latents.")
        self.latent_dim_ = int(dim)
        self.labelled_ = False
        return self

    def sample(self, n: int, class_label: int | None = None, seed: int | None = None):
        if class_label is not None:
            raise SamplerError("The prior has no classes; choose a class-aware sampler to pick a class.")
        dim = getattr(self, "latent_dim_", None) or self.latent_dim
        if dim is None:
            raise SamplerError("The prior sampler needs a latent size: give latent_dim or fit it to latents.")
        rng = np.random.default_rng(seed)
        return torch.as_tensor(rng.standard_normal((int(n), int(dim))), dtype=torch.float32), None


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
    """One Gaussian per class from its sample mean and covariance (seed 004, section 2.4.1).

    ``covariance_scale`` multiplies the covariance when drawing (the spread scales by its
    square root); the seed shrank it to keep samples recognisable. It is read at sample time,
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


class TooManyComponentsError(SamplerError):
    """K is more than a class can support; ``suggested`` is the largest K that works with the
    chosen covariance type and ``allowing`` the covariance types that would take the K asked for."""

    def __init__(self, message: str, suggested: int, allowing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.suggested = int(suggested)
        self.allowing = tuple(allowing)


def max_components(n_points: int, latent_dim: int, covariance_type: str) -> int:
    """The largest K a class of ``n_points`` codes supports, by counting what each component needs.

    full: its own D x D covariance needs about D + 1 points per component; tied: one shared
    covariance from the n - K residual degrees of freedom, so K <= n - D; diag and spherical:
    a variance needs at least 2 points per component. Never more than n or MAX_COMPONENTS.
    """
    rules = {"full": n_points // (latent_dim + 1), "tied": n_points - latent_dim,
             "diag": n_points // 2, "spherical": n_points // 2}
    if covariance_type not in rules:
        raise SamplerError(f"Unknown covariance type {covariance_type!r}; choose one of {', '.join(rules)}.")
    return int(min(max(1, rules[covariance_type]), n_points, MAX_COMPONENTS))


class ClassMixtureSampler(LatentSampler):
    """One scikit-learn GaussianMixture per class, initialised by k-means (seed 004, 2.4.2).

    A K that a class cannot support is refused with the largest K that would work, rather than
    quietly clamped. The seed's K = 250 with full covariances would need about 250 x 33 = 8,250
    codes per class in 32 dimensions (it leaned on ``reg_covar``); with 500 codes per class,
    ``"diag"`` allows K = 250, as does ``"tied"`` (one shared covariance) from 282 codes on.
    """

    def __init__(self, n_components: int = 10, covariance_type: str = "full", reg_covar: float = 1e-6,
                 max_iter: int = 100, seed: int = 0) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.seed = seed

    def _check_components(self) -> None:
        if not 1 <= int(self.n_components) <= MAX_COMPONENTS:
            raise SamplerError(f"The number of components must be 1 to {MAX_COMPONENTS}; got {self.n_components}.")
        smallest = int(np.argmin(self.class_counts_))
        label, count = self.classes_[smallest], int(self.class_counts_[smallest])
        suggested = max_components(count, self.latent_dim_, self.covariance_type)
        if int(self.n_components) <= suggested:
            return
        allowing = [kind for kind in COVARIANCE_TYPES
                    if max_components(count, self.latent_dim_, kind) >= int(self.n_components)]
        alternative = (f" The {' or '.join(repr(kind) for kind in allowing)} covariance type allows "
                       f"K = {self.n_components}." if allowing else "")
        raise TooManyComponentsError(
            f"K = {self.n_components} is too many components for class {label}, which has {count} latent "
            f"codes in {self.latent_dim_} dimensions: with {self.covariance_type!r} covariances it supports "
            f"at most K = {suggested}, so try K = {suggested}.{alternative}",
            suggested=suggested, allowing=tuple(allowing),
        )

    def fit(self, latents, labels=None,
            progress: Callable[[float, str], None] | None = None) -> "ClassMixtureSampler":
        by_class = self._fit_classes(latents, labels)
        self._check_components()
        self.mixtures_, self.converged_, self.draw_factors_ = [], [], []
        for position, (label, codes) in enumerate(by_class.items()):
            mixture = GaussianMixture(n_components=int(self.n_components), covariance_type=self.covariance_type,
                                      reg_covar=self.reg_covar, max_iter=self.max_iter, init_params="kmeans",
                                      random_state=self.seed)
            # One thread: these fits are tiny, and on a busy CPU the thread pools of k-means and
            # BLAS spin against each other (measured 20x slower with 2 cores under load).
            with warnings.catch_warnings(), threadpool_limits(limits=1):
                warnings.simplefilter("ignore", ConvergenceWarning)
                mixture.fit(codes)
            self.mixtures_.append(mixture)
            self.converged_.append(bool(mixture.converged_))
            self.draw_factors_.append(_mixture_draw_factors(mixture))
            if progress is not None:
                progress((position + 1) / len(by_class), f"Fitted the mixture for class {label} "
                                                         f"({position + 1} of {len(by_class)})")
        return self

    def _draw(self, label: int, count: int, rng: np.random.Generator) -> np.ndarray:
        index = int(np.searchsorted(self.classes_, label))
        mixture, factors = self.mixtures_[index], self.draw_factors_[index]
        weights = mixture.weights_ / mixture.weights_.sum()
        components = rng.choice(len(weights), size=count, p=weights)
        noise = rng.standard_normal((count, self.latent_dim_))
        if mixture.covariance_type == "full":
            noise = np.einsum("nij,nj->ni", factors[components], noise)
        elif mixture.covariance_type == "tied":
            noise = noise @ factors.T
        else:
            noise = noise * factors[components].reshape(count, -1)
        return mixture.means_[components] + noise


def _mixture_draw_factors(mixture: GaussianMixture) -> np.ndarray:
    """What turns N(0, I) noise into each component's covariance (drawn with our own generator,
    because GaussianMixture.sample reads the shared ``random_state``)."""
    if mixture.covariance_type in ("full", "tied"):
        return np.linalg.cholesky(mixture.covariances_)
    return np.sqrt(mixture.covariances_)


class PerturbSampler(LatentSampler):
    """The code of a random real image plus Gaussian noise (seed 002).

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


_SAMPLERS = {"prior": PriorSampler, "gaussian": ClassGaussianSampler, "gmm": ClassMixtureSampler,
             "perturb": PerturbSampler}


def make_sampler(name: str, **params) -> LatentSampler:
    """A sampler by its name in ``SAMPLER_NAMES``, with its settings as keyword arguments."""
    if name not in _SAMPLERS:
        raise SamplerError(f"Unknown sampler {name!r}; choose one of {', '.join(SAMPLER_NAMES)}.")
    sampler_class = _SAMPLERS[name]
    accepted = [key for key in inspect.signature(sampler_class).parameters]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise SamplerError(f"The {name!r} sampler has no setting {', '.join(unknown)}; "
                           f"its settings are {', '.join(accepted) or 'none'}.")
    return sampler_class(**params)


def component_limits(class_counts, latent_dim: int) -> dict[str, int]:
    """The largest K per covariance type when every class gets its own mixture; the smallest
    class decides, so a page can show what is possible before anything is fitted."""
    smallest = int(min(class_counts))
    return {kind: max_components(smallest, latent_dim, kind) for kind in COVARIANCE_TYPES}


def fit_sampler(name: str, latents, labels=None, progress: Callable[[float, str], None] | None = None,
                **params) -> LatentSampler:
    """Build a sampler by name and fit it; only the mixture is slow enough to report progress."""
    sampler = make_sampler(name, **params)
    if isinstance(sampler, ClassMixtureSampler):
        return sampler.fit(latents, labels, progress=progress)
    return sampler.fit(latents, labels)


def sample_images(model, sampler: LatentSampler, n: int, class_label: int | None = None,
                  seed: int | None = None, batch_size: int = 512) -> torch.Tensor:
    """``n`` images (CPU, in [0, 1]) decoded from the sampler's draws."""
    if isinstance(sampler, PriorSampler) and not hasattr(sampler, "latent_dim_"):
        sampler = PriorSampler(model.latent_dim).fit()
    latents, _labels = sampler.sample(n, class_label=class_label, seed=seed)
    if latents.shape[1] != model.latent_dim:
        raise SamplerError(f"The sampler was fitted to {latents.shape[1]}-d latents but the model's "
                           f"latent space has {model.latent_dim} dimensions; fit it again to this model.")
    return decode_latents(model, latents, batch_size=batch_size)


def sample_class_rows(model, sampler: LatentSampler, n_per_row: int, class_labels,
                      seed: int | None = 0) -> list[torch.Tensor]:
    """One batch of ``n_per_row`` images per entry of ``class_labels`` (None: no class).

    Each row gets its own seed, so adding or removing a class leaves the other rows unchanged.
    """
    return [sample_images(model, sampler, n_per_row, class_label=label,
                          seed=None if seed is None else int(seed) + position)
            for position, label in enumerate(class_labels)]
