"""What the training timeline costs a run: encoding the timeline's test images at a grid epoch and
writing their codes, against the epoch it follows.

An MLP VAE (784-512-256-32) trains on the embedded MNIST sample (4,500 training images, batch 128)
with a sample grid, and so timeline codes, at every epoch: the most a run can store. Runs alternate
with the timeline on and off (the Trainer's encoding replaced by nothing) so background load hits
both alike. Reported: the median time of one timeline step (encode the 500 images and write the
file, the part a grid epoch adds), the median epoch, and the fit() wall times on and off.

Usage: python bench/bench_timeline.py [--epochs 3] [--repeats 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gen_core.compute import apply_thread_policy  # noqa: E402
from gen_core.device import device_label  # noqa: E402
from gen_core.latent.timeline import timeline_codes  # noqa: E402
from gen_core.run import layout  # noqa: E402
from gen_core.run.start import prepare_training  # noqa: E402
from gen_core.run.timeline import codes_writer  # noqa: E402
from gen_core.training import TrainConfig, trainer as trainer_module  # noqa: E402

from bench_latency import timed  # noqa: E402

MODEL = {"hidden": (512, 256), "latent_dim": 32}


def _fit(root: Path, name: str, epochs: int, device: str, timeline: bool):
    """Train one run; returns (fit seconds, the trainer)."""
    trainer_module.timeline_codes = timeline_codes if timeline else (lambda model, images: None)
    try:
        config = TrainConfig(epochs=epochs, batch_size=128, device=device, sample_epochs=tuple(range(1, epochs + 1)))
        run = prepare_training("vae", MODEL, "mnist5k", config, root=root, name=name)
        start = time.perf_counter()
        run.fit()
        return time.perf_counter() - start, run
    finally:
        trainer_module.timeline_codes = timeline_codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    # as a training process would: threads from the project's one policy
    apply_thread_policy(role="train")
    fits = {True: [], False: []}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for repeat in range(args.repeats):
            for timeline in (False, True):
                seconds, run = _fit(root, f"{'on' if timeline else 'off'}-{repeat}", args.epochs, args.device,
                                    timeline)
                fits[timeline].append(seconds)
        trainer, run_dir = run.trainer, run.run_dir
        stored = layout.timeline_files(run_dir)
        target = run_dir / "bench-codes.npy"
        step = timed(lambda: codes_writer(timeline_codes(trainer.model, trainer.test_images))(target), 20)
        epochs = [entry["images"] / entry["images_per_sec"] for entry in trainer.history["epochs"]]
        print(f"device: {device_label(trainer.device)}; {len(stored)} timeline files of "
              f"{stored[-1][1].stat().st_size:,} bytes each")
        print(f"timeline step (encode {len(trainer.test_images[:500])} test images, write the file): "
              f"median {statistics.median(step):.1f} ms, p95 {sorted(step)[int(0.95 * len(step))]:.1f} ms")
        print(f"training part of an epoch: median {statistics.median(epochs) * 1000:.0f} ms "
              f"-> the timeline adds {statistics.median(step) / 10 / statistics.median(epochs):.2f}% per grid epoch")
        print(f"fit() of {args.epochs} epochs, a grid at each: timeline off median "
              f"{statistics.median(fits[False]):.2f} s, on {statistics.median(fits[True]):.2f} s "
              f"({args.repeats} runs each, alternating)")


if __name__ == "__main__":
    main()
