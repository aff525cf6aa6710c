"""The view in the URL: a page's main settings as query parameters, so a bookmark shows the same picture.

Each page declares its parameters (``UrlParam``: the name in the URL, the widget key it restores,
its type and range). At the top of a page ``restore(params)`` copies values from a link into the
widgets' session state; after the widgets are drawn ``publish(params)`` writes the current values
back into the address bar, with the active model (``run``) and presentation mode (``present``).
A link is applied once, when it arrives (a fresh visit, a bookmark, an edited address), never
again once the app has read it or written the URL itself, so the widgets stay in charge.

Every query parameter is untrusted: a value of the wrong type, out of range, too long or not among
the choices is ignored, with a one-line notice on the page, never a traceback.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping
from urllib.parse import urlencode

import streamlit as st

from ui import classroom, state
from ui.text import plain

MAX_VALUE_CHARS = 400  # longer query values are ignored unread
_NOTICES = "_url_notices"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")  # a run folder name: no path, no dots first


@dataclass(frozen=True)
class UrlParam:
    """One query parameter: ``name`` in the URL, restoring the widget with session key ``key``.

    ``kind``: "int", "float", "bool", "choice" (one of ``choices``), "name" (a run folder name),
    "ints" or "floats" (comma-separated, at most ``max_items``, each within ``low``..``high``).
    """

    name: str
    key: str
    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    max_items: int = 64

    def parse(self, text: str) -> Any:
        """The value ``text`` stands for; ValueError with a short reason when it is not valid."""
        if len(text) > MAX_VALUE_CHARS:
            raise ValueError("too long")
        if self.kind in ("ints", "floats"):
            items = [item for item in text.split(",") if item.strip()]
            if len(items) > self.max_items:
                raise ValueError(f"more than {self.max_items} values")
            number = int if self.kind == "ints" else float
            return [self._number(item, number) for item in items]
        if self.kind == "int":
            return self._number(text, int)
        if self.kind == "float":
            return self._number(text, float)
        if self.kind == "bool":
            if text.strip().lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError("not 1 or 0")
            return text.strip().lower() in ("1", "true", "yes", "on")
        if self.kind == "choice":
            for choice in self.choices:
                if str(choice) == text.strip():
                    return choice
            raise ValueError("not one of " + ", ".join(map(str, self.choices)))
        if self.kind == "name":
            if not _NAME.match(text.strip()):
                raise ValueError("not a run name (letters, digits, . _ - only)")
            return text.strip()
        raise ValueError(f"unknown kind {self.kind}")

    def _number(self, text: str, number) -> float | int:
        text = text.strip()
        try:
            value = int(text) if number is int else float(text)
        except ValueError:
            raise ValueError("not a whole number" if number is int else "not a number") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("not a finite number")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ValueError(f"outside {_plain(self.low)} to {_plain(self.high)}")
        return value

    def format(self, value: Any) -> str:
        if self.kind in ("ints", "floats"):
            return ",".join(_plain(item) for item in value)
        if self.kind == "bool":
            return "1" if value else "0"
        return _plain(value) if self.kind in ("int", "float") else str(value)


def _plain(value) -> str:
    """Numbers written short: 3 not 3.0, 0.25 not 0.25000000001."""
    if value is None:
        return "any"
    if isinstance(value, float):
        return f"{value:.4g}" if value != int(value) or abs(value) >= 1e15 else str(int(value))
    return str(value)


def parse_query(params: Iterable[UrlParam], query: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Widget values (by session key) for the parameters present in ``query``, and a notice for each
    one that was ignored. Parameters the page does not declare are left alone."""
    values, notices = {}, []
    for param in params:
        if param.name not in query:
            continue
        raw = str(query[param.name])
        try:
            values[param.key] = param.parse(raw)
        except ValueError as reason:
            shown = raw if len(raw) <= 30 else raw[:30] + "…"
            notices.append(f"{param.name}={shown!r} ({reason})")
    return values, notices


def format_query(params: Iterable[UrlParam], values: Mapping[str, Any]) -> dict[str, str]:
    """The query (name -> text) for the widget values given by session key; None values are left out."""
    return {param.name: param.format(values[param.key]) for param in params
            if values.get(param.key) is not None}


