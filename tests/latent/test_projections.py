"""PCA, t-SNE and UMAP pictures of latent codes: one point per code, seeded, subsampled, settings checked."""

from __future__ import annotations

import numpy as np
import pytest

from gen_core.errors import LatentError
from gen_core.latent import MAX_PROJECTION_POINTS, Projection, ProjectionSettings, project, subsample_indices


def _clusters(per_cluster: int = 20, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three clusters far apart in ``dim`` dimensions, each spread along 3 of them (a model's codes
    vary along a few directions), and which cluster each code is in."""
    generator = np.random.default_rng(seed)
    centres = 10 * generator.normal(size=(3, dim))
    labels = np.repeat(np.arange(3), per_cluster)
    spread = np.zeros((len(labels), dim))
    spread[:, :3] = generator.normal(size=(len(labels), 3))
    return centres[labels] + spread, labels


def _nearest_share_same_cluster(points: np.ndarray, labels: np.ndarray) -> float:
    distances = ((points[:, None] - points[None]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    return float((labels[distances.argmin(1)] == labels).mean())


@pytest.mark.parametrize("method, settings", [("tsne", ProjectionSettings(perplexity=10)),
                                              ("umap", ProjectionSettings(n_neighbors=8, min_dist=0.1))])
@pytest.mark.parametrize("dims", [2, 3])
def test_one_point_per_code_in_two_or_three_dimensions_and_the_clusters_stay_apart(method, settings, dims):
    codes, labels = _clusters()
    settings = ProjectionSettings(dims, settings.perplexity, settings.n_neighbors, settings.min_dist)
    projection = project(codes, method, settings, seed=3)
    assert isinstance(projection, Projection) and projection.method == method
    assert projection.points.shape == (60, dims) and np.isfinite(projection.points).all()
    assert projection.indices.tolist() == list(range(60)) and projection.total == 60 and not projection.subsampled
    assert _nearest_share_same_cluster(projection.points, labels) == 1.0  # neighbours kept together
    again = project(codes, method, settings, seed=3)
    np.testing.assert_array_equal(again.points, projection.points)  # the same seed, the same picture


def test_pca_gives_the_principal_coordinates():
    codes, _labels = _clusters(dim=5)
    points = project(codes, "pca", ProjectionSettings(dims=3)).points
    centred = codes - codes.mean(0)
    assert points.shape == (60, 3)
    np.testing.assert_allclose(points.var(0, ddof=1), np.sort(np.linalg.eigvalsh(np.cov(centred.T)))[::-1][:3])


def test_large_sets_are_subsampled_to_the_stated_count_the_same_way_for_a_seed():
    codes, labels = _clusters(per_cluster=50)  # 150 codes
    projection = project(codes, "tsne", ProjectionSettings(perplexity=10), seed=1, max_points=40)
    assert projection.points.shape == (40, 2) and projection.total == 150 and projection.subsampled
    assert len(set(projection.indices.tolist())) == 40 and np.all(np.diff(projection.indices) > 0)
    np.testing.assert_array_equal(projection.indices, subsample_indices(150, 40, seed=1))
    assert not np.array_equal(subsample_indices(150, 40, seed=2), projection.indices)
    assert _nearest_share_same_cluster(projection.points, labels[projection.indices]) == 1.0
    assert subsample_indices(30, 40, seed=1).tolist() == list(range(30))  # fewer than the cap: all of them
    assert MAX_PROJECTION_POINTS >= 500  # the embedded MNIST sample's test set is shown whole


@pytest.mark.parametrize("method, settings, codes, message", [
    ("tsne", ProjectionSettings(perplexity=60), None, r"perplexity \(60\) must be less than the number of points"),
    ("tsne", ProjectionSettings(perplexity=float("nan")), None, "finite number"),
    ("tsne", ProjectionSettings(perplexity=-5), None, "from 1 to 100"),
    ("tsne", ProjectionSettings(perplexity="30"), None, "must be a number"),
    ("umap", ProjectionSettings(n_neighbors=1), None, "neighbours must be from 2"),
    ("umap", ProjectionSettings(n_neighbors=60), None, r"neighbours \(60\) must be less than the number of points"),
    ("umap", ProjectionSettings(n_neighbors=7.5), None, "whole number"),
    ("umap", ProjectionSettings(min_dist=2.0), None, "minimum distance must be from 0 to 1"),
    ("umap", ProjectionSettings(min_dist=float("inf")), None, "finite"),
    ("tsne", ProjectionSettings(dims=4), None, "dimensions shown must be from 2 to 3"),
    ("tsne", ProjectionSettings(dims=True), None, "must be a number"),
    ("isomap", ProjectionSettings(), None, "Unknown projection 'isomap'"),
    ("pca", ProjectionSettings(dims=3), np.zeros((10, 2)), "3-D PCA needs codes of at least 3 dimensions"),
    ("tsne", ProjectionSettings(perplexity=2), np.zeros((3, 4)), "needs at least 4 codes"),
    ("tsne", ProjectionSettings(), np.full((60, 4), np.nan), "NaN or infinite"),
    ("tsne", ProjectionSettings(), np.zeros(60), r"shape \(N, D\)"),
    ("tsne", ProjectionSettings(), [["a", "b"]], "must be numbers"),
])
def test_hostile_settings_are_refused_with_one_line(method, settings, codes, message):
    codes = _clusters()[0] if codes is None else codes
    with pytest.raises(LatentError, match=message) as refused:
        project(codes, method, settings)
    assert "\n" not in str(refused.value)


def test_hostile_counts_and_seeds_are_refused():
    codes = _clusters()[0]
    for max_points, message in ((0, "points to project must be from 1"), (2.5, "whole number")):
        with pytest.raises(LatentError, match=message):
            project(codes, "pca", max_points=max_points)
    with pytest.raises(LatentError, match="seed must be from 0"):
        project(codes, "pca", seed=-1)
