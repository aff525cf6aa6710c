"""Bootstrap intervals, and verdicts that say when two measures of the same thing disagree."""

from __future__ import annotations

import numpy as np

from gen_core.metrics.uncertainty import bootstrap_interval, differ, mean_interval, ratio_interval
from gen_core.metrics.verdicts import coverage_level, disagreements, frechet_level


def test_a_mean_interval_holds_the_mean_and_narrows_with_more_samples():
    generator = np.random.default_rng(0)
    few, many = generator.normal(5, 1, 20), generator.normal(5, 1, 2000)
    low, high = mean_interval(few)
    assert low < few.mean() < high
    many_low, many_high = mean_interval(many)
    assert (many_high - many_low) < (high - low) / 4


def test_a_ratio_interval_resamples_each_group():
    low, high = ratio_interval(np.full(50, 2.0), np.full(50, 4.0))
    assert low == high == 0.5
    low, high = bootstrap_interval(lambda x: float(np.max(x)), [np.arange(10.0)], draws=50)
    assert 0 <= low <= high <= 9


def test_overlapping_intervals_do_not_differ():
    assert not differ((1.0, 2.0), (1.5, 3.0))
    assert differ((1.0, 2.0), (2.5, 3.0))
    assert differ(None, (1.0, 2.0))  # nothing known: as before intervals


def test_a_one_mode_model_gets_a_worse_mode_verdict_than_its_frechet_verdict_and_it_is_said():
    one_mode = {"frechet_feature": 25.0, "modes_covered": 1.0}
    assert frechet_level(25.0) == "good"
    assert coverage_level(1, 10) == "poor"
    notes = disagreements(one_mode, classes_in_data=10)
    assert len(notes) == 1 and "only 1 of 10 classes" in notes[0]
    assert disagreements({"frechet_feature": 25.0, "modes_covered": 10.0}, 10) == []


def test_sharp_images_the_classifier_cannot_read_are_said_to_be():
    notes = disagreements({"laplacian_ratio": 1.0, "class_accuracy": 0.2, "classifier_accuracy_real": 0.95})
    assert notes and "sharp is not the same as right" in notes[0]
    assert disagreements({"laplacian_ratio": 0.3, "class_accuracy": 0.2}) == []
