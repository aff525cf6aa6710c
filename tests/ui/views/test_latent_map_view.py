"""The latent map's figures: the class scatter, the eigenvalue spectrum, reading a click back."""

from __future__ import annotations

import numpy as np
import pytest

from gen_core.latent import LatentMap
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
