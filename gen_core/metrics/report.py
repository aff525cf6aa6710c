"""Every metric that applies to a saved run, in one call: ``evaluate_run(run_dir)``.

The report is one JSON-ready dict: ``metrics`` (name -> number), ``intervals`` (name -> [low, high],
a 90% bootstrap interval over the images the number was computed from), ``counts`` (name -> how
many images that was), ``unavailable`` (name -> the
reason it could not be computed here), ``descriptions`` (label, unit, which way is better),
``details`` (per-class numbers, the feature classifier used) and the settings that produced
it. Sample-based numbers depend on the sampler: decoding draws from the prior and from a
per-class Gaussian mixture fitted to the encoded training set give different images, so the
sampler is part of every report and of where a report is stored.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from gen_core.device import pick_device
from gen_core.errors import ModelConfigError, SamplerError
from gen_core.latent import encode_dataset
from gen_core.limits import check_evaluation_size, check_image_batch
from gen_core.metrics import catalogue, inception, likelihood, reconstruction
from gen_core.metrics.features import load_or_train_feature_net
from gen_core.metrics.sample_scores import feature_scores, pixel_scores
from gen_core.metrics.two_sample import C2STSettings, classifier_two_sample_test
from gen_core.metrics.uncertainty import mean_interval
from gen_core.models import FAMILY_LABELS
from gen_core.progress import ProgressCallback
from gen_core.run import checkpoint
from gen_core.run.start import dataset_for_run
from gen_core.sampling import PRIOR, SAMPLER_NAMES, draw_images, fit_sampler, max_components, sampler_unusable_reason


def _label(model) -> str:
    return FAMILY_LABELS.get(model.family, model.family)


class _Stages:
    """Maps each stage's own 0..1 progress onto its slice of the whole evaluation."""

    def __init__(self, progress: ProgressCallback | None) -> None:
        self.progress = progress or (lambda fraction, message: None)
        self.start = 0.0

    def begin(self, share: float, message: str) -> ProgressCallback:
        start, self.start = self.start, min(1.0, self.start + share)
        self.progress(start, message)
        return lambda fraction, text: self.progress(start + share * min(1.0, fraction), text)

    def done(self) -> None:
        self.progress(1.0, "Evaluation finished")


def _check_settings(model, sampler: str, n_samples: int, iwae_k: int, class_samples: int) -> None:
    if sampler not in SAMPLER_NAMES:
        raise SamplerError(f"Unknown sampler {sampler!r}; choose one of {', '.join(SAMPLER_NAMES)}.")
    unusable = sampler_unusable_reason(model.family, sampler)
    if unusable:
        raise SamplerError(unusable)
    if int(n_samples) < 10:
        raise SamplerError(f"Evaluation needs at least 10 samples; got {n_samples}.")
    if int(class_samples) < 1:
        raise SamplerError(f"Class accuracy needs at least one image per class; got {class_samples}.")
    if int(iwae_k) < 1:
        raise ModelConfigError(f"The number of importance samples k must be at least 1; got {iwae_k}.")
    check_evaluation_size(n_samples, class_samples, iwae_k)
    check_image_batch(int(n_samples), model.image_shape, "samples")


def _fit_sampler(model, dataset, sampler: str, params: dict, seed: int, progress: ProgressCallback):
    """A fitted latent sampler (None for the prior, which the model draws itself) and its settings."""
    if sampler == PRIOR:
        return None, {}
    latents = encode_dataset(model, dataset.train_images)
    labels = dataset.train_labels
    params, note = dict(params), {}
    if sampler == "gmm":  # K is lowered to what the smallest class supports, and the report says so
        counts = torch.bincount(labels.long()) if labels is not None else torch.tensor([len(latents)])
        smallest = int(counts[counts > 0].min())
        covariance = params.setdefault("covariance_type", "full")
        requested = int(params.get("n_components", 10))
        params["n_components"] = min(requested, max_components(smallest, model.latent_dim, covariance))
        params.setdefault("seed", seed)
        if params["n_components"] < requested:
            note = {"n_components_requested": requested}
    return fit_sampler(sampler, latents, labels, progress=progress, **params), {**params, **note}


