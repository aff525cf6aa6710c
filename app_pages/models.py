"""Models: every saved run in the checkpoints folder, with its curves and samples, and what to do with it.

Actions run as widget callbacks, before the script reruns, so the sidebar and every card are
drawn from the folder as it is after the change.
"""

from __future__ import annotations

import functools
from pathlib import Path

import streamlit as st
from PIL import Image

from gen_core.atomic import disk_errors
from gen_core.errors import GenCoreError
from gen_core.images import decode_image
from gen_core.limits import MAX_SAVED_GRID_PIXELS
from gen_core.models import FAMILY_LABELS, family_class
from gen_core.run import checkpoint, collection, layout
from ui import classroom, presentation, state
from ui.boundary import public_message
from ui.demos_panel import demos_section
from ui.live_runs import training_dirs
from ui.train_widgets import SIDEBAR_PICKER, enlarged, make_active
from ui.views.comparison import headline_lines
from ui.views.loss_charts import loss_thumbnail_figure
from ui.text import plain

FLASH = "models_flash"  # (kind, text) left by an action's callback, shown once on the rerun


@st.cache_data(show_spinner=False, max_entries=256)
def epoch_history(path: str, modified: float) -> list[dict]:
    try:
        return checkpoint.read_history(Path(path))["epochs"]
    except GenCoreError:  # the card already says why the run cannot be read
        return []


@st.cache_data(show_spinner=False, max_entries=256)
def last_samples(path: str, modified: float) -> tuple[Image.Image | None, int | None]:
    """The newest sample grid of a run, enlarged for a thumbnail, and its epoch (None for a grid
    that cannot be read safely, e.g. one of 30000x30000 pixels)."""
    newest = layout.newest_grid(path)
    if newest is None:
        return None, None
    epoch, grid_path = newest
    try:
        with decode_image(grid_path.read_bytes(), MAX_SAVED_GRID_PIXELS) as image:
            return enlarged(image.convert("RGB") if image.mode not in ("L", "RGB") else image, 340), epoch
    except (OSError, GenCoreError):
        return None, None


def activate(path: str, name: str) -> None:
    make_active(path)
    st.session_state[FLASH] = ("success", f"**{name}** is now the active model.")


def refused(path: str, name: str, action: str) -> bool:
    """Check again when the button is pressed: only the run's owner or the lecturer may change it,
    and never while it trains."""
    if not classroom.can_manage_run(Path(path)):
        st.session_state[FLASH] = ("error", f"**{name}** belongs to someone else: only they or the lecturer can "
                                            f"{action} it.")
        return True
    if str(Path(path).resolve()) in training_dirs():
        st.session_state[FLASH] = ("error", f"**{name}** is training now; {action} it when it has ended.")
        return True
    return False


def rename(path: str, name: str, was_active: bool, key: str) -> None:
    if refused(path, name, "rename"):
        return
    try:
        new_path = collection.rename_run(Path(path), st.session_state[f"models_rename_{key}"],
                                   root=classroom.space_of(Path(path)))
    except GenCoreError as error:
        st.session_state[FLASH] = ("error", f"Could not rename **{name}**: {error}")
        return
    if was_active:
        make_active(new_path)
    st.session_state[FLASH] = ("success", f"Renamed **{name}** to **{new_path.name}**.")


def delete(path: str, name: str, was_active: bool) -> None:
    if refused(path, name, "delete"):
        return
    try:
        space = classroom.space_of(Path(path))
        collection.delete_run(Path(path), root=space)
    except GenCoreError as error:
        st.session_state[FLASH] = ("error", f"Could not delete **{plain(name)}**: {plain(error)}")
        return
    classroom.prune_uploads(space)  # an upload goes with the last run that used it
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
    st.caption(f"{FAMILY_LABELS.get(run.family, plain(run.family))} · {plain(run.dataset)} · "
               f"{run.epochs_done}/{run.epochs_planned} epochs · {plain(status)}")
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


def run_pictures(run, chart_col, samples_col, key: str, curve: bool = True) -> None:
    """The loss curve thumbnail (unless ``curve`` is False: the class gallery's many cards) and the grid."""
    epochs = epoch_history(str(run.path), run.modified) if curve else []
    with chart_col:
        if epochs:
            titles = getattr(family_class(run.family), "loss_titles", None)
            # the lecture view's back row needs chart text of at least 16 px
            figure = (loss_thumbnail_figure(epochs, titles=titles, height=220, font_size=18) if presentation.is_on()
                      else loss_thumbnail_figure(epochs, titles=titles))
            st.plotly_chart(figure, width="stretch", key=f"models_curve_{key}",
                            config={"displayModeBar": False, "staticPlot": True})
        elif curve:
            st.caption("No finished epoch yet.")
    grid, epoch = last_samples(str(run.path), run.modified)
    with samples_col:
        if grid is not None:
            what = "samples" if family_class(run.family).has_prior else "test images over their reconstructions"
            st.image(grid, caption=f"{what}, epoch {epoch}", width=240 if presentation.is_on() else 170,
                     output_format="PNG")


def rename_action(run, is_active: bool, busy: bool, key: str) -> None:
    # keyed by run: after a rename the cards shift, and an unkeyed popover's open state would move
    # to whichever card now sits where the renamed one was
    with st.popover("Rename", icon=":material/edit:", disabled=busy, width="stretch",
                    key=f"models_rename_popover_{key}"):
        st.text_input("New name", run.name, key=f"models_rename_{key}")
        st.button("Rename", key=f"models_rename_go_{key}", type="primary",
                  on_click=rename, args=(str(run.path), run.name, is_active, key))


