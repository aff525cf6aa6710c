"""The latent map's engine: encoding + PCA once, then figures and decoded landmarks from it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gen_core.data import load_dataset
from gen_core.errors import ModelConfigError, SamplerError
from gen_core.latent import decode_latents
from gen_core.latent_map import (
    WEBGL_THRESHOLD, LatentMap, build_latent_map, class_mean_path, decoded_class_means, eigenvalue_figure,
    manifold_images, reconstructions, scatter_figure, seed_presets, selected_indices,
)
from gen_core.models import build_model


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _model(family: str, latent_dim: int):
    torch.manual_seed(0)
    return build_model(family, hidden=(32,), latent_dim=latent_dim, image_shape=(1, 8, 8)).eval()


@pytest.fixture(scope="module")
def ae_map(digits):
    model = _model("ae", 6)
    return model, build_latent_map(model, digits.test_images, digits.test_labels, digits.class_names)


def test_map_holds_codes_their_projection_and_a_complete_spectrum(ae_map, digits):
    model, latent_map = ae_map
    assert latent_map.latents.shape == (len(digits.test_images), 6)
    assert latent_map.coords.shape == (len(digits.test_images), 2)
    assert len(latent_map.explained_variance) == 6
    assert np.all(np.diff(latent_map.explained_variance) <= 1e-9)  # largest first
    assert latent_map.explained_variance_ratio.sum() == pytest.approx(1.0)
    # The first coordinate's variance is the first eigenvalue, as for any PCA projection.
    assert latent_map.coords[:, 0].var(ddof=1) == pytest.approx(latent_map.explained_variance[0], rel=1e-3)
    assert latent_map.present_classes() == list(range(10))
    assert latent_map.basis_scale >= 1.0


def test_scatter_has_one_trace_per_shown_class_with_indices_and_fixed_colours(ae_map):
    _model_, latent_map = ae_map
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


def test_scatter_without_labels_or_with_many_points(ae_map):
    _model_, latent_map = ae_map
    unlabelled = LatentMap(latent_map.latents, latent_map.coords, None)
    figure = scatter_figure(unlabelled)
    assert len(figure.data) == 1 and len(figure.data[0].x) == len(latent_map.coords)
    many = LatentMap(np.zeros((WEBGL_THRESHOLD + 1, 2), np.float32), np.zeros((WEBGL_THRESHOLD + 1, 2), np.float32),
                     np.zeros(WEBGL_THRESHOLD + 1, dtype=np.int64), ["a"])
    assert scatter_figure(many).data[0].type == "scattergl"


def test_eigenvalue_figure_shows_eigenvalues_and_their_running_total(ae_map):
    _model_, latent_map = ae_map
    bars, cumulative = eigenvalue_figure(latent_map).data
    np.testing.assert_allclose(np.asarray(bars.y), latent_map.explained_variance)
    assert np.asarray(cumulative.y)[-1] == pytest.approx(100.0)
    assert np.all(np.diff(np.asarray(cumulative.y)) >= 0)


def test_selected_indices_reads_plotly_selection_events():
    event = {"selection": {"points": [{"customdata": [12]}, {"customdata": 5}, {"customdata": [12]}, {"x": 1}]}}
    assert selected_indices(event) == [12, 5]
    assert selected_indices({"selection": {"points": []}}) == []
    assert selected_indices(None) == []


def test_seed_presets_only_for_datasets_with_those_classes():
    assert seed_presets([str(d) for d in range(10)]) == {"0 vs 1": [0, 1], "4 vs 9": [4, 9], "1 vs 7": [1, 7]}
    assert seed_presets(["cat", "dog"]) == {}


def test_reconstructions_come_from_the_stored_codes(ae_map, digits):
    model, latent_map = ae_map
    images = reconstructions(model, latent_map, [3, 7])
    with torch.no_grad():
        expected = model.decode(model.encode(digits.test_images[[3, 7]]))
    assert torch.allclose(images, expected, atol=1e-5)


def test_class_means_and_the_path_between_two_of_them(ae_map):
    model, latent_map = ae_map
    means, images = decoded_class_means(model, latent_map)
    assert means.shape == (10, 6) and images.shape == (10, 1, 8, 8)
    np.testing.assert_allclose(means[4].numpy(), latent_map.latents[latent_map.labels == 4].mean(0), atol=1e-5)
    path = class_mean_path(model, latent_map, 1, 7, steps=6)
    assert path.shape == (6, 1, 8, 8)
    assert torch.allclose(path[0], images[1], atol=1e-5) and torch.allclose(path[-1], images[7], atol=1e-5)
    with pytest.raises(SamplerError, match="no class labels"):
        decoded_class_means(model, LatentMap(latent_map.latents, latent_map.coords, None))


def test_manifold_grid_only_for_a_two_dimensional_latent(ae_map, digits):
    model, latent_map = ae_map
    with pytest.raises(ModelConfigError, match="2-d latent"):
        manifold_images(model, latent_map)
    vae = _model("vae", 2)
    vae_map = build_latent_map(vae, digits.test_images, digits.test_labels, digits.class_names)
    assert manifold_images(vae, vae_map, n=5).shape == (25, 1, 8, 8)
    ae = _model("ae", 2)
    rng = np.random.default_rng(0)
    codes = (np.array([4.0, -3.0]) + 0.01 * rng.standard_normal((50, 2))).astype(np.float32)
    off_centre = LatentMap(codes, codes, None)
    grid = manifold_images(ae, off_centre, n=4)
    assert grid.shape == (16, 1, 8, 8)
    # An autoencoder's grid covers where its codes are (here a tight cluster far from the origin).
    at_codes = decode_latents(ae, torch.tensor([[4.0, -3.0]]))[0]
    at_origin = decode_latents(ae, torch.zeros(1, 2))[0]
    assert (grid - at_codes).abs().max() < (at_origin - at_codes).abs().max() / 2
