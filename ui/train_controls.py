"""Step-through training on the Train page's job panel: pause, resume, step a batch or an epoch, train
one GAN player alone, set the D:G step ratio, change the learning rate or beta while the run trains.

Each button writes the run folder's control request (gen_core.run.control), beside the stop
request, so it works for a job of the app's runner and for a run started from a terminal alike.
Only who may stop a job may use them (ui/classroom.py).
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import streamlit as st

from gen_core.models import FAMILIES, family_class
from gen_core.run import live
from gen_core.run.control import read_control, request_control
from gen_core.training.stepping import MAX_BETA, MAX_LR, MAX_RATIO, ControlError, Controls
from ui import classroom, presentation
from ui.text import plain

CONTROL_FLASH = "jobs_control_flash"  # (kind, text) left by a control's callback
PLAYER_CHOICES = {"both": "Both players", "discriminator": "Discriminator only", "generator": "Generator only"}


def send_control(run_dir: str, owner: str | None, done: str, step: str | None = None, **changes) -> None:
    """A button's callback: write the request when this viewer may control the job. A value read from a
    widget is passed as its key, ``("key", widget_key)``."""
    if not classroom.can_control_job(owner):
        st.session_state[CONTROL_FLASH] = ("error", "Only the person who started this job (or the lecturer) can "
                                                    "pause, step or change it.")
        return
    values = {name: st.session_state.get(value[1]) if isinstance(value, tuple) else value
              for name, value in changes.items()}
    try:
        request_control(Path(run_dir), step=step, **values)
    except ControlError as error:
        st.session_state[CONTROL_FLASH] = ("error", f"Not sent: {plain(str(error))}.")
        return
    st.session_state[CONTROL_FLASH] = ("info", done)


def requested(run_dir: Path) -> Controls:
    """What was last asked of the run (the defaults when nothing or something unreadable was)."""
    try:
        return read_control(run_dir)
    except ControlError:
        return Controls()


def has_beta(family: str) -> bool:
    return family in FAMILIES and any(field.name == "beta" for field in fields(FAMILIES[family][0]))


def step_through(run: live.LiveRun, owner: str | None, family: str) -> None:
    """The controls of a running run, for who may stop it; a line on where a paused run stands."""
    flash = st.session_state.pop(CONTROL_FLASH, None)
    if flash:
        getattr(st, flash[0])(flash[1])
    state, asked = run.control, requested(run.run_dir)
    if run.is_paused:
        steps = state.get("steps_taken", 0)
        st.caption(f":material/pause_circle: Paused at step {run.step:,} · {steps} step{'' if steps == 1 else 's'} "
                   "taken while paused · the grid shows the fixed noise decoded now")
    if state.get("message"):
        st.warning(plain(str(state["message"])))
    if not classroom.can_control_job(owner):
        return
    key, where = f"jobs_ctl_{run.run_dir.name}", str(run.run_dir)
    is_gan = bool(getattr(family_class(family), "players", None))
    with st.expander("Step through", expanded=asked.paused):
        columns = st.columns(4 if is_gan else 3)
        if asked.paused:
            columns[0].button("Resume", key=f"{key}_resume", icon=":material/play_arrow:", width="stretch",
                              on_click=send_control, args=(where, owner, "Resuming."), kwargs={"paused": False})
        else:
            columns[0].button("Pause", key=f"{key}_pause", icon=":material/pause:", width="stretch",
                              on_click=send_control, args=(where, owner, "Pausing after the current batch."),
                              kwargs={"paused": True}, help="Finish the current batch, show its samples and wait.")
        player = ("key", f"{key}_player") if is_gan else "both"
        columns[1].button("Step batch", key=f"{key}_step_batch", icon=":material/skip_next:", width="stretch",
                          on_click=send_control, args=(where, owner, "One batch, then paused again.", "batch"),
                          kwargs={"step_player": player}, help="Train on one batch, then pause (pauses a run).")
        columns[2].button("Step epoch", key=f"{key}_step_epoch", icon=":material/fast_forward:", width="stretch",
                          on_click=send_control, args=(where, owner, "To the end of this epoch, then paused.", "epoch"),
                          kwargs={"step_player": player}, help="Train to the end of the epoch, then pause.")
        if is_gan:
            columns[3].selectbox("Steps train", list(PLAYER_CHOICES), format_func=PLAYER_CHOICES.get,
                                 key=f"{key}_player", label_visibility="collapsed")
        settings(run, owner, family, is_gan, key, asked)


def settings(run: live.LiveRun, owner: str | None, family: str, is_gan: bool, key: str, asked: Controls) -> None:
    """Learning rate, beta and the D:G ratio, each with its Apply."""
    where, state = str(run.run_dir), run.control
    # each input starts at what the run trains with (or was last asked), then keeps the viewer's value
    beta = state.get("beta") if state.get("beta") is not None else asked.beta
    rate = state.get("lr") or asked.lr or 1e-3
    for name, start in (("lr", float(rate)), ("beta", 1.0 if beta is None else float(beta)),
                        ("d_steps", asked.d_steps), ("g_steps", asked.g_steps)):
        st.session_state.setdefault(f"{key}_{name}", start)
    columns = st.columns(3)
    with columns[0]:
        st.number_input("Learning rate", min_value=1e-6, max_value=MAX_LR, step=1e-4, format="%.6f", key=f"{key}_lr")
        st.button("Apply rate", key=f"{key}_apply_lr", on_click=send_control,
                  args=(where, owner, "The new rate applies from the next batch."), kwargs={"lr": ("key", f"{key}_lr")})
    if has_beta(family):
        with columns[1]:
            st.number_input("Beta (KL weight)", min_value=0.0, max_value=MAX_BETA, step=0.5, key=f"{key}_beta")
            st.button("Apply beta", key=f"{key}_apply_beta", on_click=send_control,
                      args=(where, owner, "The new beta applies from the next batch."),
                      kwargs={"beta": ("key", f"{key}_beta")})
    if is_gan:
        with columns[2]:
            d_col, g_col = st.columns(2)
            d_col.number_input("D steps", 1, MAX_RATIO, key=f"{key}_d_steps")
            g_col.number_input("G steps", 1, MAX_RATIO, key=f"{key}_g_steps")
            st.button("Apply ratio", key=f"{key}_apply_ratio", on_click=send_control,
                      args=(where, owner, "The new discriminator : generator ratio applies from the next batch."),
                      kwargs={"d_steps": ("key", f"{key}_d_steps"), "g_steps": ("key", f"{key}_g_steps")})
    presentation.note("Pause stops after the current batch and shows what the generator draws from the fixed noise; "
                      "Step batch trains one batch and Step epoch to the end of the epoch, then pause again. "
                      + ("For a GAN, a step can train the discriminator or the generator alone, and the ratio gives "
                         "one player that many updates for each of the other's. " if is_gan else "")
                      + "A new learning rate or beta takes effect at the next batch; it is marked on the loss curves.")
