"""Presentation mode (the lecture view) and the page style: readable from the back of a lecture hall on a
1024x768 projector.

``?present=1`` or the sidebar toggle turns it on for a session. The lecture view collapses the
sidebar, hides the page's introduction under its title, folds settings into expanders
(``settings()``), and enlarges images, strips and chart text, so each page's main picture
(``main_picture()``) starts above the fold and takes at least half the width. The
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
MAIN_PICTURE_KEY = "lecture-main"  # the container of a page's main picture (CSS class st-key-lecture-main)
LECTURE_FRAME_PX = 120  # the least width of one frame of a strip in the lecture view
LECTURE_ROW_PX = 940  # what a row of pictures may fill at 1024 wide with the sidebar collapsed

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
/* the top padding clears the header bar, which holds the arrow that opens the folded sidebar */
[data-testid="stMainBlockContainer"] { padding: 3.4rem 1.5rem 3rem 1.5rem; max-width: 100%; }
h1 { font-size: 1.9rem !important; padding-top: 0 !important; }
[data-testid="stCaptionContainer"] { font-size: 1rem; }
/* the page's introduction under its title: the lecturer says it, the room reads the picture */
[data-testid="stElementContainer"]:has(h1) + [data-testid="stElementContainer"]:has([data-testid="stCaptionContainer"]) {
  display: none; }
</style>
"""


def is_on() -> bool:
    return bool(st.session_state.get(PRESENT_KEY, False))


def apply_style() -> None:
    """The page style for this session's mode (call once per run, in app.py); the lecture view
    starts with the sidebar collapsed (its arrow still opens it)."""
    st.set_page_config(initial_sidebar_state="collapsed" if is_on() else "auto")
    st.html(_STYLE + (_PRESENT_STYLE if is_on() else ""))


def note(text: str) -> None:
    """A caption that explains the page to someone at the screen: shown in the normal view, folded
    away in the lecture view (the lecturer says it)."""
    if not is_on():
        st.caption(text)


def main_picture():
    """The container of the page's main picture: what the lecture view keeps above the fold."""
    return st.container(key=MAIN_PICTURE_KEY)


def strip_frame_px(frames: int, normal_px: int = 100, normal_row_px: int = 640) -> int:
    """One frame's width in a strip of ``frames`` pictures: on one line at 1024 wide, and in the
    lecture view at least LECTURE_FRAME_PX (a long strip then wraps onto a second line)."""
    if is_on():
        return max(LECTURE_FRAME_PX, min(scaled(normal_px) * 2, LECTURE_ROW_PX // max(frames, 1)))
    return min(normal_px, normal_row_px // max(frames, 1))


def toggle() -> None:
    """The sidebar switch."""
    st.toggle("Presentation mode", key=PRESENT_KEY,
              help="The lecture view, for a projector: the sidebar folded away, larger pictures and chart "
                   "text, settings folded into boxes. A link with ?present=1 opens in this mode.")


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
    figure.update_layout(font={"size": size}, legend={"font": {"size": size}, "title": {"font": {"size": size}}},
                         hoverlabel={"font": {"size": size}})
    # colour bars (a shared colour axis, or a heat map's own) are drawn outside the axes' fonts
    colorbar = {"tickfont": {"size": size - 2}, "title": {"font": {"size": size}}}
    figure.update_coloraxes(colorbar=colorbar)
    figure.update_traces(colorbar=colorbar, selector={"type": "heatmap"})
    figure.update_traces(colorbar=colorbar, selector={"type": "contour"})
    # Streamlit's chart theme sets its own tick and axis-title sizes; these override it
    figure.update_xaxes(tickfont={"size": size - 2}, title_font={"size": size})
    figure.update_yaxes(tickfont={"size": size - 2}, title_font={"size": size})
    figure.update_annotations(font_size=size)
    return figure

