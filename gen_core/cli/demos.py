"""``python -m gen_core demos [--quick]``: train the demo set for a lesson from a terminal.

Each demo that is missing or short of its epochs is trained as ``train`` would: the same requests
the app's queue gets (gen_core.serve.demos), each run under its writer lock with its live status,
so the app shows it training and can stop it. With ``--jobs 1`` they train one after the other in
this process; with more, that many at once, each in a worker process of a job queue (the app's
own, gen_core.serve.jobs) with its share of the cores. Small models use two threads poorly: on
an idle 2-core CPU the set trained two at a time with one thread each took less time than one at a
time with two (README, "Demo models"), so that is the default on a CPU.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from gen_core.cli.train import run_request
from gen_core.compute import applied_threads
from gen_core.device import pick_device
from gen_core.errors import GenCoreError
from gen_core.models import family_class
from gen_core.places import JOBS_DIR, default_root
from gen_core.run import live
from gen_core.run.start import TrainingRequest
from gen_core.serve import demos
from gen_core.serve.jobs import ENDED, STOP_GRACE, JobQueue, JobRequest, QueueError

PROGRESS_EVERY_S = 30.0  # how often the side-by-side jobs' epochs are printed


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
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="models trained at once, each in a process of its own with its share of the cores "
                             "(default: 2 on a CPU with two free cores or more, else 1)")
    return parser


def default_jobs(device: str, threads: int) -> int:
    """Two models at once on a CPU where this process may use two threads or more; one on a GPU (how
    many jobs a GPU should take at once is not measured yet: bench/gpu_check.py)."""
    on_cpu = device == "cpu" or (device == "auto" and pick_device("auto").type == "cpu")
    return 2 if on_cpu and threads >= 2 else 1


def _print_states(states, seconds: dict[str, float]) -> None:
    for state in states:
        where = {"trained": "trained", "partial": f"{state.epochs_done} of {state.epochs_wanted} epochs",
                 "missing": "not trained", "broken": f"unreadable: {state.note}", "taken": state.note}[state.state]
        took = seconds.get(state.demo.name)
        took = f"{took:7.0f} s" if took else " " * 9
        print(f"{state.demo.name:<17} {state.demo.family:<7} {state.epochs_wanted:>3} ep  {where:<24}{took}  "
              f"{state.demo.lesson}")


def run_demos(args) -> int:
    if args.jobs is not None and args.jobs < 1:
        raise GenCoreError(f"--jobs must be at least 1; got {args.jobs}")
    root = args.out or default_root()
    chosen = demos.choose(demos.DEMOS, args.only)
    if args.list:
        _print_states(demos.demo_states(root, args.quick, chosen), {})
        return 0
    started, seconds = time.perf_counter(), {}
    if demos.write_demo_deck(root):
        print(f"Lesson deck '{demos.DEMO_DECK.name}' saved (step through it from the sidebar's Lesson deck)")
    requests = demos.demo_requests(root, quick=args.quick, device=args.device, names=args.only, evaluate=args.eval)
    threads = applied_threads().threads
    jobs = args.jobs or default_jobs(args.device, threads)
    if jobs > threads:  # a job never gets less than a core: more would only wait on each other
        print(f"--jobs {jobs}: {threads} at a time, one per free core")
        jobs = threads
    jobs = min(len(requests), jobs)
    if jobs > 1:
        seconds = _train_side_by_side(_longest_first(requests, chosen), jobs, max(1, threads // jobs), Path(root))
    else:
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


def _longest_first(requests: list[TrainingRequest], chosen) -> list[TrainingRequest]:
    """The GANs first: they take most of the set's time (README, "Demo models"), so each starts at
    once in its own process and the short models fill the time around them."""
    adversarial = {demo.name for demo in chosen if family_class(demo.family).is_adversarial}
    return sorted(requests, key=lambda request: request.run_dir.name not in adversarial)


def _train_side_by_side(requests: list[TrainingRequest], jobs: int, threads: int, root: Path) -> dict[str, float]:
    """Train ``requests`` ``jobs`` at a time in worker processes of a job queue, ``threads`` cores each;
    print each start and end, and every so often the epochs each has done. Ctrl-C stops them all
    (the epochs they saved are kept, and the next ``demos`` continues them)."""
    queue = JobQueue(limit=jobs, work_dir=root / JOBS_DIR, nice=0, threads=threads)
    print(f"Training {jobs} models at a time, {threads} thread{'s' if threads > 1 else ''} each "
          f"(worker logs in {root / JOBS_DIR})")
    pending = set()
    for request in requests:
        try:
            pending.add(queue.submit(JobRequest(request, demos.DEMO_OWNER, demos.DEMO_OWNER_LABEL,
                                                one_waiting=False)).id)
        except QueueError as error:  # trained by another process right now: the others go on
            print(f"{'skipped':<10}{request.run_dir.name}: {error}")
    seconds, announced, last_report = {}, set(), time.monotonic()
    try:
        while pending:
            time.sleep(0.5)
            views = [queue.view(job_id) for job_id in sorted(pending)]
            for view in views:
                if view.started is not None and view.id not in announced:
                    announced.add(view.id)
                    print(f"{'started':<10}{view.run_name}")
                if view.state == ENDED:
                    pending.discard(view.id)
                    took = view.ended - view.started if view.started and view.ended else 0.0  # 0: never started
                    seconds[view.run_name] = took
                    print(f"{view.status:<10}{view.run_name} in {took:.0f} s"
                          + ("" if view.status == "completed" else f": {view.message}"))
            if pending and time.monotonic() - last_report >= PROGRESS_EVERY_S:
                last_report = time.monotonic()
                print("  " + ", ".join(_epochs_done(view) for view in views if view.is_training))
    except BaseException:  # Ctrl-C, or anything else: no worker is left training on its own
        print("Stopping the demo jobs (their saved epochs are kept)...")
        queue.close(stop_running=True, timeout=STOP_GRACE)
        raise
    queue.close(stop_running=False)
    return seconds


def _epochs_done(view) -> str:
    status = live.read_status(view.run_dir) or {}
    return f"{view.run_name} epoch {status.get('epoch', 0)}/{status.get('total_epochs', view.epochs)}"
