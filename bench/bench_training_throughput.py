"""Training throughput: gen_core's Trainer against a bare PyTorch loop, same model, data and batch size.

Both train a fresh copy of the same VAE (seeded identically) on the embedded MNIST sample, with
batches sliced from the same in-memory tensor. Runs alternate (bare, trainer, bare, trainer, ...)
so background load hits both alike; the median of each is reported.

Two ratios are printed:
  train-loop ratio  trainer images/s over the training steps (its own per-epoch measurement)
                    divided by the bare loop's images/s. This is the overhead of the loop itself.
  end-to-end ratio  the same with the trainer's whole fit() wall time, which also evaluates the
                    test set, saves a sample grid and writes a checkpoint every epoch.

Usage: python bench/bench_training_throughput.py [--epochs 3] [--repeats 3] [--device auto]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gen_core.data import iter_batches, load_dataset  # noqa: E402
from gen_core.device import device_label, pick_device  # noqa: E402
from gen_core.models import build_model  # noqa: E402
from gen_core.models.blocks import kl_to_standard_normal, reparameterize  # noqa: E402
from gen_core.models.losses import reconstruction_loss  # noqa: E402
from gen_core.run.start import TrainingRun  # noqa: E402
from gen_core.training import TrainConfig, Trainer  # noqa: E402

MODEL = {"family": "vae", "hidden": (512, 256), "latent_dim": 32}


def fresh_model(image_shape, seed: int):
    torch.manual_seed(seed)
    settings = {k: v for k, v in MODEL.items() if k != "family"}
    return build_model(MODEL["family"], image_shape=image_shape, **settings)


def bare_loop(images: torch.Tensor, image_shape, epochs: int, batch_size: int, lr: float, device) -> float:
    """pytorch/examples' VAE loop, written out: returns images per second."""
    model = fresh_model(image_shape, 0).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    images = images.to(device)
    shuffle = torch.Generator().manual_seed(0)
    seen, start = 0, time.perf_counter()
    for _ in range(epochs):
        for x in iter_batches(images, batch_size, shuffle=True, generator=shuffle):
            mu, logvar = model.posterior(x)
            logits = model.decode_logits(reparameterize(mu, logvar))
            loss = (reconstruction_loss(logits, x, "bce", summed=True) + kl_to_standard_normal(mu, logvar)).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += len(x)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - start)


def trainer_run(dataset, epochs: int, batch_size: int, lr: float, device) -> tuple[float, float]:
    """Returns (train-loop images/s, end-to-end images/s) for gen_core's Trainer."""
    model = fresh_model(dataset.image_shape, 0)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(model, dataset, TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr,
                                                      device=str(device), sample_epochs=(epochs,)))
        start = time.perf_counter()
        history = TrainingRun(trainer, Path(run_dir)).fit()
        wall = time.perf_counter() - start
    seen = len(dataset.train_images) * epochs
    train_seconds = sum(seen / epochs / entry["images_per_sec"] for entry in history["epochs"])
    return seen / train_seconds, seen / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    device = pick_device(args.device)
    dataset = load_dataset("mnist5k")
    lr = 1e-3
    bare, loop, end_to_end = [], [], []
    bare_loop(dataset.train_images[:1024], dataset.image_shape, 1, args.batch_size, lr, device)  # warm-up
    for _ in range(args.repeats):
        bare.append(bare_loop(dataset.train_images, dataset.image_shape, args.epochs, args.batch_size, lr, device))
        loop_rate, e2e_rate = trainer_run(dataset, args.epochs, args.batch_size, lr, device)
        loop.append(loop_rate)
        end_to_end.append(e2e_rate)
    result = {
        "device": device_label(device), "model": MODEL, "epochs": args.epochs, "batch_size": args.batch_size,
        "repeats": args.repeats, "bare_images_per_sec": statistics.median(bare),
        "trainer_loop_images_per_sec": statistics.median(loop),
        "trainer_end_to_end_images_per_sec": statistics.median(end_to_end),
    }
    result["train_loop_ratio"] = result["trainer_loop_images_per_sec"] / result["bare_images_per_sec"]
    result["end_to_end_ratio"] = result["trainer_end_to_end_images_per_sec"] / result["bare_images_per_sec"]
    print(f"device: {result['device']}; VAE {MODEL['hidden']} latent {MODEL['latent_dim']}, "
          f"batch {args.batch_size}, {args.epochs} epochs x {args.repeats} repeats on mnist5k")
    print(f"bare loop          {result['bare_images_per_sec']:10.0f} images/s   (runs: {', '.join(f'{v:.0f}' for v in bare)})")
    print(f"trainer, loop      {result['trainer_loop_images_per_sec']:10.0f} images/s   ratio {result['train_loop_ratio']:.3f}")
    print(f"trainer, end-to-end{result['trainer_end_to_end_images_per_sec']:10.0f} images/s   ratio {result['end_to_end_ratio']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
