"""What each reported number means: a label, its unit, which way is better, and a one-line definition.

The full definitions live in the docstrings of the functions that compute them; these short
forms travel with every report so a table or a page can explain a number without importing
anything else. ``better`` is "lower", "higher", "near 1" (a ratio against real images) or ""
(descriptive, no right answer on its own).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class MetricInfo:
    label: str
    unit: str
    better: str
    description: str
    group: str


_RECON, _LIKE, _DIST, _CLASS, _SHARP, _NOVEL = ("reconstruction", "likelihood", "distribution", "classes",
                                                 "sharpness", "novelty")

METRICS: dict[str, MetricInfo] = {
    "recon_mse": MetricInfo("Reconstruction MSE", "squared intensity per pixel", "lower",
                            "Mean over test images of (1/d) sum (x_hat - x)^2, x_hat = decode(encode(x)).",
                            _RECON),
    "recon_bce": MetricInfo("Reconstruction BCE", "nats per image", "lower",
                            "Mean over test images of the pixel-summed binary cross-entropy of x_hat against x.",
                            _RECON),
    "ssim": MetricInfo("SSIM of reconstructions", "unitless, -1 to 1", "higher",
                       "Mean structural similarity (11x11 Gaussian window, smaller for tiny images) between "
                       "test images and their reconstructions.", _RECON),
    "elbo": MetricInfo("ELBO (beta = 1)", "nats per image", "higher",
                       "Mean over test images of E_q[log p(x|z)] - KL(q(z|x) || N(0, I)), Bernoulli decoder.", _LIKE),
    "kl": MetricInfo("KL term", "nats per image", "",
                     "Mean KL(q(z|x) || N(0, I)) on test images: how much information the code carries.", _LIKE),
    "active_units": MetricInfo("Active latent dimensions", "dimensions", "",
                               "Latent dimensions whose posterior mean varies over test images by more than 0.01 "
                               "(activity, Burda et al. 2016): the ones the model uses.", _LIKE),
    "log_likelihood": MetricInfo("Test log-likelihood (IWAE)", "nats per image", "higher",
                                 "Mean of log (1/k) sum_j p(x, z_j) / q(z_j|x) over test images; a bound that "
                                 "tightens with k.", _LIKE),
    "bits_per_dim": MetricInfo("Bits per dimension", "bits per pixel value", "lower",
                               "-log_likelihood / (D ln 2), D = number of pixel values.", _LIKE),
    "mmd_pixel": MetricInfo("MMD^2, pixels", "unitless", "lower",
                            "Unbiased squared MMD, Gaussian kernel with median-heuristic bandwidth, samples vs "
                            "test images in pixel space.", _DIST),
    "mmd_feature": MetricInfo("MMD^2, classifier features", "unitless", "lower",
                              "The same MMD on the feature classifier's 128-d hidden layer.", _DIST),
    "frechet_feature": MetricInfo("Fréchet distance, classifier features", "squared feature units", "lower",
                                  "FID's formula on the dataset's own feature classifier (offline FID).", _DIST),
    "fid_inception": MetricInfo("FID (Inception v3)", "squared feature units", "lower",
                                "Standard FID from torchmetrics; only when the Inception weights are local.", _DIST),
    "classifier_accuracy_real": MetricInfo("Classifier accuracy, real test images", "fraction", "",
                                           "The feature classifier's accuracy on real test images: the ceiling "
                                           "for class accuracy.", _CLASS),
    "class_accuracy": MetricInfo("Class accuracy of class samples", "fraction", "higher",
                                 "Mean over classes c of the share of images drawn for class c that the "
                                 "classifier calls c.", _CLASS),
    "mode_kl": MetricInfo("Mode KL(real || samples)", "nats", "lower",
                          "KL between the predicted-class shares of real test images and of random samples "
                          "(add-one smoothed); large when classes are missing.", _CLASS),
    "modes_covered": MetricInfo("Classes covered", "classes", "higher",
                                "Classes that get at least 10% of their real share of random samples.", _CLASS),
    "c2st_accuracy": MetricInfo("Two-sample classifier accuracy (C2ST)", "fraction, 0.5 to 1", "lower",
                                "Held-out accuracy of a small CNN trained to tell samples from real test images: "
                                "0.5 cannot tell them apart, 1.0 always can (Lopez-Paz & Oquab 2017).", _DIST),
    "contrast_samples": MetricInfo("Contrast per image, samples", "intensity (standard deviation)", "",
                                   "Mean over samples of each image's RMS contrast (std of its pixel values); "
                                   "a flat image scores 0.", _SHARP),
    "contrast_real": MetricInfo("Contrast per image, real", "intensity (standard deviation)", "",
                                "The same on real test images.", _SHARP),
    "contrast_ratio": MetricInfo("Contrast ratio", "samples / real", "near 1",
                                 "Below 1: samples are flatter than real images.", _SHARP),
    "sharpness_samples": MetricInfo("Gradient magnitude, samples", "intensity per pixel", "",
                                    "Mean sqrt(dx^2 + dy^2) of neighbouring-pixel differences over samples.", _SHARP),
    "sharpness_real": MetricInfo("Gradient magnitude, real", "intensity per pixel", "",
                                 "The same on real test images.", _SHARP),
    "sharpness_ratio": MetricInfo("Sharpness ratio (gradient)", "samples / real", "near 1",
                                  "Below 1: samples are blurrier than real images.", _SHARP),
    "laplacian_samples": MetricInfo("Laplacian variance, samples", "squared intensity", "",
                                    "Mean variance of the 3x3 Laplacian response over samples.", _SHARP),
    "laplacian_real": MetricInfo("Laplacian variance, real", "squared intensity", "",
                                 "The same on real test images.", _SHARP),
    "laplacian_ratio": MetricInfo("Sharpness ratio (Laplacian)", "samples / real", "near 1",
                                  "Below 1: samples are blurrier than real images.", _SHARP),
    "nn_distance_samples": MetricInfo("Nearest-training distance, samples", "squared intensity per pixel", "",
                                      "Mean per-pixel MSE from each sample to its closest training image.", _NOVEL),
    "nn_distance_real": MetricInfo("Nearest-training distance, real", "squared intensity per pixel", "",
                                   "The same for real test images (never seen in training).", _NOVEL),
    "novelty_ratio": MetricInfo("Novelty ratio", "samples / real", "near 1",
                                "Well below 1: samples copy training images; well above: off the data.", _NOVEL),
    "diversity_samples": MetricInfo("Spread of samples", "squared intensity per pixel", "",
                                    "Mean per-pixel MSE between pairs of samples.", _NOVEL),
    "diversity_real": MetricInfo("Spread of real images", "squared intensity per pixel", "",
                                 "Mean per-pixel MSE between pairs of real test images.", _NOVEL),
    "diversity_ratio": MetricInfo("Diversity ratio", "samples / real", "near 1",
                                  "Well below 1: samples are too alike (collapse).", _NOVEL),
}


# Names older reports used, and what they are called now.
RENAMED_METRICS = {"memorisation_ratio": "novelty_ratio"}


def describe(names) -> dict[str, dict]:
    """JSON-ready descriptions for the given metric names."""
    return {name: asdict(METRICS[name]) for name in names if name in METRICS}


def better_value(name: str, values: list[float]) -> float | None:
    """The best of ``values`` for metric ``name`` (None when the metric has no direction)."""
    direction = METRICS[name].better if name in METRICS else ""
    finite = [value for value in values if value is not None and value == value]
    if not finite or not direction:
        return None
    if direction == "lower":
        return min(finite)
    if direction == "higher":
        return max(finite)
    # "near 1": ratios, so twice and half as large are equally far off
    positive = [value for value in finite if value > 0]
    return min(positive, key=lambda value: abs(math.log(value))) if positive else None
