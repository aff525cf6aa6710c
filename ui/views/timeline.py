"""The training timeline's figure: one Plotly animation frame per stored epoch, on fixed axes.

The browser plays it (Plotly's own frames, slider and Play / Pause buttons), so watching the
classes separate costs the server nothing after the figure is sent. The frames come from
``gen_core.latent.timeline_map``: every epoch's codes on the last epoch's principal plane.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from gen_core.latent.timeline import TimelineMap
from ui.text import chart_text
from ui.views.latent_map import class_marker

FRAME_MS = 700  # how long each epoch stays on screen while playing
MOVE_MS = 450  # and how long the points take to move to the next epoch's places


def _groups(count: int, labels: np.ndarray | None, class_names, shown_classes) -> list[tuple[str, np.ndarray, int]]:
    """(trace name, rows, class id) per shown class, in class order; one group of all ``count`` images
    without labels."""
    if labels is None:
        return [("all test images", np.arange(count), 0)]
    present = sorted(int(label) for label in np.unique(labels))
    shown = present if shown_classes is None else [int(label) for label in shown_classes if int(label) in present]
    names = list(class_names)
    return [(chart_text(names[label] if label < len(names) else label), np.flatnonzero(labels == label), label)
            for label in shown]


def _traces(points: np.ndarray, groups, indices: np.ndarray, marker_size: int) -> list[go.Scatter]:
    traces = []
    for name, rows, label in groups:
        traces.append(go.Scatter(x=points[rows, 0], y=points[rows, 1], mode="markers", name=name,
                                 customdata=indices[rows], marker=class_marker(label, marker_size),
                                 hovertemplate=f"class {name}<br>test image #%{{customdata}}<extra></extra>"))
    return traces


def _title(epoch: int) -> str:
    return f"after epoch {epoch}"


def _frame_step(epoch: int) -> dict:
    return {"method": "animate", "label": str(epoch),
            "args": [[str(epoch)], {"mode": "immediate", "frame": {"duration": 0, "redraw": True},
                                    "transition": {"duration": 0}}]}


def timeline_figure(timeline: TimelineMap, labels: np.ndarray | None, class_names=(), shown_classes=None,
                    start_epoch: int | None = None, marker_size: int = 9, height: int = 480,
                    lecture: bool = False) -> go.Figure:
    """The timeline as an animated scatter: one trace per shown class (coloured as on the Latent map),
    one frame per epoch, both axes fixed to ranges that hold every epoch. ``labels``: the class of each
    of the timeline's test images (None without labels). The figure rests at ``start_epoch`` (the last
    by default); Play runs every epoch from the first. ``lecture``: a larger title, and the controls
    further below the axis, whose title the lecture view enlarges."""
    groups = _groups(len(timeline.indices), labels, class_names, shown_classes)
    start = timeline.epochs.index(start_epoch) if start_epoch in timeline.epochs else len(timeline.epochs) - 1
    figure = go.Figure(_traces(timeline.points[start], groups, timeline.indices, marker_size))
    figure.frames = [go.Frame(name=str(epoch), data=_traces(points, groups, timeline.indices, marker_size),
                              traces=list(range(len(groups))), layout={"title": {"text": _title(epoch)}})
                     for epoch, points in zip(timeline.epochs, timeline.points)]
    playing = {"frame": {"duration": FRAME_MS, "redraw": True}, "fromcurrent": False,
               "transition": {"duration": MOVE_MS, "easing": "cubic-in-out"}}
    pausing = {"mode": "immediate", "frame": {"duration": 0, "redraw": True}, "transition": {"duration": 0}}
    controls_y = -0.2 if lecture else -0.12
    figure.update_layout(
        xaxis={"title": timeline.axis_titles[0], "range": list(timeline.x_range), "autorange": False},
        yaxis={"title": timeline.axis_titles[1], "range": list(timeline.y_range), "autorange": False},
        title={"text": _title(timeline.epochs[start]), "x": 0.02, "font": {"size": 24 if lecture else 16}},
        height=height, legend_title_text="class",
        legend={"itemsizing": "constant"}, margin={"l": 10, "r": 10, "t": 50, "b": 10},
        updatemenus=[{"type": "buttons", "direction": "left", "x": 0, "y": controls_y, "xanchor": "left",
                      "yanchor": "top", "pad": {"t": 10, "r": 10}, "showactive": False,
                      "buttons": [{"label": "▶ Play", "method": "animate", "args": [None, playing]},
                                  {"label": "❚❚ Pause", "method": "animate", "args": [[None], pausing]}]}],
        sliders=[{"active": start, "x": 0.28, "len": 0.72, "y": controls_y, "yanchor": "top", "pad": {"t": 10},
                  "currentvalue": {"visible": False},  # the title says the epoch, where the room can read it
                  "transition": {"duration": 0}, "steps": [_frame_step(epoch) for epoch in timeline.epochs]}])
    return figure
