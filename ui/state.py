"""The active model and the cached objects every page shares.

Widget state lives in ``st.session_state`` under a few keys named here. Loaded runs and datasets
come from ``st.cache_resource`` keyed by the run folder and its weights' modification time, so a
retrained or renamed run is never served stale.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from gen_core.errors import CheckpointError, GenCoreError
from gen_core.models import family_label
from gen_core.run import checkpoint, collection, layout
from gen_core.run.start import dataset_for_run
from ui.boundary import public_message
from ui.text import plain

ACTIVE_RUN = "active_run"  # str path of the run the explore pages use
_LINK_APPLIED = "_linked_run_applied"


def runs_root() -> Path:
    """This visitor's runs: the runs folder, or in classroom mode their own space in it (ui/classroom.py)."""
    from ui.classroom import own_space
    return own_space()


def _folder_signature(root: Path) -> tuple:
    """Cheap stand-in for the runs folder's content: each run file's modification time."""
    stamps = []
    try:
        for path in root.iterdir():
            for name in (layout.CONFIG_FILE, layout.HISTORY_FILE, layout.WEIGHTS_FILE):
                file = path / name
                if file.exists():
                    stamps.append((path.name, name, file.stat().st_mtime_ns))
    except OSError:  # no runs folder yet, or a file vanished while we looked: list again next time
        return (time.monotonic(),) if root.exists() else ()
    return tuple(sorted(stamps))


@st.cache_data(show_spinner=False, max_entries=8)
def _list_runs(root: str, signature: tuple):
    return collection.list_runs(Path(root))


def list_runs():
    """This visitor's saved runs, newest first; re-read only when a run file changed (every page and
    the sidebar ask on each rerun, and each history.json can be large)."""
    return runs_in(runs_root())


def runs_in(folder: Path):
    """The runs in ``folder`` (a student's space in the class gallery), cached like ``list_runs``."""
    return _list_runs(str(folder), _folder_signature(folder))


def set_active_run(path) -> None:
    st.session_state[ACTIVE_RUN] = str(path)


def loadable_run(name_or_path) -> Path | None:
    """The run folder in the runs folder that this names, when it has weights; else None.

    Every run a page is about to use passes through here (gen_core.run.collection.resolve_run), so a
    link's ``?run=../x`` or ``?run=/abs/path`` never reaches a folder outside the runs folder.
    """
    for folder in _folders_to_open():
        try:
            path = collection.resolve_run(name_or_path, folder)
        except CheckpointError:
            continue
        readable = {info.path.resolve() for info in runs_in(folder) if not info.error}  # cached listing
        if path in readable and (path / layout.WEIGHTS_FILE).exists():
            return path
    return None


def _folders_to_open() -> list[Path]:
    """Where a run may be opened from: this visitor's runs, then in classroom mode the class gallery's."""
    from ui.classroom import gallery_spaces
    return [runs_root(), *gallery_spaces().values()]


def active_run_path() -> Path | None:
    """The chosen run, else the newest loadable one (so a first visit has something to show).

    A link may name the run: ``?run=<folder name>`` (handy for a classroom demo) sets it; a name
    that is not a run in the runs folder that can be opened is ignored (ui.url_state says so).
    """
    linked = st.query_params.get("run")
    if linked and st.session_state.get(_LINK_APPLIED) != linked:  # once, so the sidebar can still change it
        st.session_state[_LINK_APPLIED] = linked
        path = loadable_run(linked)
        if path is not None:
            set_active_run(path)
    chosen = st.session_state.get(ACTIVE_RUN)
    path = loadable_run(chosen) if chosen else None
    if path is not None:
        return path
    for info in list_runs():
        if not info.error and (info.path / layout.WEIGHTS_FILE).exists():
            set_active_run(info.path)
            return info.path
    return None


def _weights_mtime(path: Path) -> float:
    weights = path / layout.WEIGHTS_FILE
    return weights.stat().st_mtime if weights.exists() else 0.0


@st.cache_resource(show_spinner="Loading model…", max_entries=4)
def _load_run(path: str, mtime: float):
    return checkpoint.load_run(Path(path))


@st.cache_resource(show_spinner="Loading dataset…", max_entries=4)
def _load_dataset(path: str, mtime: float):
    return dataset_for_run(checkpoint.read_config(Path(path)))


def run_at(path):
    """The loaded run in folder ``path`` (cached like the active one), e.g. a second model to compare."""
    return _load_run(str(path), _weights_mtime(Path(path)))


def active_run():
    """The loaded active run (model on the CPU, eval mode), or None when there is none."""
    path = active_run_path()
    if path is None:
        return None
    return _load_run(str(path), _weights_mtime(path))


def active_dataset():
    """The dataset the active run was trained on (cached)."""
    path = active_run_path()
    if path is None:
        return None
    return dataset_at(path)


def dataset_at(path):
    """The dataset the run in folder ``path`` was trained on (cached like the active one's)."""
    return _load_dataset(str(path), _weights_mtime(Path(path)))


def require_active_run(need_encoder: bool = False):
    """Return the active run, or explain what to do and stop the page."""
    try:
        run = active_run()
    except GenCoreError as error:
        st.error(f"The active model could not be loaded: {public_message(error)}")
        st.stop()
    if run is None:
        st.info("No trained model yet. Train one on the **Train** page; its quick start says how long "
                "that takes on this machine.")
        st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")
        st.stop()
    if need_encoder and not run.model.has_encoder:
        st.warning(f"**{plain(run.name)}** is {family_label(run.family, in_sentence=True)}, which has no encoder, and this page needs one. "
                   "Pick an autoencoder, VAE or VAE-GAN in the sidebar.")
        st.stop()
    return run


@contextmanager
def user_errors(prefix: str = ""):
    """Show an engine error as a message in the page instead of a traceback (no server paths)."""
    try:
        yield
    except GenCoreError as error:
        st.error(f"{prefix}{public_message(error)}")
