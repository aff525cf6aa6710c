"""The work one visit asks of the server is bounded, and the cut is said: a run with
more classes than the server fits per visit (1,000 took 23-83 s of CPU per Class sampler visit)."""

from __future__ import annotations

from gen_core import limits

from .conftest import open_page, page_text


def test_the_class_sampler_fits_and_draws_a_bounded_number_of_classes_and_says_so(trained_runs, monkeypatch):
    monkeypatch.setattr(limits, "MAX_CLASSES", 3)  # the digits run has 10 classes
    at = open_page("class_sampler", trained_runs["vae2"], timeout=120)
    assert not at.exception
    assert "has 10 classes; this page fits and draws the first 3" in page_text(at)
    assert len([m for m in at.markdown if m.value.startswith("**")]) <= 3 + 1  # a row per class, at most 3
