"""The k nearest training images, in latent space and in pixel space, of a code, an image or a drawing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gen_core.errors import LatentError
from gen_core.images import frame_drawing
from gen_core.latent import encode_dataset, k_nearest, latent_neighbours, pixel_neighbours
from gen_core.models import build_model


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_a_training_image_is_its_own_nearest_neighbour_at_distance_zero(digits_ae_map, digits, metric):
    model, _latent_map = digits_ae_map
    train_images, train_labels = digits.train_images[:600], digits.train_labels[:600]
    train_latents = encode_dataset(model, train_images)
    for position in (0, 123, 599):
        by_code = latent_neighbours(train_latents[position], train_latents, train_labels, k=5, metric=metric)
        by_pixels = pixel_neighbours(train_images[position], train_images, train_labels, k=5, metric=metric)
        for found in (by_code, by_pixels):
            assert found.distances[0] == pytest.approx(0.0, abs=1e-9)
            assert position in found.indices[found.distances < 1e-9]  # first, or tied at 0 with an exact copy
            assert len(found.indices) == 5 and np.all(np.diff(found.distances) >= 0)  # nearest first
            assert found.labels.tolist() == train_labels[found.indices].tolist() and found.metric == metric
        assert (by_code.space, by_pixels.space) == ("latent", "pixel")


def test_neighbours_agree_with_a_brute_force_search_across_chunks():
    generator = torch.Generator().manual_seed(0)
    references, query = torch.randn(50, 3, generator=generator), torch.randn(3, generator=generator)
    indices, distances = k_nearest(query, references, k=7, chunk_size=8)  # several chunks
    brute = (references.double() - query.double()).norm(dim=1)
    assert indices.tolist() == brute.argsort()[:7].tolist()
    np.testing.assert_allclose(distances, brute.sort().values[:7].numpy(), rtol=1e-12)
    cosine_indices, cosine = k_nearest(query, references, k=3, metric="cosine", chunk_size=8)
    similarity = torch.nn.functional.cosine_similarity(references.double(), query.double()[None])
    assert cosine_indices.tolist() == similarity.argsort(descending=True)[:3].tolist()
    np.testing.assert_allclose(cosine, 1 - similarity.sort(descending=True).values[:3].numpy(), atol=1e-12)
    assert len(k_nearest(query, references[:2], k=5)[0]) == 2  # fewer references than k


def test_bad_requests_are_refused():
    references = torch.zeros(4, 3)
    with pytest.raises(LatentError, match="Unknown distance"):
        k_nearest(torch.zeros(3), references, metric="manhattan")
    with pytest.raises(LatentError, match="at least one neighbour"):
        k_nearest(torch.zeros(3), references, k=0)
    with pytest.raises(LatentError, match="has 2 values but the training rows have 3"):
        k_nearest(torch.zeros(2), references)
    with pytest.raises(LatentError, match="no training images"):
        k_nearest(torch.zeros(3), references[:0])


def test_a_drawing_that_is_a_training_image_is_encoded_and_found_among_its_own_neighbours(mnist_small):
    torch.manual_seed(0)
    model = build_model("ae", hidden=(64,), latent_dim=8, image_shape=(1, 28, 28)).eval()
    train_images, train_labels = mnist_small.train_images, mnist_small.train_labels
    train_latents = encode_dataset(model, train_images)
    for position in (0, 150, 383):
        drawn = (train_images[position, 0].numpy() * 255).round().astype(np.uint8)  # as a pad hands pixels back
        image = frame_drawing(drawn)
        by_code = latent_neighbours(encode_dataset(model, image[None])[0], train_latents, train_labels, k=4)
        by_pixels = pixel_neighbours(image, train_images, train_labels, k=4)
        for found in (by_code, by_pixels):
            assert found.indices[0] == position and found.labels[0] == train_labels[position]
            assert found.distances[0] == pytest.approx(0.0, abs=1e-4) and found.distances[1] > 1e-3
