"""The training loop: the familiar pytorch/examples shape, with history, grids and checkpoints.

``Trainer.fit`` runs epochs of ``model.train_step`` over batches sliced from in-memory tensors,
evaluates the test set each epoch, saves a sample grid at chosen epochs from a fixed noise batch
(so grids compare across epochs), and writes the run folder after every epoch. It is the same
code whether called from the command line or from a ``TrainingJob`` thread behind the app.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from gen_core import checkpoints
from gen_core.data.base import ImageDataset, iter_batches
from gen_core.device import pick_device, uses_mixed_precision
from gen_core.errors import TrainingError
from gen_core.images import make_grid_image, save_png_atomic


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


def batches_per_epoch(image_count: int, batch_size: int) -> int:
    """Batches the trainer uses: a single leftover image is skipped (see ``Trainer._run_epoch``)."""
    full, leftover = divmod(image_count, batch_size)
    return full + (1 if leftover > 1 or (leftover == 1 and full == 0) else 0)


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


def _ignore_event(kind: str, payload: dict) -> None:
    pass


def _never() -> bool:
    return False


class Trainer:
    """Train ``model`` on ``dataset``; write the run to ``run_dir`` when one is given.

    Callbacks go to ``fit``: ``on_event(kind, payload)`` is called with kind "step", "epoch",
    "samples" and "end"; ``should_stop()`` is polled after every step, and when it returns True
    the current step finishes, the run is saved and ``fit`` returns with status "stopped".
    """

    def __init__(self, model, dataset: ImageDataset, config: TrainConfig, run_dir: Path | None = None,
                 history: dict | None = None, optimizer_state: dict | None = None,
                 run_name: str | None = None) -> None:
        self.model, self.dataset, self.config = model, dataset, config
        self.run_dir = Path(run_dir) if run_dir else None
        self.run_name = run_name
        self.history = history or new_history()
        self.start_epoch = len(self.history["epochs"])
        self.device = pick_device(config.device)
        self.model.to(self.device)
        self.model.mixed_precision = config.mixed_precision and uses_mixed_precision(self.device)
        self.optimizers = self.model.make_optimizers(config.lr)
        for name, state in (optimizer_state or {}).items():
            self.optimizers[name].load_state_dict(state)
        self.progress = Progress(total_epochs=config.epochs)
        self._place_data()
        generator = torch.Generator().manual_seed(config.seed)
        self.fixed_noise = torch.randn(config.sample_count, model.latent_dim, generator=generator).to(self.device)
        self.fixed_images = self.test_images[:config.sample_count]
        self._emit = _ignore_event

    def _place_data(self) -> None:
        """Keep the dataset on the training device when it fits (a quarter of free GPU memory)."""
        train, test = self.dataset.train_images, self.dataset.test_images
        nbytes = (train.numel() + test.numel()) * train.element_size()
        on_device = self.device.type == "cpu"
        if self.device.type == "cuda":
            on_device = nbytes < torch.cuda.mem_get_info(self.device)[0] / 4
        elif self.device.type == "mps":
            on_device = True
        self.data_device = self.device if on_device else torch.device("cpu")
        self.test_images = test.to(self.data_device)
        self.train_images = train.to(self.data_device)

    # -- the loop ------------------------------------------------------------------------------
    def fit(self, on_event: Callable[[str, dict], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> dict:
        """Train the remaining epochs and return the history (also written to the run folder)."""
        cfg, model, emit = self.config, self.model, on_event or _ignore_event
        stop_requested = should_stop or _never
        self._emit = emit
        grid_epochs = self._begin()
        try:
            for epoch in range(self.start_epoch + 1, cfg.epochs + 1):
                model.train()
                sums, seen, stopped, epoch_start = {}, 0, False, time.perf_counter()
                for batch in self._batches(epoch):
                    # forward, backward and update: each family's own recipe (GANs step two optimisers)
                    terms = model.train_step(batch, self.optimizers)
                    for name, value in terms.items():
                        sums[name] = sums.get(name, 0) + value.float() * len(batch)
                    seen += len(batch)
                    self.progress.step += 1
                    # log every few steps (reading a loss is a device sync)
                    if self.progress.step % cfg.log_every == 0:
                        self._log_step(epoch, terms)
                    if stop_requested():
                        stopped = True
                        break
                # evaluate: epoch means of the training terms, then the test set
                entry = self._epoch_entry(epoch, sums, seen, time.perf_counter() - epoch_start, stopped)
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
            # The weights in memory are not finite: keep the last good checkpoint on disk.
            self._record_failure(str(error))
            raise
        except Exception as error:  # a crash (out of memory, a bug) must not leave the run "running"
            self._record_failure(f"{type(error).__name__}: {error}")
            raise

    def _begin(self) -> set[int]:
        """Seed, count the steps ahead and mark the run running; returns the epochs that get a grid."""
        cfg = self.config
        torch.manual_seed(cfg.seed + self.start_epoch)
        steps_per_epoch = batches_per_epoch(len(self.train_images), cfg.batch_size)
        # Step numbers in the history continue across a resume instead of restarting at 1.
        self._step_offset = self.start_epoch * steps_per_epoch
        self.progress.total_steps = max(0, cfg.epochs - self.start_epoch) * steps_per_epoch
        self.progress.epoch = self.start_epoch
        self.history["status"], self.history["message"] = "running", ""
        self._started = time.perf_counter()
        self._shuffle = torch.Generator().manual_seed(cfg.seed + self.start_epoch)  # a resume sees new orders
        return cfg.grid_epochs(self.start_epoch + 1)

    def _batches(self, epoch: int):
        """This epoch's shuffled batches, on the training device."""
        images = self.train_images
        if self.dataset.resample_train is not None:
            images = self.dataset.resample_train(epoch).to(self.data_device)
        self._epoch_size = len(images)
        for batch in iter_batches(images, self.config.batch_size, shuffle=True, generator=self._shuffle):
            if len(batch) == 1 < min(self.config.batch_size, len(images)):
                continue  # a lone leftover image: BatchNorm cannot train on it, a std of one code is NaN
            yield batch.to(self.device, non_blocking=True)

    def _epoch_entry(self, epoch: int, sums: dict, seen: int, train_seconds: float, stopped: bool) -> dict:
        means = {f"train_{name}": float(total) / seen for name, total in sums.items()}
        self._check_finite(means, epoch)
        test_means = self.evaluate()
        self._check_finite(test_means, epoch)
        entry = {"epoch": epoch, **means, **{f"test_{k}": v for k, v in test_means.items()},
                 "images_per_sec": seen / train_seconds, "elapsed": time.perf_counter() - self._started}
        if stopped and seen < self._epoch_size:
            entry["partial"] = True
        self.history["epochs"].append(entry)
        self.progress.epoch, self.progress.latest = epoch, entry
        self.progress.elapsed = entry["elapsed"]
        return entry

    def _record_failure(self, message: str) -> None:
        self.history["status"], self.history["message"] = "failed", message
        if self.run_dir and (self.run_dir / checkpoints.WEIGHTS_FILE).exists():
            checkpoints.save_history(self.run_dir, self.history)
        self._emit("end", {"status": "failed", "message": message})

    def _log_step(self, epoch: int, terms: dict) -> None:
        values = {name: float(value) for name, value in terms.items()}
        self._check_finite(values, epoch)
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
        """Mean of each loss term over the test set, in eval mode."""
        self.model.eval()
        sums: dict[str, float] = {}
        for batch in iter_batches(self.test_images, max(self.config.batch_size, 256), shuffle=False):
            batch = batch.to(self.device)
            for name, value in self.model.evaluation_losses(batch).items():
                sums[name] = sums.get(name, 0.0) + float(value) * len(batch)
        self.model.train()
        return {name: total / len(self.test_images) for name, total in sums.items()}

    # -- outputs -------------------------------------------------------------------------------
    @torch.no_grad()
    def preview_images(self) -> torch.Tensor:
        """What the model shows of itself from the fixed noise and test images (see ``model.preview``)."""
        self.model.eval()
        try:
            return self.model.preview(self.fixed_noise, self.fixed_images.to(self.device)).float().cpu()
        finally:
            self.model.train()

    def _save_samples(self, epoch: int) -> None:
        images = self.preview_images()
        grid = make_grid_image(images, nrow=int(math.sqrt(len(images))) or 1)
        payload = {"epoch": epoch, "image": grid}
        if self.run_dir:
            path = self.run_dir / checkpoints.SAMPLES_DIR / f"epoch_{epoch:03d}.png"
            save_png_atomic(grid, path)
            payload["path"] = str(path)
        self._emit("samples", payload)

    def _save(self) -> None:
        if self.run_dir is None:
            return
        checkpoints.save_run(self.run_dir, self.model, data=self.dataset.source,
                             training=asdict(self.config), history=self.history,
                             optimizers=self.optimizers, name=self.run_name)

    def _finish(self, status: str, message: str) -> dict:
        self.history["status"], self.history["message"] = status, message
        if self.run_dir:
            checkpoints.save_history(self.run_dir, self.history)
        self._emit("end", {"status": status, "message": message})
        return self.history
