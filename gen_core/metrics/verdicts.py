"""Is a model good enough to show? Plain-language verdicts a page can put next to the pictures.

Two checks a lecturer wants before the room sees the images: whether training stopped while the
model was still improving fast (or after too few epochs), and whether a class sampler's images
look like the class they were drawn for, judged by the dataset's feature classifier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gen_core.models import family_class, family_label

STILL_FALLING = 0.02  # a test loss still falling by 2% per epoch at the end: more training pays
MISMATCH_SHARE = 0.5  # fewer than half of a class's samples classified as it: say so


def training_verdict(history: dict, family: str) -> str | None:
    """Why the pictures may look worse than this model family can do, or None when nothing stands out.

    A GAN's losses do not fall steadily as it improves, so only its epoch count is judged.
    """
    epochs = history.get("epochs", []) if isinstance(history, dict) else []
    if not epochs:
        return "This model has not finished a single epoch of training yet."
    minimum = getattr(family_class(family), "min_epochs", 5)
    done = len(epochs)
    if done < minimum:
        return (f"Trained for only {done} epoch{'s' if done != 1 else ''}: {family_label(family, in_sentence=True)} usually needs "
                f"{minimum} or more before its images look right. Train it further (Train page, *Resume*).")
    if getattr(family_class(family), "is_adversarial", False):
        return None
    losses = [entry.get("test_loss") for entry in epochs[-3:]]
    if len(losses) < 2 or any(not isinstance(loss, (int, float)) or not np.isfinite(loss) for loss in losses):
        return None
    drop = (losses[-2] - losses[-1]) / max(abs(losses[-2]), 1e-12)
    if drop > STILL_FALLING:
        return (f"The test loss was still falling by {drop:.0%} per epoch when training ended: "
                "more epochs would give better pictures.")
    return None


@dataclass(frozen=True)
class ClassMismatch:
    """Samples drawn for ``wanted`` that a classifier mostly calls something else."""

    wanted: int
    share_as_wanted: float
    most_seen_as: int
    share_seen_as: float


def class_mismatches(predictions: dict[int, np.ndarray]) -> list[ClassMismatch]:
    """For each class with samples: flag it when under half of them are classified as that class."""
    flagged = []
    for wanted, predicted in predictions.items():
        predicted = np.asarray(predicted, dtype=np.int64).reshape(-1)
        if len(predicted) == 0:
            continue
        share = float(np.mean(predicted == int(wanted)))
        if share >= MISMATCH_SHARE:
            continue
        others = predicted[predicted != int(wanted)]
        values, counts = np.unique(others, return_counts=True)
        top = int(np.argmax(counts))
        flagged.append(ClassMismatch(int(wanted), share, int(values[top]), float(counts[top] / len(predicted))))
    return flagged


# -- when two measures of the same thing disagree ------------------------------------------------
# Levels, from best to worst, of a few scores read on their own.
LEVELS = ("good", "fair", "poor")
FRECHET_LEVELS = (40.0, 120.0)  # classifier-feature Fréchet distance: below the first good, below the second fair
COVERAGE_LEVELS = (0.9, 0.6)  # share of the data's classes that samples show often enough
SHARP_RANGE = (0.7, 1.4)  # a sharpness ratio in here: about as sharp as real images
UNREADABLE_SHARE = 0.5  # class accuracy under half of the classifier's own on real images


def _level(value: float, limits: tuple[float, float], higher_is_better: bool) -> str:
    first, second = limits
    if higher_is_better:
        return "good" if value >= first else "fair" if value >= second else "poor"
    return "good" if value <= first else "fair" if value <= second else "poor"


def frechet_level(frechet: float) -> str:
    return _level(frechet, FRECHET_LEVELS, higher_is_better=False)


def coverage_level(covered: float, classes: int) -> str:
    return _level(covered / max(classes, 1), COVERAGE_LEVELS, higher_is_better=True)


def disagreements(metrics: dict, classes_in_data: int | None = None) -> list[str]:
    """Plain sentences for scores that contradict another measure of the same thing.

    The Fréchet distance summarises the samples' features by a mean and a covariance, so a model
    that draws one kind of image well can score better on it than the classes it covers warrant;
    and images can be as sharp as real ones while the classifier cannot read them.
    """
    notes = []
    frechet, covered = metrics.get("frechet_feature"), metrics.get("modes_covered")
    if frechet is not None and covered is not None and classes_in_data:
        by_distance, by_coverage = frechet_level(frechet), coverage_level(covered, classes_in_data)
        if LEVELS.index(by_coverage) > LEVELS.index(by_distance):
            notes.append(f"The Fréchet distance looks {by_distance} ({frechet:.0f}), but the samples show only "
                         f"{covered:.0f} of {classes_in_data} classes often enough ({by_coverage}): the distance "
                         "can miss missing classes, so trust the class count here.")
    sharpness, accuracy = metrics.get("laplacian_ratio"), metrics.get("class_accuracy")
    ceiling = metrics.get("classifier_accuracy_real") or 1.0
    if sharpness is not None and accuracy is not None and SHARP_RANGE[0] <= sharpness <= SHARP_RANGE[1] \
            and accuracy < UNREADABLE_SHARE * ceiling:
        notes.append(f"The samples are about as sharp as real images, but the classifier reads only {accuracy:.0%} "
                     "of them as the class they were drawn for: sharp is not the same as right.")
    return notes
