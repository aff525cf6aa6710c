"""The classifier two-sample test on cases whose answer is known: one distribution split in two
(chance), real against blank or flat images (always told apart), and hostile inputs."""

from __future__ import annotations

import pytest
import torch

from gen_core.data import load_dataset
from gen_core.errors import ImageInputError
from gen_core.metrics.two_sample import (C2STSettings, classifier_two_sample_test, distinct_images,
                                         wilson_interval)


FAST = C2STSettings(steps=150)  # enough to tell blank from real; the report uses the default 400


@pytest.fixture(scope="module")
def mnist_test():
    return load_dataset("mnist5k").test_images  # 500 real digits no model trained on


def _halves(images: torch.Tensor, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    return images[order[: len(images) // 2]], images[order[len(images) // 2:]]


def test_two_halves_of_the_real_test_set_are_near_chance(mnist_test):
    first, second = _halves(mnist_test)
    result = classifier_two_sample_test(first, second, FAST)
    assert 0.38 <= result.accuracy <= 0.62
    assert result.low <= 0.5 <= result.high
    assert result.n_test == 250 and result.n_train == 250


def test_blank_images_are_told_apart_from_real_ones(mnist_test):
    result = classifier_two_sample_test(mnist_test, torch.zeros_like(mnist_test), FAST)
    assert result.accuracy >= 0.97
    assert result.low > 0.9


def test_flat_grey_squares_are_told_apart_from_real_tiles():
    tiles = load_dataset("tiles", tile_size=32, tiles_per_epoch=200, test_tiles=300).train_images
    # Flat squares with the real tiles' own brightness: only structure can tell them apart (and some
    # real tiles, of the black border around a fundus photograph, are flat themselves).
    flat = tiles.mean(dim=(2, 3), keepdim=True).expand_as(tiles).clone()
    assert classifier_two_sample_test(tiles[:100], flat[100:]).accuracy >= 0.85


def test_the_same_seed_gives_the_same_accuracy(mnist_test):
    first, second = _halves(mnist_test[:200], seed=1)
    settings = C2STSettings(steps=50)
    assert classifier_two_sample_test(first, second, settings) == classifier_two_sample_test(first, second, settings)


def test_repeated_real_images_cannot_leak_across_the_split(mnist_test):
    # Ten real digits repeated fifty times against ten others: with the repeats kept, the
    # classifier would recognise held-out copies of the very images it trained on.
    real = mnist_test[:10].repeat(50, 1, 1, 1)
    result = classifier_two_sample_test(real, mnist_test[10:510], C2STSettings(steps=5))
    assert result.n_test == 10  # ten distinct real images: five held out, against five generated
    assert distinct_images(real).shape == (10, 1, 28, 28)
    assert torch.equal(distinct_images(real), mnist_test[:10])


def test_wilson_interval_matches_known_values():
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)
    low, high = wilson_interval(100, 100)
    assert high == 1.0 and low == pytest.approx(0.963, abs=1e-3)


@pytest.mark.parametrize("real, generated, message", [
    (torch.zeros(5, 1, 8, 8), torch.zeros(20, 1, 8, 8), "at least 10"),
    (torch.rand(20, 1, 8, 8), torch.rand(20, 1, 9, 9), "differ in shape"),
    (torch.rand(20, 8, 8), torch.rand(20, 1, 8, 8), r"\(N, C, H, W\)"),
    (torch.rand(20, 1, 8, 8), torch.full((20, 1, 8, 8), float("nan")), "NaN"),
    (torch.zeros(20, 1, 8, 8), torch.rand(20, 1, 8, 8), "at least 10 distinct real"),
])
def test_unusable_inputs_get_a_clear_message(real, generated, message):
    with pytest.raises(ImageInputError, match=message):
        classifier_two_sample_test(real, generated, C2STSettings(steps=1))
