"""One Gaussian mixture per class, and how many components a class of codes can support."""

from __future__ import annotations

import copy
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from gen_core.compute import applied_threads
from gen_core.errors import SamplerError
from gen_core.limits import MAX_COMPONENTS
from gen_core.progress import ProgressCallback
from gen_core.sampling.samplers import LatentSampler

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


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
    """One scikit-learn GaussianMixture per class, initialised by k-means.

    A K that a class cannot support is refused with the largest K that would work, rather than
    quietly clamped. K = 250 with full covariances would need about 250 x 33 = 8,250
    codes per class in 32 dimensions (it leaned on ``reg_covar``); with 500 codes per class,
    ``"diag"`` allows K = 250, as does ``"tied"`` (one shared covariance) from 282 codes on.
    """

    def __init__(self, n_components: int = 10, covariance_type: str = "full", reg_covar: float = 1e-6,
                 max_iter: int = 100, seed: int = 0, component: int | None = None) -> None:
        """``component``: draw from that one component of each class's mixture (0 to K - 1) instead
        of from the whole mixture, to see what one Gaussian of it holds."""
        self.n_components = n_components
        self.component = component
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.seed = seed

    def _check_components(self) -> None:
        if not 1 <= int(self.n_components) <= MAX_COMPONENTS:
            raise SamplerError(f"The number of components must be 1 to {MAX_COMPONENTS}; got {self.n_components}.")
        if self.component is not None and not 0 <= int(self.component) < int(self.n_components):
            raise SamplerError(f"There is no component {self.component}: with K = {self.n_components} they are "
                               f"numbered 0 to {int(self.n_components) - 1}.")
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
            progress: ProgressCallback | None = None) -> "ClassMixtureSampler":
        by_class = self._fit_classes(latents, labels)
        self._check_components()
        self.mixtures_, self.converged_, self.draw_factors_ = [], [], []
        for position, (label, codes) in enumerate(by_class.items()):
            mixture = GaussianMixture(n_components=int(self.n_components), covariance_type=self.covariance_type,
                                      reg_covar=self.reg_covar, max_iter=self.max_iter, init_params="kmeans",
                                      random_state=self.seed)
            # The thread policy's count (one in the web server): these fits are tiny, and on a busy
            # CPU the thread pools of k-means and BLAS spin against each other (measured 20x slower
            # with 2 cores under load). OpenMP's setting is the calling thread's own; BLAS's is
            # process-wide, set to the same count at start-up, so sessions cannot undo each other.
            with warnings.catch_warnings(), threadpool_limits(limits=applied_threads().threads):
                warnings.simplefilter("ignore", ConvergenceWarning)
                mixture.fit(codes)
            self.mixtures_.append(mixture)
            self.converged_.append(bool(mixture.converged_))
            self.draw_factors_.append(_mixture_draw_factors(mixture))
            if progress is not None:
                progress((position + 1) / len(by_class), f"Fitted the mixture for class {label} "
                                                         f"({position + 1} of {len(by_class)})")
        return self

    def mixture_of(self, label: int | None = None) -> GaussianMixture:
        """The fitted mixture of class ``label`` (its ``weights_``, ``means_``, ``covariances_``); None
        for a sampler fitted without labels, whose codes form one group."""
        if not hasattr(self, "mixtures_"):
            raise SamplerError("This ClassMixtureSampler has not been fitted yet; fit it to latents first.")
        if label is None and len(self.mixtures_) == 1:
            return self.mixtures_[0]
        if label is None or int(label) not in set(self.classes_.tolist()):
            raise SamplerError(f"There is no class {label}; the classes are {', '.join(map(str, self.classes_))}.")
        return self.mixtures_[int(np.searchsorted(self.classes_, int(label)))]

    def one_component(self, component: int) -> "ClassMixtureSampler":
        """A copy of this fitted sampler that draws from component ``component`` of each class's
        mixture only; the fitted mixtures are shared, not refitted."""
        try:
            index = int(component)
        except (TypeError, ValueError):
            raise SamplerError(f"A component is a whole number from 0 to {int(self.n_components) - 1}; "
                               f"got {component!r}.") from None
        if not 0 <= index < int(self.n_components):
            raise SamplerError(f"There is no component {index}: with K = {self.n_components} they are "
                               f"numbered 0 to {int(self.n_components) - 1}.")
        chosen = copy.copy(self)
        chosen.component = index
        return chosen

    def _draw(self, label: int, count: int, rng: np.random.Generator) -> np.ndarray:
        index = int(np.searchsorted(self.classes_, label))
        mixture, factors = self.mixtures_[index], self.draw_factors_[index]
        weights = mixture.weights_ / mixture.weights_.sum()
        components = rng.choice(len(weights), size=count, p=weights) if self.component is None else \
            np.full(count, int(self.component))
        noise = rng.standard_normal((count, self.latent_dim_))
        if mixture.covariance_type == "full":
            noise = np.einsum("nij,nj->ni", factors[components], noise)
        elif mixture.covariance_type == "tied":
            noise = noise @ factors.T
        else:
            noise = noise * factors[components].reshape(count, -1)
        return mixture.means_[components] + noise


