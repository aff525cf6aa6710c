"""``python -m gen_core export-projector RUN --out DIR [--split test|train] [--n N]``.

Encodes the first N images of the run's test (or training) set and writes the folder TensorBoard's
Embedding Projector opens (``gen_core.latent.projector``): ``tensorboard --logdir DIR``, Projector tab.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gen_core.atomic import check_output_folder
from gen_core.cli.flags import run_path
from gen_core.errors import LatentError
from gen_core.latent import encode_dataset, projector_export
from gen_core.run import checkpoint
from gen_core.run.start import dataset_for_run

SPLITS = ("test", "train")


def add_projector_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("run", help="the run: its name in the runs folder, or its path")
    parser.add_argument("--out", type=Path, required=True, help="the folder to write the four files into")
    parser.add_argument("--split", choices=SPLITS, default="test", help="which images to encode (default: test)")
    parser.add_argument("--n", type=int, help="only the first N images of the split (default: all of them)")
    return parser


def run_projector(args) -> int:
    if args.n is not None and args.n < 1:
        raise LatentError(f"--n must be at least 1; got {args.n}.")
    run_dir = run_path(args.run)
    out = check_output_folder(args.out)  # before any work: a file in the way or no permission fails now
    run = checkpoint.load_run(run_dir)
    dataset = dataset_for_run(run.config)
    images, labels = ((dataset.test_images, dataset.test_labels) if args.split == "test"
                      else (dataset.train_images, dataset.train_labels))
    count = len(images) if args.n is None else min(int(args.n), len(images))
    if count == 0:
        raise LatentError(f"This run's {args.split} set holds no images.")
    chosen = images[:count]
    export = projector_export(encode_dataset(run.model, chosen), chosen,
                              None if labels is None else labels[:count], dataset.class_names,
                              name=f"{run.name} ({args.split})")
    export.write(out)
    fewer = f" (the {args.split} set holds only {count})" if args.n is not None and args.n > count else ""
    width, height = export.thumbnail
    print(f"Wrote {count} codes of {run.model.latent_dim} dimensions{fewer} and a sprite of {width}x{height} "
          f"thumbnails to {out}; open it with: tensorboard --logdir {out}")
    return 0
