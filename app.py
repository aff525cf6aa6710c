"""Latent Lab: train and explore image generative models. Run with ``streamlit run app.py``."""

import streamlit as st

from gen_core.compute import ComputeError, apply_thread_policy
from ui import decks, presentation, url_state
from ui.boundary import page_boundary
from ui.sidebar import render_sidebar

st.set_page_config(page_title="Latent Lab", page_icon=":material/blur_on:", layout="wide")

PAGES = {
    "Build": [
        st.Page("app_pages/train.py", title="Train", icon=":material/model_training:", default=True),
        st.Page("app_pages/models.py", title="Models", icon=":material/inventory_2:"),
    ],
    "Explore": [
        st.Page("app_pages/samples.py", title="Samples", icon=":material/grid_view:"),
        st.Page("app_pages/latent_sliders.py", title="Latent sliders", icon=":material/tune:"),
        st.Page("app_pages/interpolate.py", title="Interpolate", icon=":material/linear_scale:"),
        st.Page("app_pages/latent_map.py", title="Latent map", icon=":material/scatter_plot:"),
        st.Page("app_pages/class_sampler.py", title="Class sampler", icon=":material/category:"),
    ],
    "Measure": [
        st.Page("app_pages/evaluate.py", title="Evaluate", icon=":material/analytics:"),
        st.Page("app_pages/tiles.py", title="Tiles", icon=":material/grid_on:"),
        st.Page("app_pages/room_quiz.py", title="Room quiz", icon=":material/quiz:"),
    ],
}

try:  # once per server: one thread per request, BLAS too (gen_core.compute); never changed per request
    apply_thread_policy(role="server")
except ComputeError as error:  # a bad $GEN_CORE_THREADS: said in one line on every page
    st.error(str(error))
    st.stop()
PAGES_BY_PATH = {each.url_path: each for group in PAGES.values() for each in group}
page = st.navigation(PAGES)
with page_boundary(page.title):  # an unexpected error: logged in full, a short message on screen
    url_state.begin_run()  # a link's ?present= and ?run=, before anything is drawn
    presentation.apply_style()  # the lecture view also folds the sidebar away
    render_sidebar()
    with st.sidebar:
        presentation.toggle()
        decks.panel(page.url_path, PAGES_BY_PATH)
    decks.player(PAGES_BY_PATH)
    url_state.show_link_notices()
    page.run()
