"""The sidebar on every page: which model is active, and where computation runs."""

from __future__ import annotations

import streamlit as st

from gen_core.device import device_label
from gen_core.jobs import current_job
from ui import state


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
            index = paths.index(str(active)) if active is not None and str(active) in paths else 0
            labels = {str(r.path): f"{r.name} · {r.family} · {r.epochs_done} ep" for r in runs}
            choice = st.selectbox("Active model", paths, index=index, format_func=labels.get, key="sidebar_run")
            if choice != (str(active) if active else None):
                state.set_active_run(choice)
        job = current_job()
        if job is not None:
            snapshot = job.snapshot()
            if snapshot.is_active:
                st.caption(f"Training **{snapshot.run_name}**: epoch {snapshot.epoch}/{snapshot.total_epochs}")
                st.progress(snapshot.fraction)
