"""The sidebar on every page: who you are (classroom mode), the active model, where computation runs,
and the jobs training or waiting on the server."""

from __future__ import annotations

import streamlit as st

from gen_core.device import device_label
from gen_core.errors import GenCoreError
from gen_core.serve.classroom import claimed_names, join_code, new_join_code, release_name, space_owner
from gen_core.serve.jobs import ENDED
from ui import classroom, presentation, state
from ui.live_runs import live_run, queue, training_runs
from ui.train_widgets import format_duration
from ui.text import plain

PICKER = "sidebar_run"


@st.cache_data
def _device_label() -> str:
    return device_label()


def render_sidebar() -> None:
    with st.sidebar:
        who = classroom.viewer()
        if who.classroom and who.lecturer and presentation.is_on():  # on the projector, for the room to read
            try:
                st.markdown(f"### Class code: {join_code(classroom.top_root(), classroom.settings())}")
            except GenCoreError as error:
                st.warning(str(error))
        if who.classroom:
            _identity(who)
        st.caption(f"Device: **{_device_label()}**")
        _active_model_picker()
        if queue().jobs(include_ended=False) or training_runs():
            st.fragment(run_every=2.0)(_training_status)()
        if classroom.settings().passphrase:
            _lecturer_login(who)
        if who.lecturer and who.classroom:
            _class_names()


def _active_model_picker() -> None:
    runs = [r for r in state.list_runs() if not r.error]
    active = state.active_run_path()
    paths = [str(r.path) for r in runs]
    labels = {str(r.path): f"{r.name} · {r.family} · {r.epochs_done} ep" for r in runs}
    if active is not None and str(active) not in paths:  # a run from the class gallery
        paths.insert(0, str(active))
        owner = space_owner(classroom.top_root(), active)
        labels[str(active)] = f"{active.name} · {owner + chr(39) + 's' if owner else 'the lecturer' + chr(39) + 's'}"
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
    notice = st.session_state.pop(classroom.LINK_NOTICE, None)
    if notice:
        st.warning(notice)
    if who.student:
        st.caption(f"You are **{who.student}** · bookmark this page's address to come back as {who.student}")
        return
    if who.lecturer:
        return
    with st.form("sidebar_name_form", border=True):
        name = st.text_input("Your name for this class", max_chars=31, key="sidebar_name",
                             help="Letters, digits, - or _. Your runs are kept under it; others see them "
                                  "in the class gallery but cannot change them.")
        code = st.text_input("Class code", max_chars=32, key="sidebar_join_code",
                             help="The code on the projector: only people in the room can take a name.")
        if st.form_submit_button("Enter", type="primary", key="sidebar_name_enter"):
            try:
                classroom.claim_name(name, code)
                st.rerun()
            except GenCoreError as error:
                st.error(str(error))


def _lecturer_login(who: classroom.Viewer) -> None:
    with st.expander("Lecturer", icon=":material/admin_panel_settings:", expanded=False):
        if who.lecturer:
            st.caption("You can manage every run and job.")
            st.button("Log out", key="sidebar_lecturer_logout", on_click=classroom.log_out_lecturer)
            return
        guard = classroom.PASSPHRASE_GUARD
        if guard.seconds_locked():
            st.warning(f"Locked for {int(guard.seconds_locked()) + 1} s after repeated wrong passphrases.")
        with st.form("sidebar_lecturer_form", border=False):
            attempt = st.text_input("Passphrase", type="password", key="sidebar_passphrase")
            if st.form_submit_button("Manage every run", key="sidebar_lecturer_enter"):
                try:
                    if classroom.log_in_as_lecturer(attempt):
                        st.rerun()
                    st.error("That passphrase is not right.")
                except GenCoreError as error:
                    st.error(str(error))


def _class_names() -> None:
    """The lecturer's view of the class: the code to show, every name taken, and a way to free one."""
    root, config = classroom.top_root(), classroom.settings()
    with st.expander("Class code and names", icon=":material/groups:", expanded=False):
        try:
            code = join_code(root, config)
        except GenCoreError as error:
            st.error(str(error))
            return
        st.markdown(f"Class code: **{code}** · students need it to take a name")
        if not config.join_code:
            st.button("New code", key="sidebar_new_code", on_click=_new_code,
                      help="Names already taken keep working; new names need the new code.")
        guard = classroom.PASSPHRASE_GUARD
        if guard.total_failures:
            st.caption(f"{guard.total_failures} wrong passphrase{'s' if guard.total_failures != 1 else ''} since "
                       f"the server started; {guard.lockouts} lockout{'s' if guard.lockouts != 1 else ''}.")
        names = claimed_names(root)
        st.caption(f"{len(names)} name{'s' if len(names) != 1 else ''} taken" + (":" if names else ""))
        for slug, _ in names:
            name_col, button_col = st.columns([3, 2])
            name_col.text(slug)
            button_col.button("Release", key=f"sidebar_release_{slug}", on_click=_release, args=(slug,),
                              help="Its key stops working and the name is free again; its runs stay.")


def _new_code() -> None:
    new_join_code(classroom.top_root())


def _release(slug: str) -> None:
    try:
        release_name(classroom.top_root(), slug)
    except GenCoreError:
        pass


def _training_status() -> None:
    """Redrawn on its own every 2 s while anything trains or waits, whichever page is open."""
    who = classroom.viewer()
    views = [v for v in queue().jobs() if v.state != ENDED]
    mine = [v for v in views if v.owner == who.owner]
    for view in mine:
        if view.is_waiting:
            when = "starts when the jobs ahead end" if view.estimated_start is None else \
                f"starts in about {format_duration(view.estimated_start)}"
            st.caption(f"Your job **{plain(view.run_name)}**: place {view.place} in the queue · {when}")
        else:
            run = live_run(view.run_dir)
            st.caption(f"Training **{plain(view.run_name)}**: epoch {run.epoch}/{run.total_epochs}")
            st.progress(run.fraction)
    training = sum(v.is_training for v in views if v.owner != who.owner)
    queued_dirs = {str(v.run_dir) for v in views}
    training += sum(str(r.run_dir.resolve()) not in queued_dirs for r in training_runs())
    waiting = sum(v.is_waiting for v in views if v.owner != who.owner)
    if training or waiting:
        others = " and ".join(filter(None, [f"{training} training" if training else "",
                                            f"{waiting} waiting" if waiting else ""]))
        st.caption(f"{'Other jobs' if mine else 'Jobs'} on this server: {others}")
