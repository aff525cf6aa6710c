"""Classroom mode in the app: names in the URL, each student's own space, the class gallery, the
lecturer's passphrase, per-student limits; and a run started from a terminal showing live."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gen_core.run import checkpoint, layout, live
from gen_core.serve import jobs
from gen_core.serve.classroom import student_space

from .conftest import APP, page_text

PASSPHRASE = "chalk and talk"
CODE = "ROOM42"
TIMEOUT = 180


@pytest.fixture
def class_root(tmp_path, monkeypatch, trained_runs, runs_root):
    """A classroom: bob already has a run in his space; the lecturer has one at the top."""
    root = tmp_path / "class"
    monkeypatch.setenv("GEN_CORE_CHECKPOINTS", str(root))
    monkeypatch.setenv("LATENT_LAB_CLASSROOM", "1")
    monkeypatch.setenv("LATENT_LAB_LECTURER_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("LATENT_LAB_JOIN_CODE", CODE)
    monkeypatch.setattr(jobs, "_default_queue", jobs.JobQueue(limit=1, nice=0, threads=1, gpus=[]))
    shutil.copytree(trained_runs["ae"], student_space(root, "bob") / "bobs-ae")
    shutil.copytree(trained_runs["vae2"], root / "lecture-demo")
    yield root
    jobs.default_queue().close(timeout=60)


def visit(page: str, student: str | None = None, key: str | None = None, join: str | None = CODE) -> AppTest:
    """Open ``page`` as ``student``: with the key of their bookmark, or (a new name) the class code."""
    at = AppTest.from_file(APP, default_timeout=60)
    if student is not None:
        at.query_params["student"] = student
    if key is not None:
        at.query_params["key"] = key
    elif student is not None and join:
        at.query_params["join"] = join
    at.switch_page(f"app_pages/{page}.py")
    return at.run()


def keys(at: AppTest) -> set[str]:
    return {b.key for b in at.button if b.key}


def wait_for(condition, what: str):
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def start_small_run(at: AppTest, name: str, epochs: int) -> AppTest:
    at.switch_page("app_pages/train.py").run()
    at.selectbox(key="train_dataset").set_value("digits").run()
    at.selectbox(key="train_preset").set_value("AE, 1 hidden layer").run()
    at.number_input(key="train_fit_ae_1_hidden_layer_epochs").set_value(epochs)
    at.selectbox(key="train_device").set_value("cpu")
    at.checkbox(key="train_measure").set_value(False)
    at.text_input(key="train_run_name").set_value(name)
    return at.button(key="train_start").click().run()


def test_a_name_is_given_once_and_kept_in_the_url_with_its_key(class_root, trained_runs):
    at = visit("models")
    assert "Your name for this class" in [t.label for t in at.text_input]
    at.text_input(key="sidebar_name").input("Ada L")
    at.button(key="sidebar_name_enter").click().run()
    assert any("class code is not right" in e.value for e in at.error), "a name needs the class code"
    at.text_input(key="sidebar_join_code").input(CODE.lower())
    at.button(key="sidebar_name_enter").click().run()
    assert at.query_params["student"] == "ada-l" and len(at.query_params["key"]) == 32
    assert "You are **ada-l**" in page_text(at) and (class_root / "students" / "ada-l").is_dir()
    shutil.copytree(trained_runs["vae2"], class_root / "students" / "ada-l" / "adas-vae")
    at.switch_page("app_pages/samples.py").run()  # a page that writes its view into the address
    assert at.query_params.get("run") == "adas-vae"
    assert at.query_params["student"] == "ada-l" and at.query_params["key"], "the name stays in the URL"
    again = visit("models", "ada-l", at.query_params["key"])  # a reload or a bookmark
    assert "You are **ada-l**" in page_text(again)
    impostor = visit("models", "ada-l", join=None)  # the name without its key
    assert "You are" not in page_text(impostor) and "student" not in impostor.query_params
    impostor.text_input(key="sidebar_name").input("ada-l")
    impostor.text_input(key="sidebar_join_code").input(CODE)
    impostor.button(key="sidebar_name_enter").click().run()
    assert any("is taken in this class" in e.value for e in impostor.error)
    assert not at.exception and not again.exception and not impostor.exception


@pytest.mark.parametrize("name", ["../../etc", "/tmp/x", "a" * 300, "bob/../../x", "%2e%2e"])
def test_a_hostile_name_in_the_url_is_ignored(class_root, name):
    at = visit("models", name)
    assert "You are" not in page_text(at) and not at.exception
    assert sorted(p.name for p in (class_root / "students").iterdir()) == ["bob"]


def test_a_student_sees_the_gallery_read_only_and_can_explore_anothers_run(class_root):
    ada = visit("models", "ada")
    assert "Class gallery" in page_text(ada)
    ada.selectbox(key="models_gallery_owner").set_value("bob").run()
    assert "bobs-ae" in page_text(ada)
    assert "models_activate_bob_bobs-ae" in keys(ada)
    assert not {"models_rename_go_bob_bobs-ae", "models_delete_bob_bobs-ae"} & keys(ada), "no rename or delete"
    ada.button(key="models_activate_bob_bobs-ae").click().run()
    ada.switch_page("app_pages/samples.py").run()  # the explore pages work on it
    assert "Random samples" in page_text(ada) and not ada.exception
    assert (student_space(class_root, "bob") / "bobs-ae" / layout.WEIGHTS_FILE).exists()


def test_a_student_cannot_stop_anothers_job_and_the_lecturer_can_stop_and_delete(class_root, monkeypatch):
    monkeypatch.setenv("LATENT_LAB_MAX_EPOCHS", "10000")  # a run long enough to be stopped
    monkeypatch.setenv("LATENT_LAB_MAX_IMAGE_EPOCHS", "100000000")
    bob = visit("train", "bob")
    start_small_run(bob, "bobs-long-run", epochs=10_000)
    assert not bob.exception and not bob.error, [e.value for e in bob.error]
    run_dir = student_space(class_root, "bob") / "bobs-long-run"
    wait_for(lambda: live.read_live(run_dir).epochs, "the first epoch of bob's run")

    ada = visit("train", "ada")
    text = page_text(ada)
    assert "Training bobs-long-run" in text and "Only the person who started it, or the lecturer, can stop it" in text
    assert not [k for k in keys(ada) if k.startswith("jobs_stop_") or k.startswith("jobs_queue_stop_")]
    ada.switch_page("app_pages/models.py").run()
    ada.selectbox(key="models_gallery_owner").set_value("bob").run()
    assert not [k for k in keys(ada) if k.startswith("models_delete_")]

    lecturer = visit("train")
    lecturer.text_input(key="sidebar_passphrase").input("wrong guess")
    lecturer.button(key="sidebar_lecturer_enter").click().run()
    assert any("not right" in e.value for e in lecturer.error)
    lecturer.text_input(key="sidebar_passphrase").input(PASSPHRASE)
    lecturer.button(key="sidebar_lecturer_enter").click().run()
    stop = [k for k in keys(lecturer) if k.startswith("jobs_stop_")]
    assert stop, "the lecturer may stop anyone's job"
    lecturer.button(key=stop[0]).click().run()
    view = jobs.default_queue().wait(jobs.default_queue().jobs()[0].id, TIMEOUT)
    assert view.status == "stopped" and checkpoint.load_run(run_dir).history["status"] == "stopped"

    lecturer.switch_page("app_pages/models.py").run()
    lecturer.selectbox(key="models_gallery_owner").set_value("bob").run()
    lecturer.checkbox(key="models_delete_sure_bob_bobs-ae").check().run()
    lecturer.button(key="models_delete_bob_bobs-ae").click().run()
    assert not (student_space(class_root, "bob") / "bobs-ae").exists()
    assert any("Deleted" in s.value for s in lecturer.success)
    assert not ada.exception and not lecturer.exception


def test_per_student_limits_refuse_a_job_with_the_reason(class_root, monkeypatch):
    monkeypatch.setenv("LATENT_LAB_MAX_EPOCHS", "5")
    ada = start_small_run(visit("train", "ada"), "too-long", epochs=10)
    assert any("10 epochs is more than the 5 allowed" in e.value for e in ada.error)
    assert not jobs.default_queue().jobs() and not (student_space(class_root, "ada") / "too-long").exists()
    monkeypatch.setenv("LATENT_LAB_MAX_RUNS_PER_STUDENT", "1")
    bob = start_small_run(visit("train", "bob"), "one-more", epochs=1)  # bob keeps bobs-ae already
    assert any("You keep 1 runs, the most allowed here is 1" in e.value for e in bob.error)


def test_without_a_name_a_classroom_visitor_cannot_start(class_root):
    at = visit("train")
    assert at.button(key="train_start").disabled
    assert "Give your name in the sidebar first" in page_text(at)


def test_a_run_written_by_the_cli_shows_live_in_the_app_and_can_be_stopped(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("GEN_CORE_CHECKPOINTS", str(root))
    monkeypatch.setattr(jobs, "_default_queue", jobs.JobQueue(limit=1, nice=0, threads=1, gpus=[]))
    run_dir = root / "from-a-terminal"
    terminal = subprocess.Popen(
        [sys.executable, "-m", "gen_core", "train", "--model", "ae", "--dataset", "digits", "--epochs", "100000",
         "--hidden", "16", "--latent-dim", "2", "--device", "cpu", "--out", str(run_dir), "--no-eval"],
        cwd=Path(APP).parent, env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(live.read_live(run_dir).epochs) >= 1, "the terminal run's first epoch")
        at = visit("train")
        text = page_text(at)
        assert "Training from-a-terminal" in text and "Started outside the app" in text
        assert "Jobs on this server: 1 training" in text
        at.switch_page("app_pages/models.py").run()
        assert "training now" in page_text(at)
        at.switch_page("app_pages/train.py").run()
        stop = [k for k in keys(at) if k.startswith("jobs_stop_")]
        assert stop, "on a laptop a run started outside the app can be stopped from it"
        at.button(key=stop[0]).click().run()
        _, errors = terminal.communicate(timeout=TIMEOUT)
        assert terminal.returncode == 0, errors[-500:]
    finally:
        if terminal.poll() is None:
            terminal.kill()
    history = checkpoint.load_run(run_dir).history
    assert history["status"] == "stopped" and history["epochs"]
    assert not at.exception


def test_nobody_can_take_the_lecturers_place(class_root):
    """Issue 18: "lecturer" was a name a student could claim; it then shadowed the lecturer's runs."""
    at = visit("models", "lecturer")
    assert "You are" not in page_text(at) and "student" not in at.query_params
    assert any("role" in w.value for w in at.warning), "the refused name is said, not dropped"
    assert not (class_root / "students" / "lecturer").exists()
    ada = visit("models", "ada")
    ada.selectbox(key="models_gallery_owner").set_value(":lecturer").run()
    assert "lecture-demo" in page_text(ada) and not ada.exception


