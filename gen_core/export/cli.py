"""``python -m gen_core export-onnx RUN [--out FILE]``: the run's decoder as ONNX.

Writes (or reuses) ``RUN/decoder.onnx``, the file the app serves to browsers, and with ``--out``
copies it elsewhere too. ``gen_core.cli`` adds the subcommand with ``add_export_arguments(parser)``
and calls ``run_export(args)``; user errors are ``GenCoreError`` for it to turn into exit code 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_export_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("run", type=Path, help="a run folder, or a run's name in the runs folder")
    parser.add_argument("--out", type=Path, help="also write the ONNX file here")
    return parser


def run_export(args) -> int:
    from gen_core.export.onnx_decoder import ONNX_FILE, decoder_for_run
    from gen_core.metrics.cli import resolve_run
    from gen_core.run_files import check_output_file, write_bytes_atomic

    run_dir = resolve_run(args.run)
    if args.out:
        check_output_file(args.out)
    decoder = decoder_for_run(run_dir)
    how = "up to date" if decoder.cached else "exported" if decoder.on_disk else \
        "exported, but not saved (the run is being trained, or its folder is read-only)"
    shape = "x".join(map(str, decoder.image_shape))
    print(f"{run_dir / ONNX_FILE}: {how}, {decoder.size_bytes / 2**20:.1f} MB, "
          f"{decoder.latent_dim}-d code to {shape} images")
    if args.out:
        write_bytes_atomic(args.out, decoder.data)
        print(f"Wrote {args.out}")
    return 0
