"""What step-through training costs a run that nobody pauses: the Trainer asks the run folder's control
request between batches (gen_core.run.control.ControlReader: one stat of control.json, parsed only
when it changed). Printed beside one training batch of a small MLP VAE on the embedded MNIST sample,
the smallest batch a lesson runs, as a share of it.

Usage: python bench/bench_step_through.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gen_core.compute import apply_thread_policy  # noqa: E402
from gen_core.data import load_dataset  # noqa: E402
from gen_core.models import build_model  # noqa: E402
from gen_core.run.control import ControlReader, request_control  # noqa: E402

from bench_latency import timed  # noqa: E402


def main() -> None:
    # as a training process would: threads from the project's one policy
    apply_thread_policy(role="train")
    folder = Path(tempfile.mkdtemp())
    request_control(folder, lr=1e-3)
    reader = ControlReader(folder)
    reader()  # parsed once; from now on unchanged
    polls = 10_000
    poll_us = statistics.median(timed(lambda: [reader() for _ in range(polls)], 5)) * 1000 / polls
    images = load_dataset("mnist5k").train_images[:64]
    model = build_model("vae", image_shape=tuple(images.shape[1:]), hidden=(256,), latent_dim=8)
    optimizers = model.make_optimizers(1e-3)
    batch_ms = statistics.median(timed(lambda: model.train_step(images, optimizers), 50))
    print(f"control poll: {poll_us:.1f} us; one batch (MLP VAE, 64 images): {batch_ms:.2f} ms; "
          f"share: {poll_us / (batch_ms * 1000):.2%}")


if __name__ == "__main__":
    main()