def _real_reference(dataset, n: int, seed: int) -> torch.Tensor:
    """Up to ``n`` test images in a seeded random order: what samples are compared against."""
    order = torch.randperm(len(dataset.test_images), generator=torch.Generator().manual_seed(int(seed)))
    return dataset.test_images[order[:int(n)]].float().cpu()


def _reconstruction(model, dataset, report: dict) -> None:
    names = ("recon_mse", "recon_bce", "ssim")
    if not model.has_encoder:
        report["unavailable"].update({name: f"This {_label(model)} has no encoder, so there is nothing to reconstruct."
                                      for name in names})
        return
    scores = reconstruction.reconstruction_scores(model, dataset.test_images)
    for name, key in zip(names, ("mse", "bce", "ssim")):
        report["metrics"][name] = float(scores[key].mean())
        report["intervals"][name] = mean_interval(scores[key].double().cpu().numpy())
        report["counts"][name] = len(scores[key])


def _likelihood(model, dataset, iwae_k: int, seed: int, report: dict) -> None:
    names = ("elbo", "kl", "log_likelihood", "bits_per_dim")
    if not model.is_variational:
        report["unavailable"].update({name: f"This {_label(model)} has no posterior q(z|x), so it has no "
                                            "ELBO or likelihood bound." for name in (*names, "active_units")})
        return
    report["metrics"]["active_units"] = model.active_units(dataset.test_images)
    if not likelihood.has_bernoulli_decoder(model):
        report["metrics"]["kl"] = float(likelihood.posterior_kl(model, dataset.test_images).mean())
        report["unavailable"].update({name: f"This VAE was trained with the {model.config.loss!r} loss, which "
                                            "defines no normalised likelihood over [0, 1] pixels; only the KL "
                                            "term is reported." for name in names if name != "kl"})
        return
    scores = likelihood.likelihood_scores(model, dataset.test_images, k=iwae_k, seed=seed)
    values = {name: float(scores[name].mean()) for name in ("elbo", "kl", "log_likelihood")}
    for name in values:
        report["intervals"][name] = mean_interval(scores[name].double().cpu().numpy())
        report["counts"][name] = len(scores[name])
    values["bits_per_dim"] = likelihood.bits_per_dim(values["log_likelihood"], dataset.test_images[0].numel())
    report["metrics"].update(values)


def _features(model, dataset, fitted, samples, real, settings: dict, stages: _Stages, report: dict) -> None:
    names = ("frechet_feature", "mmd_feature", "classifier_accuracy_real", "class_accuracy", "mode_kl",
             "modes_covered")
    if not dataset.has_labels or dataset.test_labels is None:
        report["unavailable"].update({name: f"{dataset.name} has no class labels, so there is no feature "
                                            "classifier for it." for name in names})
        return
    net = load_or_train_feature_net(dataset, settings["feature_net_root"], settings["device"],
                                    progress=stages.begin(0.3, "Loading the feature classifier"))
    report["details"]["feature_net"] = {"path": str(net.path), "reused": net.reused,
                                        "test_accuracy": net.test_accuracy, "train_seconds": net.train_seconds}

    def draw_class(label: int, count: int) -> torch.Tensor:
        return draw_images(model, count, settings["seed"] + 1 + label, fitted, label)

    class_aware = fitted is not None and getattr(fitted, "labelled_", False)
    stages.begin(0.1, "Scoring samples with the feature classifier")
    values, details, unavailable = feature_scores(net, dataset, samples, real, draw_class if class_aware else None,
                                                 settings["class_samples"])
    report["metrics"].update(values)
    report["intervals"].update(details.pop("intervals", {}))
    report["counts"].update({name: len(samples) for name in ("frechet_feature", "mmd_feature", "mode_kl",
                                                             "modes_covered") if name in values})
    if "class_accuracy" in values:
        report["counts"]["class_accuracy"] = settings["class_samples"] * len(details["class_accuracy_per_class"])
    report["details"].update(details)
    report["unavailable"].update(unavailable)


def _two_sample(samples, real, settings: dict, report: dict) -> None:
    result = classifier_two_sample_test(real, samples, C2STSettings(seed=settings["seed"]), settings["device"])
    report["metrics"]["c2st_accuracy"] = result.accuracy
    report["details"]["c2st"] = {**result.as_dict(), "interval": [result.low, result.high]}


