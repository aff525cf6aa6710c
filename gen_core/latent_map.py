"""The latent map: a 2-D PCA picture of the encoded test set, and the figures built around it.

Seed 004 (Fig. 7) projected the codes onto their first two principal directions, showed the
eigenvalue spectrum next to it, and compared a well-separated pair (0 vs 1) with an overlapping
one (4 vs 9). ``build_latent_map`` does the encoding and PCA once, so a page can cache the
result and redraw the figures cheaply as the user filters classes or clicks points.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from gen_core.errors import SamplerError
from gen_core.latent import (
    LatentPCA, class_means, convex_combinations, decode_latents, encode_dataset, manifold_coordinates,
    manifold_grid,
)

# The seed's two comparisons, found by class name so they only appear for digit datasets.
SEED_PAIRS = {"0 vs 1": ("0", "1"), "4 vs 9": ("4", "9"), "1 vs 7": ("1", "7")}
# Above this many points the scatter switches to WebGL, which stays responsive with tens of thousands.
WEBGL_THRESHOLD = 2000
_PALETTE = qualitative.D3 + qualitative.Dark24  # ten clearly distinct colours first


@dataclass
class LatentMap:
    """Codes of the test set with their 2-D PCA coordinates and the eigenvalue spectrum."""

    latents: np.ndarray                     # (N, D) float32 codes (posterior means for VAEs)
    coords: np.ndarray                      # (N, 2) coordinates along the first two directions
    labels: np.ndarray | None               # (N,) class ids, or None for unlabelled data
    class_names: list[str] = field(default_factory=list)
    explained_variance: np.ndarray = field(default_factory=lambda: np.empty(0))
    explained_variance_ratio: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def latent_dim(self) -> int:
        return int(self.latents.shape[1])

    @property
    def basis_scale(self) -> float:
        """A basis-vector length that reaches where codes actually are: three typical spreads.

        Unit vectors decode to a blur near the mean when codes spread over several units.
        """
        return max(1.0, round(3 * self.code_spread, 1))

    @property
    def code_spread(self) -> float:
        """Typical standard deviation of one latent coordinate: what "one unit" means here."""
        return float(self.latents.std(axis=0).mean()) if len(self.latents) > 1 else 1.0

    def class_name(self, label: int) -> str:
        return self.class_names[label] if 0 <= label < len(self.class_names) else str(label)

    def present_classes(self) -> list[int]:
        return [] if self.labels is None else sorted(int(label) for label in np.unique(self.labels))


def build_latent_map(model, images: torch.Tensor, labels: torch.Tensor | None = None,
                     class_names=()) -> LatentMap:
    """Encode ``images`` and fit the PCA (every component, so the spectrum is complete)."""
    latents = encode_dataset(model, images)
    if len(latents) < 2:
        raise SamplerError("The latent map needs at least two test images; this dataset has fewer.")
    pca = LatentPCA().fit(latents)
    projected = pca.transform(latents)
    coords = np.zeros((len(latents), 2))
    coords[:, : min(2, projected.shape[1])] = projected[:, :2]
    label_values = None if labels is None else torch.as_tensor(labels).cpu().numpy().astype(np.int64)
    return LatentMap(latents.numpy().astype(np.float32), coords.astype(np.float32), label_values,
                     list(class_names), np.asarray(pca.explained_variance_),
                     np.asarray(pca.explained_variance_ratio_))


def seed_presets(class_names) -> dict[str, list[int]]:
    """The seed's class pairs that exist in this dataset, as lists of class ids."""
    index = {str(name): position for position, name in enumerate(class_names)}
    return {title: [index[a], index[b]] for title, (a, b) in SEED_PAIRS.items() if a in index and b in index}


def _axis_title(latent_map: LatentMap, component: int) -> str:
    ratios = latent_map.explained_variance_ratio
    if component < len(ratios):
        return f"PC {component + 1} ({100 * ratios[component]:.0f}% of variance)"
    return f"PC {component + 1}"


def scatter_figure(latent_map: LatentMap, shown_classes=None) -> go.Figure:
    """One trace per shown class (one "all images" trace without labels); customdata is the index.

    Colours follow the class id, not the trace order, so a class keeps its colour when filtered.
    """
    trace_type = go.Scattergl if len(latent_map.coords) > WEBGL_THRESHOLD else go.Scatter
    figure = go.Figure()
    if latent_map.labels is None:
        groups = [("all test images", np.arange(len(latent_map.coords)), _PALETTE[0])]
    else:
        shown = latent_map.present_classes() if shown_classes is None else [int(c) for c in shown_classes]
        groups = [(latent_map.class_name(label), np.flatnonzero(latent_map.labels == label),
                   _PALETTE[label % len(_PALETTE)]) for label in shown]
    for name, indices, colour in groups:
        figure.add_trace(trace_type(
            x=latent_map.coords[indices, 0], y=latent_map.coords[indices, 1], mode="markers", name=name,
            customdata=indices, marker={"size": 6, "color": colour, "opacity": 0.75},
            hovertemplate=f"class {name}<br>test image #%{{customdata}}<extra></extra>"))
    figure.update_layout(xaxis_title=_axis_title(latent_map, 0), yaxis_title=_axis_title(latent_map, 1),
                         legend_title_text="class", clickmode="event+select", height=520,
                         margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return figure


def eigenvalue_figure(latent_map: LatentMap) -> go.Figure:
    """Eigenvalues as bars and their cumulative share as a line (seed 004, Fig. 7 left)."""
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


def reconstructions(model, latent_map: LatentMap, indices) -> torch.Tensor:
    """The model's reconstructions of the chosen test images, from the codes already computed."""
    return decode_latents(model, torch.as_tensor(latent_map.latents[list(indices)]))


def decoded_class_means(model, latent_map: LatentMap) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean code of every class in the test set (rows in class order) and its decoding."""
    if latent_map.labels is None:
        raise SamplerError("This dataset has no class labels, so there are no class means to decode.")
    means = class_means(torch.as_tensor(latent_map.latents), torch.as_tensor(latent_map.labels),
                        num_classes=len(latent_map.class_names) or None)
    return means, decode_latents(model, means)


def class_mean_path(model, latent_map: LatentMap, class_a: int, class_b: int, steps: int = 10) -> torch.Tensor:
    """Decoded convex combinations of two class means (seed 004, Fig. 6 goes from 1 to 7)."""
    means, _images = decoded_class_means(model, latent_map)
    return convex_combinations(model, means[int(class_a)], means[int(class_b)], steps)


def manifold_images(model, latent_map: LatentMap, n: int = 15) -> torch.Tensor:
    """The decoded grid of a 2-D latent space, spanning where this model's codes actually lie.

    A VAE's codes follow its N(0, I) prior, so prior quantiles cover them; a plain
    autoencoder's codes can sit anywhere, so its grid is centred on their mean and spans three
    of their standard deviations either side.
    """
    if getattr(model, "is_variational", False) or model.latent_dim != 2:
        return manifold_grid(model, n)  # explains itself when the latent is not 2-d
    span = 3.0 * float(latent_map.latents.std(axis=0).max() or 1.0)
    centre = torch.as_tensor(latent_map.latents.mean(axis=0), dtype=torch.float32)
    return decode_latents(model, manifold_coordinates(n, span=span) + centre)
