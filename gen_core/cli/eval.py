"""``python -m gen_core eval RUN [--json]``: every metric that applies to a run, with a progress bar.

The progress bar goes to stderr, so ``--json`` leaves exactly one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from tqdm import tqdm

from gen_core.cli.flags import add_sampler_flags, run_path, sampler_params
from gen_core.limits import check_evaluation_size
from gen_core.metrics.report import evaluate_run
from gen_core.metrics.storage import store_final_metrics


def add_eval_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("run", help="the run: its name in the runs folder, or its path")
    parser.add_argument("--json", action="store_true", help="print the whole report as one JSON object")
    parser.add_argument("--samples", type=int, default=500, help="generated images to score (default 500)")
    parser.add_argument("--iwae-k", type=int, default=64, help="importance samples per test image for the "
                        "log-likelihood (VAEs; default 64)")
    add_sampler_flags(parser)
    parser.add_argument("--class-samples", type=int, default=100, help="images drawn per class for class accuracy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--no-inception", action="store_true",
                        help="skip standard FID even when the Inception weights are local (it is slow on a CPU)")
    parser.add_argument("--store", action="store_true", help="also save the report in the run's history")
    return parser


def _format(value) -> str:
    if isinstance(value, int):
        return str(value)
    if value is None or not math.isfinite(value):
        return "nan"
    return f"{value:.4g}"


def format_report(report: dict) -> str:
    """The report as aligned text lines: label, value, unit; then what was not available and why."""
    lines = [f"{report['run']}: {report['family']} on {report['dataset']}, {report['epochs_trained']} epochs, "
             f"{report['sampler']} sampler, {report['settings']['n_samples']} samples"]
    descriptions = report["descriptions"]
    for name, value in report["metrics"].items():
        info = descriptions.get(name, {"label": name, "unit": ""})
        lines.append(f"  {info['label']:<42} {_format(value):>12}  {info['unit']}")
    if report["unavailable"]:
        lines.append("Not available:")
        lines += [f"  {descriptions.get(name, {'label': name})['label']}: {reason}"
                  for name, reason in report["unavailable"].items()]
    return "\n".join(lines)


def run_eval(args) -> int:
    run_dir = run_path(args.run)
    check_evaluation_size(args.samples, args.class_samples, args.iwae_k)  # before any work, with the limit
    bar = tqdm(total=100, desc="eval", unit="%", file=sys.stderr, dynamic_ncols=True,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")

    def progress(fraction: float, message: str) -> None:
        bar.n = round(100 * fraction)
        bar.set_postfix_str(message, refresh=True)

    try:
        report = evaluate_run(run_dir, n_samples=args.samples, iwae_k=args.iwae_k, sampler=args.sampler,
                              progress=progress, sampler_params=sampler_params(args), seed=args.seed,
                              device=args.device, class_samples=args.class_samples,
                              inception=not args.no_inception)
    finally:
        bar.close()
    if args.store:
        store_final_metrics(run_dir, report)
    print(json.dumps(report, indent=1) if args.json else format_report(report))
    return 0
