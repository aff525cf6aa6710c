"""Demo models prepared before a lesson: a curated set of runs, trained once, reused by every page.

``train_demos(root)`` trains each model of ``DEMOS`` into ``root/<demo name>``, one after the
other. It is resumable and idempotent: a demo already trained far enough is skipped, one that was
interrupted continues from its last saved epoch (optimiser state included), and a folder that died
before its first epoch is started again. ``quick=True`` trains each for a few epochs only (enough
to rehearse a lesson); running the full set afterwards continues those runs instead of starting
over. A lock file keeps two processes (two clicks, the app and a terminal) from training the same
set at once.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from filelock import FileLock, Timeout

from gen_core import checkpoints
from gen_core.errors import CheckpointError, GenCoreError
from gen_core.models.autoencoder import HIDDEN_PRESETS

LOCK_FILE = "_demos.lock"  # in the runs root; files, so never listed as runs
PLAN_FILE = "_demos.json"  # what the process holding the lock is training: {"quick", "names"}
LOG_FILE = "_demos.log"  # output of a set started in the background


@dataclass(frozen=True)
class Demo:
    """One model of the set: what it is for, and how to train it."""

    name: str  # its run folder
    title: str
    lesson: str  # what a lesson shows with it
    family: str
    model: dict
    training: dict  # TrainConfig fields; "epochs" is the full training
    quick_epochs: int
    dataset: str = "mnist5k"
    dataset_options: dict = field(default_factory=dict)

    def epochs(self, quick: bool) -> int:
        return min(self.quick_epochs, self.training["epochs"]) if quick else int(self.training["epochs"])


# Epochs chosen so samples look right (digits readable, GAN past its noisy start) on mnist5k;
# the GANs and the conv models cost most (see the README's "Demo models" for measured times).
DEMOS: tuple[Demo, ...] = (
    Demo("demo-vae-2d", "VAE with a 2-d latent", "Latent map and its 2-d manifold, Latent sliders, Interpolate",
         "vae", {"hidden": (512, 256), "latent_dim": 2, "loss": "bce"},
         {"epochs": 40, "lr": 1e-3, "batch_size": 128}, quick_epochs=10),
    Demo("demo-ae-32d", "Autoencoder, 5 hidden layers, 32-d code", "Class sampler (Gaussian mixture per class)",
         "ae", {"hidden": HIDDEN_PRESETS["mlp5"], "latent_dim": 32, "loss": "bce"},
         {"epochs": 30, "lr": 1e-3, "batch_size": 128}, quick_epochs=10),
    Demo("demo-vae-32d", "VAE with a 32-d latent", "Samples side by side with the DCGAN and VAE-GAN (same codes)",
         "vae", {"hidden": (512, 256), "latent_dim": 32, "loss": "bce"},
         {"epochs": 40, "lr": 1e-3, "batch_size": 128}, quick_epochs=10),
    Demo("demo-beta-vae", "Convolutional beta-VAE (beta = 4)", "Latent sliders: smoother, more separate directions",
         "vae", {"arch": "conv", "latent_dim": 10, "beta": 4.0, "loss": "bce"},
         {"epochs": 20, "lr": 1e-3, "batch_size": 128}, quick_epochs=3),
    Demo("demo-dcgan", "DCGAN, 32-d noise", "Samples: sharp but no encoder; Interpolate by optimisation",
         "dcgan", {"latent_dim": 32}, {"epochs": 25, "lr": 2e-4, "batch_size": 64}, quick_epochs=2),
    Demo("demo-vae-gan", "VAE-GAN, 32-d latent", "Sharper than the VAE, with an encoder; Evaluate",
         "vaegan", {"latent_dim": 32}, {"epochs": 20, "lr": 3e-4, "batch_size": 64}, quick_epochs=2),
    Demo("demo-tile-vae", "Conv VAE on 32x32 tiles of microscopy and texture photographs",
         "Tiles: real vs generated, mosaic, the which-one-is-real quiz",
         "vae", {"arch": "conv", "latent_dim": 16, "loss": "mse"}, {"epochs": 25, "lr": 1e-3, "batch_size": 64},
         quick_epochs=3, dataset="tiles", dataset_options={"tile_size": 32, "tiles_per_epoch": 2000}),
)


@dataclass
class DemoState:
    """Where one demo stands in a runs folder."""

    demo: Demo
    path: Path
    epochs_done: int
    epochs_wanted: int
    state: str  # "missing", "partial", "trained", "broken" (unreadable) or "taken" (another model)
    note: str = ""
    seconds: float = 0.0  # training time in the last train_demos call

    @property
    def needs_training(self) -> bool:
        return self.state in ("missing", "partial")


def demo_state(demo: Demo, root: Path, quick: bool = False) -> DemoState:
    """Read ``root/<demo name>`` without loading weights: how many epochs it has, and of what."""
    path, wanted = Path(root) / demo.name, demo.epochs(quick)
    if not (path / checkpoints.CONFIG_FILE).exists():
        return DemoState(demo, path, 0, wanted, "missing")
    try:
        config = checkpoints.read_config(path)
        history_file = path / checkpoints.HISTORY_FILE
        history = checkpoints.read_json(history_file) if history_file.exists() else {}
    except CheckpointError as error:
        return DemoState(demo, path, 0, wanted, "broken", str(error))
    if config.get("family") != demo.family or (config.get("data") or {}).get("name") != demo.dataset:
        return DemoState(demo, path, 0, wanted, "taken",
                         f"{path.name} holds a different model ({config.get('family')}); rename or delete it")
    has_weights = (path / checkpoints.WEIGHTS_FILE).exists()
    done = len(history.get("epochs", [])) if isinstance(history, dict) and has_weights else 0
    return DemoState(demo, path, done, wanted, "trained" if done >= wanted else "partial" if done else "missing")


def demo_states(root: Path | None = None, quick: bool = False, demos: tuple[Demo, ...] | None = None) -> list[DemoState]:
    root = Path(root or checkpoints.default_root())
    return [demo_state(demo, root, quick) for demo in (DEMOS if demos is None else demos)]


@dataclass
class DemoProgress:
    """What a progress bar shows: which demo of how many, and how far it is."""

    index: int  # 1-based position among the demos being trained now
    count: int
    demo: Demo
    epoch: int
    epochs: int
    step: int = 0
    steps: int = 0
    message: str = ""


DemoProgressCallback = Callable[[DemoProgress], None]


def _trainer_for(state: DemoState, quick: bool, device: str):
    """A Trainer that starts the demo afresh, or continues it from its last saved epoch."""
    from gen_core import pipeline, runs

    demo = state.demo
    if state.state == "partial":
        return pipeline.resume_training(state.path, state.epochs_wanted - state.epochs_done, device=device)
    if state.path.exists():  # a run that died before its first epoch: nothing to keep
        runs.delete_run(state.path, root=state.path.parent)
    training = {**demo.training, "epochs": demo.epochs(quick), "device": device}
    return pipeline.prepare_training(demo.family, demo.model, demo.dataset, pipeline.train_config_from_dict(training),
                                     run_dir=state.path, dataset_options=demo.dataset_options)


def _train_one(state: DemoState, index: int, count: int, quick: bool, device: str,
               on_progress: DemoProgressCallback | None, should_stop: Callable[[], bool] | None) -> None:
    trainer = _trainer_for(state, quick, device)

    def on_event(kind: str, payload: dict) -> None:
        if on_progress is not None and kind in ("step", "epoch"):
            on_progress(DemoProgress(index, count, state.demo, trainer.progress.epoch, state.epochs_wanted,
                                     trainer.progress.step, trainer.progress.total_steps))

    trainer.fit(on_event=on_event, should_stop=should_stop)


def train_demos(root: Path | None = None, quick: bool = False, device: str = "auto",
                names: list[str] | None = None, on_progress: DemoProgressCallback | None = None,
                should_stop: Callable[[], bool] | None = None, measure: bool = False) -> list[DemoState]:
    """Train every demo that is missing or short of its epochs; return the states afterwards, with
    the seconds each one took here (``seconds``; 0 for those skipped).

    ``names`` limits the set; ``measure`` scores each run after training (about 30 s each on a
    CPU). Raises GenCoreError when another process is training the demos in ``root``.
    """
    root = Path(root or checkpoints.default_root())
    chosen = _choose(DEMOS, names)
    seconds: dict[str, float] = {}
    root.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(root / LOCK_FILE), timeout=0):
            checkpoints.write_json_atomic(root / PLAN_FILE, {"quick": quick, "names": [d.name for d in chosen]})
            todo = [state for state in demo_states(root, quick, chosen) if state.needs_training]
            for index, state in enumerate(todo, start=1):
                if should_stop is not None and should_stop():
                    break
                started = time.perf_counter()
                _train_one(state, index, len(todo), quick, device, on_progress, should_stop)
                if measure:
                    from gen_core.metrics.final import measure_finished_run
                    measure_finished_run(state.path, device=device)
                seconds[state.demo.name] = time.perf_counter() - started
    except Timeout:
        raise GenCoreError("The demo models in this folder are being trained by another process already; "
                           "wait for it to finish (or stop it), then run this again.") from None
    states = demo_states(root, quick, chosen)
    for item in states:
        item.seconds = seconds.get(item.demo.name, 0.0)
    return states


def demos_running(root: Path | None = None) -> bool:
    """Whether a process is training the demo set in ``root`` now (its lock is held). Asking creates
    nothing: a page that only looks must not write into the runs folder."""
    path = Path(root or checkpoints.default_root()) / LOCK_FILE
    if not path.is_file():
        return False
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return True
    except OSError:  # an unwritable runs folder: nobody can be training there
        return False
    lock.release()
    return False


def running_plan(root: Path | None = None) -> dict | None:
    """``{"quick": bool, "names": [...]}`` of the set being trained in ``root`` now, else None."""
    root = Path(root or checkpoints.default_root())
    if not demos_running(root):
        return None
    try:
        plan = checkpoints.read_json(root / PLAN_FILE)
    except CheckpointError:
        plan = None
    return plan if isinstance(plan, dict) else {"quick": False, "names": [demo.name for demo in DEMOS]}


def start_in_background(root: Path | None = None, quick: bool = False) -> subprocess.Popen:
    """``python -m gen_core demos`` in a process of its own (a web server only serves pages; a crash
    in training must not take it down), its output in ``root/_demos.log``."""
    root = Path(root or checkpoints.default_root())
    if demos_running(root):
        raise GenCoreError("The demo models are being trained already.")
    root.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "gen_core", "demos", "--out", str(root)] + (["--quick"] if quick else [])
    with open(root / LOG_FILE, "wb") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=Path(__file__).resolve().parents[1], start_new_session=True)


def _choose(demos: tuple[Demo, ...], names: list[str] | None) -> tuple[Demo, ...]:
    if not names:
        return demos
    known = {demo.name: demo for demo in demos}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise GenCoreError(f"Unknown demo {', '.join(unknown)}; the set is: {', '.join(known)}")
    return tuple(known[name] for name in names)