def fit_code_mixture(codes, n_components: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights (K,), means (K, D) and covariance Cholesky factors (K, D, D) of a full-covariance Gaussian
    mixture fitted to ``codes`` (N, D): a VAE's sampling mixture. A K the codes cannot support is refused
    (``TooManyComponentsError``, with the K that would work)."""
    sampler = ClassMixtureSampler(int(n_components), "full", seed=seed).fit(codes)
    mixture = sampler.mixture_of(None)
    return mixture.weights_, mixture.means_, sampler.draw_factors_[0]


def _mixture_draw_factors(mixture: GaussianMixture) -> np.ndarray:
    """What turns N(0, I) noise into each component's covariance (drawn with our own generator,
    because GaussianMixture.sample reads the shared ``random_state``)."""
    if mixture.covariance_type in ("full", "tied"):
        return np.linalg.cholesky(mixture.covariances_)
    return np.sqrt(mixture.covariances_)



def information_criteria(codes, ks, covariance_type: str = "full", seed: int = 0,
                         progress: ProgressCallback | None = None) -> dict:
    """BIC and AIC of a Gaussian mixture fitted to ``codes`` for each K of ``ks`` that the codes
    support (``max_components``), and the K with the lowest BIC: how many Gaussians a class needs.

    Returns ``{"bic": {K: value}, "aic": {K: value}, "best_k": K, "skipped": [K, ...]}``.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or len(codes) < 2:
        raise SamplerError("Information criteria need at least two latent codes.")
    most = max_components(len(codes), codes.shape[1], covariance_type)
    wanted = sorted({int(k) for k in ks})
    if not wanted or wanted[0] < 1:
        raise SamplerError("Give the numbers of components K to compare, each at least 1.")
    fitted = [k for k in wanted if k <= most]
    if not fitted:
        raise SamplerError(f"These {len(codes)} codes in {codes.shape[1]} dimensions support at most K = {most} "
                           f"with {covariance_type!r} covariances.")
    bic, aic = {}, {}
    for position, k in enumerate(fitted):
        mixture = GaussianMixture(n_components=k, covariance_type=covariance_type, random_state=seed,
                                  init_params="kmeans")
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            warnings.simplefilter("ignore", ConvergenceWarning)
            mixture.fit(codes)
        bic[k], aic[k] = float(mixture.bic(codes)), float(mixture.aic(codes))
        if progress is not None:
            progress((position + 1) / len(fitted), f"K = {k}: BIC {bic[k]:.1f}")
    return {"bic": bic, "aic": aic, "best_k": min(bic, key=bic.get), "skipped": [k for k in wanted if k > most]}


def component_limits(class_counts, latent_dim: int) -> dict[str, int]:
    """The largest K per covariance type when every class gets its own mixture; the smallest
    class decides, so a page can show what is possible before anything is fitted."""
    smallest = int(min(class_counts))
    return {kind: max_components(smallest, latent_dim, kind) for kind in COVARIANCE_TYPES}
