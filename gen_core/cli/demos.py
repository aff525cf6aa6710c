"""``python -m gen_core demos [--quick]``: train the demo set for a lesson from a terminal.

Each demo that is missing or short of its epochs is trained as ``train`` would: the same requests
the app's queue gets (gen_core.serve.demos), one after the other in this process, each run under
its writer lock with its live status, so the app shows it training and can stop it.
"""

from __future__ import annotations

import argparse
import time

from gen_core.cli.train import run_request
from gen_core.places import default_root
from gen_core.serve import demos


def add_demos_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--quick", action="store_true",
                        help="a few epochs per model (minutes in all): enough to rehearse a lesson; a later "
                             "full run continues these models instead of starting over")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="train only these demos (see --list)")
    parser.add_argument("--list", action="store_true", help="show the set and what is trained already, then exit")
    parser.add_argument("--out", help="runs folder (default: checkpoints/ or $GEN_CORE_CHECKPOINTS)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--eval", action=argparse.BooleanOptionalAction, default=None,
                        help="score each model when it is trained (about 30 s each on a CPU; default: on for "
                             "the full set, off with --quick)")
    return parser


def _print_states(states, seconds: dict[str, float]) -> None:
    for state in states:
        where = {"trained": "trained", "partial": f"{state.epochs_done} of {state.epochs_wanted} epochs",
                 "missing": "not trained", "broken": f"unreadable: {state.note}", "taken": state.note}[state.state]
        took = seconds.get(state.demo.name)
        took = f"{took:7.0f} s" if took else " " * 9
        print(f"{state.demo.name:<17} {state.demo.family:<7} {state.epochs_wanted:>3} ep  {where:<24}{took}  "
              f"{state.demo.lesson}")


def run_demos(args) -> int:
    root = args.out or default_root()
    chosen = demos.choose(demos.DEMOS, args.only)
    if args.list:
        _print_states(demos.demo_states(root, args.quick, chosen), {})
        return 0
    started, seconds = time.perf_counter(), {}
    if demos.write_demo_deck(root):
        print(f"Lesson deck '{demos.DEMO_DECK.name}' saved (step through it from the sidebar's Lesson deck)")
    requests = demos.demo_requests(root, quick=args.quick, device=args.device, names=args.only, evaluate=args.eval)
    for index, request in enumerate(requests, start=1):
        print(f"[{index}/{len(requests)}] {request.run_dir.name}")
        began = time.perf_counter()
        run_request(request)
        seconds[request.run_dir.name] = time.perf_counter() - began
    minutes, rest = divmod(round(time.perf_counter() - started), 60)
    states = demos.demo_states(root, args.quick, chosen)
    print(f"Demo models ready in {minutes} min {rest:02d} s:")
    _print_states(states, seconds)
    return 0 if all(state.state == "trained" for state in states) else 1
