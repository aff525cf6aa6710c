"""Demo models prepared before a lesson: a curated set of runs, trained once, reused by every page.

The set is a list of presets (``DEMOS``). ``demo_requests(root)`` says what is left to train, as
ordinary training requests: a demo already trained far enough is skipped, one that was
interrupted continues from its last saved epoch (optimiser state included), and a folder that died
before its first epoch is started again. ``quick=True`` trains each for a few epochs only (enough
to rehearse a lesson); the full set afterwards continues those runs instead of starting over.

The app submits the requests to its job queue (``submit_demos``), so the demo models train like
any job: in the queue and the live panel, with Stop, within the GPU limit, each holding its run's
writer lock for the whole run. ``python -m gen_core demos`` trains the same requests one after
the other from a terminal.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from gen_core.errors import CheckpointError, GenCoreError
from gen_core.models.autoencoder import HIDDEN_PRESETS
from gen_core.places import default_root
from gen_core.run import checkpoint, layout, live
from gen_core.run.files import writing
from gen_core.run.start import TrainingRequest
from gen_core.serve.decks import Deck, DeckError, Slide, deck_names, save_deck
from gen_core.serve.jobs import JobQueue, JobRequest, JobView

DEMO_OWNER = "demo-set"  # who the demo jobs belong to in the queue
DEMO_OWNER_LABEL = "the demo set"


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


# 32x32 tiles of the embedded photographs, 2,000 new ones an epoch; the bottom 34% of every image held out
# (the smallest, 102 pixels high, keeps a 32-pixel tile on both sides of the cut).
TILE_SPLIT = {"tile_size": 32, "tiles_per_epoch": 2000, "test_strip": 0.34}

# Epochs chosen so samples look right (digits readable, GAN past its noisy start) on mnist5k;
# the GANs and the conv models cost most (see the README's "Demo models" for measured times).
# The GANs learn faster than Radford et al.'s 2e-4 (Adam, beta1 0.5): the DCGAN at 5e-4 reaches in 15
# epochs the Frechet distance it had after 25, the VAE-GAN at 1e-3 beats in 10 the distance, ELBO and
# likelihood it had after 20, measured epoch by epoch (README, "Demo models"). The DCGAN at 1e-3 was
# faster still but its strokes' contrast swung from epoch to epoch (0.89-1.04 of the real digits').
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
         "dcgan", {"latent_dim": 32}, {"epochs": 15, "lr": 5e-4, "batch_size": 64}, quick_epochs=2),
    Demo("demo-vae-gan", "VAE-GAN, 32-d latent", "Sharper than the VAE, with an encoder; Evaluate",
         "vaegan", {"latent_dim": 32}, {"epochs": 10, "lr": 1e-3, "batch_size": 64}, quick_epochs=2),
    # A Gaussian decoder with a learned variance: under the summed squared error (a fixed variance of
    # 0.5) a grey tile's faint structure is worth less than coding it costs, and the old model drew flat
    # squares. With sigma learned the codes keep the structure, but they do not fill N(0, I): prior
    # samples turn into blotches, so it samples from 20 Gaussians fitted to its training codes instead
    # (README, "Why the tile demo drew flat grey squares"). Both tile demos hold out the bottom third of
    # every image, so they are scored on tiles of the kinds they trained on.
    Demo("demo-tile-vae", "Conv VAE with a learned-variance decoder, sampling from a 20-Gaussian mixture fitted to "
         "its codes, on 32x32 tiles of microscopy and texture photographs",
         "Tiles: real vs generated, mosaic, the which-one-is-real quiz",
         "vae", {"arch": "conv", "latent_dim": 16, "loss": "gaussian", "beta": 1.0, "sampling_mixture": 20},
         {"epochs": 25, "lr": 1e-3, "batch_size": 64}, quick_epochs=3, dataset="tiles", dataset_options=TILE_SPLIT),
    Demo("demo-tile-vae-mse", "The original conv VAE on the same tiles, fixed-variance loss (summed squared "
         "error), for comparison", "Tiles, beside demo-tile-vae: a collapsed posterior draws flat grey squares",
         "vae", {"arch": "conv", "latent_dim": 16, "loss": "mse"}, {"epochs": 25, "lr": 1e-3, "batch_size": 64},
         quick_epochs=3, dataset="tiles", dataset_options=TILE_SPLIT),
)


# A ready lesson over the demo models only: each slide is a page and the link state it opens with.
DEMO_DECK = Deck("ae-vae-gan", (
    Slide("samples", {"run": "demo-ae-32d", "seed": "3"},
          "An autoencoder: test images and their reconstructions. Its codes follow no known law."),
    Slide("class_sampler", {"run": "demo-ae-32d", "n": "6"},
          "So we fit a Gaussian mixture to each class's codes and sample from it: new digits of a chosen class."),
    Slide("latent_map", {"run": "demo-vae-2d", "classes": "4,7,9"},
          "A VAE pulls its codes towards N(0, I): a 2-d latent space we can draw."),
    Slide("latent_sliders", {"run": "demo-vae-2d", "axes": "dim", "seed": "3"},
          "Move the code and watch the digit change smoothly."),
    Slide("interpolate", {"run": "demo-vae-2d", "a": "3", "b": "57", "mix": "30"},
          "Walk from one digit to another through the latent space."),
    Slide("samples", {"run": "demo-vae-32d", "vs": "demo-dcgan", "seed": "3"},
          "The same codes: the VAE's samples are blurry, the GAN's are sharp."),
    Slide("evaluate", {"run": "demo-vae-gan"},
          "The VAE-GAN: an encoder and sharper images. The numbers, with their uncertainty."),
))


def write_demo_deck(root: Path | None = None) -> bool:
    """Save the demo deck under ``root`` unless a deck of that name is there (a lecturer's edits
    are kept); True when it was written."""
    root = Path(root or default_root())
    if DEMO_DECK.name in deck_names(root):
        return False
    try:
        save_deck(root, DEMO_DECK)
    except (DeckError, OSError):
        return False
    return True


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
    if not (path / layout.CONFIG_FILE).exists():
        return DemoState(demo, path, 0, wanted, "missing")
    try:
        config = checkpoint.read_config(path)
        history_file = path / layout.HISTORY_FILE
        history = checkpoint.read_json(history_file) if history_file.exists() else {}
    except CheckpointError as error:
        return DemoState(demo, path, 0, wanted, "broken", str(error))
    if config.get("family") != demo.family or (config.get("data") or {}).get("name") != demo.dataset:
        return DemoState(demo, path, 0, wanted, "taken",
                         f"{path.name} holds a different model ({config.get('family')}); rename or delete it")
    # A run records every model setting, but only the dataset options it was given (others: the loader's default)
    changed = ", ".join(filter(None, (_changed_settings(demo.model, config.get("model")),
                                      _changed_settings(demo.dataset_options, config.get("data"), every=True))))
    if changed:
        return DemoState(demo, path, 0, wanted, "taken",
                         f"{path.name} holds an older version of this demo ({changed}); rename or delete it "
                         "to train this one")
    has_weights = (path / layout.WEIGHTS_FILE).exists()
    done = len(history.get("epochs", [])) if isinstance(history, dict) and has_weights else 0
    return DemoState(demo, path, done, wanted, "trained" if done >= wanted else "partial" if done else "missing")


def _changed_settings(wanted: dict, saved, every: bool = False) -> str:
    """The demo's settings (of its model or its dataset) that a run folder's config holds with another
    value, as "loss 'mse', not 'gaussian'"; empty when they all agree. A setting the demo leaves to its
    default is not compared, nor one the config lacks unless ``every``."""
    saved = saved if isinstance(saved, dict) else {}
    as_saved = {key: list(value) if isinstance(value, tuple) else value for key, value in wanted.items()}
    return ", ".join(f"{key} {saved.get(key)!r}, not {value!r}" for key, value in as_saved.items()
                     if (every or key in saved) and saved.get(key) != value)


def demo_states(root: Path | None = None, quick: bool = False, demos: tuple[Demo, ...] | None = None) -> list[DemoState]:
    root = Path(root or default_root())
    return [demo_state(demo, root, quick) for demo in (DEMOS if demos is None else demos)]


def demo_request(state: DemoState, quick: bool = False, device: str = "auto", evaluate: bool | None = None) -> TrainingRequest:
    """The training request that brings one demo to its epochs: a resume of a partial run, or a new
    run (a folder that died before its first epoch holds nothing worth keeping and is removed)."""
    demo, evaluate = state.demo, (not quick) if evaluate is None else evaluate
    if state.state == "partial":
        return TrainingRequest(state.path, resume=True, extra_epochs=state.epochs_wanted - state.epochs_done,
                               training={"device": device}, evaluate=evaluate)
    if state.path.exists():
        _clear(state.path)
    training = {**demo.training, "epochs": demo.epochs(quick), "device": device}
    return TrainingRequest(state.path, demo.family, dict(demo.model), demo.dataset, dict(demo.dataset_options),
                           training, evaluate=evaluate)


def _clear(path: Path) -> None:
    """Empty a demo's folder that holds no trained epoch, under its writer lock: refused at once
    (RunBusyError) while another process writes it."""
    with writing(path):
        for entry in path.iterdir():
            if entry.name != layout.LOCK_FILE:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def demo_requests(root: Path | None = None, quick: bool = False, device: str = "auto",
                  names: list[str] | None = None, evaluate: bool | None = None) -> list[TrainingRequest]:
    """A request for every demo (of ``names``, when given) that is missing or short of its epochs."""
    states = demo_states(root, quick, choose(DEMOS, names))
    return [demo_request(state, quick, device, evaluate) for state in states if state.needs_training]


def submit_demos(queue: JobQueue, root: Path | None = None, quick: bool = False) -> list[JobView]:
    """Queue every demo that needs training, as ordinary jobs of the demo set's owner."""
    write_demo_deck(root)
    queued = {view.run_dir.resolve() for view in queue.jobs(include_ended=False)}
    states = [state for state in demo_states(root, quick) if state.needs_training
              and state.path.resolve() not in queued and not live.is_training(state.path)]
    return [queue.submit(JobRequest(demo_request(state, quick), DEMO_OWNER, DEMO_OWNER_LABEL, one_waiting=False))
            for state in states]


def demo_jobs(queue: JobQueue, root: Path | None = None) -> list[JobView]:
    """The demo set's jobs in the queue that train or wait now."""
    paths = {(Path(root or default_root()) / demo.name).resolve() for demo in DEMOS}
    return [view for view in queue.jobs(include_ended=False) if view.run_dir.resolve() in paths]


def choose(demos: tuple[Demo, ...], names: list[str] | None) -> tuple[Demo, ...]:
    if not names:
        return demos
    known = {demo.name: demo for demo in demos}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise GenCoreError(f"Unknown demo {', '.join(unknown)}; the set is: {', '.join(known)}")
    return tuple(known[name] for name in names)
