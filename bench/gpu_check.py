"""The GPU path, checked for real in a few minutes on a CUDA machine; prints one table.

  1. device detection   what ``pick_device("auto")`` finds, the GPU's name, bf16 support, GPU count
  2. bf16 training      one preset of every family trains with bfloat16 autocast: finite losses, the
                        test loss falls (GANs: the run completes), forwards really ran in bfloat16
  3. data on the GPU    the Trainer keeps mnist5k on the GPU (batches are slices of a GPU tensor)
  4. throughput         the Trainer against the bare loop of bench_training_throughput.py
  5. DDP                bench_ddp.py with 1 process and with one per visible GPU (NCCL)
  6. precision, compile  an MLP VAE and the DCGAN in float32, bf16 and compiled (bench_training_throughput's
                        variants): images/s, first epoch (holds the compile) and test loss
  7. sharing one GPU     1, 2 and 4 training processes at once on one GPU (the job queue's workers): images/s
                        of all together and of each, so LATENT_LAB_MAX_JOBS can be set from it

Without CUDA every CUDA check prints "skipped" with the reason, and the same code runs on the
CPU at a small size (a subset of the data, one epoch, gloo with 2 processes), so the script is
exercised on any machine (one thread there). Usage: python bench/gpu_check.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_training_throughput import bare_loop, trainer_run, variant_run  # noqa: E402

from gen_core.compute import apply_thread_policy  # noqa: E402
from gen_core.data import ImageDataset, load_dataset  # noqa: E402
from gen_core.device import device_label, pick_device  # noqa: E402
from gen_core.models.presets import PRESETS  # noqa: E402
from gen_core.run.start import prepare_training  # noqa: E402
from gen_core.training import TrainConfig  # noqa: E402

FAMILY_PRESETS = ["AE, 5 hidden layers", "MLP VAE, latent 32", "Conv beta-VAE", "DCGAN", "VAE-GAN"]
rows: list[tuple[str, str, str]] = []


def row(check: str, result: str, detail: str = "") -> None:
    rows.append((check, result, detail))
    print(f"  {check:<28} {result:<10} {detail}", file=sys.stderr, flush=True)


def detect() -> torch.device:
    device = pick_device("auto")
    row("device detection", device.type, device_label(device))
    if torch.cuda.is_available():
        row("GPUs visible", str(torch.cuda.device_count()), f"bf16 supported: {torch.cuda.is_bf16_supported()}")
    else:
        row("GPUs visible", "0", "skipped: no CUDA GPU; the checks below run on the CPU at a small size")
    return device


def small(dataset: ImageDataset, count: int) -> ImageDataset:
    return ImageDataset(dataset.name, dataset.train_images[:count], dataset.test_images[:count // 4],
                        source=dataset.source)


def forward_dtypes(model) -> set:
    """Record the dtype of every Linear/Conv output during training (bfloat16 under autocast)."""
    seen = set()
    for module in model.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            module.register_forward_hook(lambda m, inputs, output: seen.add(str(output.dtype).removeprefix("torch.")))
    return seen


def train_every_family(device: torch.device, dataset: ImageDataset, epochs: int) -> None:
    for name in FAMILY_PRESETS:
        preset = PRESETS[name]
        config = TrainConfig(**{**preset.training, "epochs": epochs, "device": str(device), "sample_epochs": (0,)})
        trainer = prepare_training(preset.family, dict(preset.model), dataset, config, save=False)
        dtypes = forward_dtypes(trainer.model)
        started = time.perf_counter()
        history = trainer.fit()
        losses = [entry["test_loss"] for entry in history["epochs"]]
        ok = history["status"] == "completed" and all(map(torch.isfinite, torch.tensor(losses)))
        if preset.family not in ("dcgan",) and len(losses) > 1:
            ok = ok and losses[-1] < losses[0]
        if device.type == "cuda":
            ok = ok and "bfloat16" in dtypes
        rates = [entry["images_per_sec"] for entry in history["epochs"]]
        row(f"train {name}", "ok" if ok else "FAILED",
            f"{'/'.join(sorted(dtypes))}, test loss {losses[0]:.4g} -> {losses[-1]:.4g}, "
            f"{max(rates):,.0f} images/s, {time.perf_counter() - started:.1f} s")
        if name == FAMILY_PRESETS[0]:
            where = trainer.trainer.data_device
            row("data on the GPU", ("ok" if where.type == "cuda" else "FAILED") if device.type == "cuda" else "skipped",
                f"data on {where}" + ("" if device.type == "cuda" else " (no CUDA GPU)"))


def throughput(device: torch.device, dataset: ImageDataset, epochs: int) -> None:
    bare = bare_loop(dataset.train_images, dataset.image_shape, epochs, 128, 1e-3, device)
    loop, end_to_end = trainer_run(dataset, epochs, 128, 1e-3, device)
    row("bare loop", f"{bare:,.0f}", f"images/s, MLP VAE 512-256-32, batch 128, {device.type}, both float32")
    row("Trainer, training steps", f"{loop:,.0f}", f"images/s, {loop / bare:.2f} x bare")
    row("Trainer, end to end", f"{end_to_end:,.0f}", f"images/s, {end_to_end / bare:.2f} x bare")


def data_parallel(device: torch.device, epochs: int) -> None:
    processes = torch.cuda.device_count() if device.type == "cuda" else 2
    if device.type != "cuda":
        row("DDP on all GPUs", "skipped", "no CUDA GPU; 2 CPU processes with gloo instead")
    command = [sys.executable, str(REPO / "bench" / "bench_ddp.py"), "--epochs", str(epochs), "--device",
               device.type, "--processes", *sorted({"1", str(processes)})]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if result.returncode:
        row("DDP", "FAILED", result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "")
        return
    lines = result.stdout.strip().splitlines()[2:]
    for line in lines:
        count, batch, rate, ratio, loss = line.split()
        row(f"DDP, {count} process(es)", f"{float(rate):,.0f}", f"images/s, batch {batch} each, {ratio} x one, "
            f"test loss {loss}")


def precision_and_compile(device: torch.device, dataset: ImageDataset, epochs: int) -> None:
    for family in ("vae", "dcgan"):
        for variant in ("fp32", "bf16", "compiled"):
            try:
                result = variant_run(family, variant, dataset, epochs, 128, device)
            except Exception as error:  # a compiler missing on this machine is a finding, not a crash
                row(f"{family} {variant}", "FAILED", f"{type(error).__name__}: {str(error)[:120]}")
                continue
            row(f"{family} {variant}", f"{result['images_per_sec']:,.0f}",
                f"images/s after epoch 1; epoch 1 {result['first_epoch_seconds']:.1f} s, whole run "
                f"{result['wall_seconds']:.1f} s, test loss {result['test_loss']:.4g}")


def sharing_one_gpu(device: torch.device, epochs: int, counts: tuple[int, ...]) -> None:
    """Several training processes at once on one device, as the job queue would start them."""
    for count in counts:
        with tempfile.TemporaryDirectory() as folder:
            command = [sys.executable, "-m", "gen_core", "train", "--model", "vae", "--hidden", "512,256",
                       "--latent-dim", "32", "--epochs", str(epochs), "--no-eval", "--device", device.type]
            env = {**os.environ, "PYTHONPATH": str(REPO)}
            processes = [subprocess.Popen([*command, "--out", f"{folder}/job{index}"], cwd=REPO, env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for index in range(count)]
            failed = [p.stderr.read().decode()[-200:] for p in processes if p.wait()]
            if failed:
                row(f"{count} job(s) at once", "FAILED", failed[0].strip().splitlines()[-1] if failed[0].strip() else "")
                continue
            rates = []
            for index in range(count):
                history = json.loads(Path(f"{folder}/job{index}/history.json").read_text())
                later = history["epochs"][1:] or history["epochs"]
                rates.append(sum(e["images"] for e in later) / sum(e["images"] / e["images_per_sec"] for e in later))
            row(f"{count} job(s) at once", f"{sum(rates):,.0f}",
                f"images/s together ({min(rates):,.0f}-{max(rates):,.0f} each), MLP VAE, {device.type}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="also write the table here")
    args = parser.parse_args()
    started = time.perf_counter()
    device = detect()
    full = load_dataset("mnist5k")
    on_gpu = device.type == "cuda"
    apply_thread_policy()  # the CPU side: as every process of the app chooses its threads
    train_every_family(device, full if on_gpu else small(full, 512), epochs=2)
    throughput(device, full if on_gpu else small(full, 2048), epochs=3 if on_gpu else 1)
    data_parallel(device, epochs=4 if on_gpu else 2)
    precision_and_compile(device, full if on_gpu else small(full, 1024), epochs=3 if on_gpu else 2)
    sharing_one_gpu(device, epochs=3 if on_gpu else 2, counts=(1, 2, 4) if on_gpu else (1, 2))
    width = max(len(check) for check, _, _ in rows)
    print(f"\n{'check':<{width}}  {'result':<10}  detail")
    for check, result, detail in rows:
        print(f"{check:<{width}}  {result:<10}  {detail}")
    print(f"({time.perf_counter() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps([dict(zip(("check", "result", "detail"), r)) for r in rows], indent=1))


if __name__ == "__main__":
    main()
