"""``python -m gen_core train``: train a new run, or continue one, and score it at the end.

A new run comes from flags (``--model``/``--preset`` and the generated model and dataset flags),
or from a request file (``--request FILE``, what the app's job queue writes: a
``TrainingRequest``); ``--resume RUN`` continues a saved run, named by its name or its path.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from tqdm import tqdm

from gen_core.atomic import check_output_folder, outermost_missing
from gen_core.cli.flags import add_setting_flags, given_settings, run_path
from gen_core.data import dataset_names, dataset_options
from gen_core.device import pick_device
from gen_core.errors import GenCoreError
from gen_core.metrics.classes import digit_share_scorer
from gen_core.metrics.final import measure_finished_run
from gen_core.models import FAMILIES
from gen_core.models.presets import PRESETS
from gen_core.places import default_root
from gen_core.run.collection import new_run_dir
from gen_core.run.files import writing
from gen_core.run.layout import CONFIG_FILE
from gen_core.run.live import METRICS_STORED
from gen_core.run.start import (TrainingRequest, TrainingRun, discard_unused, prepare_training, reserve_run_dir,
                                resume_training, train_config_from_dict)
from gen_core.run.writer import StopRequested
from gen_core.settings import settings_of
from gen_core.training import distributed
from gen_core.training.config import TrainConfig
from gen_core.training.events import Epoch, RunStatus

TRAINING_SETTINGS = settings_of(TrainConfig)  # --precision, --compile
MODEL_SETTINGS = [setting for config_class, _model in FAMILIES.values() for setting in settings_of(config_class)]


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", choices=list(FAMILIES), help="model family")
    p.add_argument("--preset", help="a named preset (see gen_core.models.presets); its settings are defaults")
    p.add_argument("--dataset", default="mnist5k", help="dataset name (see `datasets`)")
    p.add_argument("--epochs", type=int, help="epochs to train (with --resume: more epochs)")
    p.add_argument("--batch-size", type=int, help="images per step in each process (under torchrun the total is "
                                                 "this times the number of processes)")
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--out", type=Path, help="run folder to write (default: checkpoints/<family>-<dataset>-<time>)")
    p.add_argument("--resume", metavar="RUN", help="continue a saved run: its name in the runs folder, or its path")
    p.add_argument("--no-eval", action="store_true", help="skip scoring the run when training ends")
    p.add_argument("--request", type=Path, metavar="FILE",
                   help="a JSON training request (what the app's job queue writes): a new run's family, model, "
                        "dataset and training settings and its folder, or a run to resume; replaces the other flags")
    add_setting_flags(p.add_argument_group("training options (with --resume: replace the run's own)"),
                      TRAINING_SETTINGS)
    add_setting_flags(p.add_argument_group("model settings (those the chosen family has)"), MODEL_SETTINGS)
    add_setting_flags(p.add_argument_group("dataset options"),
                      [setting for name in dataset_names() for setting in dataset_options(name)])


def run_train(args) -> int:
    pick_device(args.device)  # an unknown or absent device is refused before any work
    request = TrainingRequest.read(args.request) if args.request else None
    with distributed.process_group(request.device if request and args.device == "auto" else args.device):
        if request is not None and request.resume:
            return _resume(request.run_dir, request.extra_epochs, request.device, evaluate=request.evaluate,
                           training=_training_changes(request.training))
        if request is None and args.resume:
            if args.epochs is not None and args.epochs < 1:
                raise GenCoreError(f"With --resume, --epochs is how many more epochs to train: at least 1, "
                                   f"not {args.epochs}")
            return _resume(run_path(args.resume), args.epochs or 10, args.device, evaluate=not args.no_eval,
                           training=given_settings(args, TRAINING_SETTINGS))
        if request is not None or args.out:
            request = request or _request_from_flags(args, args.out)
            return _train_new(request, made=outermost_missing(request.run_dir))
        made = outermost_missing(default_root())  # with the folder made for the run, removed if unused
        request = _request_from_flags(args, None)
        return _train_new(request, made=made or request.run_dir)


def run_request(request: TrainingRequest) -> int:
    """Train what a request asks for, in this process (one process: the demo set from a terminal)."""
    with distributed.process_group(request.device):
        if request.resume:
            return _resume(request.run_dir, request.extra_epochs, request.device, evaluate=request.evaluate,
                           training=_training_changes(request.training))
        return _train_new(request, made=outermost_missing(request.run_dir))


def _training_changes(training: dict) -> dict:
    """The training options (precision, compile) a resume request replaces."""
    return {setting.name: training[setting.name] for setting in TRAINING_SETTINGS if setting.name in training}


def _request_from_flags(args, out: Path | None) -> TrainingRequest:
    preset, family = _preset_and_family(args)
    training = {"epochs": 10, **(preset.training if preset else {})}
    for key in ("epochs", "batch_size", "lr", "seed"):
        if getattr(args, key) is not None:
            training[key] = getattr(args, key)
    training["device"] = args.device
    training.update(given_settings(args, TRAINING_SETTINGS))
    model = {**(preset.model if preset else {}), **given_settings(args, MODEL_SETTINGS)}
    if out is None:  # rank 0 makes the folder now; the other ranks of a torchrun job only name it
        out = reserve_run_dir(default_root(), family, args.dataset) if _writes_the_run() else \
            new_run_dir(default_root(), family, args.dataset)
    return TrainingRequest(out, family, model, args.dataset, _dataset_options(args), training,
                           evaluate=not args.no_eval)


def _dataset_options(args) -> dict:
    """The dataset flags given, as loader options; a flag the chosen dataset does not take is an error."""
    own = dataset_options(args.dataset)
    own_flags = {setting.cli_flag for setting in own}
    stray = sorted({setting.cli_flag for name in dataset_names() for setting in dataset_options(name)
                    if setting.cli_flag not in own_flags and getattr(args, setting.dest, None) is not None})
    if stray:
        takes = ", ".join(sorted(own_flags)) or "no options"
        raise GenCoreError(f"{', '.join(stray)} does not apply to the {args.dataset!r} dataset (it takes {takes})")
    return given_settings(args, own)


def _preset_and_family(args):
    preset = None
    if args.preset:
        if args.preset not in PRESETS:
            raise GenCoreError(f"Unknown preset {args.preset!r}; choose from: {', '.join(PRESETS)}")
        preset = PRESETS[args.preset]
    family = args.model or (preset.family if preset else None)
    if family is None:
        raise GenCoreError(f"Give --model ({', '.join(FAMILIES)}) or --preset")
    if preset and preset.family != family:
        raise GenCoreError(f"Preset {preset.name!r} is a {preset.family} model, not {family}")
    return preset, family


def _writes_the_run() -> bool:
    """Whether this process writes the run folder: always, except the ranks above 0 under torchrun."""
    return os.environ.get("RANK", "0") == "0"


def _train_new(request: TrainingRequest, made: Path | None) -> int:
    """``made``: the outermost folder made for this run, removed again if no epoch is saved."""
    out = request.run_dir

    def prepare() -> TrainingRun:
        return prepare_training(request.family, request.model, request.dataset,
                                train_config_from_dict(request.training), dataset_options=request.dataset_options,
                                run_dir=out)

    if not _writes_the_run():  # another rank of a torchrun job; rank 0 checks, locks and writes the folder
        return _train_and_measure(prepare(), request.evaluate)
    check_output_folder(out)
    with writing(out):  # a second writer of this folder is refused here, before any work
        try:
            if (out / CONFIG_FILE).exists():
                raise GenCoreError(f"{out} already holds a run; use --resume {out} or another --out")
            return _train_and_measure(prepare(), request.evaluate)
        finally:
            discard_unused(out, made)


def _resume(run_dir: Path, extra_epochs: int, device: str, evaluate: bool, training: dict | None = None) -> int:
    if not (Path(run_dir) / CONFIG_FILE).is_file():
        raise GenCoreError(f"No run folder at {run_dir}")
    # Refused at once while another process trains it (under torchrun, rank 0 holds the lock).
    with writing(run_dir) if _writes_the_run() else contextlib.nullcontext():
        return _train_and_measure(resume_training(run_dir, extra_epochs, device=device, **(training or {})), evaluate)


def _train_and_measure(run: TrainingRun, evaluate: bool) -> int:
    writer, trainer = run.writer, run.trainer
    if trainer.model.is_adversarial and trainer.group.is_main:
        trainer.class_shares = _digit_shares(run)
    status = _fit_with_bar(run)
    scoring = status == 0 and evaluate and trainer.group.is_main  # under torchrun, rank 0 scores
    if scoring and writer.should_stop():
        writer.measured("skipped", "Scoring skipped: the run was stopped.")
    elif scoring:
        try:
            _measure_with_bar(run)
        except Exception as error:  # scoring only adds numbers: the trained run is saved and stays usable
            print(f"warning: {run.run_dir} is trained and saved, but could not be scored "
                  f"({type(error).__name__}: {error}); score it later with "
                  f"`python -m gen_core eval {run.run_dir}`", file=sys.stderr)
    return status


def _digit_shares(run: TrainingRun):
    """For a GAN on digits, the classifier that records mode coverage at grid epochs (the metrics'
    own, cached in the runs folder); None for other data, or when it cannot be had."""
    try:
        return digit_share_scorer(run.trainer.dataset, run.run_dir.parent if run.run_dir else None,
                                  run.trainer.device)
    except GenCoreError as error:  # the run trains anyway: the shares are extra
        print(f"warning: mode coverage per epoch is not recorded ({error})", file=sys.stderr)
        return None


def _fit_with_bar(run: TrainingRun) -> int:
    """Train with a progress bar on the terminal; the run writer keeps the run folder."""
    group, quiet = run.trainer.group, not run.trainer.group.is_main  # under torchrun, rank 0 reports
    if group.active and not quiet:
        batch = run.trainer.config.batch_size
        print(f"Training in {group.world_size} processes: batch {batch} per process, {batch * group.world_size} in total")
    bar = tqdm(total=0, unit="step", desc=run.run_dir.name, file=sys.stderr, dynamic_ncols=True, disable=quiet)

    def on_event(event) -> None:
        bar.total, bar.n = event.snapshot.total_steps, event.snapshot.step
        if isinstance(event, Epoch):
            test = event.entry.get("test_loss")
            bar.set_postfix(epoch=event.entry["epoch"], loss=f"{event.entry.get('train_loss', float('nan')):.4g}",
                            test=f"{test:.4g}" if test is not None else "-")
        bar.refresh()

    try:
        history = run.fit(on_event=on_event)
    except KeyboardInterrupt:
        epoch = len(run.trainer.history["epochs"])
        run.writer.finish(RunStatus.STOPPED, f"Interrupted after epoch {epoch}; the saved epochs are kept.")
        raise
    finally:
        bar.close()
    if not quiet:
        print(f"{history['message']} Run saved in {run.run_dir}")
    return 0


def _measure_with_bar(run: TrainingRun) -> None:
    writer = run.writer
    bar = tqdm(total=100, desc="measuring", unit="%", file=sys.stderr, dynamic_ncols=True)

    def progress(fraction: float, message: str) -> None:
        bar.n = round(100 * fraction)
        bar.set_postfix_str(message[:60])
        writer.measuring(fraction, message)

    try:
        stored = measure_finished_run(run.run_dir, device=str(run.trainer.device), progress=progress)
    except StopRequested:
        writer.measured("skipped", "Scoring skipped: the run was stopped.")
        return
    except Exception as error:  # a metric failing must not turn a trained run into a failure
        writer.measured("failed", f"Metrics could not be computed: {type(error).__name__}: {error}")
        raise
    finally:
        bar.close()
    writer.measured("done", METRICS_STORED)
    for sampler, entry in stored.items():
        shown = {k: entry["metrics"][k] for k in ("recon_mse", "ssim", "elbo", "frechet_feature", "sharpness_ratio")
                 if k in entry["metrics"]}
        print(f"metrics ({sampler}): " + ", ".join(f"{k} {v:.4g}" for k, v in shown.items()))
