"""Loss curves as Plotly figures, from a run's history (saved) or a training job's snapshot (live).

Per-step entries (``{"step", "epoch", <term>: value}``) are noisy batch losses logged every few
steps; per-epoch entries (``{"epoch", "train_<term>", "test_<term>", ...}``) are means over the
whole epoch and the test set. Both are drawn against one x axis in epochs, so the noisy curve
and the epoch means line up: a step logged at the end of epoch 3 sits at x = 3.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

TRAIN_COLOUR = "#1f77b4"
TEST_COLOUR = "#ff7f0e"
CONTROL_COLOUR = "#7f7f7f"
_NOT_TERMS = {"step", "epoch", "partial", "images_per_sec", "elapsed"}
MAX_STEP_POINTS = 1500  # more points than pixels only slows the browser down


def term_title(term: str, titles: dict[str, str] | None = None) -> str:
    """A loss term's chart title: the family's own (``loss_titles`` of its model class), else the
    term's name in words."""
    return (titles or {}).get(term) or ("Total loss" if term == "loss" else term.replace("_", " ").capitalize())


def loss_terms(steps: list[dict], epochs: list[dict]) -> list[str]:
    """Loss-term names, "loss" first, in the order the model reports them.

    A term whose every value equals the total loss (an autoencoder's "reconstruction") is left
    out: a second identical panel says nothing new.
    """
    names: list[str] = []
    for entry in epochs:
        for key in entry:
            for prefix in ("train_", "test_"):
                if key.startswith(prefix) and key[len(prefix):] not in names:
                    names.append(key[len(prefix):])
    for entry in steps:
        names += [key for key in entry if key not in _NOT_TERMS and key not in names]
    if "loss" in names:
        names.remove("loss")
        names.insert(0, "loss")
        names = [n for n in names if n == "loss" or not _same_as_loss(n, steps, epochs)]
    return names


def _same_as_loss(term: str, steps: list[dict], epochs: list[dict]) -> bool:
    pairs = [(e.get(f"{p}{term}"), e.get(f"{p}loss")) for e in epochs for p in ("train_", "test_")]
    pairs += [(s.get(term), s.get("loss")) for s in steps]
    pairs = [(a, b) for a, b in pairs if a is not None or b is not None]
    return bool(pairs) and all(a == b for a, b in pairs)


def estimate_steps_per_epoch(steps: list[dict]) -> float | None:
    """Batches per epoch, from logged (step, epoch) pairs alone.

    A step in epoch e satisfies step <= e * steps_per_epoch, so max(step / epoch) is a lower
    bound; it is tight to within the logging interval once an epoch has finished.
    """
    ratios = [entry["step"] / entry["epoch"] for entry in steps if entry.get("epoch", 0) >= 1 and "step" in entry]
    return max(ratios) if ratios else None


def step_positions(steps: list[dict], steps_per_epoch: float | None = None) -> list[float]:
    """Each per-step entry's place on the epoch axis (the end of epoch e is x = e)."""
    per_epoch = steps_per_epoch or estimate_steps_per_epoch(steps)
    if not per_epoch:
        return []
    positions = []
    for entry in steps:
        epoch = entry.get("epoch", 1)
        # never let a rough estimate push a step outside the epoch it was logged in
        positions.append(min(float(epoch), max(epoch - 1.0, entry["step"] / per_epoch)))
    return positions


def _drawable(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _thinned(xs: list, ys: list, limit: int = MAX_STEP_POINTS) -> tuple[list, list]:
    """Every n-th point, so at most ``limit`` remain; a run of n points that holds a NaN (or
    anything not a finite number) is drawn as a gap, None, which breaks a Plotly line: thinning
    never hides a diverged step."""
    every = max(1, math.ceil(len(xs) / limit))
    kept_x, kept_y = [], []
    for start in range(0, len(xs), every):
        kept_x.append(xs[start])
        kept_y.append(ys[start] if all(map(_drawable, ys[start:start + every])) else None)
    return kept_x, kept_y


def control_label(change: dict) -> str:
    """A change made while the run trained, in a few words: "lr 0.0001", "beta 4", "D:G 3:1"."""
    parts = [f"{name} {change[name]:.3g}" for name in ("lr", "beta") if _drawable(change.get(name))]
    if "d_steps" in change and "g_steps" in change:
        parts.append(f"D:G {change['d_steps']}:{change['g_steps']}")
    return ", ".join(parts)


def loss_curves_figure(steps: list[dict], epochs: list[dict], steps_per_epoch: float | None = None,
                       height: int | None = None, columns: int = 3, titles: dict[str, str] | None = None,
                       controls: list[dict] | None = None, font_px: int = 13) -> go.Figure:
    """One panel per loss term: batch losses (faint), train epoch means and test epoch means; each
    change made while training (``controls``: a new learning rate, beta or D:G ratio) a dotted line
    across every panel, labelled on the first. ``font_px``: the chart text the page will use, which
    sets the gap between rows (a row's axis title and the next row's panel title must not meet)."""
    terms = loss_terms(steps, epochs) or ["loss"]
    columns = max(1, min(columns, len(terms)))
    rows = math.ceil(len(terms) / columns)
    row_px, gap_px = 250 + 3 * max(0, font_px - 13), 5 * font_px + 30
    height = height or row_px * rows + gap_px * (rows - 1) + 90
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=[term_title(t, titles) for t in terms],
                           # spacings are fractions of the plotting area: the height less the margins (40 px)
                           horizontal_spacing=0.07,
                           vertical_spacing=min(0.4, gap_px / (height - 40)) if rows > 1 else 0.1)
    positions = step_positions(steps, steps_per_epoch)
    epoch_numbers = [entry["epoch"] for entry in epochs]
    for index, term in enumerate(terms):
        row, col = index // columns + 1, index % columns + 1
        first = index == 0
        logged = [(x, s[term]) for x, s in zip(positions, steps) if term in s]
        if logged:
            xs, ys = _thinned(*map(list, zip(*logged)))
            figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="train (batches)",
                                        line={"color": TRAIN_COLOUR, "width": 1}, opacity=0.35,
                                        legendgroup="batches", showlegend=first), row=row, col=col)
        for split, colour in (("train", TRAIN_COLOUR), ("test", TEST_COLOUR)):
            values = [entry.get(f"{split}_{term}") for entry in epochs]
            if any(v is not None for v in values):
                figure.add_trace(go.Scatter(x=epoch_numbers, y=values, mode="lines+markers",
                                            name=f"{split} (epoch mean)", line={"color": colour, "width": 2},
                                            marker={"size": 5}, legendgroup=split, showlegend=first),
                                 row=row, col=col)
    _mark_controls(figure, controls or [], steps_per_epoch or estimate_steps_per_epoch(steps))
    figure.update_xaxes(title_text="epoch", rangemode="tozero")
    figure.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                         legend={"orientation": "h", "x": 0, "y": 1.0 + 0.16 / rows, "yanchor": "bottom"},
                         hovermode="x unified")
    figure.update_annotations(font_size=13)
    return figure


