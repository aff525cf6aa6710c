"""The four model families on mnist5k under one training budget, scored by every metric.

Each family trains from its CPU preset in gen_core.models.presets for the preset's epochs or
``--seconds`` of wall time, whichever ends first (the Trainer's stop hook ends the run after
the current step). Each is then evaluated twice with ``evaluate_run``: samples from the prior,
and from a per-class Gaussian mixture fitted to the encoded training set (DCGAN has no encoder,
so its mixture column is n/a). The result is a markdown table, the best value of each row in
bold, plus the full reports as JSON beside it.

Usage: python bench/bench_compare_models.py [--seconds 120] [--samples 500] [--iwae-k 64]
                                            [--device cpu] [--threads 1] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gen_core.device import device_label, pick_device  # noqa: E402
from gen_core.metrics import METRICS, better_value, evaluate_run  # noqa: E402
from gen_core.models.presets import PRESETS  # noqa: E402
from gen_core.places import default_root
from gen_core.run.start import prepare_training  # noqa: E402
from gen_core.training import TrainConfig  # noqa: E402

MODELS = [("AE", "AE, 5 hidden layers"), ("VAE", "MLP VAE, latent 32"), ("DCGAN", "DCGAN"), ("VAE-GAN", "VAE-GAN")]
SAMPLERS = [("prior", "prior"), ("gmm", "GMM")]


def train(preset_name: str, root: Path, seconds: float, device: str) -> tuple[Path, dict]:
    preset = PRESETS[preset_name]
    config = TrainConfig(**{**preset.training, "device": device, "seed": 0})
    trainer = prepare_training(preset.family, dict(preset.model), "mnist5k", config, root=root,
                               name=preset.family)
    started = time.perf_counter()
    history = trainer.fit(should_stop=lambda: time.perf_counter() - started > seconds)
    last = history["epochs"][-1]
    info = {"preset": preset_name, "family": preset.family, "epochs_planned": config.epochs,
            "epochs_done": len(history["epochs"]), "last_epoch_partial": bool(last.get("partial")),
            "steps": trainer.trainer.snapshot().step, "train_seconds": round(time.perf_counter() - started, 1),
            "parameters": sum(p.numel() for p in trainer.model.parameters()),
            "final_train_loss": last.get("train_loss"), "status": history["status"]}
    return trainer.run_dir, info


def evaluate(run_dir: Path, sampler: str, args, feature_root: Path) -> dict:
    def progress(fraction: float, message: str) -> None:
        print(f"\r    {sampler:<5} {100 * fraction:5.1f}%  {message[:70]:<70}", end="", file=sys.stderr, flush=True)

    report = evaluate_run(run_dir, n_samples=args.samples, iwae_k=args.iwae_k, sampler=sampler, device=args.device,
                          progress=progress, feature_net_root=feature_root,
                          sampler_params={"n_components": 10, "covariance_type": "full"})
    print(file=sys.stderr)
    return report


def _cell(report: dict | None, name: str, best) -> str:
    if report is None or name not in report["metrics"]:
        return "n/a"
    value = report["metrics"][name]
    text = str(value) if isinstance(value, int) else f"{value:.4g}"
    return f"**{text}**" if best is not None and value == best else text


def _training_table(results: list[dict]) -> list[str]:
    lines = ["| model | preset | epochs done | train s | steps | parameters |", "|---|---|---|---|---|---|"]
    for model in results:
        info = model["training"]
        partial = " (last partial)" if info["last_epoch_partial"] else ""
        lines.append(f"| {model['label']} | {info['preset']} | {info['epochs_done']}{partial} of "
                     f"{info['epochs_planned']} | {info['train_seconds']} | {info['steps']} | {info['parameters']:,} |")
    return lines


def _metric_table(columns: list[tuple[str, str, dict | None]]) -> list[str]:
    header = " | ".join(f"{label} · {sampler}" for label, sampler, _ in columns)
    lines = [f"| metric | unit | better | {header} |", "|---|---|---|" + "---|" * len(columns)]
    for name, info in METRICS.items():
        values = [report["metrics"].get(name) for _, _, report in columns if report is not None]
        if all(value is None for value in values):
            continue
        best = better_value(name, [value for value in values if value is not None])
        cells = " | ".join(_cell(report, name, best) for _, _, report in columns)
        lines.append(f"| {info.label} | {info.unit} | {info.better} | {cells} |")
    return lines


def markdown(results: list[dict], args, machine: str) -> str:
    columns = [(model["label"], sampler_label, model["reports"].get(sampler))
               for model in results for sampler, sampler_label in SAMPLERS]
    intro = (f"Budget: each model trains for its preset's epochs or {args.seconds:.0f} s, whichever ends first; "
             f"{args.samples} samples and k = {args.iwae_k} importance samples per evaluation. "
             f"Machine: {machine}; run {time.strftime('%Y-%m-%d %H:%M')}. "
             "Samplers: *prior* decodes N(0, I) draws (for the AE, which has no prior, a diagonal Gaussian "
             "matching its training codes); *GMM* fits a 10-component full-covariance Gaussian mixture per "
             "class to the encoded training set. Bold: the best value in its row (for ratios, the one nearest "
             "1). n/a: the metric does not apply (reasons below the table).")
    lines = ["# Model families compared on mnist5k", "", intro, "", *_training_table(results), "",
             *_metric_table(columns), "", "Why a cell is n/a:", "", *_reasons(results)]
    return "\n".join(lines) + "\n"


def _reasons(results: list[dict]) -> list[str]:
    """One line per distinct reason, naming the metrics and columns it applies to."""
    grouped: dict[str, tuple[list[str], list[str]]] = {}
    for model in results:
        if "gmm" not in model["reports"]:
            grouped.setdefault(model["gmm_skipped"], ([], []))[1].append(f"{model['label']} · GMM")
        for sampler, report in model["reports"].items():
            column = f"{model['label']} · {dict(SAMPLERS)[sampler]}"
            for name, reason in report["unavailable"].items():
                metrics, columns = grouped.setdefault(reason, ([], []))
                label = METRICS[name].label if name in METRICS else name
                if label not in metrics:
                    metrics.append(label)
                if column not in columns:
                    columns.append(column)
    return [f"- {', '.join(metrics) or 'all metrics'} ({', '.join(columns)}): {reason}"
            for reason, (metrics, columns) in grouped.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="training time budget per model")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--iwae-k", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; 1 is faster for these small nets on a busy 2-core machine")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    machine = device_label(pick_device(args.device))
    feature_root = default_root()  # the classifier is cached there between runs
    results, started = [], time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as root:
        for label, preset_name in MODELS:
            print(f"{label}: training ({preset_name})", file=sys.stderr)
            run_dir, training = train(preset_name, Path(root), args.seconds, args.device)
            model = {"label": label, "training": training, "reports": {}}
            for sampler, _sampler_label in SAMPLERS:
                if sampler != "prior" and training["family"] == "dcgan":
                    model["gmm_skipped"] = "DCGAN has no encoder, so no mixture can be fitted to its latent space."
                    continue
                model["reports"][sampler] = evaluate(run_dir, sampler, args, feature_root)
            results.append(model)
    args.out.mkdir(parents=True, exist_ok=True)
    table = markdown(results, args, machine)
    (args.out / "compare_models.md").write_text(table)
    for model in results:  # the descriptions are the same in every report: keep them once
        for report in model["reports"].values():
            report.pop("descriptions", None)
    payload = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "machine": machine, "total_seconds": round(time.perf_counter() - started, 1),
               "descriptions": {name: vars(info) for name, info in METRICS.items()}, "models": results}
    (args.out / "compare_models.json").write_text(json.dumps(payload, indent=1, allow_nan=False))
    print(table)
    print(f"Total {payload['total_seconds']} s; wrote {args.out / 'compare_models.md'} and .json", file=sys.stderr)


if __name__ == "__main__":
    main()
