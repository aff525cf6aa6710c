"""The latent map's figures: the scatter of the encoded test set (PCA, or a t-SNE / UMAP projection, in
2-D or 3-D) and its eigenvalue spectrum.

The map itself (codes, coordinates, spectrum) is ``gen_core.latent.build_latent_map``, the other
projections ``gen_core.latent.project``; these build the Plotly figures the Latent map page shows,
and read a click on the scatter back.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from gen_core.latent import LatentMap, Projection
from ui.text import chart_text

# A well-separated digit pair (0 vs 1) and overlapping ones, found by class name so they only
# appear for digit datasets.
CLASS_PAIRS = {"0 vs 1": ("0", "1"), "4 vs 9": ("4", "9"), "1 vs 7": ("1", "7")}
# Above this many points the scatter switches to WebGL, which stays responsive with tens of thousands.
WEBGL_THRESHOLD = 2000
# Okabe and Ito's colour-blind-safe set (black left out) plus two, ten colours that stay apart on a
# washed-out projector; each class also gets its own marker shape, so no class depends on colour alone.
_PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#7F3C8D", "#F0E442", "#5B5B5B",
            "#8C564B"] + qualitative.Dark24
_SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "cross", "triangle-down", "star", "pentagon",
            "hexagon"]
_SYMBOLS_3D = ["circle", "square", "diamond", "circle-open", "x", "cross", "square-open", "diamond-open"]  # all 3-D has


def class_marker(label: int, size: int) -> dict:
    """A class's marker on a 2-D map: its colour and shape follow the class id."""
    return {"size": size, "color": _PALETTE[label % len(_PALETTE)], "symbol": _SYMBOLS[label % len(_SYMBOLS)],
            "opacity": 0.8}


def class_pair_presets(class_names) -> dict[str, list[int]]:
    """The class pairs of ``CLASS_PAIRS`` that exist in this dataset, as lists of class ids."""
    index = {str(name): position for position, name in enumerate(class_names)}
    return {title: [index[a], index[b]] for title, (a, b) in CLASS_PAIRS.items() if a in index and b in index}


def plane(latent_map: LatentMap) -> np.ndarray:
    """The map's (N, 2) points: a 2-d model's codes as they are (z1, z2, the manifold's axes, so the
    two pictures line up), else the first two principal directions."""
    return latent_map.latents[:, :2] if latent_map.latent_dim == 2 else latent_map.coords


def _axis_title(latent_map: LatentMap, component: int, projection: Projection | None = None) -> str:
    if projection is not None and projection.method != "pca":
        return f"{projection.label} {component + 1}"  # no units: only neighbourhoods are kept
    if latent_map.latent_dim == 2:
        return f"z{component + 1}"
    ratios = latent_map.explained_variance_ratio
    if component < len(ratios):
        return f"PC {component + 1} ({100 * ratios[component]:.0f}% of variance)"
    return f"PC {component + 1}"


def _points_and_indices(latent_map: LatentMap, projection: Projection | None) -> tuple[np.ndarray, np.ndarray]:
    """The drawn points and, for each, its test-set index: the PCA plane of every image by default."""
    if projection is None:
        points = plane(latent_map)
        return points, np.arange(len(points))
    return projection.points, projection.indices


