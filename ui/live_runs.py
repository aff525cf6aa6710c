"""Runs as their folders show them now, read for every session at once.

A page never talks to a training process: it reads the run folder (gen_core.run.live). The
reads are cached for all sessions, keyed by the files' modification times, so thirty students
watching one run cost one read per change, not thirty.
"""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st
from PIL import Image

from gen_core.errors import GenCoreError
from gen_core.images import decode_image
from gen_core.limits import MAX_SAVED_GRID_PIXELS
from gen_core.run import checkpoint, layout, live
from gen_core.run.live import LiveRun
from gen_core.serve import jobs
from gen_core.serve.classroom import student_spaces
from ui.classroom import top_root


def queue() -> jobs.JobQueue:
    """The server's one job queue, shared by every session."""
    return jobs.default_queue()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def live_run(run_dir: Path | str) -> LiveRun:
    """Progress, history and newest grid of a run (re-read when a file changes, and every few seconds
    so a writer that died is noticed)."""
    run_dir = Path(run_dir)
    stamps = (_mtime(run_dir / layout.LIVE_FILE), _mtime(run_dir / layout.HISTORY_FILE),
              _mtime(run_dir / layout.SAMPLES_DIR), int(time.time() // 5))
    return _read_live(str(run_dir), stamps)


@st.cache_data(show_spinner=False, max_entries=256)
def _read_live(path: str, stamps: tuple) -> LiveRun:
    return live.read_live(Path(path))


def grid_image(run: LiveRun) -> Image.Image | None:
    """The run's newest sample grid, or None when it has none or the file is not a sensible image."""
    if run.samples_path is None:
        return None
    return _grid_image(str(run.samples_path), _mtime(run.samples_path))


def step_grid_image(run: LiveRun) -> Image.Image | None:
    """The fixed noise decoded where a paused run stands (None unless it is paused)."""
    if run.step_grid_path is None:
        return None
    return _grid_image(str(run.step_grid_path), _mtime(run.step_grid_path))


@st.cache_data(show_spinner=False, max_entries=64)
def _grid_image(path: str, mtime: float) -> Image.Image | None:
    try:
        with decode_image(Path(path).read_bytes(), MAX_SAVED_GRID_PIXELS) as image:
            return image.convert("RGB")
    except (OSError, GenCoreError):  # gone since it was listed, or not a sensible image
        return None


def run_family(run: LiveRun) -> str:
    """The run's model family from its settings ("" until the worker has written them, or when they
    are unreadable): read once per settings file, not with every progress update."""
    return _run_model(str(run.run_dir), _mtime(run.run_dir / layout.CONFIG_FILE))[0]


def run_latent_dim(run: LiveRun) -> int | None:
    """The run's latent size from its settings (None while unknown), read as ``run_family`` is."""
    return _run_model(str(run.run_dir), _mtime(run.run_dir / layout.CONFIG_FILE))[1]


@st.cache_data(show_spinner=False, max_entries=64)
def _run_model(path: str, mtime: float) -> tuple[str, int | None]:
    try:
        config = checkpoint.read_config(Path(path))
    except (OSError, GenCoreError):
        return "", None
    latent_dim = config["model"].get("latent_dim")
    return config["family"], latent_dim if isinstance(latent_dim, int) else None


def run_folders() -> list[Path]:
    """Every folder that holds runs: the runs root and each student's space."""
    root = top_root()
    return [root, *student_spaces(root)]


def training_runs() -> list[LiveRun]:
    """Every run a live process trains now, wherever it was started (the app, a terminal, another
    machine writing to this folder)."""
    return _training_runs(tuple(str(folder) for folder in run_folders()), int(time.time()))


@st.cache_data(show_spinner=False, max_entries=8, ttl=5)
def _training_runs(folders: tuple[str, ...], second: int) -> list[LiveRun]:
    found, recent = [], time.time() - live.STALE_AFTER
    for folder in map(Path, folders):
        if not folder.is_dir():
            continue
        for run_dir in folder.iterdir():
            progress_file = run_dir / layout.LIVE_FILE
            if _mtime(progress_file) > recent and live.is_training(run_dir):
                found.append(live.read_live(run_dir))
    return sorted(found, key=lambda run: run.writer_started)


def training_dirs() -> set[str]:
    """Resolved folders of the runs training now (rename and delete wait for them)."""
    return {str(run.run_dir.resolve()) for run in training_runs()}
