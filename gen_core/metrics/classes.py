"""Scores read off the feature classifier's predictions: class accuracy and mode coverage.

Mode collapse is a generator drawing only some kinds of image. The classifier turns that into
something countable: the share of random samples it calls each class, against the same shares
for real test images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from gen_core.data.base import ImageDataset
from gen_core.data.embedded import DIGIT_CLASS_NAMES
from gen_core.metrics.features import load_or_train_feature_net, predict_classes

COVERED_SHARE = 0.1  # a class counts as covered if it gets at least 10% of its real share


def class_histogram(predictions: torch.Tensor, num_classes: int) -> np.ndarray:
    """Fraction of ``predictions`` in each class (sums to 1)."""
    counts = np.bincount(np.asarray(predictions, dtype=np.int64).reshape(-1), minlength=num_classes)
    return counts / max(1, counts.sum())


def class_accuracy(predictions: torch.Tensor, target_class: int) -> float:
    """Fraction of images drawn for ``target_class`` that the classifier assigns to it (0 to 1)."""
    values = np.asarray(predictions).reshape(-1)
    return float(np.mean(values == int(target_class))) if len(values) else float("nan")


def mode_coverage(sample_predictions: torch.Tensor, real_predictions: torch.Tensor,
                  num_classes: int) -> dict:
    """How evenly samples spread over the classes, compared with real images.

    kl       KL(p_real || p_samples) = sum_c p_real(c) log(p_real(c) / p_samples(c)), in nats,
             p = the share of each predicted class. This direction punishes missing classes
             (collapse) most. p_samples uses add-one smoothing, (count + 1) / (n + C), so a class
             never drawn costs a large but finite amount; 0 means the same class mix.
    covered  classes whose sample share is at least COVERED_SHARE of their real share
             (out of the classes that real images show at all).
    """
    samples = np.asarray(sample_predictions, dtype=np.int64).reshape(-1)
    real_share = class_histogram(real_predictions, num_classes)
    sample_share = class_histogram(samples, num_classes)
    smoothed = (np.bincount(samples, minlength=num_classes) + 1.0) / (len(samples) + num_classes)
    present = real_share > 0
    kl = float(np.sum(real_share[present] * np.log(real_share[present] / smoothed[present])))
    covered = int(np.sum(sample_share[present] >= COVERED_SHARE * real_share[present]))
    return {"kl": kl, "covered": covered, "classes": int(present.sum()),
            "sample_share": sample_share.tolist(), "real_share": real_share.tolist()}


def digit_share_scorer(dataset: ImageDataset, root: Path | None = None,
                       device: torch.device | str = "cpu") -> Callable[[torch.Tensor], list[float]] | None:
    """For labelled digits: images -> the share of each digit the dataset's classifier sees in them
    (sums to 1), what a GAN's history records at grid epochs. None for other data. The classifier is
    the one the metrics use, cached under ``root`` (trained there once if it is missing)."""
    if not dataset.has_labels or dataset.test_labels is None or list(dataset.class_names) != DIGIT_CLASS_NAMES:
        return None
    net = load_or_train_feature_net(dataset, root, device).net
    count = len(DIGIT_CLASS_NAMES)
    return lambda images: class_histogram(predict_classes(net, images), count).tolist()
