"""The room's quiz: rounds kept under the runs folder, every answer counted once, hostile files refused."""

from __future__ import annotations

import json
import shutil
import threading

import pytest

from gen_core.places import QUIZZES_DIR
from gen_core.serve import quiz, quiz_answers
from gen_core.serve.classroom import student_space
from gen_core.serve.quiz import QuizError


def _round(root, pairs=4, seed=3, host="session:abc"):
    return quiz.start_round(root, "vae-mnist", "digits", pairs, seed, real_count=100, host=host)


def _wrong(side: str) -> str:
    return "right" if side == "left" else "left"


def test_a_round_is_kept_under_the_runs_folder_and_read_back(tmp_path):
    started = _round(tmp_path)
    assert (tmp_path / QUIZZES_DIR / f"{started.id}.json").is_file()
    assert quiz.load_round(tmp_path, started.id) == started
    assert quiz.current_round(tmp_path) == started
    assert [p.real_side for p in started.pairs] == [p.real_side for p in quiz.room_pairs(3, 4, 100)]


def test_the_same_seed_gives_the_same_pairs_and_each_pair_its_own_generated_image():
    pairs = quiz.room_pairs(5, 20, 1000)
    assert pairs == quiz.room_pairs(5, 20, 1000)
    assert [p.generated_index for p in pairs] == list(range(20))
    assert {p.real_side for p in pairs} == {"left", "right"}
    assert pairs != quiz.room_pairs(6, 20, 1000)


def test_two_answerers_are_both_counted_and_the_tally_is_right(tmp_path):
    started = _round(tmp_path)
    real = [p.real_side for p in started.pairs]
    for number, side in enumerate(real):  # ada gets every pair right
        assert quiz_answers.answer(tmp_path, started.id, "student-ada", number, side)
    assert quiz_answers.answer(tmp_path, started.id, "student-bob", 0, real[0])  # bob: right, wrong
    assert quiz_answers.answer(tmp_path, started.id, "student-bob", 1, _wrong(real[1]))
    counted = quiz_answers.tally(tmp_path, started)
    assert counted.answerers == 2
    assert [p.answered for p in counted.pairs] == [2, 2, 1, 1]
    assert [p.correct for p in counted.pairs] == [2, 1, 1, 1]
    assert counted.pairs[1].accuracy == 0.5
    assert (counted.answered, counted.correct) == (6, 5)
    assert counted.accuracy == pytest.approx(5 / 6)
    assert quiz_answers.answers_of(tmp_path, started.id, "student-bob") == {0: real[0], 1: _wrong(real[1])}


def test_a_repeated_answer_does_not_count_twice_and_the_first_one_stands(tmp_path):
    started = _round(tmp_path)
    real = started.pairs[0].real_side
    assert quiz_answers.answer(tmp_path, started.id, "session-1f2e", 0, real) is True
    assert quiz_answers.answer(tmp_path, started.id, "session-1f2e", 0, _wrong(real)) is False
    counted = quiz_answers.tally(tmp_path, started)
    assert (counted.pairs[0].answered, counted.pairs[0].correct) == (1, 1)


def test_answers_given_at_the_same_moment_are_all_counted(tmp_path):
    started = _round(tmp_path, pairs=1)
    side = started.pairs[0].real_side
    results = []

    def answer(who: str) -> None:
        results.append(quiz_answers.answer(tmp_path, started.id, who, 0, side))

    threads = [threading.Thread(target=answer, args=(who,))
               for who in [f"session-{n:02d}" for n in range(12)] + ["session-00"] * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results).count(True) == 12  # every answerer once; session-00's repeats refused
    assert quiz_answers.tally(tmp_path, started).pairs[0].correct == 12


def test_after_the_reveal_no_answer_is_counted_and_a_new_round_closes_the_old(tmp_path):
    started = _round(tmp_path)
    revealed = quiz.set_state(tmp_path, started.id, "revealed")
    assert revealed.revealed and quiz.current_round(tmp_path) == revealed
    with pytest.raises(QuizError, match="revealed"):
        quiz_answers.answer(tmp_path, started.id, "student-ada", 0, "left")
    second = _round(tmp_path, seed=4)
    assert quiz.load_round(tmp_path, started.id).state == "closed"
    assert quiz.current_round(tmp_path) == second
    quiz.set_state(tmp_path, second.id, "closed")
    assert quiz.current_round(tmp_path) is None


@pytest.mark.parametrize("who, pair, side", [("../x", 0, "left"), ("Ada L", 0, "left"), ("a" * 65, 0, "left"),
                                             ("student-ada", 4, "left"), ("student-ada", -1, "left"),
                                             ("student-ada", True, "left"), ("student-ada", 0, "middle")])
def test_a_bad_answer_is_refused(tmp_path, who, pair, side):
    started = _round(tmp_path)
    with pytest.raises(QuizError):
        quiz_answers.answer(tmp_path, started.id, who, pair, side)
    assert quiz_answers.tally(tmp_path, started).answered == 0


def test_answers_past_the_most_answerers_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(quiz_answers, "MAX_ANSWERERS", 3)
    started = _round(tmp_path)
    for who in ("session-a", "session-b", "session-c"):
        quiz_answers.answer(tmp_path, started.id, who, 0, "left")
    with pytest.raises(QuizError, match="most"):
        quiz_answers.answer(tmp_path, started.id, "session-d", 0, "left")
    assert quiz_answers.answer(tmp_path, started.id, "session-a", 1, "left")  # those already counted go on


