"""Starting a run: what to train (a ``TrainingRequest``), a fresh folder for it, and a Trainer wired
to its run writer; an unused folder discarded again. The command line, the job queue and the app
all start runs through here.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Callable

import torch

from gen_core.atomic import write_json_atomic
from gen_core.data import ImageDataset, access, load_dataset
from gen_core.errors import GenCoreError, TrainingError
from gen_core.models import build_model
from gen_core.places import default_root
from gen_core.run import checkpoint, layout
from gen_core.run.collection import new_run_dir
from gen_core.run.files import writing
from gen_core.run.record import read_json
from gen_core.run.writer import RunWriter
from gen_core.training import TrainConfig, Trainer, distributed
from gen_core.training.epochs import per_process_batch, resume_point
from gen_core.training.events import Listener, fan_out

_MAX_REQUEST_BYTES = 1_000_000


# -- what to train ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingRequest:
    """A run to train: a new one (family, model settings, dataset and its options, training
    settings) or a saved one to continue (``resume``, for ``extra_epochs`` more), written into
    ``run_dir``, on ``processes`` processes (one per GPU, through torchrun), scored at the end
    unless ``evaluate`` is off. The Train page hands one to the queue, the queue hands it to a
    worker as a JSON file, and ``python -m gen_core train --request FILE`` reads it back."""

    run_dir: Path
    family: str = ""
    model: dict = field(default_factory=dict)
    dataset: str = ""
    dataset_options: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    resume: bool = False
    extra_epochs: int = 0
    processes: int = 1
    evaluate: bool = True

    def __post_init__(self) -> None:
        if self.resume:
            if isinstance(self.extra_epochs, bool) or not isinstance(self.extra_epochs, int) or self.extra_epochs < 1:
                raise TrainingError(f"Resume needs at least one more epoch (got {self.extra_epochs!r})")
        elif not self.family or not self.dataset:
            raise TrainingError("A new run needs a model family and a dataset")
        if isinstance(self.processes, bool) or not isinstance(self.processes, int) or self.processes < 1:
            raise TrainingError(f"processes must be a whole number of at least 1, not {self.processes!r}")

    @property
    def epochs(self) -> int:
        """Epochs this request trains (for the queue's wait estimate)."""
        return int(self.extra_epochs if self.resume else self.training.get("epochs", 0))

    @property
    def device(self) -> str:
        return str(self.training.get("device", "auto"))

    def to_json(self) -> dict:
        return {**asdict(self), "run_dir": str(self.run_dir)}

    def write(self, path: Path) -> Path:
        write_json_atomic(Path(path), self.to_json())
        return Path(path)

    @classmethod
    def read(cls, path: Path) -> "TrainingRequest":
        """Read and check a request file: one object with exactly these entries, each of its type."""
        path = Path(path)
        try:
            if path.stat().st_size > _MAX_REQUEST_BYTES:
                raise GenCoreError(f"The request file {path.name} is larger than {_MAX_REQUEST_BYTES:,} bytes")
        except FileNotFoundError:
            raise GenCoreError(f"No request file {path.name}") from None
        values = read_json(path)
        kinds = {f.name: (str if f.name == "run_dir" else f.type) for f in fields(cls)}
        types = {"str": str, "dict": dict, "bool": bool, "int": int, "Path": str}
        if not isinstance(values, dict) or sorted(values) != sorted(kinds):
            raise GenCoreError(f"The request file {path.name} must hold one object with exactly: {', '.join(kinds)}")
        for key, kind in kinds.items():
            expected = types.get(kind, kind) if isinstance(kind, str) else kind
            if not isinstance(values[key], expected) or (expected is int and isinstance(values[key], bool)):
                raise GenCoreError(f"In {path.name}, {key!r} must be {getattr(expected, '__name__', expected)}")
        return cls(**{**values, "run_dir": Path(values["run_dir"])})


# -- a folder for it -------------------------------------------------------------------------------
def reserve_run_dir(root: Path, family: str, dataset: str, name: str | None = None) -> Path:
    """Create a fresh, empty run folder now (atomically), so two runs started with one name at the
    same moment get two folders."""
    return new_run_dir(Path(root), family, dataset, name, create=True)


def discard_unused(run_dir: Path, made: Path | None = None) -> None:
    """Remove a run folder that never received a run (cancelled, refused, or failed before its first
    save): one holding only what a live process leaves (its status, a stop request, the lock, an
    empty samples folder). ``made``: the outermost of the folders made for it, removed when empty.
    Anything holding more is left alone."""
    run_dir = Path(run_dir)
    try:
        if not run_dir.is_dir() or (run_dir / layout.CONFIG_FILE).exists():
            return
        names = {entry.name for entry in os.scandir(run_dir)}
        samples = run_dir / layout.SAMPLES_DIR
        if names - {*layout.TRANSIENT_FILES, layout.SAMPLES_DIR} or (samples.is_dir() and any(samples.iterdir())):
            return
        shutil.rmtree(run_dir)
        for folder in run_dir.parents:
            if made is None or (folder != made and made not in folder.parents):
                break
            folder.rmdir()  # only ever empty folders: rmdir refuses anything else
    except OSError:
        pass


# -- a trainer wired to its folder -----------------------------------------------------------------
@dataclass
class TrainingRun:
    """A Trainer and the run folder its writer keeps (``run_dir`` None: nothing is written)."""

    trainer: Trainer
    run_dir: Path | None
    name: str | None = None

    @property
    def model(self):
        return self.trainer.model

    @cached_property
    def writer(self) -> RunWriter | None:
        """The run writer (made on first use, when it starts reporting the run as starting)."""
        if self.run_dir is None:
            return None
        return RunWriter(self.run_dir, self.name, enabled=self.trainer.group.is_main)

    def fit(self, on_event: Listener | None = None, should_stop: Callable[[], bool] | None = None) -> dict:
        """Train, saving every epoch into the run folder under its writer lock (held for the whole
        run by the process that writes)."""
        writer = self.writer
        if writer is None:
            return self.trainer.fit(on_event, should_stop)
        stop = writer.should_stop if should_stop is None else (lambda: writer.should_stop() or should_stop())
        if not writer.enabled:
            return self.trainer.fit(on_event, stop)
        with writing(self.run_dir):
            return self.trainer.fit(fan_out(writer.on_event, on_event), stop, control=writer.controls)


def prepare_training(family: str, model_settings: dict, dataset: ImageDataset | str,
                     train_config: TrainConfig, root: Path | None = None, name: str | None = None,
                     dataset_options: dict | None = None, save: bool = True,
                     run_dir: Path | None = None) -> TrainingRun:
    """Load the data, size the model to it, pick a fresh run folder (or use ``run_dir``) and
    return the run ready to train. With ``save=False`` nothing is written."""
    if isinstance(dataset, str):
        with access.uploads_scope(access.scope_for_run(run_dir or Path(root or default_root()) / "new")):
            dataset = load_dataset(dataset, **(dataset_options or {}))  # a student's run: their uploads only
    settings = {**model_settings, "image_shape": dataset.image_shape}
    with torch.random.fork_rng(devices=[]):  # the seed decides the initial weights too
        torch.manual_seed(train_config.seed)
        model = build_model(family, **settings)
    if not save:
        run_dir = None
    elif run_dir is None:
        run_dir = new_run_dir(Path(root or default_root()), family, dataset.source.get("name", dataset.name), name)
    trainer = Trainer(model, dataset, train_config)
    return TrainingRun(trainer, run_dir, run_dir.name if run_dir else name)


def train_config_from_dict(values: dict, **overrides) -> TrainConfig:
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in {**values, **overrides}.items() if k in known})