def test_a_bookmark_with_a_wrong_key_is_said_and_a_nameless_visitor_saves_nothing(class_root):
    bob = visit("models", "bob")
    wrong = visit("train", "bob", key="0" * 32)
    assert any("does not prove the name bob" in w.value for w in wrong.warning)
    assert "You are" not in page_text(wrong) and bob.query_params.get("key")
    nameless = visit("train")
    nameless.selectbox(key="train_dataset").set_value("folder").run()
    nameless.radio(key="train_folder_source").set_value("Upload a zip").run()
    assert "uploads are kept under it" in page_text(nameless) and not nameless.exception
    assert not (class_root / "_uploads").exists()


def test_the_lecturer_sees_the_code_and_the_names_and_can_release_one(class_root):
    visit("models", "ada")
    lecturer = visit("models")
    lecturer.text_input(key="sidebar_passphrase").input(PASSPHRASE)
    lecturer.button(key="sidebar_lecturer_enter").click().run()
    assert f"Class code: **{CODE}**" in page_text(lecturer)
    lecturer.button(key="sidebar_release_ada").click().run()
    assert not (student_space(class_root, "ada") / ".owner").exists()


def test_a_students_job_is_costed_against_the_budgets_before_it_is_queued(class_root, monkeypatch):
    monkeypatch.setenv("LATENT_LAB_MAX_PARAMETERS", "1000")
    ada = start_small_run(visit("train", "ada"), "too-wide", epochs=1)
    assert any("parameters, more than the 1,000 allowed per job here" in e.value for e in ada.error)
    assert not jobs.default_queue().jobs() and not (student_space(class_root, "ada") / "too-wide").exists()
