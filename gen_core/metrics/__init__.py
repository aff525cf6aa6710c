"""Measuring generative models: reconstruction, likelihood, distances between image sets, and
feature-based scores from a small per-dataset classifier.

``evaluate_run(run_dir, ...)`` computes everything that applies to a saved run;
``store_final_metrics(run_dir, report)`` keeps the result in its history.json. The single
functions are importable for use on any image tensors (N, C, H, W) in [0, 1].
"""

from gen_core.metrics.catalogue import METRICS, MetricInfo, better_value, describe
from gen_core.metrics.classes import class_accuracy, class_histogram, mode_coverage
from gen_core.metrics.distances import (frechet_distance, mean_pairwise_mse, median_heuristic_bandwidth, mmd_squared,
                                        nearest_neighbour_mse)
from gen_core.metrics.features import (FeatureClassifier, extract_features, load_or_train_feature_net, predict_classes,
                                       train_feature_classifier)
from gen_core.metrics.image_quality import gradient_magnitude, laplacian_variance, ssim_per_image
from gen_core.metrics.inception import inception_fid, inception_unavailable_reason, inception_weights_path
from gen_core.metrics.likelihood import bits_per_dim, has_bernoulli_decoder, likelihood_scores, posterior_kl
from gen_core.metrics.reconstruction import per_image_bce, per_image_mse, reconstruction_scores
from gen_core.metrics.report import evaluate_run
from gen_core.metrics.storage import store_final_metrics, stored_metrics

__all__ = [
    "METRICS", "MetricInfo", "better_value", "describe", "class_accuracy", "class_histogram", "mode_coverage",
    "frechet_distance", "mean_pairwise_mse", "median_heuristic_bandwidth", "mmd_squared", "nearest_neighbour_mse",
    "FeatureClassifier", "extract_features", "load_or_train_feature_net", "predict_classes",
    "train_feature_classifier", "gradient_magnitude", "laplacian_variance", "ssim_per_image", "inception_fid",
    "inception_unavailable_reason", "inception_weights_path", "bits_per_dim", "has_bernoulli_decoder",
    "likelihood_scores", "posterior_kl", "per_image_bce", "per_image_mse", "reconstruction_scores",
    "evaluate_run", "store_final_metrics", "stored_metrics",
]