def _mark_controls(figure: go.Figure, controls: list[dict], steps_per_epoch: float | None) -> None:
    changes = [change for change in controls if control_label(change) and _drawable(change.get("step"))]
    if not changes or not steps_per_epoch:
        return
    for change, position in zip(changes, step_positions(changes, steps_per_epoch)):
        figure.add_vline(x=position, line={"color": CONTROL_COLOUR, "dash": "dot", "width": 1.5}, row="all", col="all")
        figure.add_annotation(x=position, y=1, xref="x", yref="y domain", text=control_label(change), showarrow=False,
                              textangle=-90, xanchor="right", yanchor="top", font={"size": 10, "color": CONTROL_COLOUR})


def loss_thumbnail_figure(epochs: list[dict], term: str = "loss", height: int = 150,
                          titles: dict[str, str] | None = None, font_size: int = 11) -> go.Figure:
    """A small train/test curve of one term per epoch, for lists of runs (``font_size``: its title's;
    the ticks are 2 px smaller)."""
    terms = loss_terms([], epochs)
    if term not in terms and terms:
        term = terms[0]
    figure = go.Figure()
    epoch_numbers = [entry["epoch"] for entry in epochs]
    for split, colour in (("train", TRAIN_COLOUR), ("test", TEST_COLOUR)):
        values = [entry.get(f"{split}_{term}") for entry in epochs]
        if any(v is not None for v in values):
            figure.add_trace(go.Scatter(x=epoch_numbers, y=values, mode="lines+markers", name=split,
                                        line={"color": colour, "width": 2}, marker={"size": 4}))
    figure.update_layout(height=height, margin={"l": 0, "r": 0, "t": 24, "b": 0}, showlegend=False,
                         title={"text": f"{term_title(term, titles)} (blue train, orange test)",
                                "font": {"size": font_size}})
    figure.update_xaxes(title_text=None, tickfont={"size": font_size - 2})
    figure.update_yaxes(tickfont={"size": font_size - 2})
    return figure


# Per-epoch numbers a VAE records beside its losses (epoch_statistics): the panel of its KL term's schedule.
KL_SCHEDULE_PANELS = {"active_units": "Active latent units", "beta": "Beta (weight of the KL term)"}


def kl_schedule_figure(epochs: list[dict], latent_dim: int | None = None, height: int = 230) -> go.Figure | None:
    """Active units and beta per epoch, a panel each; None when the history records neither (an
    autoencoder, a GAN, a run from before they were recorded). A VAE-GAN records active units only.

    ``latent_dim`` fixes the active-units axis at 0..latent size, so a collapse reads at a glance.
    """
    present = [key for key in KL_SCHEDULE_PANELS if any(_drawable(entry.get(key)) for entry in epochs)]
    if not present:
        return None
    figure = make_subplots(rows=1, cols=len(present), subplot_titles=[KL_SCHEDULE_PANELS[key] for key in present],
                           horizontal_spacing=0.12)
    for column, key in enumerate(present, start=1):
        points = [(entry["epoch"], entry[key]) for entry in epochs if _drawable(entry.get(key)) and "epoch" in entry]
        figure.add_trace(go.Scatter(x=[x for x, _ in points], y=[y for _, y in points], mode="lines+markers",
                                    name=KL_SCHEDULE_PANELS[key], line={"color": TEST_COLOUR if key == "beta"
                                                                         else TRAIN_COLOUR, "width": 2},
                                    marker={"size": 5}, showlegend=False,
                                    hovertemplate="epoch %{x}: %{y:.3g}<extra></extra>"), row=1, col=column)
        if key == "active_units":
            figure.update_yaxes(range=[-0.5, latent_dim + 0.5] if latent_dim else None, rangemode="tozero",
                                row=1, col=column)
        else:
            figure.update_yaxes(rangemode="tozero", row=1, col=column)
    figure.update_xaxes(title_text="epoch", rangemode="tozero")
    figure.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10})
    figure.update_annotations(font_size=13)
    return figure
