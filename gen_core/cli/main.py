"""The command line: ``python -m gen_core {train,sample,eval,gmm,export-onnx,export-projector,datasets,demos} ...``.

One module per command, each with its ``add_*_arguments`` and ``run_*``. Exit codes: 0 on
success, 2 on bad arguments or bad input (with a one-line reason on stderr). The model, dataset
and sampler flags are generated from the settings the configs, the dataset registry and the
samplers describe (``gen_core.settings``): a new setting gets its flag by itself. Every command
takes ``--threads N``; without it the process's threads come from the thread policy
(``gen_core.compute``), chosen once here before any work.
"""

from __future__ import annotations

import sys

from gen_core.cli.datasets import run_datasets
from gen_core.cli.demos import add_demos_arguments, run_demos
from gen_core.cli.eval import add_eval_arguments, run_eval
from gen_core.cli.export_onnx import add_export_arguments, run_export
from gen_core.cli.export_projector import add_projector_arguments, run_projector
from gen_core.cli.flags import EXIT_BAD_INPUT, Parser, one_line
from gen_core.cli.gmm import add_gmm_arguments, run_gmm
from gen_core.cli.sample import add_sample_arguments, run_sample
from gen_core.cli.train import add_train_arguments, run_train
from gen_core.compute import THREADS_ENV, apply_thread_policy
from gen_core.errors import GenCoreError

COMMANDS = {  # name: (help, add its arguments, run it)
    "train": ("train a model and write a run folder", add_train_arguments, run_train),
    "sample": ("draw samples from a trained run", add_sample_arguments, run_sample),
    "eval": ("compute every metric that applies to a run", add_eval_arguments, run_eval),
    "gmm": ("compare Gaussian mixtures of one class's codes by BIC and AIC", add_gmm_arguments, run_gmm),
    "export-onnx": ("export a run's decoder to ONNX (what browsers decode with)", add_export_arguments, run_export),
    "export-projector": ("write a run's codes, labels and thumbnails for TensorBoard's Embedding Projector",
                         add_projector_arguments, run_projector),
    "datasets": ("list the registered datasets and whether each works offline", None, run_datasets),
    "demos": ("train the demo models for a lesson (resumable)", add_demos_arguments, run_demos),
}


def build_parser() -> Parser:
    parser = Parser(prog="python -m gen_core", description="Train, sample and measure image generative models.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, (help_text, add_arguments, _run) in COMMANDS.items():
        command = commands.add_parser(name, help=help_text)
        if add_arguments is not None:
            add_arguments(command)
        command.add_argument("--threads", metavar="N", help=f"CPU threads for this process (default: ${THREADS_ENV}, "
                                                            "else the cores free now: one on a busy machine)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        apply_thread_policy(args.threads)  # once, before any work: torch's and the BLAS libraries' threads
        return COMMANDS[args.command][2](args)
    except (GenCoreError, ValueError) as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OSError, MemoryError) as error:  # a full disk, a folder that vanished, memory exhausted
        print(f"error: {type(error).__name__}: {one_line(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
