"""The training timeline's map: every epoch on the last epoch's principal plane, axes fixed over all epochs."""

from __future__ import annotations

import numpy as np
import pytest

from gen_core.errors import LatentError
from gen_core.latent import LatentPCA
from gen_core.latent.timeline import TIMELINE_IMAGES, TimelineCodes, timeline_indices, timeline_map


def _frames(latent_dim: int, scales=(0.1, 1.0, 3.0)) -> list[TimelineCodes]:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(40, latent_dim)).astype(np.float32)
    return [TimelineCodes(np.arange(40), base * scale + rng.normal(scale=0.01, size=base.shape)) for scale in scales]


def test_every_epoch_lands_on_the_last_epochs_plane_within_one_pair_of_ranges():
    frames = _frames(6)
    result = timeline_map([1, 5, 10], frames)
    pca = LatentPCA().fit(frames[-1].codes)
    for frame, points in zip(frames, result.points):
        assert np.allclose(points, pca.transform(frame.codes)[:, :2])
    every = np.concatenate(result.points)
    assert result.x_range[0] < every[:, 0].min() and every[:, 0].max() < result.x_range[1]
    assert result.y_range[0] < every[:, 1].min() and every[:, 1].max() < result.y_range[1]
    # the first epoch's small cloud keeps its small size on the shared axes
    assert np.ptp(result.points[0][:, 0]) < 0.1 * (result.x_range[1] - result.x_range[0])
    assert result.epochs == [1, 5, 10] and result.axis_titles[0].startswith("PC 1 of the last epoch")


def test_a_2d_code_is_drawn_as_it_is_and_a_1d_code_on_a_line():
    frames = _frames(2)
    result = timeline_map([1, 2, 3], frames)
    assert all(np.allclose(points, frame.codes) for frame, points in zip(frames, result.points))
    assert result.axis_titles == ("z1", "z2")
    line = timeline_map([1, 2, 3], _frames(1))
    assert all(np.allclose(points[:, 1], 0) for points in line.points) and line.y_range == (-1.0, 1.0)


def test_epochs_following_other_images_are_refused():
    frames = _frames(4)
    moved = TimelineCodes(frames[0].indices + 1, frames[0].codes)
    with pytest.raises(LatentError, match="same test images"):
        timeline_map([1, 2], [moved, frames[1]])
    with pytest.raises(LatentError, match="at least one epoch"):
        timeline_map([], [])


def test_the_timeline_follows_the_same_500_test_images_every_time():
    assert np.array_equal(timeline_indices(10_000), timeline_indices(10_000))
    assert len(timeline_indices(10_000)) == TIMELINE_IMAGES and np.all(np.diff(timeline_indices(10_000)) > 0)
    assert np.array_equal(timeline_indices(100), np.arange(100))
