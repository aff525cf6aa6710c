"""The run folder, on one page: every file name in it and the path of each epoch's sample grid.

    <run>/config.json              the run's settings: family, model, data, training (gen_core.run.record)
    <run>/history.json             losses per logged step and per epoch, status, final metrics
    <run>/model.safetensors        weights and buffers; the epoch they were saved at is in the metadata
    <run>/optimizer.safetensors    optimiser tensors, for resuming (optimizer.json holds the rest)
    <run>/samples/epoch_NNN.png    the fixed noise decoded at chosen epochs (at least three digits,
                                   more past epoch 999; always sorted by number, never as text)
    <run>/codes/epoch_NNN.npy      the codes of (at most 500) test images at the same epochs, for models
                                   with an encoder: the training timeline (gen_core.run.timeline)
    <run>/progress.json            live status while a process trains it (gen_core.run.live)
    <run>/stop.request             present when someone asked the run to stop
    <run>/control.json             pause, step, learning rate, beta, D:G ratio asked of the running
                                   run (gen_core.run.control)
    <run>/step_grid.png            the fixed noise decoded where a paused run stands now
    <run>/decoder.onnx             the decoder as ONNX for browsers, rebuilt when the weights change
    <run>/.lock                    held by the one process writing the run (gen_core.run.files)
    <run>/.commit.json             the journal of an epoch's files being committed together

Every reader and writer of a run folder names its files through this module, so the format has
one home. Nothing here reads or writes a file.
"""

from __future__ import annotations

import re
from pathlib import Path

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
WEIGHTS_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
OPTIMIZER_META_FILE = "optimizer.json"
SAMPLES_DIR = "samples"
CODES_DIR = "codes"
LIVE_FILE = "progress.json"
STOP_FILE = "stop.request"
CONTROL_FILE = "control.json"
STEP_GRID_FILE = "step_grid.png"
LOCK_FILE = ".lock"
JOURNAL_FILE = ".commit.json"
DECODER_FILE = "decoder.onnx"  # derived: the decoder exported for browsers (gen_core.run.onnx_export)

# What a run is made of (a zip carries these and nothing else), and what only a live process adds.
RECORD_FILES = (CONFIG_FILE, HISTORY_FILE, WEIGHTS_FILE, OPTIMIZER_FILE, OPTIMIZER_META_FILE)
TRANSIENT_FILES = (LIVE_FILE, STOP_FILE, CONTROL_FILE, STEP_GRID_FILE, LOCK_FILE)

_GRID_NAME = re.compile(r"^epoch_(\d{3,})\.png$")
_CODES_NAME = re.compile(r"^epoch_(\d{3,})\.npy$")


def grid_name(epoch: int) -> str:
    """The file name of an epoch's sample grid: ``epoch_007.png``, ``epoch_1000.png``."""
    return f"epoch_{int(epoch):03d}.png"


def grid_path(run_dir: Path, epoch: int) -> Path:
    return Path(run_dir) / SAMPLES_DIR / grid_name(epoch)


def grid_epoch(name: str) -> int | None:
    """The epoch a sample grid's file name stands for; None for any other name."""
    match = _GRID_NAME.match(name)
    return int(match.group(1)) if match else None


def _by_epoch(folder: Path, epoch_of) -> list[tuple[int, Path]]:
    """``(epoch, path)`` of the files in ``folder`` whose name ``epoch_of`` reads, in epoch order
    (numeric, so epoch 1000 comes after 999)."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    numbered = [(epoch_of(path.name), path) for path in entries if path.is_file()]
    return sorted((epoch, path) for epoch, path in numbered if epoch is not None)


def sample_grids(run_dir: Path) -> list[tuple[int, Path]]:
    """``(epoch, path)`` of every sample grid of a run, in epoch order (numeric)."""
    return _by_epoch(Path(run_dir) / SAMPLES_DIR, grid_epoch)


def newest_grid(run_dir: Path) -> tuple[int, Path] | None:
    grids = sample_grids(run_dir)
    return grids[-1] if grids else None


def codes_name(epoch: int) -> str:
    """An epoch's timeline codes, relative to the run folder: ``codes/epoch_007.npy``."""
    return f"{CODES_DIR}/epoch_{int(epoch):03d}.npy"


def codes_path(run_dir: Path, epoch: int) -> Path:
    return Path(run_dir) / codes_name(epoch)


def codes_epoch(name: str) -> int | None:
    """The epoch a timeline codes file's name (inside ``codes/``) stands for; None for any other name."""
    match = _CODES_NAME.match(name)
    return int(match.group(1)) if match else None


def timeline_files(run_dir: Path) -> list[tuple[int, Path]]:
    """``(epoch, path)`` of every timeline codes file of a run, in epoch order (numeric)."""
    return _by_epoch(Path(run_dir) / CODES_DIR, codes_epoch)


def is_run_file(relative: str) -> bool:
    """Whether a path inside a run folder (``/``-separated) is one of the run's own data files."""
    if relative in RECORD_FILES:
        return True
    folder, _, name = relative.partition("/")
    if "/" in name:
        return False
    return (folder == SAMPLES_DIR and grid_epoch(name) is not None) or \
        (folder == CODES_DIR and codes_epoch(name) is not None)