def _inception(samples, real, device, wanted: bool, stages: _Stages, report: dict) -> None:
    reason = inception.inception_unavailable_reason() if wanted else "Not requested (inception=False)."
    if reason is not None:
        report["unavailable"]["fid_inception"] = reason
        return
    stages.begin(0.1, "Computing FID with Inception v3 (slow without a GPU)")
    report["metrics"]["fid_inception"] = inception.inception_fid(real, samples, device)


def _set_aside_non_finite(report: dict) -> None:
    """NaN or infinite values go to ``unavailable``, so the report stays strict JSON; an interval
    that could not be estimated is left out."""
    report["intervals"] = {name: [float(low), float(high)] for name, (low, high) in report["intervals"].items()
                           if math.isfinite(low) and math.isfinite(high)}
    for name, value in list(report["metrics"].items()):
        if not math.isfinite(value):
            del report["metrics"][name]
            report["intervals"].pop(name, None)
            report["unavailable"][name] = f"It came out as {value} (e.g. a ratio over real images that score 0)."


def evaluate_run(run_dir, n_samples: int = 500, iwae_k: int = 64, sampler: str = "prior",
                 progress: ProgressCallback | None = None, *, sampler_params: dict | None = None,
                 seed: int = 0, device: str = "auto", class_samples: int = 100,
                 feature_net_root: Path | None = None, inception: bool = True) -> dict:
    """Every metric that applies to the run's model family, as one JSON-ready report.

    ``sampler`` is "prior" (the model's own prior) or a latent sampler fitted to the encoded
    training set ("gmm": one Gaussian mixture per class, K = ``sampler_params["n_components"]``,
    default 10, lowered to what the smallest class supports). ``progress(fraction, message)``
    is called as work proceeds. The feature classifier is cached in ``feature_net_root``
    (default: the folder holding the run, i.e. checkpoints/) under ``_feature_nets/``.
    Standard FID runs only when the Inception weights are already local and ``inception`` is
    True; on a CPU it is the slowest step by far (minutes for 500 + 500 images).
    """
    started = time.perf_counter()
    stages = _Stages(progress)
    stages.begin(0.02, "Loading the run and its dataset")
    run_dir = Path(run_dir)
    torch_device = pick_device(device)
    run = checkpoint.load_run(run_dir, device=torch_device)
    model, dataset = run.model, dataset_for_run(run.config)
    _check_settings(model, sampler, n_samples, iwae_k, class_samples)
    settings = {"n_samples": int(n_samples), "iwae_k": int(iwae_k), "seed": int(seed), "device": str(torch_device),
                "class_samples": int(class_samples), "feature_net_root": Path(feature_net_root or run_dir.parent)}
    report = {"run": run.name, "run_dir": str(run_dir), "family": model.family, "dataset": dataset.name,
              "epochs_trained": len(run.history.get("epochs", [])), "sampler": sampler,
              "metrics": {}, "intervals": {}, "counts": {}, "unavailable": {}, "details": {}}
    stages.begin(0.08, "Reconstructing the test set")
    _reconstruction(model, dataset, report)
    stages.begin(0.25, f"Estimating the log-likelihood with k = {iwae_k} importance samples")
    _likelihood(model, dataset, iwae_k, seed, report)
    sampler_progress = stages.begin(0.1, f"Fitting the {sampler} sampler and drawing {n_samples} samples")
    fitted, used_params = _fit_sampler(model, dataset, sampler, sampler_params or {}, seed, sampler_progress)
    samples = draw_images(model, int(n_samples), seed, fitted)
    real = _real_reference(dataset, n_samples, seed)
    stages.begin(0.1, "Comparing samples with real images")
    pixel = pixel_scores(samples, real, dataset.train_images, report["intervals"])
    report["metrics"].update(pixel)
    report["counts"].update({name: len(samples) for name in pixel})
    stages.begin(0.1, "Training a classifier to tell samples from real images (C2ST)")
    _two_sample(samples, real, settings, report)
    _features(model, dataset, fitted, samples, real, settings, stages, report)
    _inception(samples, real, torch_device, inception, stages, report)
    _set_aside_non_finite(report)
    settings.update(n_real=len(real), sampler_params=used_params, feature_net_root=str(settings["feature_net_root"]))
    report["settings"] = settings
    report["descriptions"] = catalogue.describe([*report["metrics"], *report["unavailable"]])
    report["seconds"] = time.perf_counter() - started
    stages.done()
    return report

