"""The command line: ``python -m gen_core {train,sample,eval,datasets,demos,export-onnx} ...``.

Exit codes: 0 on success, 2 on bad arguments or bad input (with a one-line reason on stderr).
The model and dataset flags of ``train`` are generated from the settings the model configs and
the dataset registry describe (``gen_core.settings``): a new setting gets its flag by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from gen_core.errors import GenCoreError

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2, like argparse but without the usage dump
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _flag_type(setting):
    """argparse ``type=`` for a described setting, with a one-line message for a bad value."""
    def parse(text: str):
        try:
            return setting.parse(text)
        except (TypeError, ValueError):
            kind = {tuple: "whole numbers like 512,128", int: "a whole number", float: "a number"}.get(
                setting.kind, "a value")
            named = f", or one of {', '.join(setting.aliases)}" if setting.aliases else ""
            raise argparse.ArgumentTypeError(f"{setting.cli_flag} takes {kind}{named}; got {text!r}") from None
    parse.__name__ = setting.name
    return parse


def add_setting_flags(group, settings) -> None:
    """One flag per described setting; a flag several families or datasets share is added once.

    Every default is None, so only the flags given override a preset's or a loader's defaults.
    """
    seen: set[str] = set()
    for setting in settings:
        if setting.cli_flag in seen:
            continue
        seen.add(setting.cli_flag)
        described = f"{setting.label}: {setting.help}" if setting.help else setting.label
        options = {"dest": setting.dest, "default": None, "help": described}
        if setting.kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["type"] = _flag_type(setting)
            if setting.choices:
                options["choices"] = setting.choices
        group.add_argument(setting.cli_flag, **options)


def given_settings(args, settings) -> dict:
    """{name: value} of the described settings whose flags were given."""
    return {setting.name: getattr(args, setting.dest) for setting in settings
            if getattr(args, setting.dest, None) is not None}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m gen_core", description="Train, sample and measure image generative models.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train(commands.add_parser("train", help="train a model and write a run folder"))
    _add_sample(commands.add_parser("sample", help="draw samples from a trained run"))
    commands.add_parser("datasets", help="list the registered datasets and whether each works offline")
    try:
        from gen_core.metrics.cli import add_eval_arguments
    except ImportError:
        add_eval_arguments = None
    if add_eval_arguments is not None:
        add_eval_arguments(commands.add_parser("eval", help="compute every metric that applies to a run"))
    from gen_core.demos_cli import add_demos_arguments
    add_demos_arguments(commands.add_parser("demos", help="train the demo models for a lesson (resumable)"))
    from gen_core.export.cli import add_export_arguments
    add_export_arguments(commands.add_parser("export-onnx", help="export a run's decoder to ONNX (for browsers)"))
    return parser


def _add_train(p: argparse.ArgumentParser) -> None:
    from gen_core.data import dataset_names, dataset_options
    from gen_core.models import FAMILIES
    from gen_core.settings import settings_of

    p.add_argument("--model", choices=list(FAMILIES), help="model family")
    p.add_argument("--preset", help="a named preset (see gen_core.presets); its settings are defaults")
    p.add_argument("--dataset", default="mnist5k", help="dataset name (see `datasets`)")
    p.add_argument("--epochs", type=int, help="epochs to train (with --resume: more epochs)")
    p.add_argument("--batch-size", type=int, help="images per step in each process (under torchrun the total is "
                                                 "this times the number of processes)")
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--out", type=Path, help="run folder to write (default: checkpoints/<family>-<dataset>-<time>)")
    p.add_argument("--resume", type=Path, metavar="RUN", help="continue a saved run")
    p.add_argument("--no-eval", action="store_true", help="skip scoring the run when training ends")
    p.add_argument("--settings", type=Path, metavar="FILE",
                   help="a JSON file of family, model, dataset, dataset_options and training settings "
                        "(what the app's job runner writes); replaces --model, --preset and the dataset flags")
    add_setting_flags(p.add_argument_group("model settings (those the chosen family has)"),
                      [setting for config_class, _model in FAMILIES.values() for setting in settings_of(config_class)])
    add_setting_flags(p.add_argument_group("dataset options"),
                      [setting for name in dataset_names() for setting in dataset_options(name)])


def _add_sample(p: argparse.ArgumentParser) -> None:
    from gen_core.sampling import COVARIANCE_TYPES, SAMPLER_NAMES

    p.add_argument("run", type=Path)
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="a .png grid, or .npy for float32 (N, C, H, W) in [0, 1]")
    p.add_argument("--sampler", choices=SAMPLER_NAMES, default="prior")
    p.add_argument("--class", dest="class_label", type=int, help="draw only this class (class samplers)")
    p.add_argument("--components", type=int, default=10, help="K for the per-class Gaussian mixture")
    p.add_argument("--covariance", default="full", choices=COVARIANCE_TYPES)


def _dataset_options(args) -> dict:
    """The dataset flags given, as loader options; a flag the chosen dataset does not take is an error."""
    from gen_core.data import dataset_names, dataset_options

    own = dataset_options(args.dataset)
    own_flags = {setting.cli_flag for setting in own}
    stray = sorted({setting.cli_flag for name in dataset_names() for setting in dataset_options(name)
                    if setting.cli_flag not in own_flags and getattr(args, setting.dest, None) is not None})
    if stray:
        takes = ", ".join(sorted(own_flags)) or "no options"
        raise GenCoreError(f"{', '.join(stray)} does not apply to the {args.dataset!r} dataset (it takes {takes})")
    return given_settings(args, own)


def _model_settings(args, preset) -> dict:
    from gen_core.models import FAMILIES
    from gen_core.settings import settings_of

    described = [setting for config_class, _model in FAMILIES.values() for setting in settings_of(config_class)]
    return {**(preset.model if preset else {}), **given_settings(args, described)}


def _train_settings(args, preset) -> dict:
    settings = {"epochs": 10, **(preset.training if preset else {})}
    for key in ("epochs", "batch_size", "lr", "seed"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    settings["device"] = args.device
    return settings


def run_train(args) -> int:
    from gen_core.device import pick_device

    pick_device(args.device)  # an unknown or absent device is refused before any work
    if args.resume:
        return _resume(args)
    from gen_core import pipeline
    from gen_core.checkpoints import CONFIG_FILE, default_root, writer_lock
    from gen_core.run_files import check_output_folder, outermost_missing, remove_if_unused
    from gen_core.runs import new_run_dir

    family, model_settings, dataset, dataset_options, training = _new_run_settings(args)
    writes = _writes_the_run()
    made = outermost_missing(args.out or default_root())  # folders made here are removed if no run is saved
    out = args.out or new_run_dir(default_root(), family, dataset, create=writes)
    made = made or (out if not args.out else None)

    def prepare():
        return pipeline.prepare_training(family, model_settings, dataset, pipeline.train_config_from_dict(training),
                                         dataset_options=dataset_options, run_dir=out)

    if not writes:  # another rank of a torchrun job; rank 0 checks, locks and writes the folder
        return _train_and_measure(prepare(), args)
    check_output_folder(out)
    with writer_lock(out):  # a second writer of this folder is refused here, before any work
        try:
            if (out / CONFIG_FILE).exists():
                raise GenCoreError(f"{out} already holds a run; use --resume {out} or another --out")
            return _train_and_measure(prepare(), args)
        finally:
            remove_if_unused(out, made)


def _new_run_settings(args) -> tuple[str, dict, str, dict, dict]:
    """What a new run trains (family, model settings, dataset, its options, training settings): from
    ``--settings FILE`` when given (the app's job runner writes one), else from the flags."""
    if args.settings:
        from gen_core.worker import read_settings_file

        settings = read_settings_file(args.settings)
        training = {**settings["training"], **({"device": args.device} if args.device != "auto" else {})}
        return settings["family"], settings["model"], settings["dataset"], settings["dataset_options"], training
    preset, family = _preset_and_family(args)
    return family, _model_settings(args, preset), args.dataset, _dataset_options(args), _train_settings(args, preset)


def _writes_the_run() -> bool:
    """Whether this process writes the run folder: always, except the ranks above 0 under torchrun."""
    return os.environ.get("RANK", "0") == "0"


def _preset_and_family(args):
    from gen_core.models import FAMILIES
    from gen_core.presets import PRESETS

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


def _resume(args) -> int:
    from gen_core import pipeline
    from gen_core.checkpoints import CONFIG_FILE, writer_lock

    if args.epochs is not None and args.epochs < 1:
        raise GenCoreError(f"With --resume, --epochs is how many more epochs to train: at least 1, not {args.epochs}")
    if not (args.resume / CONFIG_FILE).is_file():
        raise GenCoreError(f"No run folder at {args.resume}")
    # Refused at once while another process trains it (under torchrun, rank 0 holds the lock).
    with writer_lock(args.resume) if _writes_the_run() else contextlib.nullcontext():
        return _train_and_measure(pipeline.resume_training(args.resume, args.epochs or 10, device=args.device), args)


def _train_and_measure(trainer, args) -> int:
    writer = _progress_writer(trainer)
    status = _fit_with_progress(trainer, writer)
    scoring = status == 0 and not args.no_eval and trainer.group.is_main  # under torchrun, rank 0 scores
    if scoring and writer.should_stop():
        writer.measured("skipped", "Scoring skipped: the run was stopped.")
    elif scoring:
        try:
            _measure_with_progress(trainer, writer)
        except Exception as error:  # scoring only adds numbers: the trained run is saved and stays usable
            print(f"warning: {trainer.run_dir} is trained and saved, but could not be scored "
                  f"({type(error).__name__}: {error}); score it later with "
                  f"`python -m gen_core eval {trainer.run_dir}`", file=sys.stderr)
    return status


def _progress_writer(trainer):
    """Live progress and stop requests through the run folder (see gen_core.run_progress), so the app
    shows this run while it trains and can ask it to stop, wherever it was started."""
    from gen_core.run_progress import ProgressWriter

    if trainer.group.is_main:  # under torchrun, rank 0 writes the run folder; every rank answers stop
        trainer.run_dir.mkdir(parents=True, exist_ok=True)
    return ProgressWriter(trainer.run_dir, enabled=trainer.group.is_main).attach(trainer)


def _measure_with_progress(trainer, writer) -> None:
    from tqdm import tqdm

    from gen_core.metrics.final import measure_finished_run
    from gen_core.run_progress import METRICS_STORED, StopRequested

    bar = tqdm(total=100, desc="measuring", unit="%", file=sys.stderr, dynamic_ncols=True)

    def progress(fraction: float, message: str) -> None:
        bar.n = round(100 * fraction)
        bar.set_postfix_str(message[:60])
        writer.measuring(fraction, message)

    try:
        stored = measure_finished_run(trainer.run_dir, device=str(trainer.device), progress=progress)
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


def _fit_with_progress(trainer, writer) -> int:
    """Train with a progress bar on the terminal and progress in the run folder (``writer``)."""
    from tqdm import tqdm

    group, quiet = trainer.group, not trainer.group.is_main  # under torchrun, rank 0 reports
    if group.active and not quiet:
        batch = trainer.config.batch_size
        print(f"Training in {group.world_size} processes: batch {batch} per process, {batch * group.world_size} in total")
    bar = tqdm(total=0, unit="step", desc=trainer.run_dir.name, file=sys.stderr, dynamic_ncols=True, disable=quiet)

    def on_event(kind: str, payload: dict) -> None:
        writer.on_event(kind, payload)
        bar.total = trainer.progress.total_steps
        bar.n = trainer.progress.step
        if kind == "epoch":
            test = payload.get("test_loss")
            bar.set_postfix(epoch=payload["epoch"], loss=f"{payload.get('train_loss', float('nan')):.4g}",
                            test=f"{test:.4g}" if test is not None else "-")
        bar.refresh()

    try:
        history = trainer.fit(on_event=on_event, should_stop=writer.should_stop)
    except KeyboardInterrupt:
        writer.finish("stopped", f"Interrupted after epoch {trainer.progress.epoch}; the saved epochs are kept.")
        raise
    finally:
        bar.close()
    if not quiet:
        print(f"{history['message']} Run saved in {trainer.run_dir}")
    return 0


def run_sample(args) -> int:
    from gen_core.sampling_cli import sample_to_file

    path = sample_to_file(args.run, sampler=args.sampler, class_label=args.class_label,
                          components=args.components, covariance=args.covariance,
                          n=args.n, seed=args.seed, out=args.out)
    print(f"Wrote {args.n} samples to {path}")
    return 0


def run_datasets(args) -> int:
    from gen_core.data import list_datasets

    rows = list_datasets()
    print(f"{'name':<15}{'offline':<9}{'shape':<14}{'train':>8}{'test':>8}  description")
    for row in rows:
        shape = "x".join(map(str, row["image_shape"])) if row.get("image_shape") else "varies"
        offline = "yes" if row["offline_available"] else "no"
        train, test = row.get("train_size") or "-", row.get("test_size") or "-"
        print(f"{row['name']:<15}{offline:<9}{shape:<14}{train:>8}{test:>8}  {row['description']}")
    return 0


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"train": run_train, "sample": run_sample, "datasets": run_datasets}
    if args.command == "eval":
        from gen_core.metrics.cli import run_eval
        handlers["eval"] = run_eval
    if args.command == "demos":
        from gen_core.demos_cli import run_demos
        handlers["demos"] = run_demos
    if args.command == "export-onnx":
        from gen_core.export.cli import run_export
        handlers["export-onnx"] = run_export
    try:
        if args.command == "train":
            from gen_core import distributed

            with distributed.process_group(args.device):  # one process, unless torchrun started several
                return run_train(args)
        return handlers[args.command](args)
    except (GenCoreError, ValueError) as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OSError, MemoryError) as error:  # a full disk, a folder that vanished, memory exhausted
        print(f"error: {type(error).__name__}: {_one_line(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
