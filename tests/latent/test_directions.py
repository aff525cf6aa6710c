"""Class directions: the class-mean difference, latent arithmetic on a trained model, orthonormal sets."""

from __future__ import annotations

import pytest
import torch

from gen_core.errors import LatentError
from gen_core.latent import (arithmetic_images, class_mean_table, decode_latents, encode_dataset, latent_arithmetic,
                             orthonormal_directions)
from gen_core.metrics.features import load_or_train_feature_net
from gen_core.run.checkpoint import load_run


def test_a_direction_is_the_difference_of_two_class_means():
    latents = torch.tensor([[0.0, 0.0], [2.0, 0.0], [10.0, 4.0], [12.0, 6.0], [5.0, 5.0]])
    labels = torch.tensor([4, 4, 9, 9, 7])
    table = class_mean_table(latents, labels, [str(c) for c in range(10)])
    assert table.classes == [4, 7, 9]
    assert torch.allclose(table.direction(4, 9), torch.tensor([10.0, 5.0]))
    moved = latent_arithmetic(torch.tensor([[1.0, 1.0], [0.0, 0.0]]), table, 4, 9, strength=0.5)
    assert torch.allclose(moved, torch.tensor([[6.0, 3.5], [5.0, 2.5]]))


@pytest.mark.parametrize("from_class, to_class, message", [
    (4, 4, "two different classes"),
    (4, 3, "not among this model's classes"),
    (-1, 9, "not among this model's classes"),
    ("4; rm", 9, "not among this model's classes"),
])
def test_bad_class_choices_are_refused_in_one_line(from_class, to_class, message):
    table = class_mean_table(torch.randn(6, 3), torch.tensor([4, 4, 9, 9, 7, 7]))
    with pytest.raises(LatentError, match=message):
        latent_arithmetic(torch.zeros(3), table, from_class, to_class)


def test_the_arithmetic_strip_starts_at_the_code_and_steps_along_the_direction(small_ae):
    table = class_mean_table(torch.randn(8, 4, generator=torch.Generator().manual_seed(5)), torch.arange(8) % 2)
    code = torch.randn(4, generator=torch.Generator().manual_seed(6))
    strip = arithmetic_images(small_ae, code, table, 0, 1, strengths=(0.0, 1.0))
    assert strip.shape == (2, 1, 16, 16)
    assert torch.allclose(strip[0], decode_latents(small_ae, code.unsqueeze(0))[0])
    assert torch.allclose(strip[1], decode_latents(small_ae, (code + table.direction(0, 1)).unsqueeze(0))[0])


def test_codes_without_labels_have_no_class_directions():
    with pytest.raises(LatentError, match="no class labels"):
        class_mean_table(torch.randn(5, 3), None)


def test_orthonormal_directions_are_orthogonal_unit_vectors_spanning_the_same_space():
    vectors = torch.randn(4, 12, generator=torch.Generator().manual_seed(3)) + 2.0  # far from orthogonal
    basis = orthonormal_directions(vectors)
    assert basis.shape == (4, 12)
    assert torch.allclose(basis @ basis.T, torch.eye(4), atol=1e-5)  # pairwise dot ~0, each of length 1
    # the same span: each vector is its own projection onto the rows, and the rows are combinations of it
    projected = (vectors @ basis.T) @ basis
    assert torch.allclose(projected, vectors, atol=1e-4)
    assert torch.linalg.matrix_rank(torch.cat([vectors, basis.double()]), rtol=1e-5) == 4  # rows add no new span
    # order kept: the first is the first vector, scaled; each points the way its vector does
    assert torch.allclose(basis[0], (vectors[0] / vectors[0].norm()).float(), atol=1e-6)
    assert ((vectors * basis).sum(1) > 0).all()
    assert torch.equal(orthonormal_directions(list(vectors)), basis)  # a list of vectors does as well


def test_a_direction_in_the_span_of_earlier_ones_is_refused():
    first, second = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    with pytest.raises(LatentError, match="Direction 3 lies in the span"):
        orthonormal_directions(torch.stack([first, second, 2 * first - second]))
    with pytest.raises(LatentError, match="at most 3"):
        orthonormal_directions(torch.randn(4, 3))
    with pytest.raises(LatentError, match="K at least 1"):
        orthonormal_directions([])
    with pytest.raises(LatentError, match="length zero"):
        orthonormal_directions(torch.zeros(1, 3))


def test_arithmetic_moves_fours_towards_nine_on_a_trained_model(trained_digits_ae, digits, tmp_path_factory):
    """A trained autoencoder's fours, plus (mean of the nines - mean of the fours) of its training
    codes, decode to images the digit classifier calls 9 more often and more surely."""
    model = load_run(trained_digits_ae).model.eval()
    classifier = load_or_train_feature_net(digits, root=tmp_path_factory.mktemp("feature-nets")).net
    table = class_mean_table(encode_dataset(model, digits.train_images), digits.train_labels, digits.class_names)
    fours = digits.test_images[digits.test_labels == 4][:20]
    codes = encode_dataset(model, fours)
    with torch.no_grad():
        before = torch.softmax(classifier(decode_latents(model, codes)), dim=1)
        after = torch.softmax(classifier(decode_latents(model, latent_arithmetic(codes, table, 4, 9))), dim=1)
    assert len(fours) >= 10
    assert float(after[:, 9].mean()) > float(before[:, 9].mean()) + 0.3, (before[:, 9], after[:, 9])
    share_before = float((before.argmax(1) == 9).float().mean())
    share_after = float((after.argmax(1) == 9).float().mean())
    assert share_after >= share_before + 0.5, (share_before, share_after)
    assert (after[:, 9] > before[:, 9]).float().mean() >= 0.8  # most single fours move towards 9, not just the mean
