"""What a visitor sees when something goes wrong: a short message, never a traceback or a server path.

``page_boundary`` wraps every page in app.py: an error the page did not expect is written to the
server log with its traceback, and the visitor gets one short sentence in its place (shown as an
exception element, so page tests still see that the page failed). Errors inside fragments and
widget callbacks, which run outside it, are redacted by Streamlit itself
(``client.showErrorDetails = "none"`` in .streamlit/config.toml).

``public_message`` is for the expected errors pages show: it keeps the message but cuts any
absolute path down to its last part, in case one slipped into an engine message.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import streamlit as st
from streamlit.logger import get_logger

_log = get_logger("latent_lab")
# An absolute POSIX or Windows path: /a/b/c or C:\a\b (stops at spaces, quotes and brackets).
_ABSOLUTE_PATH = re.compile(r"""(?<![\w.~:/])(?:[A-Za-z]:\\|/)(?:[^\s'"`()\[\]{}<>,;:]*[/\\])+([^\s'"`()\[\]{}<>,;:/\\]*)""")
PAGE_FAILED = ("This page stopped because of an unexpected problem. Nothing was changed; the details are in the "
               "server log. Try again, or open another page.")


class PageError(Exception):
    """Stands in for an unexpected error on the page, with nothing from it but this message."""

    alternate_name = "Sorry"  # what Streamlit shows as the error's type


def public_message(text) -> str:
    """``text`` with every absolute path reduced to its last part ("/srv/lab/runs/x" -> "x")."""
    return _ABSOLUTE_PATH.sub(lambda match: match.group(1) or "…", str(text))


@contextmanager
def page_boundary(page_name: str = ""):
    """Run a page; an unexpected error is logged in full and shown as one short sentence."""
    try:
        yield
    except Exception:  # st.stop and st.rerun are BaseExceptions and pass through untouched
        _log.exception("Unexpected error on page %s", page_name or "?")
        st.exception(PageError(PAGE_FAILED))
