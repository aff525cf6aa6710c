"""The training loop: the familiar pytorch/examples shape, with history and sample grids.

``Trainer.fit`` runs epochs of ``model.train_step`` over batches sliced from in-memory tensors,
evaluates the test set each epoch and decodes a fixed noise batch at chosen epochs (so grids
compare across epochs), where it also encodes a fixed part of the test set (the training
timeline). It writes nothing: it emits events (``gen_core.training.events``) and whoever
listens saves them; ``gen_core.run.writer`` writes the run folder. It is the same code
whether called from the command line, from the app's job runner, or in each process of a
``torchrun`` launch (see ``gen_core.training.distributed``; only rank 0's events carry what a
checkpoint holds). What an epoch is and how a stopped or failed run resumes is defined in
``gen_core.training.epochs``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from typing import Callable

import torch

from gen_core.data.base import ImageDataset, iter_batches
from gen_core.compute import applied_threads
from gen_core.device import keeps_data_on_device, pick_device
from gen_core.errors import SamplerError, TrainingError
from gen_core.images import make_grid_image
from gen_core.latent.codes import encode_dataset
from gen_core.latent.timeline import timeline_codes
from gen_core.sampling.mixture import fit_code_mixture, max_components
from gen_core.training import distributed
from gen_core.training.config import TrainConfig, new_history
from gen_core.training.epochs import (batches_per_epoch, epoch_end, epoch_order, merge_partial, resume_point,
                                      seed_epoch_draws)
from gen_core.training.events import Control, End, Epoch, Listener, RunStatus, SavePoint, Snapshot, Step
from gen_core.training.stepping import Controls, Stepper
from gen_core.training.speed import (choose_memory_format, compile_networks, compute_record, in_layout, keep_kernels,
                                     resolve_precision)

__all__ = ["TrainConfig", "Trainer", "batches_per_epoch", "new_history"]

STATISTICS_IMAGES = 1000  # test images the per-epoch statistics (active units) are measured on
MIXTURE_FIT_IMAGES = 5000  # training images whose codes a VAE's sampling mixture is fitted to, each refit


def _ignore(event) -> None:
    pass


class Trainer:
    """Train ``model`` on ``dataset``, continuing ``history`` (and its optimiser state) when given.

    Callbacks go to ``fit``: ``on_event(event)`` receives a ``Step``, ``Epoch`` or ``End`` event;
    ``should_stop()`` is polled after every step (with several processes, every ``log_every``
    steps), and when it returns True the current step finishes, the epoch's place is recorded
    (its ``Epoch`` event carries it, for saving), and ``fit`` returns with status "stopped".
    ``control()`` (step-through training, one process only) is asked between batches for the newest
    ``Controls``: pause, step, a new learning rate or beta, a GAN's D:G ratio (gen_core.training.stepping).
    """

    def __init__(self, model, dataset: ImageDataset, config: TrainConfig, history: dict | None = None,
                 optimizer_state: dict | None = None) -> None:
        self.model, self.dataset, self.config = model, dataset, config
        self.group = distributed.current()
        self.history = history or new_history()
        self.start_epoch, self._position = resume_point(self.history)
        self.device = self.group.device_for(pick_device(config.device))
        self.model.to(self.device)
        # convolutions on a CPU train in channels-last; set before the optimisers so their state follows
        self.memory_format = choose_memory_format(model, self.device)
        self.model.to(memory_format=self.memory_format)
        self.optimizers = self.model.make_optimizers(config.lr)
        for name, state in (optimizer_state or {}).items():
            keep_kernels(self.optimizers[name], state)
        self._epoch, self._step, self._total_steps, self._elapsed = self.start_epoch, 0, 0, 0.0
        self._place_data()
        self._check_sampling_mixture()
        # precision: float32 or bfloat16 autocast, timed on this model's step when "auto" must decide
        # (one process decides alone; ranks of a torchrun job take float32 rather than time apart)
        probe = self.train_images[:config.batch_size].to(self.device) if not self.group.active else None
        self.precision = resolve_precision(config.precision, model, probe, self.device)
        self.model.precision = self.precision.precision
        if config.compile:
            compile_networks(self.model)
        self.group.attach(self.model, self.optimizers)
        generator = torch.Generator().manual_seed(config.seed)
        self.fixed_noise = torch.randn(config.sample_count, model.latent_dim, generator=generator).to(self.device)
        self.fixed_images = self.test_images[:config.sample_count]
        # images -> the share of each class a classifier sees in them; given by whoever has one (the train
        # command, for a GAN on digits), it records mode coverage at grid epochs
        self.class_shares: Callable[[torch.Tensor], list[float]] | None = None
        self._emit = _ignore

    def _check_sampling_mixture(self) -> None:
        """A sampling mixture of more components than the training codes support is refused before training."""
        components = self.sampling_mixture
        codes = min(len(self.train_images), MIXTURE_FIT_IMAGES)
        supported = max_components(codes, self.model.latent_dim, "full")
        if components > supported:
            raise TrainingError(f"A sampling mixture of {components} components is too many for {codes} training codes "
                                f"in {self.model.latent_dim} dimensions (each full-covariance Gaussian needs about "
                                f"{self.model.latent_dim + 1}): use at most {supported}.")

    def _place_data(self) -> None:
        """Keep the dataset on the training device when it fits (see ``keeps_data_on_device``)."""
        train, test = self.dataset.train_images, self.dataset.test_images
        self.group.check_enough(len(train), len(test))
        nbytes = (train.numel() + test.numel()) * train.element_size()
        self.data_device = self.device if keeps_data_on_device(self.device, nbytes) else torch.device("cpu")
        self.test_images = test.to(self.data_device)
        self.train_images = train.to(self.data_device)

    # -- the loop ------------------------------------------------------------------------------
    def fit(self, on_event: Listener | None = None, should_stop: Callable[[], bool] | None = None,
            control: Callable[[], Controls | None] | None = None) -> dict:
        """Train the remaining epochs and return the history."""
        cfg, model, emit = self.config, self.model, on_event or _ignore
        stop_requested = should_stop or (lambda: False)
        self._emit = emit
        stepper = Stepper(model, self.optimizers, control) if control and not self.group.active else None
        grid_epochs = self._begin()
        model.to(memory_format=self.memory_format)  # again, when this trainer fits a second time
        try:
            for epoch in range(self.start_epoch + 1, cfg.epochs + 1):
                model.train()
                model.begin_epoch(epoch)
                seed_epoch_draws(cfg.seed, epoch, self.group.rank)
                sums, stopped, epoch_start = {}, False, time.perf_counter()
                # batch: this process's part of each global batch of the epoch's shuffled order
                for batch in self._batches(epoch):
                    # forward, backward and update: each family's own recipe (GANs step two optimisers)
                    terms = model.train_step(batch, self.optimizers if stepper is None else stepper.step_optimizers())
                    for name, value in terms.items():
                        sums[name] = sums.get(name, 0) + value.float() * len(batch)
                    self._step += 1
                    # log every few steps (reading a loss is a device sync)
                    if self._step % cfg.log_every == 0:
                        self._log_step(epoch, terms)
                    # step-through training: apply new controls; while paused, wait for a step or a resume
                    if self._stop_now(stop_requested) or (stepper and self._hold(stepper, stop_requested, epoch,
                                                                                 terms)):
                        stopped = True
                        break
                # evaluate: epoch means of the training terms, then the test set
                entry = self._end_epoch(epoch, sums, time.perf_counter() - epoch_start)
                # grid: the fixed noise decoded, at the chosen epochs and when stopping (after a sampling
                # mixture is refitted there, which every process does alike)
                if epoch in grid_epochs or stopped or epoch == cfg.epochs:
                    self.refit_sampling_mixture()
                grid = self.sample_grid() if (epoch in grid_epochs or stopped) and self.group.is_main else None
                if grid is not None:
                    entry.update(self.grid_statistics())
                # timeline: the test codes at the same epochs, so the map's forming can be replayed
                codes = timeline_codes(model, self.test_images) if grid is not None and model.has_encoder else None
                # checkpoint: listeners save weights, optimisers and history after every epoch
                emit(Epoch(self.snapshot(), entry, grid, self._save_point(), codes))
                self._saved_epochs = list(self.history["epochs"])
                if stopped or (stepper and epoch < cfg.epochs and self._hold(stepper, stop_requested, epoch)):
                    return self._finish(RunStatus.STOPPED, f"Stopped after epoch {epoch} of {cfg.epochs}.")
            return self._finish(RunStatus.COMPLETED, f"Trained {cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}.")
        except TrainingError as error:
            # Not finite weights or a lost process: keep the last good checkpoint on disk.
            self._record_failure(str(error))
            raise
        except Exception as error:  # a crash (out of memory, a bug) must not leave the run "running"
            self._record_failure(f"{type(error).__name__}: {error}")
            raise
        finally:
            # channels-last is for training speed; afterwards the model computes exactly as a copy
            # loaded from its checkpoint does (the same kernels, so the same rounding)
            model.to(memory_format=torch.contiguous_format)

    def _begin(self) -> set[int]:
        """Count the steps ahead, drop steps logged after the last save, mark the run running;
        returns the epochs that get a grid."""
        cfg, world = self.config, self.group.world_size
        epochs = self.history["epochs"]
        per_epoch = batches_per_epoch(len(self.train_images), cfg.batch_size, world)
        # Step numbers continue across a resume; a run saved before they were recorded is estimated.
        self._step_offset = int(epochs[-1].get("step", len(epochs) * per_epoch)) if epochs else 0
        self.history["steps"] = [s for s in self.history["steps"] if s.get("step", 0) <= self._step_offset]
        if "controls" in self.history:
            self.history["controls"] = [c for c in self.history["controls"] if c.get("step", 0) <= self._step_offset]
        first = batches_per_epoch(len(self.train_images), cfg.batch_size, world, self._position)
        remaining = cfg.epochs - self.start_epoch
        self._total_steps = (remaining - 1) * per_epoch + first if remaining > 0 else 0
        self._epoch = self.start_epoch
        self.history["status"], self.history["message"] = RunStatus.RUNNING.value, ""
        # how this session computes (threads, precision, optimiser kernel), kept with the run
        self.history.setdefault("compute", []).append(compute_record(
            self.start_epoch, self.device, applied_threads(), self.precision, cfg.precision, self.optimizers,
            cfg.compile, self.memory_format))
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
            yield in_layout(images[self.group.share(indices)].to(self.device, non_blocking=True), self.memory_format)

    def _stop_now(self, stop_requested: Callable[[], bool]) -> bool:
        if not self.group.active:
            return stop_requested()
        # Every process must stop at the same step; agreeing costs a collective, so ask now and then.
        return self._step % self.config.log_every == 0 and self.group.any(stop_requested(), self.device)

    def _hold(self, stepper: Stepper, stop_requested: Callable[[], bool], epoch: int,
              terms: dict | None = None) -> bool:
        """Step-through training after a batch (``terms``) or an epoch: apply new controls; when paused,
        log the last step, show the fixed noise decoded and wait for a step, a resume or a stop
        (returns True for a stop)."""
        if terms is None:
            stepper.epoch_done()
        else:
            stepper.batch_done()
        step, message = self._step_offset + self._step, stepper.message
        changes = stepper.poll(step, epoch)
        if not stepper.must_wait():
            if changes or message != stepper.message:
                self._controls_changed(stepper, changes)
            return False
        if terms is not None and self._step % self.config.log_every:
            self._log_step(epoch, terms)  # the loss after this very step, for the chart
        self._controls_changed(stepper, changes, self.sample_grid())
        stopped = stepper.wait(stop_requested, lambda applied: self._controls_changed(stepper, applied), step, epoch)
        self._controls_changed(stepper, [])  # stepping, running again or stopping
        return stopped

    def _controls_changed(self, stepper: Stepper, changes: list[dict], grid=None) -> None:
        if changes:
            self.history.setdefault("controls", []).extend(changes)
        self._emit(Control(self.snapshot(), stepper.state(), changes, grid))

    def _end_epoch(self, epoch: int, sums: dict, train_seconds: float) -> dict:
        images = self._position - self._segment_start
        means = {f"train_{name}": total / images
                 for name, total in self.group.sum_values({k: float(v) for k, v in sums.items()}, self.device).items()}
        self._check_finite(means, epoch)
        self.group.average_buffers(self.model)
        test_means = self.evaluate()
        self._check_finite(test_means, epoch)
        statistics = self.model.epoch_statistics(self.test_images[:STATISTICS_IMAGES])
        entry = {"epoch": epoch, **means, **{f"test_{k}": v for k, v in test_means.items()}, **statistics,
                 "images": images, "images_per_sec": images / train_seconds,
                 "elapsed": time.perf_counter() - self._started, "step": self._step_offset + self._step}
        epochs = self.history["epochs"]
        if self._segment_start > 0 and epochs and epochs[-1]["epoch"] == epoch:
            entry = merge_partial(epochs.pop(), entry)  # the stopped part of this epoch, now completed
        if self._position < self._epoch_end:
            entry.update(partial=True, images_done=self._position)
        else:
            self._position = 0
        epochs.append(entry)
        self._epoch, self._elapsed = epoch, entry["elapsed"]
        return entry

    @property
    def sampling_mixture(self) -> int:
        """Components of the model's sampling mixture (0: it samples from its prior)."""
        return int(getattr(self.model.config, "sampling_mixture", 0) or 0)

    def refit_sampling_mixture(self) -> None:
        """Fit a VAE's sampling mixture to the training images' codes as the encoder maps them now. Done at
        the grid epochs, the last one and a stop (about a second each), not after every epoch: a checkpoint
        between them samples from the mixture of the grid epoch before it."""
        if not self.sampling_mixture:
            return
        codes = encode_dataset(self.model, self.train_images[:MIXTURE_FIT_IMAGES])
        try:
            fitted = fit_code_mixture(codes.numpy(), self.sampling_mixture, self.config.seed)
        except SamplerError as error:
            raise TrainingError(f"The sampling mixture could not be fitted: {error}") from None
        self.model.set_sampling_mixture(*(torch.from_numpy(part) for part in fitted))

    def _record_failure(self, message: str) -> None:
        self.group.ending()
        # The history on disk must describe the weights on disk: those of the last save.
        self.history["epochs"] = self._saved_epochs
        self.history["status"], self.history["message"] = RunStatus.FAILED.value, message
        self._emit(End(self.snapshot(), RunStatus.FAILED, message, self.history))

    def _log_step(self, epoch: int, terms: dict) -> None:
        values = {name: float(value) for name, value in terms.items()}
        finite = all(math.isfinite(value) for value in values.values())
        if self.group.any(not finite, self.device):  # every process raises together
            self._check_finite(values, epoch)
            raise TrainingError(f"The loss became non-finite in another process in epoch {epoch}, step "
                                f"{self._step}. Training stopped; the last good checkpoint is kept. "
                                "Try a lower learning rate.")
        self._elapsed = time.perf_counter() - self._started
        entry = {"step": self._step_offset + self._step, "epoch": epoch, **values}
        self.history["steps"].append(entry)
        self._emit(Step(self.snapshot(), entry))

    def _check_finite(self, values: dict, epoch: int) -> None:
        bad = [name for name, value in values.items() if not math.isfinite(value)]
        if bad:
            raise TrainingError(
                f"The loss became {values[bad[0]]} ({', '.join(bad)}) in epoch {epoch}, step {self._step}. "
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

    @torch.no_grad()
    def grid_statistics(self) -> dict:
        """The model's own (a GAN's D(x) and D(G(z)) histograms) and, for a GAN given ``class_shares``,
        the share of each class among the fixed-noise samples: a collapse shows as one class taking over."""
        self.model.eval()
        try:
            statistics = self.model.grid_statistics(self.fixed_noise, self.fixed_images.to(self.device))
            if self.class_shares is not None and self.model.is_adversarial:
                samples = self.model.decode(self.fixed_noise).float()
                statistics["class_shares"] = [float(share) for share in self.class_shares(samples)]
            return statistics
        finally:
            self.model.train()

    def sample_grid(self):
        """The fixed noise decoded (and test images reconstructed, see ``model.preview``) as one image."""
        images = self.preview_images()
        return make_grid_image(images, nrow=int(math.sqrt(len(images))) or 1)

    def snapshot(self) -> Snapshot:
        epochs_to_run = self.config.epochs - self.start_epoch
        per_epoch = self._total_steps / epochs_to_run if self._total_steps and epochs_to_run > 0 else None
        return Snapshot(epoch=self._epoch, total_epochs=self.config.epochs, step=self._step,
                        total_steps=self._total_steps, elapsed=self._elapsed, steps_per_epoch=per_epoch)

    def _save_point(self) -> SavePoint | None:
        """What a checkpoint of this epoch holds; only the process that writes (rank 0) hands it on."""
        if not self.group.is_main:
            return None
        world = self.group.world_size
        training = {**asdict(self.config), "world_size": world, "total_batch_size": self.config.batch_size * world}
        return SavePoint(self.model, self.optimizers, self.history, training, dict(self.dataset.source))

    def _finish(self, status: RunStatus, message: str) -> dict:
        self.group.ending()
        self.history["status"], self.history["message"] = status.value, message
        self._emit(End(self.snapshot(), status, message, self.history))
        return self.history
