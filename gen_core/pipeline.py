"""From names to a ready Trainer, and back from a run to its data: the steps the CLI and the app share."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import torch

from gen_core import checkpoints, distributed
from gen_core.data import ImageDataset, load_dataset
from gen_core.epochs import per_process_batch, resume_point
from gen_core.errors import TrainingError
from gen_core.models import build_model
from gen_core.runs import new_run_dir
from gen_core.training import TrainConfig, Trainer


def prepare_training(family: str, model_settings: dict, dataset: ImageDataset | str,
                     train_config: TrainConfig, root: Path | None = None, name: str | None = None,
                     dataset_options: dict | None = None, save: bool = True,
                     run_dir: Path | None = None) -> Trainer:
    """Load the data, size the model to it, pick a fresh run folder (or use ``run_dir``) and
    return the Trainer. With ``save=False`` nothing is written."""
    if isinstance(dataset, str):
        dataset = load_dataset(dataset, **(dataset_options or {}))
    settings = {**model_settings, "image_shape": dataset.image_shape}
    with torch.random.fork_rng(devices=[]):  # the seed decides the initial weights too
        torch.manual_seed(train_config.seed)
        model = build_model(family, **settings)
    if not save:
        run_dir = None
    elif run_dir is None:
        run_dir = new_run_dir(Path(root or checkpoints.default_root()), family, dataset.source.get("name", dataset.name), name)
    return Trainer(model, dataset, train_config, run_dir=run_dir, run_name=run_dir.name if run_dir else name)


def train_config_from_dict(values: dict, **overrides) -> TrainConfig:
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in {**values, **overrides}.items() if k in known})


def resume_training(run_dir: Path, extra_epochs: int, device: str = "auto") -> Trainer:
    """Continue a saved run for ``extra_epochs`` more complete epochs, with its optimiser state.

    A stopped epoch is finished first, as the first of them (see ``gen_core.epochs``); with a
    different number of processes the run keeps its total batch.
    """
    if isinstance(extra_epochs, bool) or not isinstance(extra_epochs, int) or extra_epochs < 1:
        raise TrainingError(f"Resume needs at least one more epoch (got {extra_epochs!r}); nothing was changed.")
    run = checkpoints.load_run(run_dir, with_optimizer_state=True)
    done, _ = resume_point(run.history)
    training = run.config.get("training", {})
    batch_size = per_process_batch(training, distributed.current().world_size)
    config = train_config_from_dict(training, epochs=done + extra_epochs, device=device, batch_size=batch_size)
    dataset = dataset_for_run(run.config)
    history = run.history or None
    return Trainer(run.model, dataset, config, run_dir=run.path, history=history,
                   optimizer_state=run.optimizer_state, run_name=run.name)


def dataset_for_run(config: dict) -> ImageDataset:
    """Load the dataset a run was trained on, from the source recorded in its config."""
    source = dict(config.get("data") or {})
    name = source.pop("name", None)
    if not name:
        raise TrainingError("This run does not record which dataset it was trained on")
    source.pop("skipped", None)
    return load_dataset(name, **source)
