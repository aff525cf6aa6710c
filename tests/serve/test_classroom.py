"""Classroom rules: safe student names, spaces, the lecturer's passphrase, per-student limits."""

from __future__ import annotations

import pytest

from gen_core.serve.classroom import (ClassroomError, ClassroomSettings, check_job_limits, space_owner, student_slug,
                                      student_space, student_spaces)


@pytest.mark.parametrize("name, slug", [("ada", "ada"), ("  Ada Lovelace ", "ada-lovelace"), ("bob_2", "bob_2"),
                                        ("X" * 31, "x" * 31)])
def test_names_become_short_folder_safe_slugs(name, slug):
    assert student_slug(name) == slug


@pytest.mark.parametrize("name", ["", "   ", "../bob", "/etc", "a/b", ".hidden", "-dash", "x" * 32, "ä" * 3,
                                  "a" * 10_000, None, 7, ["ada"], "bob\x00", "con.txt"])
def test_hostile_names_are_refused(name):
    with pytest.raises(ClassroomError):
        student_slug(name)


def test_spaces_live_under_the_runs_folder_and_know_their_owner(tmp_path):
    space = student_space(tmp_path, "ada")
    assert space == tmp_path / "students" / "ada"
    assert space_owner(tmp_path, space / "run-1") == "ada"
    assert space_owner(tmp_path, tmp_path / "lecturer-run") is None
    assert space_owner(tmp_path, tmp_path / "students" / "ada" / ".." / "bob" / "run") == "bob"
    assert space_owner(tmp_path, tmp_path.parent / "elsewhere" / "run") is None
    space.mkdir(parents=True)
    (tmp_path / "students" / "not a name").mkdir()
    assert student_spaces(tmp_path) == [space]


def test_settings_come_from_the_environment_with_safe_defaults():
    assert ClassroomSettings.from_mapping({}) == ClassroomSettings()
    assert not ClassroomSettings.from_mapping({}).enabled
    settings = ClassroomSettings.from_mapping({"LATENT_LAB_CLASSROOM": "yes", "LATENT_LAB_MAX_EPOCHS": "20",
                                               "LATENT_LAB_MAX_IMAGE_SIZE": "-3", "LATENT_LAB_MAX_RUNS_PER_STUDENT": "x"})
    assert settings.enabled and settings.max_epochs == 20
    assert settings.max_image_size == ClassroomSettings.max_image_size and settings.max_runs == ClassroomSettings.max_runs


def test_the_lecturer_passphrase_must_match_and_must_be_set():
    assert ClassroomSettings(passphrase="open sesame").is_lecturer_passphrase("open sesame")
    assert not ClassroomSettings(passphrase="open sesame").is_lecturer_passphrase("open")
    assert not ClassroomSettings(passphrase="").is_lecturer_passphrase("")
    assert not ClassroomSettings(passphrase="x").is_lecturer_passphrase(None)


def test_job_limits_say_which_limit_and_by_how_much():
    settings = ClassroomSettings(enabled=True, max_runs=3, max_epochs=50, max_image_size=32)
    check_job_limits(settings, 50, (1, 32, 32), runs_kept=2)
    with pytest.raises(ClassroomError, match="80 epochs is more than the 50"):
        check_job_limits(settings, 80, (1, 28, 28), runs_kept=0)
    with pytest.raises(ClassroomError, match="64-pixel images are larger than the 32"):
        check_job_limits(settings, 10, (3, 64, 64), runs_kept=0)
    with pytest.raises(ClassroomError, match="You keep 3 runs"):
        check_job_limits(settings, 10, (1, 28, 28), runs_kept=3)
    check_job_limits(settings, 10, (1, 28, 28), runs_kept=3, new_run=False)  # more epochs on a kept run
