"""The Models page's "Demo models for a lesson" section: what the set holds, a button to train it in a
process of its own, and its progress (read from the run folders, so a set started from a terminal
shows too)."""

from __future__ import annotations

import streamlit as st

from gen_core import demos
from gen_core.errors import GenCoreError
from ui import state

STARTED = "demos_started"  # session key: a start was just requested (the lock may not be taken yet)


def _state_text(item: demos.DemoState) -> str:
    return {"trained": f"trained ({item.epochs_done} epochs)", "missing": "not trained",
            "partial": f"{item.epochs_done} of {item.epochs_wanted} epochs",
            "broken": f"unreadable: {item.note}", "taken": item.note}[item.state]


def _start(quick: bool) -> None:
    try:
        demos.start_in_background(state.runs_root(), quick=quick)
        st.session_state[STARTED] = True
    except (GenCoreError, OSError) as error:
        st.session_state[STARTED] = False
        st.session_state["demos_error"] = f"Could not start: {error}"


@st.fragment(run_every=3.0)
def _progress() -> None:
    """Redrawn every 3 s while the set trains; a full rerun once it has finished."""
    root = state.runs_root()
    plan = demos.running_plan(root)
    if plan is None:
        if st.session_state.pop(STARTED, None) is None:
            st.rerun()  # finished: the cards below gain the new runs
        st.caption("Starting…")
        return
    st.session_state.pop(STARTED, None)
    items = [item for item in demos.demo_states(root, quick=bool(plan.get("quick")))
             if item.demo.name in plan.get("names", [])]
    done = sum(min(item.epochs_done, item.epochs_wanted) for item in items)
    wanted = sum(item.epochs_wanted for item in items) or 1
    current = next((item for item in items if item.state != "trained"), None)
    what = f" · now {current.demo.name}, epoch {current.epochs_done + 1} of {current.epochs_wanted}" \
        if current else ""
    st.progress(done / wanted, text=f"Training the {'quick ' if plan.get('quick') else ''}demo set: "
                                    f"{done} of {wanted} epochs{what}")
    st.caption("It trains in a process of its own and goes on if you close this page. "
               f"Output: `{demos.LOG_FILE}` in the runs folder.")


def demos_section() -> None:
    root = state.runs_root()
    running = demos.running_plan(root) is not None or st.session_state.get(STARTED)
    items = demos.demo_states(root)
    missing = [item for item in items if item.state != "trained"]
    with st.expander("Demo models for a lesson", icon=":material/school:", expanded=bool(running)):
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
                   "The full set takes tens of minutes on a CPU (see the README for measured times); the quick "
                   "version a few minutes, enough to rehearse, and the full set later continues from it.")
        with st.container(horizontal=True):
            st.button("Train the demo set", type="primary", icon=":material/school:", key="demos_full",
                      on_click=_start, args=(False,))
            st.button("Quick version", icon=":material/bolt:", key="demos_quick", on_click=_start, args=(True,))