@pytest.mark.parametrize("bad, reason", [
    (b"\x00not json", "not JSON"),
    (b"[1, 2]", "format"),
    ({"version": 9}, "version"),
    ({"run": "../outside"}, "model"),
    ({"run": "/etc/passwd"}, "model"),
    ({"kind": "faces"}, "digits or tiles"),
    ({"state": "<b>won</b>"}, "state"),
    ({"seed": "7; rm"}, "seed"),
    ({"host": "x" * 200}, "host"),
    ({"pairs": []}, "pairs"),
    ({"pairs": [{"real": 1, "real_side": "left"}] * 21}, "pairs"),
    ({"pairs": [{"real": -1, "real_side": "left"}]}, "real image"),
    ({"pairs": [{"real": 1, "real_side": "both"}]}, "which side"),
    ({"started": "yesterday"}, "start time"),
    ({"id": "1765111111111-zzzzzz"}, "id"),
    (b" " * (quiz.MAX_ROUND_BYTES + 1), "KB"),
])
def test_a_hostile_round_file_is_refused_with_a_reason(tmp_path, bad, reason):
    started = _round(tmp_path)
    path = tmp_path / QUIZZES_DIR / f"{started.id}.json"
    if isinstance(bad, dict):
        bad = json.dumps({**started.to_json(), **bad}).encode()
    path.write_bytes(bad)
    with pytest.raises(QuizError, match=reason):
        quiz.load_round(tmp_path, started.id)
    assert quiz.current_round(tmp_path) is None  # never the room's round
    assert len(quiz.unreadable_rounds(tmp_path)) == 1
    with pytest.raises(QuizError):
        quiz_answers.answer(tmp_path, started.id, "student-ada", 0, "left")


def test_hand_made_answer_files_that_are_not_answers_are_not_counted(tmp_path):
    started = _round(tmp_path, pairs=2)
    folder = tmp_path / QUIZZES_DIR / started.id
    (folder / "student-eve").mkdir(parents=True)
    (folder / "student-eve" / "00").write_text("both")
    (folder / "student-eve" / "07").write_text("left")  # past the round's pairs
    (folder / "Not A Name").mkdir()
    (folder / "Not A Name" / "00").write_text("left")
    counted = quiz_answers.tally(tmp_path, started)
    assert (counted.answerers, counted.answered) == (0, 0)


def test_old_rounds_and_their_answers_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(quiz, "KEEP_ROUNDS", 2)
    first = _round(tmp_path)
    quiz_answers.answer(tmp_path, first.id, "session-a", 0, "left")
    rounds = [first] + [_round(tmp_path, seed=s) for s in range(2)]
    assert not (tmp_path / QUIZZES_DIR / f"{first.id}.json").exists()
    assert not (tmp_path / QUIZZES_DIR / first.id).exists()
    assert quiz.current_round(tmp_path) == rounds[-1]


@pytest.mark.parametrize("owner, expected", [("student:ada", "student-ada"), ("session:0f3a", "session-0f3a"),
                                             ("lecturer", "lecturer")])
def test_answerers_are_named_by_their_session(owner, expected):
    assert quiz_answers.answerer_id(owner) == expected
    with pytest.raises(QuizError):
        quiz_answers.answerer_id("student:../../x")


def test_a_hand_made_round_from_the_future_does_not_stop_new_rounds(tmp_path):
    future = _round(tmp_path).to_json() | {"id": "9999999999999-abcdef"}
    (tmp_path / QUIZZES_DIR / "9999999999999-abcdef.json").write_text(json.dumps(future))
    started = _round(tmp_path, seed=9)
    assert quiz.load_round(tmp_path, "9999999999999-abcdef").state == "closed"
    assert quiz.current_round(tmp_path) == started


def test_a_round_names_its_model_inside_the_runs_folder(tmp_path, trained_digits_ae):
    space_run = student_space(tmp_path, "bob") / "bobs-ae"
    shutil.copytree(trained_digits_ae, space_run)
    assert quiz.run_reference(tmp_path, space_run) == "students/bob/bobs-ae"
    started = quiz.start_round(tmp_path, "students/bob/bobs-ae", "digits", 2, 0, 10, "lecturer")
    assert quiz.run_folder(tmp_path, started) == space_run.resolve()
    with pytest.raises(QuizError):
        quiz.run_reference(tmp_path, tmp_path.parent)
    shutil.rmtree(space_run)
    with pytest.raises(QuizError, match="no longer"):
        quiz.run_folder(tmp_path, started)


def test_a_round_can_change_hands_and_keeps_its_pairs(tmp_path):
    started = _round(tmp_path)
    moved = quiz.take_over(tmp_path, started.id, "session:0a1b")
    assert moved.host == "session:0a1b" and moved.pairs == started.pairs
    assert quiz.current_round(tmp_path) == moved
    with pytest.raises(QuizError):
        quiz.take_over(tmp_path, started.id, "<script>")


def test_a_live_tally_follows_new_answers_and_agrees_with_a_fresh_count(tmp_path):
    started = _round(tmp_path, pairs=3)
    live = quiz_answers.RoomTally(tmp_path, started)
    assert (live.count().answerers, live.count().answered) == (0, 0)
    quiz_answers.answer(tmp_path, started.id, "session-a", 0, started.pairs[0].real_side)
    assert (live.count().answerers, live.count().correct) == (1, 1)
    for who in ("session-a", "session-b"):
        quiz_answers.answer(tmp_path, started.id, who, 2, _wrong(started.pairs[2].real_side))
    counted = live.count()
    assert counted == quiz_answers.tally(tmp_path, started)
    assert (counted.answerers, counted.answered, counted.correct) == (2, 3, 1)
    assert [p.answered for p in counted.pairs] == [1, 0, 2]
