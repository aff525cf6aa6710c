"""The Room quiz's pictures and chart: the real image on its side, framed only once revealed; the tally drawn."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gen_core.serve.quiz import QuizError, QuizRound
from gen_core.serve.quiz_answers import PairTally, Tally
from ui.views import room_quiz as quiz_view

REAL, FAKE = torch.ones(3, 1, 4, 4), torch.zeros(2, 1, 4, 4)


def test_each_pair_shows_the_real_image_on_its_side():
    pairs = (QuizRound(0, 2, 0, "left"), QuizRound(1, 0, 1, "right"))
    (left0, right0), (left1, right1) = quiz_view.pair_images(pairs, REAL, FAKE)
    assert left0.mean() == 1 and right0.mean() == 0
    assert left1.mean() == 0 and right1.mean() == 1


def test_a_pair_past_the_test_images_is_refused():
    with pytest.raises(QuizError):
        quiz_view.pair_images((QuizRound(0, 3, 0, "left"),), REAL, FAKE)


def test_the_real_one_is_framed_only_after_the_reveal():
    hidden = np.asarray(quiz_view.pair_picture(REAL[0], FAKE[0], zoom=4))
    assert hidden.ndim == 2  # grey: nothing in it says which is real
    shown = np.asarray(quiz_view.pair_picture(FAKE[0], REAL[0], zoom=4, real_side="right"))
    padding, width = 8, 16
    green = np.array([0x2a, 0x9d, 0x8f])
    right_frame, left_frame = shown[padding + 2, 2 * padding + width - 2], shown[padding + 2, padding - 2]
    assert (right_frame == green).all() and (left_frame == 255).all()


def test_the_chart_has_a_bar_per_pair_with_its_share_and_the_rooms_line():
    counted = Tally(3, (PairTally(2, 1, 2), PairTally(0, 0, 0), PairTally(1, 2, 1)))
    figure = quiz_view.tally_figure(counted)
    bars = figure.data[0]
    assert list(bars.x) == ["1", "2", "3"]
    assert list(bars.y) == pytest.approx([200 / 3, 0, 100 / 3])
    assert list(bars.text) == ["2/3", "", "1/3"]
    assert bars.marker.color[2] == quiz_view.FOOLED_COLOUR  # under chance: the room was fooled
    assert [shape.y0 for shape in figure.layout.shapes] == pytest.approx([50, 50])  # chance, and the room's 3/6
    assert quiz_view.percent(counted.accuracy) == "50%" and quiz_view.percent(None) == "–"
