"""Figures of a VAE's encoder as a distribution: the KL bars per dimension, and the posterior's
ellipses as traces for the latent map (the numbers come from ``gen_core.latent.posterior``)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from gen_core.latent import Ellipse, Posterior

IMAGE_COLOUR, AVERAGE_COLOUR, UNUSED_COLOUR = "#0072B2", "#E69F00", "#BBBBBB"


def dimension_names(count: int, unused) -> list[str]:
    """``z1`` ... ``zD``, with ``(unused)`` after each dimension the model does not use."""
    return [f"z{i + 1}" + (" (unused)" if unused[i] else "") for i in range(count)]


def kl_bar_figure(posterior: Posterior, average_kl, unused, height: int = 340) -> go.Figure:
    """Two bars per latent dimension: this image's KL term and the test set's average; the bars of
    unused dimensions are grey, and their names say so."""
    names = dimension_names(len(posterior.kl), unused)
    figure = go.Figure()
    figure.add_trace(go.Bar(x=names, y=posterior.kl, name="this image",
                            marker={"color": [UNUSED_COLOUR if off else IMAGE_COLOUR for off in unused]},
                            hovertemplate="%{x}: %{y:.3f} nats for this image<extra></extra>"))
    figure.add_trace(go.Bar(x=names, y=np.asarray(average_kl), name="test-set average",
                            marker={"color": [UNUSED_COLOUR if off else AVERAGE_COLOUR for off in unused],
                                    "pattern": {"shape": "/"}},
                            hovertemplate="%{x}: %{y:.3f} nats on average<extra></extra>"))
    figure.update_layout(barmode="group", height=height, yaxis_title="KL to the prior (nats)",
                         xaxis={"tickangle": -45 if len(names) > 16 else 0},
                         legend={"orientation": "h", "y": 1.12}, margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return figure


def ellipse_traces(ellipse: Ellipse, index: int) -> list[go.Scatter]:
    """The posterior's mean and its one- and two-sigma ellipses on the map, named after the image
    (``image #i: ...``), so they read as belonging to the ringed point."""
    traces = []
    for n_sigma, dash in ((1, "solid"), (2, "dot")):
        outline = ellipse.outline(n_sigma)
        traces.append(go.Scatter(x=outline[:, 0], y=outline[:, 1], mode="lines", name=f"image #{index}: {n_sigma}σ",
                                 line={"color": "#000000", "width": 2, "dash": dash}, hoverinfo="skip"))
    traces.append(go.Scatter(x=[ellipse.centre[0]], y=[ellipse.centre[1]], mode="markers",
                             name=f"image #{index}: posterior mean",
                             marker={"symbol": "x-thin", "size": 12, "color": "#000000", "line": {"width": 2}},
                             hovertemplate="the posterior mean of the chosen image<extra></extra>"))
    return traces
