"""The Models page's "Demo models for a lesson" section: what the set holds, a button that puts the
models that need training into the job queue (as ordinary jobs, shown on the Train page with Stop),
and how far the set has come (read from the run folders, so a set trained from a terminal shows
too)."""

from __future__ import annotations

import streamlit as st

from gen_core.errors import GenCoreError
from gen_core.serve import demos
from ui import classroom, state
from ui.live_runs import queue


def _state_text(item: demos.DemoState) -> str:
    return {"trained": f"trained ({item.epochs_done} epochs)", "missing": "not trained",
            "partial": f"{item.epochs_done} of {item.epochs_wanted} epochs",
            "broken": f"unreadable: {item.note}", "taken": item.note}[item.state]


def _start(quick: bool) -> None:
    if not classroom.can_control_job(None):
        st.session_state["demos_error"] = "Only the lecturer can train the demo set."
        return
    try:
        demos.submit_demos(queue(), state.runs_root(), quick=quick)
    except (GenCoreError, OSError) as error:
        st.session_state["demos_error"] = f"Could not start: {error}"


@st.fragment(run_every=3.0)
def _progress() -> None:
    """Redrawn every 3 s while demo jobs train or wait; a full rerun once they have all ended."""
    root = state.runs_root()
    waiting = demos.demo_jobs(queue(), root)
    if not waiting:
        st.rerun()  # finished: the cards below gain the new runs
    items = [item for item in demos.demo_states(root) if item.path.resolve() in {v.run_dir for v in waiting}]
    training = next((view for view in waiting if view.is_training), None)
    now = f" · now {training.run_name}" if training else ""
    st.progress(sum(item.epochs_done for item in items) / max(1, sum(item.epochs_wanted for item in items)),
                text=f"Training the demo set: {len(waiting)} model{'s' if len(waiting) != 1 else ''} left{now}")
    st.caption("The models train one job at a time in the server's queue: the Train page shows each one live "
               "and can stop it. They go on if you close this page.")


def demos_section() -> None:
    root = state.runs_root()
    running = bool(demos.demo_jobs(queue(), root))
    items = demos.demo_states(root)
    missing = [item for item in items if item.state != "trained"]
    with st.expander("Demo models for a lesson", icon=":material/school:", expanded=running):
        st.caption("A curated set, trained once before class so every page has a good model to show: "
                   + "; ".join(f"**{item.demo.name}** ({item.demo.lesson})" for item in items) + ".")
        st.dataframe([{"model": item.demo.name, "what": item.demo.title, "state": _state_text(item)}
                      for item in items], hide_index=True, width="stretch")
        error = st.session_state.pop("demos_error", None)
        if error:
            st.error(error)
        if running:
            _progress()
            return
        if not missing:
            st.success("All demo models are trained.", icon=":material/check_circle:")
            return
        st.caption("Already trained models are skipped and interrupted ones continue where they stopped. "
                   "The full set takes minutes on a CPU (see the README for measured times); the quick "
                   "version is enough to rehearse, and the full set later continues from it.")
        with st.container(horizontal=True):
            st.button("Train the demo set", type="primary", icon=":material/school:", key="demos_full",
                      on_click=_start, args=(False,))
            st.button("Quick version", icon=":material/bolt:", key="demos_quick", on_click=_start, args=(True,))
