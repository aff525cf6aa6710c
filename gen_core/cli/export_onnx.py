"""``python -m gen_core export-onnx RUN [--out FILE]``: the run's decoder as ONNX.

Writes (or reuses) the run's ``decoder.onnx``, the file the app serves to browsers, and with
``--out`` copies it elsewhere too.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gen_core.atomic import check_output_file, write_bytes_atomic
from gen_core.cli.flags import run_path
from gen_core.run.layout import DECODER_FILE
from gen_core.run.onnx_export import decoder_for_run


def add_export_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("run", help="the run: its name in the runs folder, or its path")
    parser.add_argument("--out", type=Path, help="also write the ONNX file here")
    return parser


def run_export(args) -> int:
    run_dir = run_path(args.run)
    if args.out:
        check_output_file(args.out)
    decoder = decoder_for_run(run_dir)
    how = "up to date" if decoder.cached else "exported" if decoder.on_disk else \
        "exported, but not saved (the run is being trained, or its folder is read-only)"
    shape = "x".join(map(str, decoder.image_shape))
    print(f"{run_dir / DECODER_FILE}: {how}, {decoder.size_bytes / 2**20:.1f} MB, "
          f"{decoder.latent_dim}-d code to {shape} images")
    if args.out:
        write_bytes_atomic(args.out, decoder.data)
        print(f"Wrote {args.out}")
    return 0
