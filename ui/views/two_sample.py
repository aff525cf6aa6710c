"""How the classifier two-sample test reads in words, on the Evaluate and Tiles pages."""

from __future__ import annotations


def c2st_sentence(details: dict | None) -> str | None:
    """'a classifier tells samples from real images 97% of the time (95% interval 95-98%)',
    from a report's ``details["c2st"]``; None when the report has none."""
    c2st = (details or {}).get("c2st")
    if not isinstance(c2st, dict) or not isinstance(c2st.get("accuracy"), (int, float)):
        return None
    accuracy = float(c2st["accuracy"])
    low, high = (c2st.get("interval") or [None, None])[:2]
    interval = (f" ({float(c2st.get('confidence', 0.95)):.0%} interval {float(low):.0%}–{float(high):.0%}, "
                f"{int(c2st.get('n_test', 0))} held-out images)") if low is not None and high is not None else ""
    verdict = ("it cannot tell them apart" if low is not None and low <= 0.5 else
               "they are hard to tell apart" if accuracy <= 0.7 else
               "they are easy to tell apart" if accuracy >= 0.9 else "it can often tell them apart")
    return f"a classifier tells generated from real images {accuracy:.0%} of the time{interval}: {verdict}"
