"""The sidebar on every page: who you are (classroom mode), the active model, where computation runs,
and the jobs training or waiting on the server."""

from __future__ import annotations

import streamlit as st

from gen_core.device import device_label
from gen_core.serve.classroom import ClassroomError, space_owner
from gen_core.serve.jobs import ENDED
from ui import classroom, state
from ui.live_runs import live_run, queue, training_runs
from ui.train_widgets import format_duration

PICKER = "sidebar_run"


@st.cache_data
def _device_label() -> str:
    return device_label()


def render_sidebar() -> None:
    with st.sidebar:
        who = classroom.viewer()
        if who.classroom:
            _identity(who)
        st.caption(f"Device: **{_device_label()}**")
        _active_model_picker()
        if queue().jobs(include_ended=False) or training_runs():
            st.fragment(run_every=2.0)(_training_status)()
        if classroom.settings().passphrase:
            _lecturer_login(who)


def _active_model_picker() -> None:
    runs = [r for r in state.list_runs() if not r.error]
    active = state.active_run_path()
    paths = [str(r.path) for r in runs]
    labels = {str(r.path): f"{r.name} · {r.family} · {r.epochs_done} ep" for r in runs}
    if active is not None and str(active) not in paths:  # a run from the class gallery
        paths.insert(0, str(active))
        owner = space_owner(classroom.top_root(), active) or "lecturer"
        labels[str(active)] = f"{active.name} · {owner}'s"
    if not paths:
        st.caption("Active model: none yet")
        return
    # Follow the active run, which a page may have changed since the picker was last drawn;
    # the picker's own choices come back through on_change.
    st.session_state[PICKER] = str(active) if active is not None and str(active) in paths else paths[0]
    st.selectbox("Active model", paths, format_func=labels.get, key=PICKER,
                 on_change=lambda: state.set_active_run(st.session_state[PICKER]))


def _identity(who: classroom.Viewer) -> None:
    """Classroom mode: the name this visitor's runs are kept under, asked for once."""
    if who.student:
        st.caption(f"You are **{who.student}** · bookmark this page's address to come back as {who.student}")
        return
    if who.lecturer:
        return
    with st.form("sidebar_name_form", border=True):
        name = st.text_input("Your name for this class", max_chars=31, key="sidebar_name",
                             help="Letters, digits, - or _. Your runs are kept under it; others see them "
                                  "in the class gallery but cannot change them.")
        if st.form_submit_button("Enter", type="primary", key="sidebar_name_enter"):
            try:
                classroom.claim_name(name)
                st.rerun()
            except ClassroomError as error:
                st.error(str(error))


def _lecturer_login(who: classroom.Viewer) -> None:
    with st.expander("Lecturer", icon=":material/admin_panel_settings:", expanded=False):
        if who.lecturer:
            st.caption("You can manage every run and job.")
            st.button("Log out", key="sidebar_lecturer_logout", on_click=classroom.log_out_lecturer)
            return
        with st.form("sidebar_lecturer_form", border=False):
            attempt = st.text_input("Passphrase", type="password", key="sidebar_passphrase")
            if st.form_submit_button("Manage every run", key="sidebar_lecturer_enter"):
                if classroom.log_in_as_lecturer(attempt):
                    st.rerun()
                st.error("That passphrase is not right.")


def _training_status() -> None:
    """Redrawn on its own every 2 s while anything trains or waits, whichever page is open."""
    who = classroom.viewer()
    views = [v for v in queue().jobs() if v.state != ENDED]
    mine = [v for v in views if v.owner == who.owner]
    for view in mine:
        if view.is_waiting:
            when = "starts when the jobs ahead end" if view.estimated_start is None else \
                f"starts in about {format_duration(view.estimated_start)}"
            st.caption(f"Your job **{view.run_name}**: place {view.place} in the queue · {when}")
        else:
            run = live_run(view.run_dir)
            st.caption(f"Training **{view.run_name}**: epoch {run.epoch}/{run.total_epochs}")
            st.progress(run.fraction)
    training = sum(v.is_training for v in views if v.owner != who.owner)
    queued_dirs = {str(v.run_dir) for v in views}
    training += sum(str(r.run_dir.resolve()) not in queued_dirs for r in training_runs())
    waiting = sum(v.is_waiting for v in views if v.owner != who.owner)
    if training or waiting:
        others = " and ".join(filter(None, [f"{training} training" if training else "",
                                            f"{waiting} waiting" if waiting else ""]))
        st.caption(f"{'Other jobs' if mine else 'Jobs'} on this server: {others}")
