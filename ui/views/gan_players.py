"""A GAN's two players at the grid epochs: the classifier's share of each class among the fixed-noise
samples over training (mode coverage; a collapse shows as one class taking over), and how the
discriminator's beliefs D(x) on real images and D(G(z)) on generated ones spread at one epoch.

The numbers are the history's (``Trainer.grid_statistics``); an entry that does not pass the run
record's check (a hand-edited file read while live) is left out rather than drawn.
"""

from __future__ import annotations

import plotly.graph_objects as go

from gen_core.errors import GenCoreError
from gen_core.run.record import check_grid_statistics
from ui.text import chart_text
from ui.views.loss_charts import TEST_COLOUR, TRAIN_COLOUR

# Okabe and Ito's colour-blind-safe set and three more: ten classes that stay apart on a projector
CLASS_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#7F3C8D", "#F0E442", "#5B5B5B",
                 "#8C564B"]


def _checked(epochs: list[dict], key: str) -> list[dict]:
    """The entries holding ``key`` whose grid statistics pass the record's check, in epoch order."""
    kept = []
    for entry in epochs:
        if not isinstance(entry, dict) or key not in entry or not isinstance(entry.get("epoch"), int):
            continue
        try:
            check_grid_statistics(entry, "history")
        except GenCoreError:
            continue
        kept.append(entry)
    return kept


def histogram_epochs(epochs: list[dict]) -> list[int]:
    """The epochs whose entry holds a histogram of D(x) and D(G(z))."""
    return [entry["epoch"] for entry in _checked(epochs, "d_histogram")]


def class_shares_figure(epochs: list[dict], class_names=None, height: int = 300) -> go.Figure | None:
    """Stacked areas, one per class: its share of the fixed-noise samples at each grid epoch (the
    stack is 1 high). None when the history records no shares (not digits, not a GAN, an older run)."""
    entries = _checked(epochs, "class_shares")
    if not entries:
        return None
    classes = max(len(entry["class_shares"]) for entry in entries)
    names = [str(name) for name in (class_names or [])][:classes]
    names += [str(index) for index in range(len(names), classes)]
    xs = [entry["epoch"] for entry in entries]
    figure = go.Figure()
    for index, name in enumerate(names):
        shares = [entry["class_shares"][index] if index < len(entry["class_shares"]) else 0.0 for entry in entries]
        figure.add_trace(go.Scatter(x=xs, y=shares, mode="lines", stackgroup="shares", name=chart_text(name),
                                    line={"width": 0.5, "color": CLASS_COLOURS[index % len(CLASS_COLOURS)]},
                                    hovertemplate=f"epoch %{{x}}: %{{y:.0%}} {chart_text(name)}<extra></extra>"))
    figure.update_xaxes(title_text="epoch", dtick=1 if len(xs) <= 20 else None)
    figure.update_yaxes(title_text="share of the samples", range=[0, 1], tickformat=".0%")
    figure.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                         title={"text": "Classes among the fixed-noise samples", "font": {"size": 13}},
                         legend={"traceorder": "reversed"})
    return figure


def d_histogram_figure(epochs: list[dict], epoch: int, height: int = 300) -> go.Figure | None:
    """Overlaid bars: how many real test images and how many generated images the discriminator
    believes real with each probability, at ``epoch``; None when that epoch holds no histogram."""
    entry = next((entry for entry in _checked(epochs, "d_histogram") if entry["epoch"] == epoch), None)
    if entry is None:
        return None
    histogram = entry["d_histogram"]
    bins = len(histogram["real"])
    centres = [(index + 0.5) / bins for index in range(bins)]
    figure = go.Figure()
    for side, name, colour in (("real", "D(x), real images", TRAIN_COLOUR),
                               ("fake", "D(G(z)), generated images", TEST_COLOUR)):
        figure.add_trace(go.Bar(x=centres, y=histogram[side], name=name, marker_color=colour, opacity=0.65,
                                width=1 / bins, hovertemplate="belief %{x:.2f}: %{y} images<extra></extra>"))
    figure.update_xaxes(title_text="discriminator's belief that the image is real", range=[0, 1])
    figure.update_yaxes(title_text="images", rangemode="tozero")
    figure.update_layout(barmode="overlay", height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                         title={"text": f"The discriminator at epoch {epoch}", "font": {"size": 13}},
                         legend={"orientation": "h", "y": -0.3})
    return figure
