"""Scores of generated images against real ones, grouped the way ``evaluate_run`` computes them.

``pixel_scores`` needs only images; ``feature_scores`` also needs the dataset's feature
classifier. Both return plain floats keyed by the names in ``catalogue.METRICS``.
"""

from __future__ import annotations

from typing import Callable

import torch

import numpy as np

from gen_core.metrics import classes, distances, image_quality
from gen_core.metrics.structure import rms_contrast
from gen_core.metrics.features import TrainedFeatureNet, accuracy, extract_features, predict_classes
from gen_core.metrics.uncertainty import COSTLY_DRAWS, bootstrap_interval, mean_interval, ratio_interval


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")


def pixel_scores(samples: torch.Tensor, real: torch.Tensor, train_images: torch.Tensor,
                 intervals: dict | None = None) -> dict[str, float]:
    """Pixel-space MMD, sharpness, per-image contrast, novelty and diversity of ``samples`` against ``real`` images.

    ``real`` should be held-out (test) images, so their distance to ``train_images`` is what a
    genuinely new image scores; with as many real images as samples, at the same resolution, the
    sharpness and novelty ratios compare like with like. ``intervals``, when given, receives a
    bootstrap interval (low, high) for each per-image score and ratio.
    """
    values = {"mmd_pixel": distances.mmd_squared(samples, real)}
    per_image = {"sharpness": (image_quality.gradient_magnitude(samples), image_quality.gradient_magnitude(real)),
                 "laplacian": (image_quality.laplacian_variance(samples), image_quality.laplacian_variance(real))}
    per_image["contrast"] = (rms_contrast(samples), rms_contrast(real))  # a flat image scores 0
    train = train_images.float().cpu()
    per_image["nn_distance"] = (distances.nearest_neighbour_mse(samples, train),
                                distances.nearest_neighbour_mse(real, train))
    ratio_names = {"sharpness": "sharpness_ratio", "laplacian": "laplacian_ratio", "contrast": "contrast_ratio",
                   "nn_distance": "novelty_ratio"}
    for stem, (of_samples, of_real) in per_image.items():
        of_samples, of_real = of_samples.double().numpy(), of_real.double().numpy()
        values[f"{stem}_samples"], values[f"{stem}_real"] = float(of_samples.mean()), float(of_real.mean())
        values[ratio_names[stem]] = _ratio(values[f"{stem}_samples"], values[f"{stem}_real"])
        if intervals is not None:
            intervals[f"{stem}_samples"], intervals[f"{stem}_real"] = mean_interval(of_samples), mean_interval(of_real)
            intervals[ratio_names[stem]] = ratio_interval(of_samples, of_real)
    values["diversity_samples"] = distances.mean_pairwise_mse(samples)
    values["diversity_real"] = distances.mean_pairwise_mse(real)
    values["diversity_ratio"] = _ratio(values["diversity_samples"], values["diversity_real"])
    return values


ClassDrawer = Callable[[int, int], torch.Tensor]  # (class index, count) -> images drawn for that class


def _class_accuracy(feature_net: TrainedFeatureNet, draw_class: ClassDrawer, per_class: int,
                    class_ids: list[int]) -> tuple[float, dict[str, float]]:
    per_class_accuracy, correct = {}, []
    for label in class_ids:
        predictions = predict_classes(feature_net.net, draw_class(label, per_class))
        per_class_accuracy[feature_net.class_names[label]] = classes.class_accuracy(predictions, label)
        correct.append(np.asarray(predictions).reshape(-1) == int(label))
    return sum(per_class_accuracy.values()) / len(per_class_accuracy), per_class_accuracy, np.concatenate(correct)


def feature_scores(feature_net: TrainedFeatureNet, dataset, samples: torch.Tensor, real: torch.Tensor,
                   draw_class: ClassDrawer | None, per_class: int = 100) -> tuple[dict, dict, dict]:
    """Fréchet distance, feature MMD, mode coverage and (with ``draw_class``) class accuracy.

    Returns (metrics, details, unavailable). ``draw_class`` is None for samplers that cannot
    draw a chosen class (the prior), and class accuracy is then reported as unavailable.
    """
    net, num_classes = feature_net.net, feature_net.net.config.num_classes
    sample_features, real_features = extract_features(net, samples), extract_features(net, real)
    values = {"frechet_feature": distances.frechet_distance(sample_features, real_features),
              "mmd_feature": distances.mmd_squared(sample_features, real_features),
              "classifier_accuracy_real": accuracy(net, dataset.test_images, dataset.test_labels)}
    sample_predictions = np.asarray(predict_classes(net, samples)).reshape(-1)
    real_predictions = predict_classes(net, dataset.test_images)
    coverage = classes.mode_coverage(sample_predictions, real_predictions, num_classes)
    values["mode_kl"], values["modes_covered"] = coverage["kl"], coverage["covered"]
    names = feature_net.class_names
    details = {"class_share_samples": dict(zip(names, coverage["sample_share"])),
               "class_share_real": dict(zip(names, coverage["real_share"])), "classes_in_data": coverage["classes"]}
    details["intervals"] = _feature_intervals(sample_features, real_features, sample_predictions, real_predictions,
                                              num_classes)
    unavailable = {}
    if draw_class is None:
        unavailable["class_accuracy"] = "The prior sampler cannot draw a chosen class; use a class-aware sampler (gmm)."
    else:
        class_ids = sorted(set(dataset.train_labels.long().tolist()))
        values["class_accuracy"], details["class_accuracy_per_class"], correct = _class_accuracy(
            feature_net, draw_class, per_class, class_ids)
        details["intervals"]["class_accuracy"] = mean_interval(correct)
    return values, details, unavailable


def _feature_intervals(sample_features, real_features, sample_predictions, real_predictions,
                       num_classes: int) -> dict:
    """Bootstrap intervals of the Fréchet distance and the mode scores over the samples."""
    sample_features = sample_features.double().cpu().numpy()
    real_features = real_features.double().cpu().numpy()

    def frechet(of_samples, of_real):
        return distances.frechet_distance(torch.from_numpy(of_samples), torch.from_numpy(of_real))

    def coverage(name):
        return lambda picked: classes.mode_coverage(picked, real_predictions, num_classes)[name]

    return {"frechet_feature": bootstrap_interval(frechet, [sample_features, real_features], draws=COSTLY_DRAWS),
            "mode_kl": bootstrap_interval(coverage("kl"), [sample_predictions]),
            "modes_covered": bootstrap_interval(coverage("covered"), [sample_predictions])}
