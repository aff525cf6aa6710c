"""The mixture inspector's figures: BIC and AIC over K with the best K marked, and each component's weight.

The numbers come from ``gen_core.sampling`` (``information_criteria`` and a fitted
``ClassMixtureSampler``); these only draw them.
"""

from __future__ import annotations

import plotly.graph_objects as go

BEST_COLOUR = "#D55E00"


def criteria_figure(criteria: dict, height: int = 340) -> go.Figure:
    """BIC and AIC (lower is better) against K, the K with the lowest BIC ringed and labelled.

    ``criteria``: ``information_criteria``'s result (``bic`` and ``aic`` by K, ``best_k``).
    """
    ks = sorted(criteria["bic"])
    best = criteria["best_k"]
    figure = go.Figure()
    for name, colour in (("bic", "#0072B2"), ("aic", "#009E73")):
        figure.add_trace(go.Scatter(x=ks, y=[criteria[name][k] for k in ks], mode="lines+markers",
                                    name=name.upper(), line={"color": colour},
                                    hovertemplate=f"K = %{{x}}: {name.upper()} %{{y:.1f}}<extra></extra>"))
    figure.add_trace(go.Scatter(x=[best], y=[criteria["bic"][best]], mode="markers+text", name=f"best K = {best}",
                                marker={"size": 16, "color": "rgba(0,0,0,0)",
                                        "line": {"width": 3, "color": BEST_COLOUR}},
                                text=[f"K = {best}"], textposition="top center", textfont={"color": BEST_COLOUR},
                                hovertemplate="lowest BIC: K = %{x}<extra></extra>"))
    figure.update_xaxes(title_text="components K", dtick=1 if len(ks) <= 25 else None)
    figure.update_yaxes(title_text="criterion (lower is better)")
    figure.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                         legend={"orientation": "h", "y": 1.15})
    return figure


def weights_figure(weights, chosen: int | None = None, height: int = 260) -> go.Figure:
    """One bar per component (numbered from 0, as the component choice is): its share of the class's
    codes. ``chosen`` is drawn in the highlight colour."""
    shares = [float(weight) for weight in weights]
    colours = [BEST_COLOUR if index == chosen else "#0072B2" for index in range(len(shares))]
    figure = go.Figure(go.Bar(x=list(range(len(shares))), y=shares, marker_color=colours,
                              hovertemplate="component %{x}: weight %{y:.3f}<extra></extra>"))
    figure.update_xaxes(title_text="component", dtick=1 if len(shares) <= 25 else None)
    figure.update_yaxes(title_text="weight", rangemode="tozero")
    figure.update_layout(height=height, margin={"l": 10, "r": 10, "t": 20, "b": 10}, showlegend=False)
    return figure
