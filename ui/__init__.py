"""Streamlit helpers shared by the pages: the active model, the sidebar, error display, images."""
