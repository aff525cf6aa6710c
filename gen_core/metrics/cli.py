"""``python -m gen_core eval RUN [--json]``: every metric that applies to a run, with a progress bar.

``gen_core.cli`` adds the subcommand with ``add_eval_arguments(parser)`` and calls
``run_eval(args)``; user errors are raised as ``GenCoreError`` for it to turn into exit code 2.
The progress bar goes to stderr, so ``--json`` leaves exactly one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from gen_core.errors import CheckpointError
from gen_core.limits import check_evaluation_size
from gen_core.sampling import COVARIANCE_TYPES, SAMPLER_NAMES


def add_eval_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("run", help="run folder, or the name of a run under the checkpoints folder")
    parser.add_argument("--json", action="store_true", help="print the whole report as one JSON object")
    parser.add_argument("--samples", type=int, default=500, help="generated images to score (default 500)")
    parser.add_argument("--iwae-k", type=int, default=64, help="importance samples per test image for the "
                        "log-likelihood (VAEs; default 64)")
    parser.add_argument("--sampler", choices=SAMPLER_NAMES, default="prior",
                        help="where samples come from: the prior, or a latent sampler fitted to the encoded "
                             "training set (gmm: per-class Gaussian mixture)")
    parser.add_argument("--components", type=int, default=10, help="K per class for --sampler gmm (default 10)")
    parser.add_argument("--covariance", choices=COVARIANCE_TYPES, default="full", help="for --sampler gmm")
    parser.add_argument("--class-samples", type=int, default=100, help="images drawn per class for class accuracy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--no-inception", action="store_true",
                        help="skip standard FID even when the Inception weights are local (it is slow on a CPU)")
    parser.add_argument("--store", action="store_true", help="also save the report in the run's history.json")
    parser.set_defaults(handler=run_eval)
    return parser


def add_eval_subcommand(subparsers) -> argparse.ArgumentParser:
    """The same, for a caller holding argparse's subparsers object."""
    return add_eval_arguments(subparsers.add_parser("eval", help="compute every metric that applies to a run"))


def resolve_run(run: str | Path) -> Path:
    """A run folder from a path, or from a run name under the checkpoints folder."""
    from gen_core.checkpoints import CONFIG_FILE, default_root

    path = Path(run)
    for candidate in (path, default_root() / path):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    raise CheckpointError(f"No run at {path} (nor a run called {str(run)!r} in {default_root()}).")


def _sampler_params(args) -> dict:
    if args.sampler == "gmm":
        return {"n_components": args.components, "covariance_type": args.covariance}
    return {}


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
    from tqdm import tqdm

    from gen_core.metrics.report import evaluate_run
    from gen_core.metrics.storage import store_final_metrics

    run_dir = resolve_run(args.run)
    check_evaluation_size(args.samples, args.class_samples, args.iwae_k)  # before any work, with the limit
    bar = tqdm(total=100, desc="eval", unit="%", file=sys.stderr, dynamic_ncols=True,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")

    def progress(fraction: float, message: str) -> None:
        bar.n = round(100 * fraction)
        bar.set_postfix_str(message, refresh=True)

    try:
        report = evaluate_run(run_dir, n_samples=args.samples, iwae_k=args.iwae_k, sampler=args.sampler,
                              progress=progress, sampler_params=_sampler_params(args), seed=args.seed,
                              device=args.device, class_samples=args.class_samples,
                              inception=not args.no_inception)
    finally:
        bar.close()
    if args.store:
        store_final_metrics(run_dir, report)
    print(json.dumps(report, indent=1) if args.json else format_report(report))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (``python -m gen_core.metrics.cli RUN``), with the same exit codes."""
    from gen_core.errors import GenCoreError

    args = add_eval_arguments(argparse.ArgumentParser(prog="python -m gen_core eval")).parse_args(argv)
    try:
        return run_eval(args)
    except (GenCoreError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
