"""The Train page's run-name field: says what the run will be called before it starts, refuses a name
that is taken (instead of quietly saving as "name-2"), and is emptied once a run has started with it."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from gen_core.errors import CheckpointError
from gen_core.run.collection import safe_run_name
from ui.train_widgets import KEPT_FORM  # where the Train form's values are kept across pages

NAME_KEY = "train_run_name"


def run_name_input(root: Path) -> tuple[str | None, bool]:
    """The name typed (cleaned to a folder name; None for the default), and whether it can be used."""
    typed = st.text_input("Run name (optional)", key=NAME_KEY, placeholder="default: family-dataset-date-time",
                          max_chars=80).strip()
    if not typed:
        return None, True
    try:
        name = safe_run_name(typed)
    except CheckpointError as error:
        st.error(str(error))
        return None, False
    if (Path(root) / name).exists():
        st.error(f"A run called **{name}** already exists. Choose another name, or rename or delete that run "
                 "on the Models page.")
        return None, False
    if name != typed:
        st.caption(f"It will be saved as **{name}** (letters, digits, dots, dashes and underscores only).")
    return name, True


def forget_run_name() -> None:
    """Empty the field after a run started with it, so the next run does not inherit the name."""
    st.session_state.pop(NAME_KEY, None)
    st.session_state.get(KEPT_FORM, {}).pop(NAME_KEY, None)
