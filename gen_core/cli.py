"""The command line: ``python -m gen_core {train,sample,eval,datasets,demos} ...``.

Exit codes: 0 on success, 2 on bad arguments or bad input (with a one-line reason on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gen_core.errors import GenCoreError

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2, like argparse but without the usage dump
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _hidden(value: str) -> tuple[int, ...]:
    from gen_core.models import HIDDEN_PRESETS
    if value in HIDDEN_PRESETS:
        return HIDDEN_PRESETS[value]
    try:
        return tuple(int(v) for v in value.replace(",", " ").split())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--hidden takes sizes like 512,128 or a preset ({', '.join(HIDDEN_PRESETS)})") from None


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
    return parser


def _add_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", choices=["ae", "vae", "dcgan", "vaegan"], help="model family")
    p.add_argument("--preset", help="a named preset (see gen_core.presets); its settings are defaults")
    p.add_argument("--dataset", default="mnist5k", help="dataset name (see `datasets`)")
    p.add_argument("--epochs", type=int, help="epochs to train (with --resume: more epochs)")
    p.add_argument("--latent-dim", type=int)
    p.add_argument("--arch", choices=["mlp", "conv"])
    p.add_argument("--hidden", type=_hidden, help="encoder hidden sizes, e.g. 512,128, or mlp1/mlp5/mlp9")
    p.add_argument("--loss", choices=["bce", "mse", "euclidean", "mae"])
    p.add_argument("--beta", type=float, help="KL weight (beta-VAE)")
    p.add_argument("--batch-size", type=int, help="images per step in each process (under torchrun the total is "
                                                 "this times the number of processes)")
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--out", type=Path, help="run folder to write (default: checkpoints/<family>-<dataset>-<time>)")
    p.add_argument("--resume", type=Path, metavar="RUN", help="continue a saved run")
    p.add_argument("--no-eval", action="store_true", help="skip scoring the run when training ends")
    data = p.add_argument_group("dataset options")
    data.add_argument("--path", help="folder or zip of images (dataset 'folder')")
    data.add_argument("--size", type=int, help="image size for 'folder' (default 64)")
    data.add_argument("--channels", type=int, choices=[1, 3], help="1 (grayscale) or 3 (RGB)")
    data.add_argument("--tile-size", type=int, help="tile size for 'tiles' (default 32)")
    data.add_argument("--tiles-per-epoch", type=int)
    data.add_argument("--tiles-from", help="folder or zip of large images for 'tiles' (default: embedded)")
    data.add_argument("--root", help="local folder of torchvision datasets")


def _add_sample(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path)
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="a .png grid, or .npy for float32 (N, C, H, W) in [0, 1]")
    p.add_argument("--sampler", choices=["prior", "gmm", "gaussian", "perturb"], default="prior")
    p.add_argument("--class", dest="class_label", type=int, help="draw only this class (class samplers)")
    p.add_argument("--components", type=int, default=10, help="K for the per-class Gaussian mixture")
    p.add_argument("--covariance", default="full", choices=["full", "diag", "tied", "spherical"])


def _dataset_options(args) -> dict:
    options = {"path": args.path if args.dataset != "tiles" else args.tiles_from, "size": args.size,
               "channels": args.channels, "root": args.root}
    if args.dataset == "tiles":
        options.update(tile_size=args.tile_size, tiles_per_epoch=args.tiles_per_epoch)
        options.pop("size")
    if args.dataset not in ("folder", "tiles"):
        options = {"root": args.root} if args.dataset in ("mnist", "fashion_mnist", "cifar10") else {}
    return {k: v for k, v in options.items() if v is not None}


def _model_settings(args, preset) -> dict:
    settings = dict(preset.model) if preset else {}
    for flag, key in (("latent_dim", "latent_dim"), ("arch", "arch"), ("hidden", "hidden"),
                      ("loss", "loss"), ("beta", "beta")):
        value = getattr(args, flag)
        if value is not None:
            settings[key] = value
    return settings


def _train_settings(args, preset) -> dict:
    settings = {"epochs": 10, **(preset.training if preset else {})}
    for key in ("epochs", "batch_size", "lr", "seed"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    settings["device"] = args.device
    return settings


def run_train(args) -> int:
    from gen_core import pipeline
    from gen_core.presets import PRESETS
    from gen_core.training import TrainConfig

    if args.resume:
        trainer = pipeline.resume_training(args.resume, args.epochs or 10, device=args.device)
    else:
        preset = None
        if args.preset:
            if args.preset not in PRESETS:
                raise GenCoreError(f"Unknown preset {args.preset!r}; choose from: {', '.join(PRESETS)}")
            preset = PRESETS[args.preset]
        family = args.model or (preset.family if preset else None)
        if family is None:
            raise GenCoreError("Give --model (ae, vae, dcgan, vaegan) or --preset")
        if preset and preset.family != family:
            raise GenCoreError(f"Preset {preset.name!r} is a {preset.family} model, not {family}")
        if args.out is not None and (args.out / "config.json").exists():
            raise GenCoreError(f"{args.out} already holds a run; use --resume {args.out} or another --out")
        trainer = pipeline.prepare_training(
            family, _model_settings(args, preset), args.dataset, TrainConfig(**_train_settings(args, preset)),
            dataset_options=_dataset_options(args), run_dir=args.out)
    status = _fit_with_progress(trainer)
    if status == 0 and not args.no_eval and trainer.group.is_main:  # under torchrun, rank 0 scores
        try:
            _measure_with_progress(trainer)
        except Exception as error:  # scoring only adds numbers: the trained run is saved and stays usable
            print(f"warning: {trainer.run_dir} is trained and saved, but could not be scored "
                  f"({type(error).__name__}: {error}); score it later with "
                  f"`python -m gen_core eval {trainer.run_dir}`", file=sys.stderr)
    return status


def _measure_with_progress(trainer) -> None:
    from tqdm import tqdm

    from gen_core.metrics.final import measure_finished_run

    bar = tqdm(total=100, desc="measuring", unit="%", file=sys.stderr, dynamic_ncols=True)

    def progress(fraction: float, message: str) -> None:
        bar.n = round(100 * fraction)
        bar.set_postfix_str(message[:60])

    try:
        stored = measure_finished_run(trainer.run_dir, device=str(trainer.device), progress=progress)
    finally:
        bar.close()
    for sampler, entry in stored.items():
        shown = {k: entry["metrics"][k] for k in ("recon_mse", "ssim", "elbo", "frechet_feature", "sharpness_ratio")
                 if k in entry["metrics"]}
        print(f"metrics ({sampler}): " + ", ".join(f"{k} {v:.4g}" for k, v in shown.items()))


def _fit_with_progress(trainer) -> int:
    from tqdm import tqdm

    group, quiet = trainer.group, not trainer.group.is_main  # under torchrun, rank 0 reports
    if group.active and not quiet:
        batch = trainer.config.batch_size
        print(f"Training in {group.world_size} processes: batch {batch} per process, {batch * group.world_size} in total")
    bar = tqdm(total=0, unit="step", desc=trainer.run_dir.name, file=sys.stderr, dynamic_ncols=True, disable=quiet)

    def on_event(kind: str, payload: dict) -> None:
        bar.total = trainer.progress.total_steps
        bar.n = trainer.progress.step
        if kind == "epoch":
            test = payload.get("test_loss")
            bar.set_postfix(epoch=payload["epoch"], loss=f"{payload.get('train_loss', float('nan')):.4g}",
                            test=f"{test:.4g}" if test is not None else "-")
        bar.refresh()

    try:
        history = trainer.fit(on_event=on_event)
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"train": run_train, "sample": run_sample, "datasets": run_datasets}
    if args.command == "eval":
        from gen_core.metrics.cli import run_eval
        handlers["eval"] = run_eval
    if args.command == "demos":
        from gen_core.demos_cli import run_demos
        handlers["demos"] = run_demos
    try:
        if args.command == "train":
            from gen_core import distributed

            with distributed.process_group(args.device):  # one process, unless torchrun started several
                return run_train(args)
        return handlers[args.command](args)
    except (GenCoreError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
