"""Models: every saved run in the checkpoints folder, with its curves and samples, and what to do with it.

Actions run as widget callbacks, before the script reruns, so the sidebar and every card are
drawn from the folder as it is after the change.
"""

from __future__ import annotations

import functools
from pathlib import Path

import streamlit as st
from PIL import Image

from gen_core import checkpoints, runs
from gen_core.errors import CheckpointError, GenCoreError
from gen_core.images import decode_image
from gen_core.jobs import current_job
from gen_core.models import FAMILY_LABELS, family_class
from ui import state
from ui.boundary import public_message
from ui.demos_panel import demos_section
from ui.train_widgets import SIDEBAR_PICKER, enlarged, make_active
from ui.views.comparison import headline_lines
from ui.views.loss_charts import loss_thumbnail_figure

FLASH = "models_flash"  # (kind, text) left by an action's callback, shown once on the rerun


@st.cache_data(show_spinner=False, max_entries=256)
def epoch_history(path: str, modified: float) -> list[dict]:
    try:
        return checkpoints.read_history(Path(path))["epochs"]
    except GenCoreError:  # the card already says why the run cannot be read
        return []


@st.cache_data(show_spinner=False, max_entries=256)
def last_samples(path: str, modified: float) -> tuple[Image.Image | None, int | None]:
    """The newest sample grid of a run, enlarged for a thumbnail, and its epoch (None for a grid
    that cannot be read safely, e.g. one of 30000x30000 pixels)."""
    grids = sorted((Path(path) / checkpoints.SAMPLES_DIR).glob("epoch_[0-9][0-9][0-9].png"))
    if not grids:
        return None, None
    try:
        with decode_image(grids[-1].read_bytes(), runs.MAX_GRID_PIXELS) as image:
            return enlarged(image.convert("RGB") if image.mode not in ("L", "RGB") else image, 340), \
                int(grids[-1].stem.split("_")[1])
    except (OSError, GenCoreError):
        return None, None


def training_dir() -> str | None:
    job = current_job()
    if job is not None and job.snapshot().is_active and job.snapshot().run_dir:
        return str(Path(job.snapshot().run_dir).resolve())
    return None


def activate(path: str, name: str) -> None:
    make_active(path)
    st.session_state[FLASH] = ("success", f"**{name}** is now the active model.")


def rename(path: str, name: str, was_active: bool) -> None:
    try:
        new_path = runs.rename_run(Path(path), st.session_state[f"models_rename_{name}"], root=state.runs_root())
    except CheckpointError as error:
        st.session_state[FLASH] = ("error", f"Could not rename **{name}**: {error}")
        return
    if was_active:
        make_active(new_path)
    st.session_state[FLASH] = ("success", f"Renamed **{name}** to **{new_path.name}**.")


def delete(path: str, name: str, was_active: bool) -> None:
    try:
        runs.delete_run(Path(path), root=state.runs_root())
    except CheckpointError as error:
        st.session_state[FLASH] = ("error", f"Could not delete **{name}**: {error}")
        return
    if was_active:  # the newest remaining run takes over, as on a first visit
        remaining = [run for run in state.list_runs() if not run.error]
        if remaining:
            make_active(remaining[0].path)
        else:
            st.session_state.pop(state.ACTIVE_RUN, None)
            st.session_state.pop(SIDEBAR_PICKER, None)
    st.session_state[FLASH] = ("success", f"Deleted **{name}**.")


def run_summary(run, busy: bool) -> None:
    status = "training now" if busy else ("interrupted" if run.status == "running" else run.status)
    st.caption(f"{FAMILY_LABELS.get(run.family, run.family)} · {run.dataset} · "
               f"{run.epochs_done}/{run.epochs_planned} epochs · {status}")
    final = run.final
    losses = [f"{split} loss **{final[f'{split}_loss']:.4g}**"
              for split in ("train", "test") if f"{split}_loss" in final]
    if losses:
        st.markdown(" · ".join(losses))
    metric_lines = headline_lines(run.metrics or {}, run.family)
    if metric_lines:
        st.markdown("  \n".join(f"{label}: **{values}**" for label, values in metric_lines))
        st.caption("More numbers, side by side with other runs, on the Evaluate page.")
    else:
        st.caption("No metrics yet: measure it on the Evaluate page.")


def run_pictures(run, chart_col, samples_col) -> None:
    epochs = epoch_history(str(run.path), run.modified)
    with chart_col:
        if epochs:
            st.plotly_chart(loss_thumbnail_figure(epochs), width="stretch", key=f"models_curve_{run.name}",
                            config={"displayModeBar": False, "staticPlot": True})
        else:
            st.caption("No finished epoch yet.")
    grid, epoch = last_samples(str(run.path), run.modified)
    with samples_col:
        if grid is not None:
            what = "samples" if family_class(run.family).has_prior else "test images over their reconstructions"
            st.image(grid, caption=f"{what}, epoch {epoch}", width=170, output_format="PNG")


