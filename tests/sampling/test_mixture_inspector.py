"""What a per-class mixture is made of: BIC and AIC over K, and drawing from one component."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gen_core.errors import SamplerError
from gen_core.sampling import ClassMixtureSampler, information_criteria


def _three_clusters(seed: int = 0, per_cluster: int = 150) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    return np.concatenate([centre + 0.5 * rng.standard_normal((per_cluster, 2)) for centre in centres])


def test_the_chosen_k_has_the_lowest_bic_of_the_curve():
    result = information_criteria(_three_clusters(), range(1, 7))
    assert sorted(result["bic"]) == [1, 2, 3, 4, 5, 6] and set(result["aic"]) == set(result["bic"])
    assert result["bic"][result["best_k"]] == min(result["bic"].values())
    assert result["best_k"] == 3, "three well separated clusters"


def test_ks_the_codes_cannot_support_are_skipped_and_said():
    codes = _three_clusters(per_cluster=4)  # 12 codes in 2-d: full covariances support K <= 4
    result = information_criteria(codes, [1, 2, 4, 5, 200])
    assert sorted(result["bic"]) == [1, 2, 4] and result["skipped"] == [5, 200]
    with pytest.raises(SamplerError, match="at least 1"):
        information_criteria(codes, [0])


def test_samples_of_one_component_sit_nearer_its_mean_than_the_others():
    codes = _three_clusters()
    sampler = ClassMixtureSampler(n_components=3, component=1).fit(codes)
    means = sampler.mixtures_[0].means_
    drawn, _ = sampler.sample(300, seed=0)
    distances = torch.cdist(drawn.double(), torch.as_tensor(means))
    assert (distances[:, 1].mean() < distances[:, [0, 2]].mean(dim=0)).all()
    assert (distances.argmin(dim=1) == 1).float().mean() > 0.95
    with pytest.raises(SamplerError, match="no component 3"):
        ClassMixtureSampler(n_components=3, component=3).fit(codes)


def test_one_component_is_a_checked_copy_sharing_the_fitted_mixtures():
    codes = _three_clusters()
    labels = np.arange(len(codes)) % 2  # both classes hold all three clusters
    sampler = ClassMixtureSampler(n_components=3).fit(codes, labels)
    chosen = sampler.one_component(2)
    assert chosen.component == 2 and sampler.component is None
    assert chosen.mixture_of(1) is sampler.mixture_of(1) and sampler.mixture_of(1).weights_.shape == (3,)
    drawn, _ = chosen.sample(200, class_label=1, seed=0)
    assert (chosen.mixture_of(1).predict(drawn.double().numpy()) == 2).mean() > 0.9
    for hostile in (3, -1, "two", None):
        with pytest.raises(SamplerError, match="component"):
            sampler.one_component(hostile)
    with pytest.raises(SamplerError, match="no class 5"):
        sampler.mixture_of(5)