# -- Streamlit glue ---------------------------------------------------------------------------------
_LAST_SEEN = "_url_last_seen"  # the query as the app last read or wrote it
_INCOMING = "_url_incoming"  # the query that arrived with this run (a link), else {}
_RUN_NOTICE = "_url_run_notice"
PRESENT = UrlParam("present", "present_mode", "bool")
RUN = UrlParam("run", "_url_run", "name")


def _current_query() -> dict[str, str]:
    return {name: st.query_params.get(name) for name in st.query_params}


def begin_run() -> None:
    """Call once per run at the top of app.py: note whether a link just arrived, apply ``?present=``
    and check ``?run=`` (a link to a renamed or deleted model is said so, not silently swapped)."""
    query = _current_query()
    arrived = {} if query == st.session_state.get(_LAST_SEEN) else query
    st.session_state[_INCOMING], st.session_state[_LAST_SEEN] = arrived, query
    values, notices = parse_query([PRESENT, RUN], arrived)
    if PRESENT.key in values:
        st.session_state[PRESENT.key] = values[PRESENT.key]
    linked = values.get(RUN.key)
    if linked is not None and state.loadable_run(linked) is None:  # missing, or a run that cannot be opened
        st.session_state[_RUN_NOTICE] = linked
    if notices:
        st.session_state.setdefault(_NOTICES, []).extend(notices)


def show_link_notices() -> None:
    """Above the page: the app-wide link parameters that were ignored, and when the link named a
    model that is not here, say so and which one is shown instead."""
    show_notices()
    linked = st.session_state.pop(_RUN_NOTICE, None)
    if linked is None:
        return
    shown = state.active_run_path()
    instead = f" The page shows **{shown.name}** instead; pick another model in the sidebar." if shown else ""
    st.warning(f"The link asks for the model **{linked}**, which is not on this server: it was renamed or "
               f"deleted, or the link is mistyped.{instead}", icon=":material/link_off:")


def restore(params: Iterable[UrlParam]) -> dict[str, Any]:
    """Apply a link that just arrived to the widgets' session state (call before drawing them).

    Returns the values applied (by session key), so a page can adjust what depends on them.
    """
    values, notices = parse_query(params, st.session_state.get(_INCOMING) or {})
    for key, value in values.items():
        st.session_state[key] = value
    show_notices(notices)
    return values


def show_notices(notices: list[str] | None = None) -> None:
    """Say which link parameters were ignored (``notices``, and any left by ``begin_run``)."""
    notices = (notices or []) + st.session_state.pop(_NOTICES, [])
    if notices:
        st.caption(":material/link_off: Ignored in the link: " + "; ".join(plain(n) for n in notices) + ".")


def publish(params: Iterable[UrlParam] = (), overrides: Mapping[str, Any] | None = None) -> None:
    """Write the current view into the address bar: the active model, presentation mode, and the
    page's parameters from session state (or ``overrides``, by session key)."""
    params = list(params)
    values = {param.key: st.session_state.get(param.key) for param in params}
    values.update(overrides or {})
    active = state.active_run_path()
    values[RUN.key] = active.name if active is not None else None
    values[PRESENT.key] = True if st.session_state.get(PRESENT.key) else None
    query = format_query([RUN, *params, PRESENT], values)
    query.update(classroom.identity_query())  # a classroom name and its key stay in the address
    if query != _current_query():
        st.query_params.from_dict(query)
    st.session_state[_LAST_SEEN] = query


def view_link() -> str:
    """The full address of this view (for a "copy link" box); relative when the browser's is unknown."""
    base = st.context.url or ""
    query = {k: v for k, v in _current_query().items() if k not in classroom.IDENTITY_PARAMS}  # never share a key
    return f"{base}?{urlencode(query)}" if query else base


def link_box() -> None:
    """A popover with this view's address in a code box, which has a copy button."""
    with st.popover("Link to this view", icon=":material/link:"):
        st.caption("Bookmark or share it: it opens this page with the same model and settings.")
        st.code(view_link(), language=None, wrap_lines=True)
