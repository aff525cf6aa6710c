"""The latent map's figures: the class scatter, the eigenvalue spectrum, reading a click back."""

from __future__ import annotations

import numpy as np
import pytest

from gen_core.latent import LatentMap, Projection
from ui.views.latent_map import WEBGL_THRESHOLD, class_pair_presets, eigenvalue_figure, scatter_figure, selected_indices


def test_scatter_has_one_trace_per_shown_class_with_indices_and_fixed_colours(digits_ae_map):
    _model_, latent_map = digits_ae_map
    everything = scatter_figure(latent_map)
    assert [trace.name for trace in everything.data] == [str(label) for label in range(10)]
    assert sum(len(trace.x) for trace in everything.data) == len(latent_map.coords)
    pair = scatter_figure(latent_map, [0, 1])
    assert [trace.name for trace in pair.data] == ["0", "1"]
    ones = np.asarray(pair.data[1].customdata)
    assert (latent_map.labels[ones] == 1).all()
    np.testing.assert_allclose(np.asarray(pair.data[1].x), latent_map.coords[ones, 0])
    assert pair.data[1].marker.color == everything.data[1].marker.color
    assert pair.data[0].marker.color != pair.data[1].marker.color
    assert pair.data[0].type == "scatter"


def test_scatter_without_labels_or_with_many_points(digits_ae_map):
    _model_, latent_map = digits_ae_map
    unlabelled = LatentMap(latent_map.latents, latent_map.coords, None)
    figure = scatter_figure(unlabelled)
    assert len(figure.data) == 1 and len(figure.data[0].x) == len(latent_map.coords)
    many = LatentMap(np.zeros((WEBGL_THRESHOLD + 1, 2), np.float32), np.zeros((WEBGL_THRESHOLD + 1, 2), np.float32),
                     np.zeros(WEBGL_THRESHOLD + 1, dtype=np.int64), ["a"])
    assert scatter_figure(many).data[0].type == "scattergl"


def test_eigenvalue_figure_shows_eigenvalues_and_their_running_total(digits_ae_map):
    _model_, latent_map = digits_ae_map
    bars, cumulative = eigenvalue_figure(latent_map).data
    np.testing.assert_allclose(np.asarray(bars.y), latent_map.explained_variance)
    assert np.asarray(cumulative.y)[-1] == pytest.approx(100.0)
    assert np.all(np.diff(np.asarray(cumulative.y)) >= 0)


def test_selected_indices_reads_plotly_selection_events():
    event = {"selection": {"points": [{"customdata": [12]}, {"customdata": 5}, {"customdata": [12]}, {"x": 1}]}}
    assert selected_indices(event) == [12, 5]
    assert selected_indices({"selection": {"points": []}}) == []
    assert selected_indices(None) == []


def test_class_pair_presets_only_for_datasets_with_those_classes():
    assert class_pair_presets([str(d) for d in range(10)]) == {"0 vs 1": [0, 1], "4 vs 9": [4, 9], "1 vs 7": [1, 7]}
    assert class_pair_presets(["cat", "dog"]) == {}


def test_a_2d_models_map_is_drawn_on_z1_z2_like_its_manifold():
    latents = np.array([[0.0, 1.0], [2.0, -1.0], [1.0, 0.5]], np.float32)
    rotated = latents[:, ::-1] * -1  # what a PCA might return: the same plane, turned
    figure = scatter_figure(LatentMap(latents, rotated, np.array([0, 0, 0]), ["a"]))
    np.testing.assert_allclose(np.asarray(figure.data[0].x), latents[:, 0])
    np.testing.assert_allclose(np.asarray(figure.data[0].y), latents[:, 1])
    assert (figure.layout.xaxis.title.text, figure.layout.yaxis.title.text) == ("z1", "z2")


def test_a_projection_draws_its_own_points_with_their_test_set_indices(digits_ae_map):
    _model_, latent_map = digits_ae_map
    kept = np.arange(0, len(latent_map.latents), 3)  # a subsample, as for a large test set
    points = np.random.default_rng(0).normal(size=(len(kept), 2))
    figure = scatter_figure(latent_map, highlight=int(kept[5]), projection=Projection("tsne", points, kept,
                                                                                      len(latent_map.latents)))
    classes = [trace for trace in figure.data if not trace.name.startswith("image #")]
    assert sum(len(trace.x) for trace in classes) == len(kept)
    for trace in classes:
        indices = np.asarray(trace.customdata)
        assert set(indices) <= set(kept) and (latent_map.class_name(latent_map.labels[indices[0]]) == trace.name)
        np.testing.assert_allclose(np.asarray(trace.x), points[np.searchsorted(kept, indices), 0])
    ring = [trace for trace in figure.data if trace.name == f"image #{kept[5]}"]
    assert len(ring) == 1 and (ring[0].x[0], ring[0].y[0]) == tuple(points[5])
    assert figure.layout.xaxis.title.text == "t-SNE 1"
    left_out = scatter_figure(latent_map, highlight=1, projection=Projection("tsne", points, kept, len(kept) * 3))
    assert not any(trace.name.startswith("image #") for trace in left_out.data)  # not drawn: no ring


def test_a_three_dimensional_projection_is_a_3d_scatter(digits_ae_map):
    _model_, latent_map = digits_ae_map
    count = len(latent_map.latents)
    points = np.random.default_rng(0).normal(size=(count, 3))
    figure = scatter_figure(latent_map, highlight=4, projection=Projection("umap", points, np.arange(count), count))
    assert {trace.type for trace in figure.data} == {"scatter3d"}
    assert sum(len(trace.z) for trace in figure.data if trace.name != "image #4") == count
    assert figure.layout.scene.zaxis.title.text == "UMAP 3"
    assert figure.data[-1].name == "image #4" and figure.data[-1].z[0] == points[4, 2]
