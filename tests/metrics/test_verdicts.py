"""Verdicts next to the pictures: undertrained models and class samples that look like another class."""

from __future__ import annotations

import numpy as np

from gen_core.metrics.verdicts import class_mismatches, training_verdict


def _history(losses):
    return {"epochs": [{"epoch": n + 1, "test_loss": loss} for n, loss in enumerate(losses)]}


def test_too_few_epochs_and_a_still_falling_loss_are_said():
    assert "not finished a single epoch" in training_verdict({"epochs": []}, "vae")
    assert "only 2 epochs" in training_verdict(_history([200, 150]), "vae")
    assert "only 4 epochs" in training_verdict(_history([1, 1, 1, 1]), "dcgan")  # GANs need more
    assert "still falling by 10% per epoch" in training_verdict(_history([200, 150, 120, 110, 100, 90]), "ae")
    assert training_verdict(_history([200, 150, 120, 110, 100, 99.5]), "ae") is None
    assert training_verdict(_history([5] * 12), "dcgan") is None  # a GAN's loss is not judged
    assert training_verdict(_history([200, 150, 120, 110, 100, float("nan")]), "vae") is None


def test_a_class_is_flagged_when_under_half_its_samples_are_classified_as_it():
    flagged = class_mismatches({3: np.array([3, 5, 5, 5, 5, 8, 3, 5]), 7: np.array([7, 7, 7, 1]), 4: np.array([])})
    assert len(flagged) == 1
    mismatch = flagged[0]
    assert (mismatch.wanted, mismatch.most_seen_as) == (3, 5)
    assert mismatch.share_as_wanted == 0.25 and mismatch.share_seen_as == 0.625
    assert class_mismatches({2: np.array([2, 2, 9, 9])}) == []  # exactly half is not flagged