def resume_training(run_dir: Path, extra_epochs: int, device: str = "auto", **changes) -> TrainingRun:
    """Continue a saved run for ``extra_epochs`` more complete epochs, with its optimiser state.

    A stopped epoch is finished first, as the first of them (see ``gen_core.training.epochs``);
    with a different number of processes the run keeps its total batch. The run's own training
    settings (its precision among them) hold unless ``changes`` replaces some (``precision="fp32"``).
    """
    if isinstance(extra_epochs, bool) or not isinstance(extra_epochs, int) or extra_epochs < 1:
        raise TrainingError(f"Resume needs at least one more epoch (got {extra_epochs!r}); nothing was changed.")
    run = checkpoint.load_run(run_dir, with_optimizer_state=True)
    done, _ = resume_point(run.history)
    training = run.config.get("training", {})
    batch_size = per_process_batch(training, distributed.current().world_size)
    config = train_config_from_dict(training, **changes, epochs=done + extra_epochs, device=device,
                                    batch_size=batch_size)
    with access.uploads_scope(access.scope_for_run(run.path)):
        dataset = dataset_for_run(run.config)
    trainer = Trainer(run.model, dataset, config, history=run.history or None, optimizer_state=run.optimizer_state)
    return TrainingRun(trainer, run.path, run.name)


def dataset_for_run(config: dict) -> ImageDataset:
    """Load the dataset a run was trained on, from the source recorded in its config."""
    source = dict(config.get("data") or {})
    name = source.pop("name", None)
    if not name:
        raise TrainingError("This run does not record which dataset it was trained on")
    source.pop("skipped", None)
    return load_dataset(name, **source)
