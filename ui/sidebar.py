"""The sidebar on every page: which model is active, and where computation runs."""

from __future__ import annotations

import streamlit as st

from gen_core.device import device_label
from gen_core.jobs import current_job
from ui import state

PICKER = "sidebar_run"


@st.cache_data
def _device_label() -> str:
    return device_label()


def render_sidebar() -> None:
    with st.sidebar:
        st.caption(f"Device: **{_device_label()}**")
        runs = [r for r in state.list_runs() if not r.error]
        if not runs:
            st.caption("Active model: none yet")
        else:
            paths = [str(r.path) for r in runs]
            active = state.active_run_path()
            # Follow the active run, which a page may have changed since the picker was last drawn;
            # the picker's own choices come back through on_change.
            st.session_state[PICKER] = str(active) if active is not None and str(active) in paths else paths[0]
            labels = {str(r.path): f"{r.name} · {r.family} · {r.epochs_done} ep" for r in runs}
            st.selectbox("Active model", paths, format_func=labels.get, key=PICKER,
                         on_change=lambda: state.set_active_run(st.session_state[PICKER]))
        job = current_job()
        if job is not None and job.snapshot().is_active:
            _training_status()


@st.fragment(run_every=2.0)
def _training_status() -> None:
    """Redrawn on its own every 2 s while a run trains, whichever page is open."""
    job = current_job()
    if job is None:
        return
    snapshot = job.snapshot()
    if snapshot.is_active:
        st.caption(f"Training **{snapshot.run_name}**: epoch {snapshot.epoch}/{snapshot.total_epochs}")
        st.progress(snapshot.fraction)
    else:
        st.caption(f"**{snapshot.run_name}**: {snapshot.status}")
