"""Data-parallel throughput: images per second of one model trained by 1 and by N processes.

Each configuration is a fresh ``torchrun --standalone --nproc_per_node N`` launch of this script
in worker mode, training the MLP VAE of bench_training_throughput.py (512-256-32) on mnist5k with
the same total batch (per-process batch = total / N), no run folder. Images per second are the
Trainer's own per-epoch figures over all processes, epoch 1 (warm-up) left out, median of the
rest. On the CPU each process gets ``--threads`` threads; on CUDA each process takes one GPU.

Usage: python bench/bench_ddp.py [--processes 1 2] [--epochs 4] [--total-batch 128] [--device cpu]
       [--json bench/results/ddp_cpu.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODEL = {"hidden": (512, 256), "latent_dim": 32}


def worker(args) -> None:
    import torch

    from gen_core.device import device_label
    from gen_core.run import start
    from gen_core.training import TrainConfig, distributed

    torch.set_num_threads(args.threads)
    with distributed.process_group(args.device) as group:
        config = TrainConfig(epochs=args.epochs, batch_size=args.total_batch // group.world_size, lr=1e-3,
                             device=args.device, sample_epochs=(0,), log_every=50)
        trainer = start.prepare_training("vae", MODEL, "mnist5k", config, save=False)
        history = trainer.fit()
        if group.is_main:
            rates = [entry["images_per_sec"] for entry in history["epochs"][1:]]
            Path(args.worker).write_text(json.dumps({
                "processes": group.world_size, "threads_per_process": args.threads,
                "device": device_label(trainer.trainer.device), "batch_per_process": config.batch_size,
                "total_batch": args.total_batch, "images_per_sec": statistics.median(rates),
                "final_test_loss": history["epochs"][-1]["test_loss"]}))


def launch(processes: int, args) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "result.json"
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
                   __file__, "--worker", str(out), "--epochs", str(args.epochs), "--total-batch",
                   str(args.total_batch), "--device", args.device, "--threads", str(args.threads)]
        environment = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(REPO)}
        subprocess.run(command, check=True, cwd=REPO, env=environment, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--total-batch", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (CPU)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    rows = [launch(n, args) for n in args.processes]
    base = rows[0]["images_per_sec"]
    print(f"MLP VAE {MODEL['hidden']} latent {MODEL['latent_dim']}, mnist5k, total batch {args.total_batch}, "
          f"{args.epochs} epochs (first left out), {args.threads} thread(s) per process, {rows[0]['device']}")
    print(f"{'processes':>9} {'batch/process':>13} {'images/s':>10} {'vs first':>9} {'final test loss':>16}")
    for row in rows:
        print(f"{row['processes']:>9} {row['batch_per_process']:>13} {row['images_per_sec']:>10.0f} "
              f"{row['images_per_sec'] / base:>9.2f} {row['final_test_loss']:>16.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
