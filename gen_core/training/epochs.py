"""What an epoch is: its image order, its random draws, where it ends, and where a run resumes.

Epoch ``e`` of a run with seed ``s`` always shuffles the images the same way and seeds its random
draws (noise, dropout) the same way, whatever happened before it. So:

- a run resumed after a failure (or after a completed run is extended) redoes the next epoch
  from its start with the saved weights and optimiser state, exactly as if it had never stopped
  (same weights on the CPU with the same number of processes);
- a run stopped in the middle of an epoch records how far it got in that epoch's order
  (``images_done`` in the partial epoch's entry); resuming continues the same order from there,
  so the epoch still sees every image once, and the partial entry is completed rather than
  counted as an epoch. Only the random draws of the rest of that epoch differ from an
  uninterrupted run;
- with several processes each global batch is a slice of the same order, so a run can resume
  with a different number of processes and keeps its total batch.
"""

from __future__ import annotations

import numpy as np
import torch

from gen_core.errors import TrainingError

_ORDER, _DRAWS = 0, 1


def epoch_seed(seed: int, epoch: int, purpose: int = _DRAWS, rank: int = 0) -> int:
    """An independent 63-bit seed for (seed, epoch, purpose, rank)."""
    sequence = np.random.SeedSequence(int(seed) % 2**63, spawn_key=(purpose, epoch, rank))
    return int(sequence.generate_state(1, dtype=np.uint64)[0] >> 1)


def epoch_order(count: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled image order of ``epoch``: the same on every process and after any resume."""
    return torch.randperm(count, generator=torch.Generator().manual_seed(epoch_seed(seed, epoch, _ORDER)))


def seed_epoch_draws(seed: int, epoch: int, rank: int = 0) -> None:
    """Seed the global generators for the random draws inside the steps of ``epoch`` on ``rank``."""
    torch.manual_seed(epoch_seed(seed, epoch, _DRAWS, rank))


def epoch_end(count: int, total_batch: int, world_size: int = 1, start: int = 0) -> int:
    """Where training in an epoch's order stops.

    A trailing batch with fewer than two images per process is left out (BatchNorm cannot train
    on one image, and the standard deviation of one code is NaN), unless it is all there is.
    """
    leftover = (count - start) % total_batch
    if leftover and leftover < 2 * world_size and not (start == 0 and count == leftover):
        return count - leftover
    return count


def batches_per_epoch(image_count: int, batch_size: int, world_size: int = 1, start: int = 0) -> int:
    """Steps the trainer takes in an epoch (from image ``start`` of its order)."""
    total = batch_size * world_size
    return -(-(epoch_end(image_count, total, world_size, start) - start) // total)


def resume_point(history: dict) -> tuple[int, int]:
    """(epochs completed, images of the next epoch already trained) from a run's history."""
    epochs = history.get("epochs") or []
    if not epochs:
        return 0, 0
    last = epochs[-1]
    if last.get("partial") and "images_done" in last:
        return int(last["epoch"]) - 1, int(last["images_done"])
    return int(last["epoch"]), 0  # (a partial entry from before positions were recorded counts as done)


def per_process_batch(training: dict, world_size: int) -> int:
    """The per-process batch that keeps a saved run's total batch with ``world_size`` processes."""
    total = int(training.get("total_batch_size") or training.get("batch_size", 128) * training.get("world_size", 1))
    if total % world_size:
        raise TrainingError(f"This run trained on {total} images per step in total, which {world_size} processes "
                            f"cannot share equally; resume it with a number of processes that divides {total}")
    return total // world_size


def merge_partial(previous: dict, entry: dict) -> dict:
    """Join a stopped epoch's entry and the entry of its continuation into one epoch entry."""
    before, after = previous.get("images", 0), entry.get("images", 0)
    merged = dict(entry)
    for key, value in entry.items():
        if key.startswith("train_") and key in previous and before + after:
            merged[key] = (previous[key] * before + value * after) / (before + after)
    seconds = before / previous["images_per_sec"] if previous.get("images_per_sec") else 0.0
    seconds += after / entry["images_per_sec"] if entry.get("images_per_sec") else 0.0
    merged["images"] = before + after
    merged["images_per_sec"] = merged["images"] / seconds if seconds else entry.get("images_per_sec", 0.0)
    return merged