def scatter_figure(latent_map: LatentMap, shown_classes=None, highlight: int | None = None,
                   marker_size: int = 9, height: int = 520, overlays=(), projection: Projection | None = None
                   ) -> go.Figure:
    """One trace per shown class (one "all images" trace without labels); customdata is the test-set index.

    Colours and shapes follow the class id, not the trace order, so a class keeps its look when
    filtered. ``highlight`` (a test-set index) is ringed; a click selects a point without fading
    the others, since the ring, not the fading, marks the chosen one. ``overlays``: more traces drawn
    on top (a VAE's posterior ellipses). ``projection``: draw its points (2-D or 3-D, perhaps a subsample
    of the test set) instead of the PCA plane.
    """
    points, test_indices = _points_and_indices(latent_map, projection)
    three_d = points.shape[1] == 3
    kind = "3d" if three_d else "gl" if len(points) > WEBGL_THRESHOLD else "svg"
    symbols = _SYMBOLS_3D if three_d else _SYMBOLS
    figure = go.Figure()
    labels = None if latent_map.labels is None else latent_map.labels[test_indices]
    if labels is None:
        groups = [("all test images", np.arange(len(points)), 0)]
    else:
        shown = latent_map.present_classes() if shown_classes is None else [int(c) for c in shown_classes]
        groups = [(chart_text(latent_map.class_name(label)), np.flatnonzero(labels == label), label)
                  for label in shown]
    for name, rows, label in groups:
        figure.add_trace(_trace(points[rows], kind, name=name, customdata=test_indices[rows],
                                marker={"size": marker_size, "color": _PALETTE[label % len(_PALETTE)],
                                        "symbol": symbols[label % len(symbols)],
                                        "opacity": 0.8},
                                hovertemplate=f"class {name}<br>test image #%{{customdata}}<extra></extra>"))
    ringed = np.flatnonzero(test_indices == int(highlight)) if highlight is not None else []
    if len(ringed):
        figure.add_trace(_trace(
            points[ringed], "3d" if three_d else "svg", name=f"image #{int(highlight)}", customdata=[int(highlight)],
            marker={"size": marker_size * 3, "symbol": "circle-open", "color": "#000000", "line": {"width": 3}},
            hovertemplate="the chosen test image #%{customdata}<extra></extra>"))
    for trace in overlays:
        figure.add_trace(trace)
    titles = [_axis_title(latent_map, component, projection) for component in range(points.shape[1])]
    if three_d:
        figure.update_layout(scene={"xaxis_title": titles[0], "yaxis_title": titles[1], "zaxis_title": titles[2]})
    else:
        figure.update_layout(xaxis_title=titles[0], yaxis_title=titles[1], clickmode="event+select")
    figure.update_layout(legend_title_text="class", height=height, legend={"itemsizing": "constant"},
                         margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return figure


def _trace(points: np.ndarray, kind: str, **style):
    """A marker trace: "3d", or 2-D drawn as "svg" or "gl" (WebGL), kept at full opacity when selected."""
    if kind == "3d":
        style["marker"] = {**style["marker"], "size": max(3, style["marker"]["size"] // 2)}  # nearer ones look larger
        return go.Scatter3d(x=points[:, 0], y=points[:, 1], z=points[:, 2], mode="markers", **style)
    trace_type = go.Scattergl if kind == "gl" else go.Scatter
    fixed = {"marker": {"opacity": style["marker"].get("opacity", 1)}}
    return trace_type(x=points[:, 0], y=points[:, 1], mode="markers", selected=fixed, unselected=fixed, **style)


def eigenvalue_figure(latent_map: LatentMap) -> go.Figure:
    """Eigenvalues as bars and their cumulative share as a line ."""
    components = np.arange(1, len(latent_map.explained_variance) + 1)
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(go.Bar(x=components, y=latent_map.explained_variance, name="eigenvalue",
                            hovertemplate="PC %{x}: %{y:.3g}<extra></extra>"), secondary_y=False)
    figure.add_trace(go.Scatter(x=components, y=100 * np.cumsum(latent_map.explained_variance_ratio),
                                mode="lines+markers", name="cumulative %",
                                hovertemplate="first %{x}: %{y:.1f}%<extra></extra>"), secondary_y=True)
    figure.update_xaxes(title_text="principal component", dtick=1 if len(components) <= 32 else None,
                        range=[0.4, len(components) + 0.6])
    figure.update_yaxes(title_text="eigenvalue (variance)", secondary_y=False)
    figure.update_yaxes(title_text="cumulative share of variance", range=[0, 102], tickvals=[0, 25, 50, 75, 100],
                        ticksuffix="%", showgrid=False, secondary_y=True)
    figure.update_layout(height=360, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                         legend={"orientation": "h", "y": 1.12})
    return figure


def selected_indices(selection) -> list[int]:
    """Test-set indices of the points in a Plotly selection event (Streamlit's ``on_select``).

    Each point carries its index in ``customdata``; Plotly hands it back as a number or a
    one-element list depending on the trace type.
    """
    points = ((selection or {}).get("selection") or {}).get("points") or []
    indices = []
    for point in points:
        value = point.get("customdata")
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        if value is not None and int(value) not in indices:
            indices.append(int(value))
    return indices


MAP_COLORS = _PALETTE  # the class colours, for the in-browser pad too


def nearest_point(latent_map, coords) -> int:
    """The index of the test code whose map position is nearest to ``coords`` (x, y)."""
    distances = ((np.asarray(latent_map.coords, dtype=np.float64) - np.asarray(coords, dtype=np.float64)) ** 2).sum(1)
    return int(distances.argmin())


def drawing_trace(point, marker_size: int = 9, name: str = "your drawing") -> go.Scatter:
    """A star where a drawing's code lands on the map (``point``: its (x, y) on the map's plane), for
    ``scatter_figure``'s overlays."""
    return go.Scatter(x=[float(point[0])], y=[float(point[1])], mode="markers", name=name,
                      marker={"size": marker_size * 3, "symbol": "star", "color": "#FFD700",
                              "line": {"width": 2, "color": "#000000"}},
                      hovertemplate=f"{name}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>")
