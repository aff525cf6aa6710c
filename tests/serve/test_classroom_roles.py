"""Classroom roles and names: reserved names, the class code, atomic claims, release,
the passphrase guard shared by every session, and job budgets."""

from __future__ import annotations

import threading

import pytest

from gen_core.limits import LimitError
from gen_core.serve.budget import budget_problems, estimate_cost
from gen_core.serve.classroom import (LECTURER_SPACE, ClassroomError, ClassroomSettings, PassphraseGuard,
                                      claim_space, claimed_names, join_code, key_opens, new_join_code,
                                      release_name, student_slug, student_space)

SETTINGS = ClassroomSettings(enabled=True, passphrase="chalk", join_code="ROOM42")


@pytest.mark.parametrize("name", ["lecturer", "Lecturer", "the-lecturer", "lecturer2", "teacher_1", "Admin",
                                  "you", "another visitor", "started outside the app", "students"])
def test_names_of_roles_and_of_the_app_are_refused(name):
    with pytest.raises(ClassroomError, match="role"):
        student_slug(name)


def test_the_lecturers_gallery_key_can_never_be_a_students_name():
    with pytest.raises(ClassroomError):
        student_slug(LECTURER_SPACE)


def test_a_name_needs_the_class_code_and_is_claimed_once(tmp_path):
    with pytest.raises(ClassroomError, match="class code is not right"):
        claim_space(tmp_path, "ada", "WRONG", SETTINGS)
    assert not (tmp_path / "students" / "ada").exists(), "a refused claim leaves nothing behind"
    slug, key = claim_space(tmp_path, "ada", " room-42 ", SETTINGS)  # as typed off the projector
    assert slug == "ada" and key_opens(tmp_path, "ada", key) and not key_opens(tmp_path, "ada", "0" * 32)
    with pytest.raises(ClassroomError, match="is taken"):
        claim_space(tmp_path, "ada", "ROOM42", SETTINGS)
    assert [name for name, _ in claimed_names(tmp_path)] == ["ada"]


def test_two_sessions_claiming_one_name_at_once_never_both_get_it(tmp_path):
    for attempt in range(5):
        name, winners, start = f"bob{attempt}", [], threading.Barrier(8)

        def claim():
            start.wait()
            try:
                winners.append(claim_space(tmp_path, name, "ROOM42", SETTINGS))
            except ClassroomError:
                pass

        threads = [threading.Thread(target=claim) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(winners) == 1, f"{len(winners)} sessions got {name}"


def test_the_lecturer_releases_a_name_and_its_key_stops_working(tmp_path):
    _, key = claim_space(tmp_path, "cleo", "ROOM42", SETTINGS)
    release_name(tmp_path, "cleo")
    assert not key_opens(tmp_path, "cleo", key)
    claim_space(tmp_path, "cleo", "ROOM42", SETTINGS)  # free again


def test_without_an_operator_code_one_is_made_up_kept_and_renewable(tmp_path):
    settings = ClassroomSettings(enabled=True)
    code = join_code(tmp_path, settings)
    assert len(code) == 6 and join_code(tmp_path, settings) == code
    claim_space(tmp_path, "dan", code.lower(), settings)
    fresh = new_join_code(tmp_path)
    assert join_code(tmp_path, settings) == fresh
    with pytest.raises(ClassroomError):
        claim_space(tmp_path, "eve", code if code != fresh else "XXXXXX", settings)


def test_old_owner_files_still_prove_their_name(tmp_path):
    import hashlib
    space = student_space(tmp_path, "old")
    space.mkdir(parents=True)
    key = "ab" * 16
    (space / ".owner").write_text(hashlib.sha256(key.encode()).hexdigest())
    assert key_opens(tmp_path, "old", key)


def test_wrong_passphrases_lock_every_session_out_for_a_while():
    guard = PassphraseGuard(most=3, window=60, lockout=100)
    for second in range(3):
        assert not guard.check(SETTINGS, "guess", now=1000 + second)
    with pytest.raises(ClassroomError, match="locked"):
        guard.check(SETTINGS, "chalk", now=1010)  # even the right one waits: guessing is not rewarded
    assert guard.seconds_locked(1010) > 0 and guard.total_failures == 3 and guard.lockouts == 1
    assert guard.check(SETTINGS, "chalk", now=1103)


def test_a_job_is_costed_before_it_is_queued():
    wide = estimate_cost("vae", {"hidden": (100_000,), "latent_dim": 2}, (1, 28, 28), 128, 4500, 100)
    assert wide.parameters > 100_000_000 and wide.image_epochs == 450_000
    problems = budget_problems(wide, 5_000_000, 2 * 2**30, 2_000_000)
    assert len(problems) == 1 and "parameters" in problems[0]
    big_batch = estimate_cost("dcgan", {"latent_dim": 8}, (3, 64, 64), 8192, 4500, 100)
    assert any("one batch" in problem for problem in budget_problems(big_batch, 5_000_000, 2 * 2**30, 2_000_000))
    assert budget_problems(estimate_cost("ae", {"hidden": (64,), "latent_dim": 8}, (1, 28, 28), 128, 4500, 10),
                           5_000_000, 2 * 2**30, 2_000_000) == []
    with pytest.raises(LimitError):
        estimate_cost("vae", {"hidden": (10**12,), "latent_dim": 2}, (1, 28, 28), 128, 10, 1)
