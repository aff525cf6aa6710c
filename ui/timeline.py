"""The Latent map's training timeline: how the map formed, epoch by epoch, from the codes the trainer
stored at its grid epochs (gen_core.run.timeline), animated in the browser on fixed axes."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from gen_core.latent.timeline import timeline_map
from gen_core.run import layout
from gen_core.run.timeline import read_timeline
from ui import presentation
from ui.explore_widgets import run_key
from ui.state import user_errors
from ui.text import plain
from ui.views.timeline import timeline_figure

EPOCH_KEY = "latent_map_timeline_epoch"  # session key: the epoch the figure rests at
CHART_KEY = "latent_map_timeline"


def _files_stamp(run_dir: Path) -> tuple[int, float]:
    """How many timeline files there are and the newest one's time (a file edited by hand shows)."""
    files = layout.timeline_files(run_dir)
    times = [path.stat().st_mtime for _epoch, path in files if path.exists()]
    return len(files), max(times, default=0.0)


@st.cache_data(show_spinner="Reading the training timeline…", max_entries=8)
def _timeline(path: str, mtime: float, stamp: tuple, latent_dim: int, test_count: int):
    """The run's readable timeline and its map on fixed axes (None when no epoch can be shown)."""
    timeline = read_timeline(Path(path), latent_dim, test_count)
    return timeline, timeline_map(timeline.epochs, timeline.frames) if timeline.frames else None


def timeline_section(run, dataset, shown_classes) -> None:
    """'How the map formed during training': the stored epochs as an animation with an epoch slider,
    coloured by class as the map above; one line for runs trained before codes were stored."""
    st.subheader("How the map formed during training")
    path, mtime = run_key(run)
    loaded = None
    with user_errors("The training timeline could not be drawn: "):
        loaded = _timeline(path, mtime, _files_stamp(Path(path)), int(run.model.latent_dim), len(dataset.test_images))
    if loaded is None:
        return
    timeline, frames = loaded
    if timeline.stored == 0:
        st.caption("This run has no stored codes: the timeline starts with runs trained from now on, which keep "
                   "the test codes at every epoch that gets a sample grid.")
        return
    if timeline.refused:
        more = f" (and {len(timeline.refused) - 1} more)" if len(timeline.refused) > 1 else ""
        st.warning(f"Left out of the timeline: {plain(timeline.refused[0])}{more}.")  # a file's own words
    if frames is None:
        return
    epochs = frames.epochs
    if st.session_state.get(EPOCH_KEY) not in epochs:
        st.session_state[EPOCH_KEY] = epochs[-1]
    if len(epochs) > 1:
        with presentation.settings("Timeline epoch"):
            st.select_slider("Epoch shown", options=epochs, key=EPOCH_KEY, format_func=lambda epoch: f"epoch {epoch}",
                             help="The epoch the picture rests at. ▶ Play below the picture replays every stored "
                                  "epoch from the first, in the browser; its slider scrubs through them.")
    labels = None if dataset.test_labels is None else dataset.test_labels.cpu().numpy()[frames.indices]
    marker = round(7 * presentation.CHART_MARKER_SCALE[presentation.is_on()])
    figure = timeline_figure(frames, labels, dataset.class_names, shown_classes, st.session_state[EPOCH_KEY],
                             marker_size=marker, height=520 if presentation.is_on() else 480,
                             lecture=presentation.is_on())
    st.plotly_chart(presentation.style_figure(figure), key=CHART_KEY, width="stretch")
    shown = f"{len(epochs)} of the {timeline.stored} stored epochs" if timeline.stored > len(epochs) else \
        f"{len(epochs)} stored epoch{'s' if len(epochs) != 1 else ''}"
    plane = "in the (z1, z2) plane" if run.model.latent_dim == 2 else \
        "projected onto the last epoch's first two principal directions"
    st.caption(f"The same {len(frames.indices)} test images encoded at {shown} ({', '.join(map(str, epochs[:12]))}"
               f"{', …' if len(epochs) > 12 else ''}), each epoch {plane}, on axes fixed for all epochs: the "
               "cloud growing or shrinking shows as well as the classes pulling apart.")
