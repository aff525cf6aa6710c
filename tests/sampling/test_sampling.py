"""Latent samplers on synthetic clusters, and the nearest-training-image check."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from gen_core.errors import DatasetError, SamplerError
from gen_core.metrics.novelty import nearest_matches, nearest_matches_by_row, nearest_training_images, novelty_baseline
from gen_core.models.base import GenerativeModel
from gen_core.sampling import (SAMPLER_NAMES, ClassGaussianSampler, ClassMixtureSampler, PerturbSampler,
                               TooManyComponentsError, component_limits, draw_class_rows, draw_codes, draw_images,
                               fit_sampler, make_sampler, max_components)

DIM = 6
CENTRES = np.array([[10.0, 0, 0, 0, 0, 0], [0, 10.0, 0, 0, 0, 0], [0, 0, -10.0, 0, 0, 0]])


@pytest.fixture(scope="module")
def clusters() -> tuple[torch.Tensor, torch.Tensor]:
    """Three well-separated classes of 60 codes each, with unequal spreads per dimension."""
    rng = np.random.default_rng(0)
    latents = np.concatenate([centre + rng.normal(size=(60, DIM)) * np.linspace(1.0, 0.3, DIM)
                              for centre in CENTRES])
    labels = np.repeat(np.arange(3), 60)
    return torch.as_tensor(latents, dtype=torch.float32), torch.as_tensor(labels)


def _nearest_centre(latents: torch.Tensor) -> np.ndarray:
    return np.linalg.norm(latents.numpy()[:, None, :] - CENTRES[None], axis=2).argmin(axis=1)


# Factories, not instances: each test fits a sampler of its own, so no test sees another's fit.
CLASS_SAMPLERS = {
    "ClassGaussianSampler": lambda: ClassGaussianSampler(),
    "ClassMixtureSampler-full": lambda: ClassMixtureSampler(n_components=3, covariance_type="full"),
    "ClassMixtureSampler-diag": lambda: ClassMixtureSampler(n_components=5, covariance_type="diag"),
    "PerturbSampler": lambda: PerturbSampler(noise_std=0.5),
}


@pytest.mark.parametrize("make", CLASS_SAMPLERS.values(), ids=CLASS_SAMPLERS.keys())
def test_class_samples_land_nearest_their_own_class(make, clusters):
    sampler = make().fit(*clusters)
    for label in range(3):
        latents, labels = sampler.sample(40, class_label=label, seed=1)
        assert latents.shape == (40, DIM) and latents.dtype == torch.float32
        assert torch.equal(labels, torch.full((40,), label))
        assert (_nearest_centre(latents) == label).all()


@pytest.mark.parametrize("make", CLASS_SAMPLERS.values(), ids=CLASS_SAMPLERS.keys())
def test_sampling_is_deterministic_for_a_seed_and_mixes_classes_without_one(make, clusters):
    sampler = make().fit(*clusters)
    first, first_labels = sampler.sample(90, seed=5)
    second, second_labels = sampler.sample(90, seed=5)
    assert torch.equal(first, second) and torch.equal(first_labels, second_labels)
    assert not torch.equal(first, sampler.sample(90, seed=6)[0])
    assert set(first_labels.tolist()) == {0, 1, 2}
    assert (_nearest_centre(first) == first_labels.numpy()).all()


def test_gaussian_matches_class_statistics_and_scale_shrinks_spread(clusters):
    latents, labels = clusters
    sampler = ClassGaussianSampler().fit(latents, labels)
    np.testing.assert_allclose(sampler.means_[1], latents[labels == 1].double().mean(0).numpy(), atol=1e-6)
    np.testing.assert_allclose(sampler.covariances_[1], np.cov(latents[labels == 1].numpy(), rowvar=False),
                               atol=1e-5)
    wide, _ = sampler.sample(2000, class_label=0, seed=0)
    sampler.covariance_scale = 0.25
    narrow, _ = sampler.sample(2000, class_label=0, seed=0)
    spread_ratio = narrow.std(0) / wide.std(0)
    assert torch.allclose(spread_ratio, torch.full((DIM,), 0.5), atol=0.02)


def test_gaussian_survives_a_singular_covariance():
    latents = torch.randn(5, 20)  # fewer codes than dimensions: rank-deficient covariance
    sampler = ClassGaussianSampler().fit(latents, torch.zeros(5, dtype=torch.long))
    samples, _ = sampler.sample(10, seed=0)
    assert torch.isfinite(samples).all()


def test_unlabelled_fit_samples_without_labels(clusters):
    latents, _ = clusters
    sampler = ClassGaussianSampler().fit(latents)
    samples, labels = sampler.sample(7, seed=0)
    assert samples.shape == (7, DIM) and labels is None
    with pytest.raises(SamplerError, match="without labels"):
        sampler.sample(3, class_label=0)


def test_unknown_class_and_unfitted_sampler_are_typed_errors(clusters):
    with pytest.raises(SamplerError, match="fitted"):
        ClassGaussianSampler().sample(3)
    sampler = PerturbSampler().fit(*clusters)
    with pytest.raises(SamplerError, match="no class 7"):
        sampler.sample(3, class_label=7)


def test_too_many_components_names_the_class_its_size_and_a_working_k():
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(10 * 45, 32))
    labels = np.repeat(np.arange(10), 45)
    labels[:5] = 9  # class 0 is now the smallest, with 40 codes
    with pytest.raises(SamplerError) as caught:
        ClassMixtureSampler(n_components=20, covariance_type="full").fit(latents, labels)
    message = str(caught.value)
    assert "class 0" in message and "40 latent codes" in message
    assert "try K = 1." in message  # 40 // 33
    assert "'diag' or 'spherical' covariance type allows K = 20" in message  # tied: 40 - 32 = 8
    with pytest.raises(SamplerError, match="at most K = 20"):
        ClassMixtureSampler(n_components=21, covariance_type="diag").fit(latents, labels)
    with pytest.raises(SamplerError, match="1 to 250"):
        ClassMixtureSampler(n_components=251, covariance_type="tied").fit(latents, labels)
    with pytest.raises(SamplerError, match="covariance type 'round'"):
        ClassMixtureSampler(n_components=2, covariance_type="round").fit(latents, labels)


def test_max_components_rules():
    assert max_components(450, 32, "full") == 13
    assert max_components(450, 32, "tied") == 250  # 418, capped at the K limit
    assert max_components(500, 32, "diag") == 250
    assert max_components(450, 32, "spherical") == 225
    assert max_components(10, 32, "full") == 1
    assert max_components(3, 32, "diag") == 1


def test_mixture_fit_reports_progress_per_class_and_is_deterministic(clusters):
    calls = []
    first = ClassMixtureSampler(n_components=4, covariance_type="spherical", seed=3)
    first.fit(*clusters, progress=lambda fraction, message: calls.append((fraction, message)))
    assert [fraction for fraction, _ in calls] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert "class 2" in calls[-1][1]
    second = ClassMixtureSampler(n_components=4, covariance_type="spherical", seed=3).fit(*clusters)
    for one, other in zip(first.mixtures_, second.mixtures_):
        np.testing.assert_array_equal(one.means_, other.means_)
    assert len(first.converged_) == 3


def test_tied_mixture_samples_follow_its_components():
    """A class made of two sub-clusters (2:1) that share one correlated covariance: the tied mixture
    finds them, and its samples come from each component in proportion to its weight, around its
    mean, with the one shared covariance (not the identity, not a per-component one)."""
    rng = np.random.default_rng(0)
    shared = np.array([[1.0, 0.6, 0.0], [0.6, 1.0, 0.0], [0.0, 0.0, 0.25]])
    centres = np.array([[-8.0, 0.0, 0.0], [8.0, 0.0, 0.0]])
    latents = np.concatenate([rng.multivariate_normal(centres[0], shared, size=400),
                              rng.multivariate_normal(centres[1], shared, size=200)])
    sampler = ClassMixtureSampler(n_components=2, covariance_type="tied").fit(latents, np.zeros(600, dtype=int))
    mixture = sampler.mixtures_[0]
    order = np.argsort(mixture.means_[:, 0])  # component on the left first
    np.testing.assert_allclose(mixture.means_[order], centres, atol=0.2)
    np.testing.assert_allclose(mixture.weights_[order], [2 / 3, 1 / 3], atol=0.01)
    np.testing.assert_allclose(mixture.covariances_, shared, atol=0.15)

    samples = sampler.sample(20000, class_label=0, seed=0)[0].double().numpy()
    on_the_right = samples[:, 0] > 0  # the sub-clusters are 16 apart: the side names the component
    for component, members in zip(order, (samples[~on_the_right], samples[on_the_right])):
        assert len(members) / len(samples) == pytest.approx(mixture.weights_[component], abs=0.02)
        np.testing.assert_allclose(members.mean(0), mixture.means_[component], atol=0.05)
        np.testing.assert_allclose(np.cov(members, rowvar=False), mixture.covariances_, atol=0.06)


def test_perturb_noise_is_centred_on_real_codes(clusters):
    latents, labels = clusters
    exact = PerturbSampler(noise_std=0.0).fit(latents, labels)
    samples, _ = exact.sample(20, class_label=1, seed=0)
    class_codes = latents[labels == 1]
    exact_distances = torch.cdist(samples, class_codes, compute_mode="donot_use_mm_for_euclid_dist")
    assert (exact_distances.min(dim=1).values < 1e-5).all()
    noisy, _ = PerturbSampler(noise_std=2.0).fit(latents, labels).sample(20, class_label=1, seed=0)
    assert torch.allclose((noisy - samples).std(), torch.tensor(2.0), atol=0.3)


def test_the_prior_is_the_models_own_standard_normal_codes():
    model = TinyDecoderModel(TinyConfig(latent_dim=5))
    samples = draw_codes(model, 4000, seed=0)
    assert samples.shape == (4000, 5)
    assert samples.mean().abs() < 0.05 and (samples.std() - 1).abs() < 0.05
    assert torch.equal(samples, model.draw_codes(4000, torch.Generator().manual_seed(0)))
    assert not torch.equal(draw_codes(model, 5, seed=None), draw_codes(model, 5, seed=None))
    with pytest.raises(SamplerError, match="no classes"):
        draw_codes(model, 3, seed=0, class_label=1)
    with pytest.raises(SamplerError, match="Cannot draw"):
        draw_codes(model, -1)


def test_make_sampler_builds_each_name_and_rejects_bad_settings():
    assert set(SAMPLER_NAMES) == {"prior", "gaussian", "gmm", "perturb"}
    assert isinstance(make_sampler("gmm", n_components=250, covariance_type="diag"), ClassMixtureSampler)
    assert make_sampler("gaussian", covariance_scale=0.3).covariance_scale == 0.3
    expected = {"gaussian": ClassGaussianSampler, "gmm": ClassMixtureSampler, "perturb": PerturbSampler}
    for name in SAMPLER_NAMES:
        sampler = make_sampler(name)
        if name == "prior":
            assert sampler is None  # the prior is the model's own: nothing to fit
            continue
        assert type(sampler) is expected[name], name
        with pytest.raises(SamplerError, match="fitted"):  # a fresh sampler has learned nothing yet
            sampler.sample(2)
    with pytest.raises(SamplerError, match="choose one of"):
        make_sampler("flow")
    with pytest.raises(SamplerError, match="n_components"):
        make_sampler("perturb", n_components=3)


@dataclass
class TinyConfig:
    latent_dim: int = DIM
    image_shape: tuple = (1, 4, 4)


class TinyDecoderModel(GenerativeModel):
    family = "tiny"

    def __init__(self, config: TinyConfig) -> None:
        super().__init__(config)
        self.decoder = nn.Linear(config.latent_dim, 16)

    def decode(self, z):
        return torch.sigmoid(self.decoder(z)).view(-1, 1, 4, 4)


def test_draw_images_decodes_draws_and_checks_the_latent_size(clusters):
    model = TinyDecoderModel(TinyConfig())
    images = draw_images(model, 9, 0, make_sampler("gaussian").fit(*clusters), class_label=2)
    assert images.shape == (9, 1, 4, 4) and 0 <= images.min() and images.max() <= 1
    assert draw_images(model, 3, seed=0).shape == (3, 1, 4, 4)
    assert torch.equal(draw_images(model, 3, seed=4), draw_images(model, 3, seed=4))
    assert not torch.equal(draw_images(model, 3, seed=4), draw_images(model, 3, seed=5))
    with pytest.raises(SamplerError, match="dimensions"):
        draw_images(TinyDecoderModel(TinyConfig(latent_dim=3)), 2, 0, PerturbSampler().fit(*clusters))


def test_nearest_training_images_finds_exact_copies():
    generator = torch.Generator().manual_seed(0)
    train = (torch.rand(5000, 1, 28, 28, generator=generator) > 0.7).float()
    picked = torch.tensor([4321, 7, 2500, 4999])
    samples = train[picked].clone()
    samples[3] = (samples[3] * 0.9 + 0.05)  # a blurred copy is still closest to its original
    for metric in ("mse", "bce"):
        indices, distances = nearest_training_images(samples, train, metric=metric, batch_size=1024)
        assert torch.equal(indices, picked), metric
        assert (distances[:3] < 1e-4).all(), metric
        assert distances[3] > distances[:3].max()
    fresh = torch.rand(2, 1, 28, 28, generator=generator)
    assert (nearest_training_images(fresh, train)[1] > 0.05).all()


def test_nearest_training_images_rejects_mismatched_shapes():
    with pytest.raises(DatasetError):
        nearest_training_images(torch.rand(2, 1, 8, 8), torch.rand(5, 1, 7, 7))
    with pytest.raises(SamplerError):
        nearest_training_images(torch.rand(2, 1, 8, 8), torch.rand(5, 1, 8, 8), metric="l1")


# -- helpers the class-sampler page and the command line share --------------------------------
class IdentityAutoencoder(GenerativeModel):
    """Codes are the pixels themselves, so reconstructions are exact and distances predictable."""

    family = "identity"

    def __init__(self) -> None:
        super().__init__(TinyConfig(latent_dim=16))
        self.anchor = nn.Parameter(torch.zeros(1))  # gives the model a device

    def encode(self, x):
        return x.flatten(1)

    def decode(self, z):
        return z.clamp(0, 1).view(-1, 1, 4, 4)


def test_too_many_components_error_carries_a_k_that_then_fits(clusters):
    with pytest.raises(TooManyComponentsError) as caught:
        ClassMixtureSampler(n_components=40, covariance_type="full").fit(*clusters)
    assert isinstance(caught.value, SamplerError)
    assert caught.value.suggested == max_components(60, DIM, "full") == 8
    assert caught.value.allowing == ("tied",)  # 60 - 6 = 54 codes left; diag and spherical allow 30
    assert f"try K = {caught.value.suggested}" in str(caught.value)
    fitted = ClassMixtureSampler(n_components=caught.value.suggested, covariance_type="full").fit(*clusters)
    assert len(fitted.mixtures_) == 3


def test_component_limits_follow_the_smallest_class():
    limits = component_limits([450, 120, 300], latent_dim=8)
    assert limits == {"full": 120 // 9, "tied": 112, "diag": 60, "spherical": 60}
    assert component_limits([5000], latent_dim=8)["diag"] == 250


def test_fit_sampler_fits_by_name_and_only_the_mixture_reports_progress(clusters):
    calls = []
    mixture = fit_sampler("gmm", *clusters, progress=lambda share, text: calls.append(share), n_components=2,
                          covariance_type="diag")
    assert isinstance(mixture, ClassMixtureSampler) and calls[-1] == pytest.approx(1.0) and len(calls) == 3
    gaussian = fit_sampler("gaussian", *clusters, progress=lambda share, text: calls.append(share),
                           covariance_scale=0.2)
    assert gaussian.covariance_scale == 0.2 and hasattr(gaussian, "means_") and len(calls) == 3
    assert fit_sampler("prior", *clusters) is None


def test_draw_class_rows_draws_each_row_from_its_class_with_its_own_seed(clusters):
    model = TinyDecoderModel(TinyConfig())
    sampler = ClassGaussianSampler().fit(*clusters)
    rows = draw_class_rows(model, sampler, 5, [0, 1, 2], seed=7)
    assert [tuple(row.shape) for row in rows] == [(5, 1, 4, 4)] * 3
    expected_row_1 = draw_images(model, 5, 8, sampler, class_label=1)
    assert torch.equal(rows[1], expected_row_1)
    assert not torch.equal(rows[0], rows[1])
    assert torch.equal(draw_class_rows(model, sampler, 5, [0, 2], seed=7)[0], rows[0])
    prior_rows = draw_class_rows(model, None, 4, [None, None], seed=3)  # the model's own codes, no class
    assert torch.equal(prior_rows[1], draw_images(model, 4, 4))


def test_nearest_matches_return_the_training_image_and_its_reconstruction():
    generator = torch.Generator().manual_seed(1)
    train = torch.rand(50, 1, 4, 4, generator=generator)
    model = IdentityAutoencoder()
    samples = train[[3, 41, 17]] + 0.01
    matches = nearest_matches(model, samples, train, train_latents=train.flatten(1).numpy())
    assert matches.indices.tolist() == [3, 41, 17]
    assert torch.allclose(matches.images, train[[3, 41, 17]])
    assert torch.allclose(matches.reconstructions, train[[3, 41, 17]])
    assert (matches.distances < 2e-4).all()
    assert nearest_matches(model, samples, train).reconstructions is None
    by_row = nearest_matches_by_row(model, [samples[:2], samples[2:]], train, train.flatten(1).numpy())
    assert [row.indices.tolist() for row in by_row] == [[3, 41], [17]]
    assert by_row[1].reconstructions.shape == (1, 1, 4, 4)


def test_novelty_baseline_measures_reconstructions_of_unseen_images():
    generator = torch.Generator().manual_seed(2)
    train = torch.rand(40, 1, 4, 4, generator=generator)
    model = IdentityAutoencoder()
    assert novelty_baseline(model, train[:10], train) == pytest.approx(0.0, abs=1e-6)
    unseen = torch.rand(10, 1, 4, 4, generator=generator)
    assert novelty_baseline(model, unseen, train) > 0.01
