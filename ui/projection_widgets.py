"""The Latent map's projection: PCA, t-SNE or UMAP with their main settings, kept in the link and
computed once per run and settings (``gen_core.latent.project`` does the work)."""

from __future__ import annotations

import streamlit as st

from gen_core.latent import (MAX_NEIGHBOURS, MAX_PERPLEXITY, MAX_PROJECTION_POINTS, METHOD_LABELS, PROJECTION_METHODS,
                             ProjectionSettings, project)
from ui import presentation
from ui.explore_widgets import run_key
from ui.url_state import UrlParam

METHOD_KEY = "latent_map_projection"
THREE_D_KEY = "latent_map_3d"
PERPLEXITY_KEY = "latent_map_perplexity"
NEIGHBOURS_KEY = "latent_map_umap_neighbours"
MIN_DIST_KEY = "latent_map_min_dist"
PROJECTION_SEED = 0  # one fixed seed: every visitor (and every reload) sees the same picture
DEFAULTS = ProjectionSettings()
MEANING = {  # what the picture keeps, said under the map
    "tsne": "t-SNE keeps each code's neighbours near it, so clusters apart here are apart in the {dim}-d space; "
            "the gaps between clusters, their sizes and the axes mean little.",
    "umap": "UMAP keeps each code's neighbours near it and more of the overall layout than t-SNE; still, "
            "distances between clusters and the axes have no units.",
}


def _highest(count: int, cap: float) -> int:
    """A slider's top for a setting that must stay below the number of points shown (at least 3)."""
    return int(max(3, min(cap, count - 1)))


def projection_params(n_codes: int) -> list[UrlParam]:
    """The link's parameters for the projection: ``proj``, ``3d``, ``perp``, ``nn`` and ``mind``."""
    shown = min(n_codes, MAX_PROJECTION_POINTS)
    return [UrlParam("proj", METHOD_KEY, "choice", choices=PROJECTION_METHODS),
            UrlParam("3d", THREE_D_KEY, "bool"),
            UrlParam("perp", PERPLEXITY_KEY, "int", 2, _highest(shown, MAX_PERPLEXITY)),
            UrlParam("nn", NEIGHBOURS_KEY, "int", 2, _highest(shown, MAX_NEIGHBOURS)),
            UrlParam("mind", MIN_DIST_KEY, "float", 0, 1)]


def choose_projection(latent_dim: int, n_codes: int) -> tuple[str, ProjectionSettings]:
    """The projection picker (in the lecture view's settings): the method, 3-D or not, and the chosen
    method's main settings."""
    shown = min(n_codes, MAX_PROJECTION_POINTS)
    st.session_state.setdefault(METHOD_KEY, "pca")
    st.session_state.setdefault(MIN_DIST_KEY, DEFAULTS.min_dist)
    for key, default, top in ((PERPLEXITY_KEY, int(DEFAULTS.perplexity), _highest(shown, MAX_PERPLEXITY)),
                              (NEIGHBOURS_KEY, DEFAULTS.n_neighbors, _highest(shown, MAX_NEIGHBOURS))):
        if not 2 <= st.session_state.get(key, default) <= top:  # a model with fewer test images was chosen
            st.session_state[key] = min(default, top)
        st.session_state.setdefault(key, min(default, top))
    settings = DEFAULTS
    with presentation.settings("Projection"):
        choice_column, settings_column = st.columns(2, vertical_alignment="bottom")
        with choice_column.container(horizontal=True, vertical_alignment="bottom"):
            method = st.radio("Projection", PROJECTION_METHODS, format_func=METHOD_LABELS.get, horizontal=True,
                              key=METHOD_KEY, help="PCA: the two directions of largest variance, with units. "
                                                   "t-SNE and UMAP: a map that keeps each image's nearest "
                                                   "neighbours together, computed in a few seconds.")
            flat = method == "pca" and latent_dim < 3
            if flat:
                st.session_state[THREE_D_KEY] = False
            three_d = st.toggle("3-D view", key=THREE_D_KEY, disabled=flat,
                                help="A 2-d latent space has no third principal direction." if flat else
                                "A third coordinate; drag the view to turn it.")
        if method == "tsne":
            perplexity = settings_column.slider(
                "Perplexity", 2, _highest(shown, MAX_PERPLEXITY), key=PERPLEXITY_KEY,
                help="About how many neighbours each image weighs: low values show small clumps, high ones the "
                     "overall layout. Less than the number of images.")
            settings = ProjectionSettings(perplexity=float(perplexity))
        elif method == "umap":
            neighbours_column, distance_column = settings_column.columns(2)
            neighbours = neighbours_column.slider(
                "Neighbours", 2, _highest(shown, MAX_NEIGHBOURS), key=NEIGHBOURS_KEY,
                help="How many neighbours shape each image's place: few keep the local detail, many the "
                     "global picture. Less than the number of images.")
            min_dist = distance_column.slider("Minimum distance", 0.0, 1.0, step=0.05, key=MIN_DIST_KEY,
                                              help="How tightly images may pack: 0 gives dense clumps, 1 an "
                                                   "even spread.")
            settings = ProjectionSettings(n_neighbors=int(neighbours), min_dist=float(min_dist))
    return method, ProjectionSettings(3 if three_d else 2, settings.perplexity, settings.n_neighbors,
                                      settings.min_dist)


