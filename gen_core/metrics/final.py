"""Scoring a run as its training ends, so the Models and Evaluate pages have numbers at once."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from gen_core.checkpoints import read_config
from gen_core.metrics.report import evaluate_run
from gen_core.metrics.storage import store_final_metrics
from gen_core.models import FAMILIES


def measure_finished_run(run_dir: Path, device: str = "auto", progress: Callable[[float, str], None] | None = None,
                         n_samples: int = 500, iwae_k: int = 64) -> dict:
    """Evaluate with the prior and, for models with an encoder, the per-class GMM sampler; store both.

    Standard FID is left out (minutes on a CPU); the Evaluate page and ``eval`` can add it.
    Returns what was stored: ``{sampler: entry}``.
    """
    family = read_config(run_dir)["family"]
    samplers = ["prior"] + (["gmm"] if FAMILIES[family][1].has_encoder else [])
    reports = []
    for index, sampler in enumerate(samplers):
        def scaled(fraction: float, message: str, index=index, sampler=sampler) -> None:
            if progress is not None:
                progress((index + fraction) / len(samplers), f"{sampler}: {message}")
        reports.append(evaluate_run(run_dir, n_samples=n_samples, iwae_k=iwae_k, sampler=sampler, device=device,
                                    inception=False, progress=scaled))
    return store_final_metrics(run_dir, reports)
