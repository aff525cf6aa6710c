"""Training throughput: gen_core's Trainer against a bare PyTorch loop, same model, data and batch size.

Both train a fresh copy of the same VAE (seeded identically) on the embedded MNIST sample, with
batches sliced from the same in-memory tensor. Runs alternate (bare, trainer, bare, trainer, ...)
so background load hits both alike; the median of each is reported.

Two ratios are printed:
  train-loop ratio  trainer images/s over the training steps (its own per-epoch measurement)
                    divided by the bare loop's images/s. This is the overhead of the loop itself.
  end-to-end ratio  the same with the trainer's whole fit() wall time, which also evaluates the
                    test set, saves a sample grid and writes a checkpoint every epoch.

Then each variant of the Trainer for an MLP VAE (784-512-256-32), the DCGAN and the VAE-GAN
(``--families``), alternating:
  before     float32, Adam's per-tensor loop (the Trainer before fused kernels)
  fp32       float32, Adam's fused kernel (the default where bf16 does not pay)
  bf16       bfloat16 autocast, fused Adam
  compiled   float32, fused Adam, torch.compile of each network (its compile time reported apart)
with images/s over the training steps, the test loss after the same epochs (negative ELBO in nats
for the VAE: equal log-likelihood means within 0.3 nats), and the share of this machine's measured
matmul peak in that precision (the model's training FLOPs counted by torch's FlopCounterMode).

Usage: python bench/bench_training_throughput.py [--epochs 3] [--repeats 3] [--device auto]
                                                [--families vae dcgan vaegan] [--variants before fp32 bf16 compiled]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gen_core.compute import apply_thread_policy, fused_adam_available  # noqa: E402
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
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=fused_adam_available(device))
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
                                                      device=str(device), sample_epochs=(epochs,), precision="fp32"))
        start = time.perf_counter()
        history = TrainingRun(trainer, Path(run_dir)).fit()
        wall = time.perf_counter() - start
    seen = len(dataset.train_images) * epochs
    train_seconds = sum(seen / epochs / entry["images_per_sec"] for entry in history["epochs"])
    return seen / train_seconds, seen / wall


FAMILIES = {"vae": {"hidden": (512, 256), "latent_dim": 32}, "dcgan": {"latent_dim": 32}, "vaegan": {"latent_dim": 32}}
LEARNING_RATES = {"vae": 1e-3, "dcgan": 2e-4, "vaegan": 3e-4}
VARIANTS = {"before": {"precision": "fp32"}, "fp32": {"precision": "fp32"}, "bf16": {"precision": "bf16"},
            "compiled": {"precision": "fp32", "compile": True}}


def matmul_peak(device, dtype: torch.dtype, size: int = 1024, repeats: int = 20) -> float:
    """FLOP/s of a square matmul in ``dtype`` on ``device`` (best of a few rounds)."""
    a, b = (torch.randn(size, size, device=device).to(dtype) for _ in range(2))
    best = float("inf")
    for _ in range(3):
        torch.matmul(a, b)
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(repeats):
            torch.matmul(a, b)
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return 2 * size ** 3 * repeats / best


def step_flops(family: str, dataset, batch_size: int, device) -> float:
    """Training FLOPs per image of one step of ``family`` (forward and backward), as torch counts them."""
    model = build_model(family, image_shape=dataset.image_shape, **FAMILIES[family]).to(device)
    optimizers = model.make_optimizers(1e-4)
    with FlopCounterMode(display=False) as counter:
        model.train_step(dataset.train_images[:batch_size].to(device), optimizers)
    return counter.get_total_flops() / batch_size


def variant_run(family: str, variant: str, dataset, epochs: int, batch_size: int, device) -> dict:
    """One training run of the Trainer in ``variant``: images/s over the steps, its test loss, its compile time."""
    torch.manual_seed(0)
    model = build_model(family, image_shape=dataset.image_shape, **FAMILIES[family])
    lr = LEARNING_RATES[family]
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, device=str(device), sample_epochs=(epochs,),
                         **VARIANTS[variant])
    started = time.perf_counter()
    trainer = Trainer(model, dataset, config)
    if variant == "before":  # Adam's per-tensor loop, as every optimiser was before the fused kernel
        trainer.optimizers = {name: torch.optim.Adam(optimizer.param_groups[0]["params"], lr=lr,
                                                     betas=optimizer.param_groups[0]["betas"], fused=False)
                              for name, optimizer in trainer.optimizers.items()}
    history = trainer.fit()
    wall = time.perf_counter() - started
    epochs_run = history["epochs"]
    train_seconds = sum(e["images"] / e["images_per_sec"] for e in epochs_run)
    first = epochs_run[0]["images"] / epochs_run[0]["images_per_sec"]  # holds the compile, when compiled
    steady = sum(e["images"] for e in epochs_run[1:]) / max(train_seconds - first, 1e-9) if len(epochs_run) > 1 \
        else sum(e["images"] for e in epochs_run) / train_seconds
    return {"images_per_sec": steady, "wall_seconds": wall, "first_epoch_seconds": first,
            "test_loss": epochs_run[-1].get("test_loss"), "precision": trainer.precision.precision}


def compare_variants(args, dataset, device) -> list[dict]:
    peaks = {"fp32": matmul_peak(device, torch.float32), "bf16": matmul_peak(device, torch.bfloat16)}
    print(f"\nmeasured matmul peak: float32 {peaks['fp32'] / 1e9:.1f} GFLOP/s, bfloat16 {peaks['bf16'] / 1e9:.1f} GFLOP/s "
          f"(1024x1024, {torch.get_num_threads()} thread(s))")
    rows = []
    for family in args.families:
        flops = step_flops(family, dataset, args.batch_size, device)
        runs: dict[str, list[dict]] = {variant: [] for variant in args.variants}
        for _ in range(args.repeats):
            for variant in args.variants:  # alternating, so background load hits each alike
                runs[variant].append(variant_run(family, variant, dataset, args.epochs, args.batch_size, device))
        before = statistics.median(r["images_per_sec"] for r in runs[args.variants[0]])
        for variant, results in runs.items():
            rate = statistics.median(r["images_per_sec"] for r in results)
            precision = results[0]["precision"]
            row = {"family": family, "variant": variant, "images_per_sec": rate, "vs_first": rate / before,
                   "test_loss": statistics.median(r["test_loss"] for r in results),
                   "first_epoch_seconds": statistics.median(r["first_epoch_seconds"] for r in results),
                   "wall_seconds": statistics.median(r["wall_seconds"] for r in results),
                   "share_of_peak": rate * flops / peaks[precision], "runs": [r["images_per_sec"] for r in results]}
            rows.append(row)
            print(f"{family:<6}{variant:<9}{rate:9.0f} images/s  x{row['vs_first']:.2f}  test loss "
                  f"{row['test_loss']:9.3f}  first epoch {row['first_epoch_seconds']:6.1f} s  wall "
                  f"{row['wall_seconds']:6.1f} s  {100 * row['share_of_peak']:5.1f}% of {precision} peak", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--families", nargs="*", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--threads", type=int, help="CPU threads (default: the thread policy's choice)")
    args = parser.parse_args()
    threads = apply_thread_policy(args.threads)
    device = pick_device(args.device)
    print(f"threads: {threads.threads} ({threads.reason}); load average {os.getloadavg()[0]:.2f}")
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
    if args.variants:
        result["variants"] = compare_variants(args, dataset, device)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
