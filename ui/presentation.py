"""Presentation mode and the page style: readable from the back of a lecture hall, fits a 1024x768 projector.

``?present=1`` or the sidebar toggle turns it on for a session. It enlarges images and chart
text and folds settings into expanders (``settings()``), so the pictures fill the screen. The
style applied on every page (either mode) keeps wide content inside the window: images shrink
to their column instead of running off its edge, and are drawn with crisp square pixels
whatever their on-screen size.
"""

from __future__ import annotations

from contextlib import nullcontext

import streamlit as st

PRESENT_KEY = "present_mode"  # session key of the toggle (and of ?present=)
IMAGE_SCALE = 1.5  # images are this much larger in presentation mode
CHART_FONT = {False: 14, True: 20}  # plotly base font size, px
CHART_MARKER_SCALE = {False: 1.0, True: 1.5}

_STYLE = """
<style>
/* less empty space above the page title */
[data-testid="stMainBlockContainer"] { padding-top: 2.2rem; padding-bottom: 3rem; }
/* images never wider than their column; enlarged or shrunk, pixels stay square and crisp */
[data-testid="stImageContainer"] { max-width: 100%; }
[data-testid="stImageContainer"] img { max-width: 100%; height: auto; image-rendering: pixelated; }
/* on a narrow screen (a 1024x768 projector with the sidebar open) the page's side margins give way */
@media (max-width: 1200px) {
  [data-testid="stMainBlockContainer"] { padding-left: 1.5rem; padding-right: 1.5rem; }
}
</style>
"""

_PRESENT_STYLE = """
<style>
html { font-size: 18px; }
[data-testid="stMainBlockContainer"] { padding-left: 1.5rem; padding-right: 1.5rem; max-width: 100%; }
h1 { font-size: 2.2rem !important; }
[data-testid="stCaptionContainer"] { font-size: 1rem; }
</style>
"""


def is_on() -> bool:
    return bool(st.session_state.get(PRESENT_KEY, False))


def apply_style() -> None:
    """The page style for this session's mode (call once per run, in app.py)."""
    st.html(_STYLE + (_PRESENT_STYLE if is_on() else ""))


def toggle() -> None:
    """The sidebar switch."""
    st.toggle("Presentation mode", key=PRESENT_KEY,
              help="For a projector: larger pictures and chart text, settings folded away. "
                   "A link with ?present=1 opens in this mode.")


def settings(label: str = "Settings", expanded: bool = False):
    """Where a page's settings go: in presentation mode an expander (closed), else in place."""
    if is_on():
        return st.expander(label, expanded=expanded, icon=":material/tune:")
    return nullcontext()


def scaled(width_px: int) -> int:
    """An image's on-screen width for this mode."""
    return round(width_px * IMAGE_SCALE) if is_on() else width_px


def style_figure(figure):
    """Chart text (titles, ticks, legend) sized for this mode; returns the figure."""
    size = CHART_FONT[is_on()]
    figure.update_layout(font={"size": size}, legend={"font": {"size": size}},
                         hoverlabel={"font": {"size": size}})
    # Streamlit's chart theme sets its own tick and axis-title sizes; these override it
    figure.update_xaxes(tickfont={"size": size - 2}, title_font={"size": size})
    figure.update_yaxes(tickfont={"size": size - 2}, title_font={"size": size})
    figure.update_annotations(font_size=size)
    return figure