def delete_action(run, is_active: bool, busy: bool, key: str) -> None:
    with st.popover("Delete", icon=":material/delete:", disabled=busy, width="stretch",
                    key=f"models_delete_popover_{key}"):
        st.markdown(f"Delete **{plain(run.name)}**: its weights, history and samples. This cannot be undone.")
        sure = st.checkbox("I understand", key=f"models_delete_sure_{key}")
        st.button("Delete for good", key=f"models_delete_{key}", type="primary", disabled=not sure,
                  on_click=delete, args=(str(run.path), run.name, is_active))


def run_card(run, active_path: str | None, busy_paths: set[str], owner: str = "") -> None:
    """A run with its curve, samples and actions; ``owner`` names whose it is in the class gallery,
    where the curve is left out (many cards) and changing it is for the lecturer only."""
    is_active = active_path == str(run.path.resolve())
    busy = str(run.path.resolve()) in busy_paths
    manage = classroom.can_manage_run(run.path)
    key = f"{owner}_{run.name}" if owner else run.name  # two students may both have a "quick-start"
    with st.container(border=True):
        badge = " :green-badge[:material/check: active]" if is_active else ""
        whose = f" · {plain(classroom.space_label(owner))}" if owner else ""
        if run.error:
            st.markdown(f"#### {plain(run.name)}{whose}")
            st.error(f"**{plain(run.name)}** cannot be read: {plain(public_message(run.error))}. "
                     "It can still be deleted.")
        else:
            info_col, chart_col, samples_col = st.columns([3, 3, 2])
            with info_col:
                st.markdown(f"#### {plain(run.name)}{badge}{whose}")
                run_summary(run, busy)
            run_pictures(run, chart_col, samples_col, key, curve=not owner or manage)
        use_col, rename_col, delete_col, download_col = st.columns(4)
        if not run.error:
            use_col.button("Make active", key=f"models_activate_{key}", disabled=is_active,
                           icon=":material/radio_button_checked:", width="stretch",
                           on_click=activate, args=(str(run.path), run.name))
            if manage:
                with rename_col:
                    rename_action(run, is_active, busy, key)
            download_col.download_button("Download zip", functools.partial(collection.export_zip, run.path),
                                         file_name=f"{run.name}.zip", mime="application/zip", on_click="ignore",
                                         key=f"models_download_{key}", icon=":material/download:",
                                         width="stretch")
        if manage:
            with delete_col:
                delete_action(run, is_active, busy, key)
        if busy:
            st.caption("This run is training now; rename and delete wait until it ends.")


def import_uploaded() -> None:
    """The uploader's callback: import the zip just uploaded (once), and say how it went at the top
    of the page, where it is seen, not inside the folded section."""
    upload = st.session_state.get("models_upload")
    if upload is None:
        return
    try:
        classroom.check_room_for_a_run()  # an imported run counts against a student's runs like a trained one
        with disk_errors("import the run"):
            path = collection.import_zip(upload.getvalue(), root=state.runs_root())
        st.session_state[FLASH] = ("success", f"Imported **{plain(upload.name)}** as **{plain(path.name)}**.")
    except GenCoreError as error:
        st.session_state[FLASH] = ("error", f"Could not import {plain(upload.name)}: {plain(public_message(error))}")


def class_gallery(active_path: str | None, busy_paths: set[str]) -> None:
    """Classroom mode: everyone else's runs, to open in the explore pages (the lecturer may manage them)."""
    spaces = classroom.gallery_spaces()
    if not spaces:
        return
    st.header("Class gallery")
    st.caption("Other people's runs: make one active to explore it on the other pages, or download it. "
               + ("As the lecturer you can rename and delete them too." if classroom.viewer().lecturer else
                  "Only their owner or the lecturer can change them."))
    counts = {owner: len(state.runs_in(folder)) for owner, folder in spaces.items()}
    owner = st.selectbox("Whose runs", [o for o in spaces if counts[o]], key="models_gallery_owner",
                         format_func=lambda o: f"{classroom.space_label(o)} ({counts[o]} "
                                               f"run{'s' if counts[o] != 1 else ''})")
    if owner is None:
        st.caption("Nobody else has a run yet.")
        return
    for run in state.runs_in(spaces[owner]):
        run_card(run, active_path, busy_paths, owner=owner)


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

who = classroom.viewer()


def _tools() -> None:
    if who.student or who.lecturer or not who.classroom:  # a nameless classroom visitor has no space to import to
        import_section()
    if who.lecturer or not who.classroom:  # in a class the demo set is the lecturer's to train
        demos_section()


if not presentation.is_on():  # the lecture view shows the runs first, the tools after them
    _tools()

all_runs = state.list_runs()
active = state.active_run_path()
active_path = str(active.resolve()) if active is not None else None
busy_paths = training_dirs()
if all_runs:
    readable = sum(1 for run in all_runs if not run.error)
    st.subheader(f"{'Your ' if who.classroom else ''}{readable} run{'s' if readable != 1 else ''}" +
                 (f", {len(all_runs) - readable} unreadable" if readable < len(all_runs) else ""))
    with presentation.main_picture():
        for run in all_runs:
            run_card(run, active_path, busy_paths)
else:
    st.info("No saved runs yet. Train one first: the quick start on the Train page takes seconds.")
    st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")
class_gallery(active_path, busy_paths)
if presentation.is_on():
    _tools()
