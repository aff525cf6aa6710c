"""Scores of generated images against real ones, grouped the way ``evaluate_run`` computes them.

``pixel_scores`` needs only images; ``feature_scores`` also needs the dataset's feature
classifier. Both return plain floats keyed by the names in ``catalogue.METRICS``.
"""

from __future__ import annotations

from typing import Callable

import torch

from gen_core.metrics import classes, distances, image_quality, structure
from gen_core.metrics.features import TrainedFeatureNet, accuracy, extract_features, predict_classes


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")


def pixel_scores(samples: torch.Tensor, real: torch.Tensor, train_images: torch.Tensor) -> dict[str, float]:
    """Pixel-space MMD, sharpness, per-image contrast, novelty and diversity of
    ``samples`` against ``real`` images.

    ``real`` should be held-out (test) images, so their distance to ``train_images`` is what a
    genuinely new image scores.
    """
    values = {"mmd_pixel": distances.mmd_squared(samples, real)}
    values["sharpness_samples"] = float(image_quality.gradient_magnitude(samples).mean())
    values["sharpness_real"] = float(image_quality.gradient_magnitude(real).mean())
    values["sharpness_ratio"] = _ratio(values["sharpness_samples"], values["sharpness_real"])
    values["laplacian_samples"] = float(image_quality.laplacian_variance(samples).mean())
    values["laplacian_real"] = float(image_quality.laplacian_variance(real).mean())
    values["laplacian_ratio"] = _ratio(values["laplacian_samples"], values["laplacian_real"])
    values.update(structure.structure_scores(samples, real))
    train = train_images.float().cpu()
    values["nn_distance_samples"] = float(distances.nearest_neighbour_mse(samples, train).mean())
    values["nn_distance_real"] = float(distances.nearest_neighbour_mse(real, train).mean())
    values["novelty_ratio"] = _ratio(values["nn_distance_samples"], values["nn_distance_real"])
    values["diversity_samples"] = distances.mean_pairwise_mse(samples)
    values["diversity_real"] = distances.mean_pairwise_mse(real)
    values["diversity_ratio"] = _ratio(values["diversity_samples"], values["diversity_real"])
    return values


ClassDrawer = Callable[[int, int], torch.Tensor]  # (class index, count) -> images drawn for that class


def _class_accuracy(feature_net: TrainedFeatureNet, draw_class: ClassDrawer, per_class: int,
                    class_ids: list[int]) -> tuple[float, dict[str, float]]:
    per_class_accuracy = {}
    for label in class_ids:
        predictions = predict_classes(feature_net.net, draw_class(label, per_class))
        per_class_accuracy[feature_net.class_names[label]] = classes.class_accuracy(predictions, label)
    return sum(per_class_accuracy.values()) / len(per_class_accuracy), per_class_accuracy


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
    coverage = classes.mode_coverage(predict_classes(net, samples), predict_classes(net, dataset.test_images),
                                     num_classes)
    values["mode_kl"], values["modes_covered"] = coverage["kl"], coverage["covered"]
    names = feature_net.class_names
    details = {"class_share_samples": dict(zip(names, coverage["sample_share"])),
               "class_share_real": dict(zip(names, coverage["real_share"])), "classes_in_data": coverage["classes"]}
    unavailable = {}
    if draw_class is None:
        unavailable["class_accuracy"] = "The prior sampler cannot draw a chosen class; use a class-aware sampler (gmm)."
    else:
        class_ids = sorted(set(dataset.train_labels.long().tolist()))
        values["class_accuracy"], details["class_accuracy_per_class"] = _class_accuracy(
            feature_net, draw_class, per_class, class_ids)
    return values, details, unavailable
