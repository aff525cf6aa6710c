"""A second model beside the active one (Samples, Latent sliders, Interpolate): same seed, same codes.

The picker lists the other loadable runs; pages that feed both models one code need equal latent
sizes and ask for that. ``?vs=<run>`` in a link picks it (see ui/url_state).
"""

from __future__ import annotations

import streamlit as st

from gen_core.errors import GenCoreError
from gen_core.models import family_class
from gen_core.run import checkpoint, layout
from ui import state
from ui.url_state import UrlParam

COMPARE_KEY = "compare_run"  # session key: the second run's folder name, or None
COMPARE_PARAM = UrlParam("vs", COMPARE_KEY, "name")


@st.cache_data(show_spinner=False, max_entries=256)
def _latent_dim(path: str, modified: float) -> int | None:
    try:
        return int(checkpoint.read_config(path)["model"]["latent_dim"])
    except (GenCoreError, KeyError, TypeError, ValueError):
        return None


def _candidates(run, same_latent_dim: bool, need_encoder: bool) -> dict:
    found = {}
    for info in state.list_runs():
        if info.error or info.path == run.path or not (info.path / layout.WEIGHTS_FILE).is_file():
            continue
        if need_encoder and not getattr(family_class(info.family), "has_encoder", True):
            continue
        dim = _latent_dim(str(info.path), info.modified)
        if same_latent_dim and dim != run.model.latent_dim:
            continue
        found[info.name] = (info, dim)
    return found


def compare_picker(run, same_latent_dim: bool = False, need_encoder: bool = False):
    """A "Compare with" box; returns the second loaded run, or None (nothing chosen or none fits)."""
    candidates = _candidates(run, same_latent_dim, need_encoder)
    chosen = st.session_state.get(COMPARE_KEY)
    if chosen is not None and chosen not in candidates:
        st.session_state[COMPARE_KEY] = None
        if chosen != run.name:
            why = f" with a {run.model.latent_dim}-d latent" if same_latent_dim else ""
            st.caption(f":material/link_off: **{chosen}** is not among the models{why} to compare with here.")
    if not candidates:
        what = f" with a {run.model.latent_dim}-d latent like this one" if same_latent_dim else ""
        st.caption(f"Compare with another model: none{what} is saved yet.")
        return None
    labels = {name: f"{name} · {info.family} · {dim}-d · {info.epochs_done} ep"
              for name, (info, dim) in candidates.items()}
    name = st.selectbox("Compare with", [None, *candidates], key=COMPARE_KEY,
                        format_func=lambda n: "no second model" if n is None else labels[n],
                        help="Show a second model beside this one, with the same seed"
                             + (" and the same latent codes." if same_latent_dim else "."))
    if name is None:
        return None
    try:
        return state.run_at(candidates[name][0].path)
    except GenCoreError as error:
        st.error(f"**{name}** could not be loaded: {error}")
        return None