def rename_action(run, is_active: bool, busy: bool) -> None:
    # keyed by run: after a rename the cards shift, and an unkeyed popover's open state would move
    # to whichever card now sits where the renamed one was
    with st.popover("Rename", icon=":material/edit:", disabled=busy, width="stretch",
                    key=f"models_rename_popover_{run.name}"):
        st.text_input("New name", run.name, key=f"models_rename_{run.name}")
        st.button("Rename", key=f"models_rename_go_{run.name}", type="primary",
                  on_click=rename, args=(str(run.path), run.name, is_active))


def delete_action(run, is_active: bool, busy: bool) -> None:
    with st.popover("Delete", icon=":material/delete:", disabled=busy, width="stretch",
                    key=f"models_delete_popover_{run.name}"):
        st.markdown(f"Delete **{run.name}**: its weights, history and samples. This cannot be undone.")
        sure = st.checkbox("I understand", key=f"models_delete_sure_{run.name}")
        st.button("Delete for good", key=f"models_delete_{run.name}", type="primary", disabled=not sure,
                  on_click=delete, args=(str(run.path), run.name, is_active))


def run_card(run, active_path: str | None, busy_path: str | None) -> None:
    is_active = active_path == str(run.path.resolve())
    busy = busy_path == str(run.path.resolve())
    with st.container(border=True):
        badge = " :green-badge[:material/check: active]" if is_active else ""
        if run.error:
            st.markdown(f"#### {run.name}")
            st.error(f"**{run.name}** cannot be read: {public_message(run.error)}. It can still be deleted.")
        else:
            info_col, chart_col, samples_col = st.columns([3, 3, 2])
            with info_col:
                st.markdown(f"#### {run.name}{badge}")
                run_summary(run, busy)
            run_pictures(run, chart_col, samples_col)
        use_col, rename_col, delete_col, download_col = st.columns(4)
        if not run.error:
            use_col.button("Make active", key=f"models_activate_{run.name}", disabled=is_active,
                           icon=":material/radio_button_checked:", width="stretch",
                           on_click=activate, args=(str(run.path), run.name))
            with rename_col:
                rename_action(run, is_active, busy)
            download_col.download_button("Download zip", functools.partial(runs.export_zip, run.path),
                                         file_name=f"{run.name}.zip", mime="application/zip", on_click="ignore",
                                         key=f"models_download_{run.name}", icon=":material/download:",
                                         width="stretch")
        with delete_col:
            delete_action(run, is_active, busy)
        if busy:
            st.caption("This run is training now; rename and delete wait until it ends.")


def import_uploaded() -> None:
    """The uploader's callback: import the zip just uploaded (once), and say how it went at the top
    of the page, where it is seen, not inside the folded section."""
    upload = st.session_state.get("models_upload")
    if upload is None:
        return
    try:
        path = runs.import_zip(upload.getvalue(), root=state.runs_root())
        st.session_state[FLASH] = ("success", f"Imported **{upload.name}** as **{path.name}**.")
    except CheckpointError as error:
        st.session_state[FLASH] = ("error", f"Could not import {upload.name}: {error}")


def import_section() -> None:
    with st.expander("Import a run from a zip", icon=":material/upload:"):
        st.caption("A zip made by **Download zip** (weights as safetensors, settings and history as JSON). "
                   "Nothing in it is ever executed.")
        st.file_uploader("Run zip", type=["zip"], key="models_upload", on_change=import_uploaded)


# -- page --------------------------------------------------------------------------------------------
st.title("Models")
root = state.runs_root()
st.caption(f"Every run saved in the `{root.name}` folder. Pick the one the explore pages use, rename, delete, or "
           "move runs between machines as zip files.")
flash = st.session_state.pop(FLASH, None)
if flash:
    getattr(st, flash[0])(flash[1])

import_section()
demos_section()

all_runs = state.list_runs()
if not all_runs:
    st.info("No saved runs yet. Train one first: the quick start on the Train page takes seconds.")
    st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

active = state.active_run_path()
active_path = str(active.resolve()) if active is not None else None
busy_path = training_dir()
readable = sum(1 for run in all_runs if not run.error)
st.subheader(f"{readable} run{'s' if readable != 1 else ''}" +
             (f", {len(all_runs) - readable} unreadable" if readable < len(all_runs) else ""))
for run in all_runs:
    run_card(run, active_path, busy_path)