@st.cache_data(show_spinner=False, max_entries=16)
def _projection(path: str, mtime: float, method: str, dims: int, perplexity: float, n_neighbors: int,
                min_dist: float, _latents):
    return project(_latents, method, ProjectionSettings(dims, perplexity, n_neighbors, min_dist),
                   seed=PROJECTION_SEED)


def projected(run, latent_map, method: str, settings: ProjectionSettings):
    """The test set's projection for these settings (None for the 2-D PCA, which is ``latent_map`` itself),
    with a spinner and its running time while it is computed; cached per run and settings."""
    if method == "pca" and settings.dims == 2:
        return None
    count = min(len(latent_map.latents), MAX_PROJECTION_POINTS)
    first_umap = " The first UMAP after the server starts also compiles UMAP's code (up to a minute)."
    with st.spinner(f"Computing the {METHOD_LABELS.get(method, method)} of {count:,} test images…"
                    + (first_umap if method == "umap" else ""), show_time=True):
        return _projection(*run_key(run), method, settings.dims, settings.perplexity, settings.n_neighbors,
                           settings.min_dist, latent_map.latents)


def map_caption(latent_map, projection, has_ellipses: bool, chosen: int) -> str:
    """Under the map: how to use it and what the picture keeps (for a PCA plane, the share of the
    variance it holds; for a subsample, how many images it shows)."""
    three_d = projection is not None and projection.points.shape[1] == 3
    use = ("Each dot is a test image; hover for its class and index, and type the index in the box beside the "
           "map to see the image (a 3-D view takes no clicks)." if three_d else
           "Each dot is a test image; hover for its class and index, click one to see it and its reconstruction.")
    if projection is None:
        return f"{use} {_plane_note(latent_map, has_ellipses)}"
    if projection.method == "pca":
        meaning = (f"These three principal directions hold {latent_map.explained_variance_ratio[:3].sum():.0%} of "
                   f"the variance of the {latent_map.latent_dim}-d codes.")
    else:
        meaning = MEANING[projection.method].format(dim=latent_map.latent_dim)
    count = (f" It shows {len(projection.indices):,} of the {projection.total:,} test images, drawn at random (the "
             f"same ones each time): larger test sets are subsampled to {MAX_PROJECTION_POINTS:,}."
             if projection.subsampled else "")
    missing = "" if chosen in set(projection.indices.tolist()) else \
        f" The chosen image #{chosen} is not among them, so it is not ringed."
    ellipses = " The encoder's ellipses are drawn on the 2-D PCA map only, whose axes they are projected onto." \
        if has_ellipses else ""
    return f"{use} {meaning}{count}{missing}{ellipses}"


def _plane_note(latent_map, has_ellipses: bool) -> str:
    two_share = latent_map.explained_variance_ratio[:2].sum()
    hidden = (" That is all of it: this plane is the whole latent space." if two_share > 0.999 else
              " Clusters that overlap here may still be apart in the full space.")
    ellipses = "" if not has_ellipses else (
        " Around the ringed image, the encoder's one- and two-sigma ellipses: where it might have put that image"
        + ("." if latent_map.latent_dim == 2 else ", projected onto this plane."))
    return f"These two directions hold {two_share:.0%} of the variance of the {latent_map.latent_dim}-d codes." \
           f"{hidden}{ellipses}"
