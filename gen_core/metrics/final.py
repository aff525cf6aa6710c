"""Scoring a run as its training ends, so the Models and Evaluate pages have numbers at once."""

from __future__ import annotations

from pathlib import Path

from gen_core.metrics.report import evaluate_run
from gen_core.metrics.storage import store_final_metrics
from gen_core.progress import ProgressCallback
from gen_core.run.checkpoint import read_config
from gen_core.sampling import PRIOR, usable_samplers

# What a run is scored with, here and as the Evaluate page's columns: the model's own codes, and one
# Gaussian mixture per class fitted to the encoded training set (models with an encoder only).
SCORED_SAMPLERS = (PRIOR, "gmm")


def scored_samplers(family: str) -> list[str]:
    """The samplers of ``SCORED_SAMPLERS`` a family can be scored with (a GAN has no encoder to fit to)."""
    return usable_samplers(family, SCORED_SAMPLERS)


def measure_finished_run(run_dir: Path, device: str = "auto", progress: ProgressCallback | None = None,
                         n_samples: int = 500, iwae_k: int = 64) -> dict:
    """Evaluate with the prior and, for models with an encoder, the per-class GMM sampler; store both.

    Standard FID is left out (minutes on a CPU); the Evaluate page and ``eval`` can add it.
    Returns what was stored: ``{sampler: entry}``.
    """
    samplers = scored_samplers(read_config(run_dir)["family"])
    reports = []
    for index, sampler in enumerate(samplers):
        def scaled(fraction: float, message: str, index=index, sampler=sampler) -> None:
            if progress is not None:
                progress((index + fraction) / len(samplers), f"{sampler}: {message}")
        reports.append(evaluate_run(run_dir, n_samples=n_samples, iwae_k=iwae_k, sampler=sampler, device=device,
                                    inception=False, progress=scaled))
    return store_final_metrics(run_dir, reports)
