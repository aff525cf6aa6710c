"""Models page: the run list, make active, rename, delete with confirmation, zip out and back in."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gen_core.run import checkpoint, layout

from conftest import write_long_run

from .conftest import open_page, page_text


@pytest.fixture
def own_root(trained_runs, tmp_path, monkeypatch) -> Path:
    """Copies of two tiny runs in a folder of this test's own, so renames and deletes stay here."""
    root = tmp_path / "checkpoints"
    for key in ("ae", "vae2"):
        shutil.copytree(trained_runs[key], root / trained_runs[key].name)
    monkeypatch.setenv("GEN_CORE_CHECKPOINTS", str(root))
    return root


def test_lists_every_run_with_its_facts_curves_and_samples(own_root):
    (own_root / "broken").mkdir()
    (own_root / "broken" / layout.CONFIG_FILE).write_text("{not json")
    at = open_page("models")
    text = page_text(at)
    assert "tiny-ae" in text and "tiny-vae2" in text and "2 runs, 1 unreadable" in text
    assert "VAE / beta-VAE · mnist5k · 2/2 epochs · completed" in text
    assert "Autoencoder · mnist5k · 2/2 epochs · completed" in text
    assert "test loss" in text
    assert any("broken" in e.value and "cannot be read" in e.value for e in at.error)
    assert len(at.get("plotly_chart")) == 2, "one loss thumbnail per readable run"
    assert sorted(image.captions[0] for image in at.image) == [  # a grid per readable run, saying what it shows
        "samples, epoch 2", "test images over their reconstructions, epoch 2"]
    assert not at.exception


def test_make_active_switches_the_active_model(own_root):
    at = open_page("models", active_run=own_root / "tiny-ae")
    at.button(key="models_activate_tiny-vae2").click().run()
    assert at.session_state["active_run"] == str(own_root / "tiny-vae2")
    assert any("tiny-vae2" in s.value and "active model" in s.value for s in at.success)
    assert at.button(key="models_activate_tiny-vae2").disabled  # it is the active one now
    assert not at.exception


def test_rename_moves_the_folder_and_keeps_it_active(own_root):
    at = open_page("models", active_run=own_root / "tiny-vae2")
    at.text_input(key="models_rename_tiny-vae2").set_value("my digits vae")
    at.button(key="models_rename_go_tiny-vae2").click().run()
    renamed = own_root / "my-digits-vae"
    assert renamed.is_dir() and not (own_root / "tiny-vae2").exists()
    assert checkpoint.load_run(renamed).name == "my-digits-vae"
    assert at.session_state["active_run"] == str(renamed)
    assert "my-digits-vae" in page_text(at)
    assert not at.exception


def test_rename_to_a_taken_name_is_refused_with_a_message(own_root):
    at = open_page("models")
    at.text_input(key="models_rename_tiny-vae2").set_value("tiny-ae")
    at.button(key="models_rename_go_tiny-vae2").click().run()
    assert any("already exists" in e.value for e in at.error)
    assert (own_root / "tiny-vae2").is_dir()
    assert not at.exception


def test_delete_needs_the_confirmation_then_removes_the_folder(own_root):
    at = open_page("models")
    assert at.button(key="models_delete_tiny-ae").disabled, "no delete without ticking the box"
    at.checkbox(key="models_delete_sure_tiny-ae").check().run()
    assert not at.button(key="models_delete_tiny-ae").disabled
    at.button(key="models_delete_tiny-ae").click().run()
    assert not (own_root / "tiny-ae").exists() and (own_root / "tiny-vae2").is_dir()
    assert any("Deleted" in s.value for s in at.success)
    assert "1 run" in page_text(at)
    assert not at.exception


def test_a_downloaded_zip_imports_back_as_a_new_run(own_root, deferred_downloads):
    at = open_page("models")
    assert {"tiny-ae.zip", "tiny-vae2.zip"} <= set(deferred_downloads)
    data = deferred_downloads["tiny-vae2.zip"]()
    assert data[:2] == b"PK"
    at.file_uploader(key="models_upload").upload("tiny-vae2.zip", data, "application/zip").run()
    assert any("Imported" in s.value for s in at.success), [e.value for e in at.error]
    imported = own_root / "tiny-vae2-2"
    assert checkpoint.load_run(imported).family == "vae"
    assert "3 runs" in page_text(at)
    at.run()  # the same upload on a rerun is not imported a second time
    assert sorted(p.name for p in own_root.iterdir()) == ["tiny-ae", "tiny-vae2", "tiny-vae2-2"]
    assert not at.exception


def test_an_upload_that_is_not_a_zip_shows_the_error(own_root):
    at = open_page("models")
    at.file_uploader(key="models_upload").upload("weights.zip", b"certainly not a zip", "application/zip").run()
    assert any("not a zip archive" in e.value for e in at.error)
    assert sorted(p.name for p in own_root.iterdir()) == ["tiny-ae", "tiny-vae2"]
    assert not at.exception


def test_an_empty_checkpoints_folder_points_to_the_train_page(runs_root, tmp_path, monkeypatch):
    monkeypatch.setenv("GEN_CORE_CHECKPOINTS", str(tmp_path / "nothing-here"))
    at = open_page("models")
    assert "No saved runs yet" in page_text(at)
    assert any("Go to Train" in str(link.proto) for link in at.get("page_link"))
    assert not at.exception


def test_a_run_with_stored_metrics_shows_its_headline_numbers(own_root):
    from gen_core.metrics import store_final_metrics

    store_final_metrics(own_root / "tiny-vae2", {"sampler": "prior", "metrics": {"ssim": 0.5, "elbo": -150.25}})
    text = page_text(open_page("models"))
    assert "SSIM of reconstructions: **0.5 (prior)**" in text and "ELBO (beta = 1): **-150.2 (prior)**" in text
    assert "No metrics yet" in text, "the run without metrics says so"


def test_the_demo_set_goes_into_the_job_queue_and_the_train_page_lists_and_stops_it(own_root, monkeypatch):
    import sys

    from gen_core.serve import demos, jobs, worker

    monkeypatch.setattr(worker, "train_command",  # workers that only sleep: this checks the queue, not training
                        lambda arguments, processes=1: [sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        at = open_page("models")
        assert not at.exception
        assert all(f"**{demo.name}**" in page_text(at) for demo in demos.DEMOS)
        at.button(key="demos_quick").click().run()
        assert not at.exception
        queued = demos.demo_jobs(jobs.default_queue(), own_root)
        assert [view.run_name for view in queued] == [demo.name for demo in demos.DEMOS]
        assert any("Training the demo set" in bar.proto.text for bar in at.get("progress"))
        assert not [button for button in at.button if button.key in ("demos_full", "demos_quick")]

        train = open_page("train")
        text = page_text(train)
        assert all(demo.name in text for demo in demos.DEMOS), "the Train page lists every demo job"
        waiting = queued[-1]
        train.button(key=f"jobs_queue_stop_{waiting.id}").click().run()
        assert not train.exception
        assert jobs.default_queue().view(waiting.id).status == jobs.CANCELLED
        assert len(demos.demo_jobs(jobs.default_queue(), own_root)) == len(demos.DEMOS) - 1
    finally:
        jobs.default_queue().close(timeout=10)


def test_a_run_past_epoch_1000_shows_its_newest_grid_on_its_card(own_root, build_tiny):
    write_long_run(own_root / "long-run", build_tiny("ae-mlp"))
    at = open_page("models")
    assert not at.exception
    captions = [caption for image in at.image for caption in image.captions]
    assert any("epoch 1001" in caption for caption in captions), captions
    assert not any("epoch 999" in caption for caption in captions)
