"""``python -m gen_core demos [--quick]``: train the demo set for a lesson, with a progress bar.

``gen_core.cli`` adds the subcommand with ``add_demos_arguments(parser)`` and calls
``run_demos(args)``; user errors are raised as ``GenCoreError`` for it to turn into exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def add_demos_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--quick", action="store_true",
                        help="a few epochs per model (minutes in all): enough to rehearse a lesson; a later "
                             "full run continues these models instead of starting over")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="train only these demos (see --list)")
    parser.add_argument("--list", action="store_true", help="show the set and what is trained already, then exit")
    parser.add_argument("--out", type=Path, help="runs folder (default: checkpoints/ or $GEN_CORE_CHECKPOINTS)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--eval", action=argparse.BooleanOptionalAction, default=None,
                        help="score each model when it is trained (about 30 s each on a CPU; default: on for "
                             "the full set, off with --quick)")
    return parser


def _print_states(states) -> None:
    for state in states:
        where = {"trained": "trained", "partial": f"{state.epochs_done} of {state.epochs_wanted} epochs",
                 "missing": "not trained", "broken": f"unreadable: {state.note}", "taken": state.note}[state.state]
        took = f"{state.seconds:7.0f} s" if state.seconds else " " * 9
        print(f"{state.demo.name:<15} {state.demo.family:<7} {state.epochs_wanted:>3} ep  {where:<24}{took}  "
              f"{state.demo.lesson}")


def run_demos(args) -> int:
    from tqdm import tqdm

    from gen_core import demos

    root = args.out
    if args.list:
        _print_states(demos.demo_states(root, quick=args.quick))
        return 0
    bars: dict[str, tqdm] = {}

    def on_progress(progress: demos.DemoProgress) -> None:
        bar = bars.get(progress.demo.name)
        if bar is None:
            for old in bars.values():
                old.close()
            bar = bars[progress.demo.name] = tqdm(total=progress.steps, unit="step", file=sys.stderr,
                                                  dynamic_ncols=True,
                                                  desc=f"[{progress.index}/{progress.count}] {progress.demo.name}")
        bar.total, bar.n = progress.steps, progress.step
        bar.set_postfix(epoch=f"{progress.epoch}/{progress.epochs}", refresh=False)
        bar.refresh()

    started = time.perf_counter()
    measure = (not args.quick) if args.eval is None else args.eval
    try:
        states = demos.train_demos(root, quick=args.quick, device=args.device, names=args.only,
                                   on_progress=on_progress, measure=measure)
    finally:
        for bar in bars.values():
            bar.close()
    minutes, seconds = divmod(round(time.perf_counter() - started), 60)
    print(f"Demo models ready in {minutes} min {seconds:02d} s:")
    _print_states(states)
    return 0 if all(state.state == "trained" for state in states) else 1
