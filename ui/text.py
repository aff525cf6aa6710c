"""Text that a visitor, a file or a zip supplied, shown as text and nothing else.

Run, dataset, class and file names, a run's status message, a link's values: anyone can choose
them (a folder name inside an uploaded zip, a run imported from a zip, ``?seed=...``), and
Streamlit renders Markdown in captions, messages and labels, Plotly renders a little HTML in
legends, tick labels and hover text. So every such string goes through one of these before it
is shown:

* ``plain(text)`` for Markdown (captions, markdown, messages, labels): every character Markdown,
  Streamlit's directives (``:red[...]``, ``:material/x:``) or HTML give a meaning is escaped with a
  backslash, so ``[Exam answers](https://...)`` reads exactly so, and is no link;
* ``chart_text(text)`` for Plotly: ``<``, ``>`` and ``&`` as HTML entities, so ``<b>`` or
  ``<a href>`` in a legend is shown as typed.

Both also fold line breaks into spaces and cut very long strings (saying so with "…").
"""

from __future__ import annotations

import html
import re

MAX_SHOWN = 200  # characters of one supplied string
# the characters that start or close Markdown, HTML, or Streamlit's own syntax (":red[...]"); the
# rest of CommonMark's punctuation ("-", ".", "+") only counts at the start, handled below
_MARKDOWN_SPECIAL = re.compile(r"""([\\`*_\[\]()<>#!|~:$&])""")
_LEADING = re.compile(r"^(\s*)([-+=]|\d+(?=[.)]))")  # a list item or a heading underline
_WWW = re.compile(r"(?i)\b(www)\.")  # GFM makes "www.x.y" a link even without a scheme
_LINE_BREAKS = re.compile(r"[\r\n\t\x0b\x0c\u2028\u2029]+")


def _short(text: object) -> str:
    text = _LINE_BREAKS.sub(" ", str(text))
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 1] + "…"


def plain(text: object) -> str:
    """``text`` for any Streamlit element that renders Markdown, shown exactly as written."""
    # a colon also gets an invisible word joiner after it: Streamlit's icon and emoji short codes
    # (":material/x:", ":smile:") are looked for in the text after Markdown's escapes are undone
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", _short(text)).replace("\\:", "\\:\u2060")
    escaped = _WWW.sub(r"\1\\.", escaped)
    return _LEADING.sub(lambda m: m.group(1) + (m.group(2) + "\\" if m.group(2)[0].isdigit() else "\\" + m.group(2)),
                        escaped)


def chart_text(text: object) -> str:
    """``text`` for a Plotly figure (trace names, tick labels, hover text, titles)."""
    # "%" too: hover templates read %{...} as a placeholder
    return html.escape(_short(text), quote=False).replace("%", "&#37;")
