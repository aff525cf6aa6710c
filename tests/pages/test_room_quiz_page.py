"""The Room quiz page: a host starts a round, every session sees the same pairs and answers once, the
host's screen (the projector) counts the room, and the real side stays hidden until the reveal."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gen_core.places import QUIZZES_DIR
from gen_core.serve import quiz, quiz_answers
from ui import classroom

from .conftest import APP, page_text

PASSPHRASE = "chalk and talk"
CODE = "ROOM42"


@pytest.fixture
def quiz_root(tmp_path, monkeypatch, trained_runs, tile_run) -> Path:
    """A runs folder of its own with a digits model and a tiles model."""
    root = tmp_path / "room"
    shutil.copytree(trained_runs["vae8"], root / "digits-vae")
    shutil.copytree(tile_run, root / "tiles-vae")
    monkeypatch.setenv("GEN_CORE_CHECKPOINTS", str(root))
    return root


@pytest.fixture
def class_root(quiz_root, monkeypatch) -> Path:
    monkeypatch.setenv("LATENT_LAB_CLASSROOM", "1")
    monkeypatch.setenv("LATENT_LAB_LECTURER_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("LATENT_LAB_JOIN_CODE", CODE)
    return quiz_root


def visit(student: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    if student is not None:
        at.query_params.update({"student": student, "join": CODE})
    at.switch_page("app_pages/room_quiz.py")
    return at.run()


def keys(at: AppTest) -> set[str]:
    return {button.key for button in at.button if button.key}


def start_round(at: AppTest, kind: str = "digits", pairs: int = 4) -> quiz.Round:
    at.radio(key="room_quiz_kind").set_value(kind).run()
    at.slider(key="room_quiz_pairs").set_value(pairs)
    at.button(key="room_quiz_start").click().run()
    assert not at.exception, at.exception
    return quiz.current_round(Path(os.environ["GEN_CORE_CHECKPOINTS"]))


def pick(at: AppTest, current: quiz.Round, pair: int, side: str) -> AppTest:
    return at.button(key=f"room_quiz_{current.id}_{pair}_{side}").click().run()


def metric(at: AppTest, label: str) -> str:
    return next(str(m.value) for m in at.metric if m.label == label)


def test_two_sessions_answering_are_both_counted_and_the_host_sees_the_totals(quiz_root):
    host = visit()
    assert "No round is open" in page_text(host)
    current = start_round(host, pairs=4)
    assert current is not None and len(current.pairs) == 4 and current.kind == "digits"
    assert current.run == "digits-vae"
    real = [pair.real_side for pair in current.pairs]
    wrong = ["right" if side == "left" else "left" for side in real]
    ada, bob = visit(), visit()
    assert "room_quiz_start" not in keys(ada)  # the host's session is still there: it keeps the round
    assert len(ada.image) == len(host.image) == 4  # the same pairs on every screen
    pick(ada, current, 0, real[0])
    pick(ada, current, 1, real[1])
    assert ada.button(key=f"room_quiz_{current.id}_1_{wrong[1]}").disabled  # answered: the pair's buttons are off
    ada_id = quiz_answers.answerer_id(f"session:{ada.session_state['viewer_token']}")
    quiz_answers.answer(quiz_root, current.id, ada_id, 2, "left")  # as from another tab of ada's session
    pick(ada, current, 2, "right")  # this tab's button was drawn before: the first answer stands
    assert "first answer counts" in page_text(ada)
    pick(bob, current, 0, wrong[0])
    assert quiz_answers.answers_of(quiz_root, current.id, ada_id) == {0: real[0], 1: real[1], 2: "left"}
    host.run()
    assert metric(host, "People who answered") == "2"
    assert metric(host, "Answers") == "4"
    found = 2 + (real[2] == "left")
    assert metric(host, "The room found the real one") == f"{found / 4:.0%}"
    assert {"room_quiz_reveal", "room_quiz_close"} <= keys(host)
    host.button(key="room_quiz_reveal").click().run()
    bob.run()
    assert f"real on the **{real[0]}**" in page_text(bob)
    assert "found the real one in 0 of 1" in page_text(bob)
    assert not any(key.startswith(f"room_quiz_{current.id}") for key in keys(bob))  # answers are over
    assert quiz_answers.tally(quiz_root, quiz.load_round(quiz_root, current.id)).answered == 4


def test_the_real_side_is_not_on_a_students_page_before_the_reveal(quiz_root):
    host = visit()
    current = start_round(host, kind="tiles", pairs=6)
    assert current.kind == "tiles" and current.run == "tiles-vae"
    student = visit()
    text = page_text(student).lower()
    assert "real on the" not in text and "✓" not in text and "✗" not in text
    assert "real on the" not in page_text(host)  # nor on the projector
    pick(student, current, 0, "left")
    text = page_text(student)
    assert "you chose left" in text and "real on the" not in text and "✓" not in text and "✗" not in text
    labels = [button.label for button in student.button if button.key.startswith(f"room_quiz_{current.id}")]
    assert sorted(set(labels)) == ["Left", "Right"] and len(labels) == 12  # the buttons say nothing either


def test_in_classroom_mode_only_the_lecturer_starts_and_reveals(class_root):
    student = visit("ada")
    assert not {"room_quiz_start", "room_quiz_reveal", "room_quiz_close"} & keys(student)
    assert "No round is open" in page_text(student)
    lecturer = visit()
    assert "room_quiz_start" not in keys(lecturer)  # a visitor without the passphrase is no host either
    lecturer.text_input(key="sidebar_passphrase").input(PASSPHRASE)
    lecturer.button(key="sidebar_lecturer_enter").click().run()
    current = start_round(lecturer, pairs=3)
    assert current.host == "lecturer"
    student.run()
    assert not {"room_quiz_start", "room_quiz_reveal", "room_quiz_close"} & keys(student)
    pick(student, current, 2, "right")
    assert quiz_answers.answers_of(class_root, current.id, "student-ada") == {2: "right"}
    nameless = visit()
    assert not any(key.startswith(f"room_quiz_{current.id}") for key in keys(nameless))
    assert "Give your name" in page_text(nameless)
    lecturer.run()
    assert metric(lecturer, "Answers") == "1"
    lecturer.button(key="room_quiz_close").click().run()
    assert quiz.current_round(class_root) is None


def test_when_the_hosts_screen_has_gone_another_one_can_host_the_round(quiz_root, monkeypatch):
    host = visit()
    current = start_round(host, pairs=2)
    other = visit()
    assert "room_quiz_take_over" not in keys(other) and not other.metric  # the host is still there
    monkeypatch.setattr(classroom, "_session_connected", lambda token: False)  # its tab was closed
    other.run()
    assert not other.metric and "room_quiz_reveal" not in keys(other)
    other.button(key="room_quiz_take_over").click().run()
    assert quiz.current_round(quiz_root).host == f"session:{other.session_state['viewer_token']}"
    assert metric(other, "Answers") == "0" and "room_quiz_reveal" in keys(other)
    assert quiz.current_round(quiz_root).id == current.id


def test_a_hand_edited_round_file_is_passed_over_with_a_reason(quiz_root):
    host = visit()
    current = start_round(host, pairs=2)
    path = quiz_root / QUIZZES_DIR / f"{current.id}.json"
    path.write_text(path.read_text().replace('"digits-vae"', '"../../etc"'))
    student = visit()
    assert not student.exception and "No round is open" in page_text(student)
    host.run()
    assert not host.exception
    assert "A round file was passed over" in page_text(host) and "model is the name of a run" in page_text(host)
    assert str(quiz_root) not in page_text(host)


def test_a_host_who_logged_out_can_no_longer_reveal_from_a_button_drawn_before(class_root):
    lecturer = visit()
    lecturer.text_input(key="sidebar_passphrase").input(PASSPHRASE)
    lecturer.button(key="sidebar_lecturer_enter").click().run()
    current = start_round(lecturer, pairs=2)
    reveal = lecturer.button(key="room_quiz_reveal")
    lecturer.session_state["viewer_lecturer"] = False  # logged out in another part of the page
    reveal.click().run()
    assert quiz.load_round(class_root, current.id).state == "open"
    assert "Only the host" in page_text(lecturer)
