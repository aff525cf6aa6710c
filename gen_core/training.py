"""The training loop: the familiar pytorch/examples shape, with history, grids and checkpoints.

``Trainer.fit`` runs epochs of ``model.train_step`` over batches sliced from in-memory tensors,
evaluates the test set each epoch, saves a sample grid at chosen epochs from a fixed noise batch
(so grids compare across epochs), and writes the run folder after every epoch. It is the same
code whether called from the command line, from the app's job runner, or in each process of a
``torchrun`` launch (see ``gen_core.distributed``; only rank 0 writes). What an epoch is and how
a stopped or failed run resumes is defined in ``gen_core.epochs``.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from gen_core import checkpoints, distributed
from gen_core.data.base import ImageDataset, iter_batches
from gen_core.device import keeps_data_on_device, pick_device, uses_mixed_precision
from gen_core.epochs import (batches_per_epoch, epoch_end, epoch_order, merge_partial, resume_point,
                             seed_epoch_draws)
from gen_core.errors import TrainingError
from gen_core.images import make_grid_image, save_png_atomic

__all__ = ["TrainConfig", "Trainer", "Progress", "batches_per_epoch", "new_history"]


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    sample_epochs: tuple[int, ...] = ()  # empty: first, last and about eight between
    sample_count: int = 64
    log_every: int = 10  # steps between history entries (each costs a device sync)
    mixed_precision: bool = True  # bfloat16 autocast, CUDA only

    def __post_init__(self) -> None:
        counts = {"epochs": self.epochs, "batch_size": self.batch_size, "sample_count": self.sample_count,
                  "log_every": self.log_every}
        for name, value in counts.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise TrainingError(f"{name} must be a whole number of at least 1, got {value!r}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, numbers.Real) or not 0 < self.lr < math.inf:
            raise TrainingError(f"The learning rate must be a positive number, got {self.lr!r}")
        try:
            self.sample_epochs = tuple(int(e) for e in self.sample_epochs)
        except (TypeError, ValueError):
            raise TrainingError(f"sample_epochs must be epoch numbers, got {self.sample_epochs!r}") from None

    def grid_epochs(self, first_epoch: int = 1) -> set[int]:
        if self.sample_epochs:
            return set(self.sample_epochs)
        every = max(1, math.ceil(self.epochs / 8))
        return {first_epoch, self.epochs, *range(every, self.epochs + 1, every)}


def new_history() -> dict:
    return {"steps": [], "epochs": [], "status": "created", "message": "", "metrics": {}}


@dataclass
class Progress:
    """What a UI needs each time it polls: where the run is and how long is left."""

    epoch: int = 0
    total_epochs: int = 0
    step: int = 0
    total_steps: int = 0
    elapsed: float = 0.0
    latest: dict = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def eta_seconds(self) -> float | None:
        if self.step == 0 or self.total_steps == 0:
            return None
        return self.elapsed / self.step * (self.total_steps - self.step)


def _ignore(kind: str, payload: dict) -> None:
    pass


class Trainer:
    """Train ``model`` on ``dataset``; write the run to ``run_dir`` when one is given.

    Callbacks go to ``fit``: ``on_event(kind, payload)`` is called with kind "step", "epoch",
    "samples" and "end"; ``should_stop()`` is polled after every step (with several processes,
    every ``log_every`` steps), and when it returns True the current step finishes, the run is
    saved with its place in the epoch, and ``fit`` returns with status "stopped".
    """

    def __init__(self, model, dataset: ImageDataset, config: TrainConfig, run_dir: Path | None = None,
                 history: dict | None = None, optimizer_state: dict | None = None,
                 run_name: str | None = None) -> None:
        self.model, self.dataset, self.config = model, dataset, config
        self.group = distributed.current()
        self.run_dir = Path(run_dir) if run_dir else None
        self.run_name = run_name
        self.history = history or new_history()
        self.start_epoch, self._position = resume_point(self.history)
        self.device = self.group.device_for(pick_device(config.device))
        self.model.to(self.device)
        self.model.mixed_precision = config.mixed_precision and uses_mixed_precision(self.device)
        self.optimizers = self.model.make_optimizers(config.lr)
        for name, state in (optimizer_state or {}).items():
            self.optimizers[name].load_state_dict(state)
        self.group.attach(self.model, self.optimizers)
        self.progress = Progress(total_epochs=config.epochs)
        self._place_data()
        generator = torch.Generator().manual_seed(config.seed)
        self.fixed_noise = torch.randn(config.sample_count, model.latent_dim, generator=generator).to(self.device)
        self.fixed_images = self.test_images[:config.sample_count]
        self._emit = _ignore

    def _place_data(self) -> None:
        """Keep the dataset on the training device when it fits (see ``keeps_data_on_device``)."""
        train, test = self.dataset.train_images, self.dataset.test_images
        self.group.check_enough(len(train), len(test))
        nbytes = (train.numel() + test.numel()) * train.element_size()
        self.data_device = self.device if keeps_data_on_device(self.device, nbytes) else torch.device("cpu")
        self.test_images = test.to(self.data_device)
        self.train_images = train.to(self.data_device)

    # -- the loop ------------------------------------------------------------------------------
    def fit(self, on_event: Callable[[str, dict], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> dict:
        """Train the remaining epochs and return the history (also written to the run folder)."""
        cfg, model, emit = self.config, self.model, on_event or _ignore
        stop_requested = should_stop or (lambda: False)
        self._emit = emit
        grid_epochs = self._begin()
        try:
            for epoch in range(self.start_epoch + 1, cfg.epochs + 1):
                model.train()
                seed_epoch_draws(cfg.seed, epoch, self.group.rank)
                sums, stopped, epoch_start = {}, False, time.perf_counter()
                # batch: this process's part of each global batch of the epoch's shuffled order
                for batch in self._batches(epoch):
                    # forward, backward and update: each family's own recipe (GANs step two optimisers)
                    terms = model.train_step(batch, self.optimizers)
                    for name, value in terms.items():
                        sums[name] = sums.get(name, 0) + value.float() * len(batch)
                    self.progress.step += 1
                    # log every few steps (reading a loss is a device sync)
                    if self.progress.step % cfg.log_every == 0:
                        self._log_step(epoch, terms)
                    if self._stop_now(stop_requested):
                        stopped = True
                        break
                # evaluate: epoch means of the training terms, then the test set
                entry = self._end_epoch(epoch, sums, time.perf_counter() - epoch_start)
                emit("epoch", entry)
                # grid: the fixed noise decoded, at the chosen epochs and when stopping
                if epoch in grid_epochs or stopped:
                    self._save_samples(epoch)
                # checkpoint: weights, optimisers and history after every epoch
                self._save()
                if stopped:
                    return self._finish("stopped", f"Stopped after epoch {epoch} of {cfg.epochs}.")
            return self._finish("completed", f"Trained {cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}.")
        except TrainingError as error:
            # Not finite weights or a lost process: keep the last good checkpoint on disk.
            self._record_failure(str(error))
            raise
        except Exception as error:  # a crash (out of memory, a bug) must not leave the run "running"
            self._record_failure(f"{type(error).__name__}: {error}")
            raise

    def _begin(self) -> set[int]:
        """Count the steps ahead, drop steps logged after the last save, mark the run running;
        returns the epochs that get a grid."""
        cfg, world = self.config, self.group.world_size
        epochs = self.history["epochs"]
        per_epoch = batches_per_epoch(len(self.train_images), cfg.batch_size, world)
        # Step numbers continue across a resume; a run saved before they were recorded is estimated.
        self._step_offset = int(epochs[-1].get("step", len(epochs) * per_epoch)) if epochs else 0
        self.history["steps"] = [s for s in self.history["steps"] if s.get("step", 0) <= self._step_offset]
        first = batches_per_epoch(len(self.train_images), cfg.batch_size, world, self._position)
        remaining = cfg.epochs - self.start_epoch
        self.progress.total_steps = (remaining - 1) * per_epoch + first if remaining > 0 else 0
        self.progress.epoch = self.start_epoch
        self.history["status"], self.history["message"] = "running", ""
        self._saved_epochs = list(epochs)
        self._started = time.perf_counter()
        return cfg.grid_epochs(self.start_epoch + 1)

    def _batches(self, epoch: int):
        """Yield this process's part of each global batch, from where the epoch stands."""
        images = self.train_images
        if self.dataset.resample_train is not None:
            images = self.dataset.resample_train(epoch).to(self.data_device)
        order = epoch_order(len(images), self.config.seed, epoch).to(images.device)
        total = self.config.batch_size * self.group.world_size
        self._segment_start, self._epoch_end = self._position, epoch_end(len(images), total, self.group.world_size,
                                                                         self._position)
        for begin in range(self._segment_start, self._epoch_end, total):
            indices = order[begin:min(begin + total, self._epoch_end)]
            self._position = begin + len(indices)
            yield images[self.group.share(indices)].to(self.device, non_blocking=True)

    def _stop_now(self, stop_requested: Callable[[], bool]) -> bool:
        if not self.group.active:
            return stop_requested()
        # Every process must stop at the same step; agreeing costs a collective, so ask now and then.
        return self.progress.step % self.config.log_every == 0 and self.group.any(stop_requested(), self.device)

    def _end_epoch(self, epoch: int, sums: dict, train_seconds: float) -> dict:
        images = self._position - self._segment_start
        means = {f"train_{name}": total / images
                 for name, total in self.group.sum_values({k: float(v) for k, v in sums.items()}, self.device).items()}
        self._check_finite(means, epoch)
        self.group.average_buffers(self.model)
        test_means = self.evaluate()
        self._check_finite(test_means, epoch)
        entry = {"epoch": epoch, **means, **{f"test_{k}": v for k, v in test_means.items()},
                 "images": images, "images_per_sec": images / train_seconds,
                 "elapsed": time.perf_counter() - self._started, "step": self._step_offset + self.progress.step}
        epochs = self.history["epochs"]
        if self._segment_start > 0 and epochs and epochs[-1]["epoch"] == epoch:
            entry = merge_partial(epochs.pop(), entry)  # the stopped part of this epoch, now completed
        if self._position < self._epoch_end:
            entry.update(partial=True, images_done=self._position)
        else:
            self._position = 0
        epochs.append(entry)
        self.progress.epoch, self.progress.latest = epoch, entry
        self.progress.elapsed = entry["elapsed"]
        return entry

    def _record_failure(self, message: str) -> None:
        self.group.ending()
        # The history on disk must describe the weights on disk: those of the last save.
        self.history["epochs"] = self._saved_epochs
        self.history["status"], self.history["message"] = "failed", message
        if self._writes() and (self.run_dir / checkpoints.WEIGHTS_FILE).exists():
            checkpoints.save_history(self.run_dir, self.history)
        self._emit("end", {"status": "failed", "message": message})

    def _log_step(self, epoch: int, terms: dict) -> None:
        values = {name: float(value) for name, value in terms.items()}
        finite = all(math.isfinite(value) for value in values.values())
        if self.group.any(not finite, self.device):  # every process raises together
            self._check_finite(values, epoch)
            raise TrainingError(f"The loss became non-finite in another process in epoch {epoch}, step "
                                f"{self.progress.step}. Training stopped; the last good checkpoint is kept. "
                                "Try a lower learning rate.")
        self.progress.elapsed = time.perf_counter() - self._started
        entry = {"step": self._step_offset + self.progress.step, "epoch": epoch, **values}
        self.history["steps"].append(entry)
        self._emit("step", entry)

    def _check_finite(self, values: dict, epoch: int) -> None:
        bad = [name for name, value in values.items() if not math.isfinite(value)]
        if bad:
            raise TrainingError(
                f"The loss became {values[bad[0]]} ({', '.join(bad)}) in epoch {epoch}, step {self.progress.step}. "
                "Training stopped; the last good checkpoint is kept. Try a lower learning rate.")

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Mean of each loss term over the test set, in eval mode (each process scores its part)."""
        self.model.eval()
        sums: dict[str, float] = {}
        for batch in iter_batches(self.group.part_of(self.test_images), max(self.config.batch_size, 256), shuffle=False):
            batch = batch.to(self.device)
            for name, value in self.model.evaluation_losses(batch).items():
                sums[name] = sums.get(name, 0.0) + float(value) * len(batch)
        self.model.train()
        sums = self.group.sum_values(sums, self.device)
        return {name: total / len(self.test_images) for name, total in sums.items()}

    # -- outputs (rank 0 only) -----------------------------------------------------------------
    @torch.no_grad()
    def preview_images(self) -> torch.Tensor:
        """What the model shows of itself from the fixed noise and test images (see ``model.preview``)."""
        self.model.eval()
        try:
            return self.model.preview(self.fixed_noise, self.fixed_images.to(self.device)).float().cpu()
        finally:
            self.model.train()

    def _writes(self) -> bool:
        return self.run_dir is not None and self.group.is_main

    def _save_samples(self, epoch: int) -> None:
        if not self.group.is_main:
            return
        images = self.preview_images()
        grid = make_grid_image(images, nrow=int(math.sqrt(len(images))) or 1)
        payload = {"epoch": epoch, "image": grid}
        if self._writes():
            path = self.run_dir / checkpoints.SAMPLES_DIR / f"epoch_{epoch:03d}.png"
            save_png_atomic(grid, path)
            payload["path"] = str(path)
        self._emit("samples", payload)

    def _save(self) -> None:
        if self._writes():
            world = self.group.world_size
            training = {**asdict(self.config), "world_size": world, "total_batch_size": self.config.batch_size * world}
            checkpoints.save_run(self.run_dir, self.model, data=self.dataset.source, training=training,
                                 history=self.history, optimizers=self.optimizers, name=self.run_name)
        self._saved_epochs = list(self.history["epochs"])

    def _finish(self, status: str, message: str) -> dict:
        self.group.ending()
        self.history["status"], self.history["message"] = status, message
        if self._writes():
            checkpoints.save_history(self.run_dir, self.history)
        self._emit("end", {"status": status, "message": message})
        return self.history
