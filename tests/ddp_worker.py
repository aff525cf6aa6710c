"""Started by tests/training/test_distributed.py under torchrun (2 processes, gloo on the CPU).

``ddp_worker.py ROOT``: trains every tiny family data-parallel into ``ROOT/<case>``, then resumes
``ROOT/resume-me`` (which one process trained) for one more epoch with two processes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's gen_core, not an installed one

from conftest import TINY_SETTINGS, small_mnist_subset  # noqa: E402

from gen_core.run import start  # noqa: E402
from gen_core.training import TrainConfig, distributed  # noqa: E402

EPOCHS = 3
BATCH_PER_PROCESS = 32


def train_config(batch_size: int = BATCH_PER_PROCESS) -> TrainConfig:
    return TrainConfig(epochs=EPOCHS, batch_size=batch_size, lr=2e-3, seed=0, device="cpu", sample_count=16,
                       sample_epochs=(EPOCHS,), log_every=2)


def main(root: Path) -> None:
    data = small_mnist_subset()
    start.dataset_for_run = lambda config: data  # the runs record "mnist5k"; train on the same subset
    with distributed.process_group("cpu"):
        for case, (family, settings) in TINY_SETTINGS.items():
            start.prepare_training(family, settings, data, train_config(), run_dir=root / case).fit()
        start.resume_training(root / "resume-me", 1, device="cpu").fit()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
