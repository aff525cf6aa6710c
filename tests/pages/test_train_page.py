"""Train page: layer summary before training, starting and watching a run, the queue, quick start, resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from gen_core.models import build_model, layer_summary
from gen_core.models.presets import PRESETS
from gen_core.run import checkpoint, collection, layout, live
from gen_core.run.start import TrainingRequest, reserve_run_dir
from gen_core.serve import jobs

from .conftest import open_page, page_text

SMALL_PRESET = "AE, 1 hidden layer"  # 64-32-64 on 8x8 digits: well under a second per epoch
SMALL_KEY = "train_fit_ae_1_hidden_layer"


@pytest.fixture
def empty_root(runs_root, tmp_path, monkeypatch) -> Path:
    """A checkpoints folder of this test's own (runs_root first, so its session value comes back after)."""
    root = tmp_path / "checkpoints"
    root.mkdir()
    monkeypatch.setenv("GEN_CORE_CHECKPOINTS", str(root))
    monkeypatch.setattr(jobs, "_default_queue", jobs.JobQueue(limit=1, nice=0, threads=1, gpus=[]))
    yield root
    jobs.default_queue().close(timeout=60)  # never leave a run going for the next test


def finish_current_job(timeout: float = 180):
    """Wait for the newest job of the server's queue to end; its view (status, message, run_dir)."""
    views = jobs.default_queue().jobs()
    assert views, "no job was started"
    return jobs.default_queue().wait(max(v.id for v in views), timeout)


def wait_for(condition, what: str, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def choose_small_run(at, epochs: int = 1, measure: bool = False):
    at.selectbox(key="train_dataset").set_value("digits").run()
    at.selectbox(key="train_preset").set_value(SMALL_PRESET).run()
    at.number_input(key=f"{SMALL_KEY}_epochs").set_value(epochs)
    at.selectbox(key="train_device").set_value("cpu")
    at.checkbox(key="train_measure").set_value(measure)
    return at.run()


def test_layer_summary_shows_the_parameter_count_before_training(runs_root):
    at = open_page("train")
    at.selectbox(key="train_preset").set_value("AE, 5 hidden layers").run()
    preset = PRESETS["AE, 5 hidden layers"]
    expected = layer_summary(build_model("ae", **preset.model, image_shape=(1, 28, 28)))
    assert f"{expected.total_parameters:,} parameters" in page_text(at)
    table = at.dataframe[0].value
    assert len(table) == len(expected.rows) and table["parameters"].sum() == expected.total_parameters
    # the model is sized to the dataset's images: 8x8 digits give far fewer weights
    at.selectbox(key="train_dataset").set_value("digits").run()
    digits = layer_summary(build_model("ae", **preset.model, image_shape=(1, 8, 8))).total_parameters
    assert f"{digits:,} parameters" in page_text(at) and digits < expected.total_parameters
    assert not at.exception


def test_the_form_survives_a_visit_to_another_page(runs_root):
    at = open_page("train")
    at.selectbox(key="train_preset").set_value("Conv beta-VAE").run()
    at.number_input(key="train_model_conv_beta_vae_beta").set_value(2.5)
    at.number_input(key="train_fit_conv_beta_vae_epochs").set_value(3).run()
    at.switch_page("app_pages/models.py").run()
    at.switch_page("app_pages/train.py").run()
    assert at.selectbox(key="train_preset").value == "Conv beta-VAE"
    assert at.number_input(key="train_model_conv_beta_vae_beta").value == 2.5
    assert at.number_input(key="train_fit_conv_beta_vae_epochs").value == 3
    assert not at.exception


def test_settings_that_make_no_model_are_explained_and_block_start(runs_root):
    at = open_page("train")
    at.selectbox(key="train_preset").set_value(SMALL_PRESET).run()
    at.text_input(key="train_model_ae_1_hidden_layer_hidden").set_value("64, lots").run()
    assert any("do not make a model" in e.value and "whole numbers" in e.value for e in at.error)
    assert at.button(key="train_start").disabled
    assert not at.exception


def test_quick_start_is_offered_only_while_there_are_no_runs(empty_root, trained_runs, runs_root, monkeypatch):
    at = open_page("train")
    assert "Start with one click" in page_text(at)
    assert "On this machine right now that takes about" in page_text(at)  # timed, not promised
    assert at.button(key="train_quick_start").label == "Train the quick-start model"
    monkeypatch.setenv("GEN_CORE_CHECKPOINTS", str(runs_root))  # the folder with the tiny runs
    at = open_page("train")
    assert "Start with one click" not in page_text(at)
    assert not [b for b in at.button if b.key == "train_quick_start"]
    assert not at.exception


def test_a_run_started_from_the_page_trains_saves_and_becomes_active(empty_root):
    at = choose_small_run(open_page("train"), epochs=1, measure=True)
    at.text_input(key="train_run_name").set_value("from-the-page")
    at.button(key="train_start").click().run()
    assert not at.exception and not at.error
    snapshot = finish_current_job()
    assert snapshot.status == "completed", snapshot.message
    assert snapshot.pid != os.getpid(), "it trained in a process of its own"
    at.run()
    run_dir = empty_root / "from-the-page"
    assert (run_dir / layout.WEIGHTS_FILE).exists()
    assert collection.list_runs(empty_root)[0].epochs_done == 1
    assert any("from-the-page" in s.value and "is trained" in s.value for s in at.success)
    assert at.session_state["active_run"] == str(run_dir)
    assert len(at.get("plotly_chart")) == 1, "the finished run's loss curves, and no KL panel for an autoencoder"
    seen = live.read_live(run_dir)
    assert seen.metrics_state == "done", seen.metrics_message
    assert set(checkpoint.read_json(run_dir / layout.HISTORY_FILE)["metrics"]) == {"prior", "gmm"}
    assert "Metrics stored with the run" in page_text(at)
    assert not at.exception


def _trained_on_the_page(preset: str, epochs_key: str, name: str):
    """The Train page after a 2-epoch run of ``preset`` on the 8x8 digits, started there, has finished."""
    at = open_page("train")
    at.selectbox(key="train_dataset").set_value("digits").run()
    at.selectbox(key="train_preset").set_value(preset).run()
    at.number_input(key=epochs_key).set_value(2)
    at.selectbox(key="train_device").set_value("cpu")
    at.checkbox(key="train_measure").set_value(False)
    at.text_input(key="train_run_name").set_value(name)
    at.run()
    at.button(key="train_start").click().run()
    assert finish_current_job().status == "completed"
    at.run()
    assert not at.exception and not at.error
    return at


def test_a_finished_vae_shows_its_active_units_and_beta_per_epoch(empty_root):
    at = _trained_on_the_page("MLP VAE, latent 2", "train_fit_mlp_vae_latent_2_epochs", "vae-schedule")
    charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    assert len(charts) == 2, "the loss curves, then the KL schedule"
    epochs = checkpoint.read_history(empty_root / "vae-schedule")["epochs"]
    units, beta = charts[1]["data"]
    assert units["y"] == [entry["active_units"] for entry in epochs] and units["x"] == [1, 2]
    assert beta["y"] == [entry["beta"] for entry in epochs] and all(0 <= value <= 2 for value in units["y"])


def test_a_finished_gan_shows_the_classes_it_draws_and_its_discriminator_at_a_chosen_epoch(empty_root):
    at = _trained_on_the_page("DCGAN", "train_fit_dcgan_epochs", "gan-players")
    epochs = checkpoint.read_history(empty_root / "gan-players")["epochs"]
    charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    assert len(charts) == 3, "the loss curves, the classes among the samples, the discriminator's beliefs"
    shares = charts[1]["data"]
    assert [trace["y"] for trace in shares] == [[entry["class_shares"][digit] for entry in epochs]
                                                for digit in range(10)]
    assert charts[2]["data"][1]["y"] == epochs[1]["d_histogram"]["fake"], "the latest epoch first"
    at.select_slider(key="jobs_histogram_at_done").set_value(1).run()
    histogram = json.loads(at.get("plotly_chart")[2].proto.spec)
    assert histogram["data"][0]["y"] == epochs[0]["d_histogram"]["real"]
    assert "epoch 1" in histogram["layout"]["title"]["text"]


def test_two_sessions_pressing_start_get_one_training_and_one_queued_with_its_place(empty_root):
    first = choose_small_run(open_page("train"), epochs=10_000)
    first.text_input(key="train_run_name").set_value("long-run")
    first.button(key="train_start").click().run()
    second = choose_small_run(open_page("train"), epochs=1)
    second.text_input(key="train_run_name").set_value("next-run")
    second.button(key="train_start").click().run()
    assert not first.exception and not second.exception and not second.error
    text = page_text(second)
    assert "Your job next-run is waiting: place 1 of 1 in the queue" in text
    assert "Training long-run" in text and "Only the person who started it, or the lecturer, can stop it" in text
    assert not [b for b in second.button if b.key.startswith("jobs_stop_")], "no Stop for another's job"
    assert [(v.run_name, v.place) for v in jobs.default_queue().jobs()] == [("long-run", 0), ("next-run", 1)]

    wait_for(lambda: live.read_live(empty_root / "long-run").epochs, "the first epoch of long-run")
    first.run()
    assert "Training long-run" in page_text(first)
    next(b for b in first.button if b.key.startswith("jobs_stop_")).click().run()
    assert "Stopping" in page_text(first)
    assert finish_current_job().status == "completed", "next-run trains once long-run has stopped"
    first.run()
    second.run()
    assert any("long-run" in i.value and "saved epochs are kept" in i.value for i in first.info)
    assert any("next-run" in s.value and "is trained" in s.value for s in second.success)
    assert not first.exception and not second.exception


def test_a_killed_worker_fails_its_run_and_the_page_says_what_was_kept(empty_root):
    at = choose_small_run(open_page("train"), epochs=10_000)
    at.text_input(key="train_run_name").set_value("doomed")
    at.button(key="train_start").click().run()
    wait_for(lambda: live.read_live(empty_root / "doomed").epochs, "the first saved epoch")
    view = jobs.default_queue().jobs()[0]
    os.kill(view.pid, signal.SIGKILL)
    assert finish_current_job().status == "failed"
    at.run()
    message = " ".join(e.value for e in at.error)
    assert "doomed** failed" in message and "killed" in message and "saved epochs are kept" in message
    assert collection.list_runs(empty_root)[0].status == "failed" and collection.list_runs(empty_root)[0].epochs_done >= 1
    at.switch_page("app_pages/models.py").run()  # the app keeps serving
    assert "doomed" in page_text(at) and not at.exception


def test_a_run_that_fails_before_its_first_epoch_says_nothing_was_saved(empty_root):
    at = open_page("train")
    run_dir = reserve_run_dir(empty_root, "ae", "digits", "nan-run")
    request = TrainingRequest(run_dir, "ae", {"hidden": [16], "latent_dim": 2}, "digits", {},
                              {"epochs": 3, "batch_size": 64, "lr": 1e9, "device": "cpu", "sample_count": 4,
                               "log_every": 1})
    owner = f"session:{at.session_state['viewer_token']}"
    view = jobs.default_queue().submit(jobs.JobRequest(request, owner=owner))
    at.session_state["jobs_my_job"] = view.id
    assert finish_current_job().status == "failed"
    at.run()
    message = " ".join(e.value for e in at.error)
    assert "nan-run** failed" in message and "nan" in message.lower() and "Nothing was saved" in message
    assert not run_dir.exists() and not at.exception


def test_resume_adds_epochs_to_a_saved_run(empty_root, trained_runs):
    copy = empty_root / "tiny-ae-copy"
    shutil.copytree(trained_runs["ae"], copy)
    at = open_page("train")
    at.selectbox(key="train_resume_run").set_value(str(copy))
    at.number_input(key="train_resume_epochs").set_value(1)
    at.selectbox(key="train_device").set_value("cpu")
    at.checkbox(key="train_measure").set_value(False)
    at.button(key="train_resume").click().run()
    assert not at.error, [e.value for e in at.error]
    assert finish_current_job().status == "completed"
    assert collection.list_runs(empty_root)[0].epochs_done == 3  # 2 saved + 1 more
    assert not at.exception


def _zip_of_small_images(count: int = 24) -> bytes:
    import io
    import zipfile

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(count):
            image = Image.fromarray(rng.integers(0, 255, (12, 12), dtype=np.uint8))
            png = io.BytesIO()
            image.save(png, format="PNG")
            archive.writestr(f"{'ab'[index % 2]}/image_{index}.png", png.getvalue())
    return buffer.getvalue()


def test_an_uploaded_zip_of_images_is_kept_under_uploads_and_trained_on(empty_root):
    at = open_page("train")
    at.selectbox(key="train_dataset").set_value("folder").run()
    assert at.button(key="train_start").disabled, "no start before the images are given"
    at.radio(key="train_folder_source").set_value("Upload a zip").run()
    at.file_uploader(key="train_folder_upload").upload("my images.zip", _zip_of_small_images(), "application/zip")
    at.number_input(key="train_folder_size").set_value(8)
    at.radio(key="train_folder_channels").set_value(1).run()
    assert "for 1×8×8 images" in page_text(at)
    at.selectbox(key="train_preset").set_value(SMALL_PRESET).run()
    at.number_input(key=f"{SMALL_KEY}_epochs").set_value(1)
    at.selectbox(key="train_device").set_value("cpu")
    at.checkbox(key="train_measure").set_value(False)
    at.button(key="train_start").click().run()
    assert not at.error, [e.value for e in at.error]
    assert finish_current_job().status == "completed"
    saved = list((empty_root / "_uploads").glob("my-images-*.zip"))
    assert len(saved) == 1
    run = collection.list_runs(empty_root)[0]
    assert run.dataset == "folder" and checkpoint.read_config(run.path)["data"]["path"] == f"_uploads/{saved[0].name}"
    assert not at.exception


def test_a_vae_trains_on_the_embedded_tiles_from_the_page(empty_root):
    at = open_page("train")
    at.selectbox(key="train_dataset").set_value("tiles").run()
    at.number_input(key="train_tiles_size").set_value(16)
    at.number_input(key="train_tiles_count").set_value(300).run()
    at.selectbox(key="train_preset").set_value("MLP VAE, latent 2").run()
    assert "for 1×16×16 images" in page_text(at), "the layer summary is sized to the tiles"
    at.number_input(key="train_fit_mlp_vae_latent_2_epochs").set_value(2)
    at.selectbox(key="train_device").set_value("cpu")
    at.checkbox(key="train_measure").set_value(False)
    at.text_input(key="train_run_name").set_value("tiles-from-the-page")
    at.button(key="train_start").click().run()
    assert not at.error, [e.value for e in at.error]
    snapshot = finish_current_job()
    assert snapshot.status == "completed", snapshot.message
    config = checkpoint.read_config(empty_root / "tiles-from-the-page")
    assert config["data"]["name"] == "tiles" and config["data"]["tile_size"] == 16
    assert config["model"]["image_shape"] == [1, 16, 16]
    history = checkpoint.read_json(empty_root / "tiles-from-the-page" / layout.HISTORY_FILE)
    assert len(history["epochs"]) == 2 and all(epoch["test_loss"] > 0 for epoch in history["epochs"])
    assert (empty_root / "tiles-from-the-page" / "samples" / "epoch_002.png").exists()
    assert not at.exception


def test_each_described_setting_of_a_preset_gets_its_widget(empty_root):
    from gen_core.models import FAMILIES
    from gen_core.settings import settings_of
    from ui.train_widgets import slug

    at = open_page("train")
    for name in ("VAE-GAN", "DCGAN", "Conv AE"):
        at.selectbox(key="train_preset").set_value(name).run()
        assert not at.exception
        preset = PRESETS[name]
        config = FAMILIES[preset.family][0]
        shown = {widget.key for kind in ("number_input", "text_input", "selectbox") for widget in getattr(at, kind)}
        arch = preset.model.get("arch", next((s.default for s in settings_of(config) if s.name == "arch"), None))
        expected = {f"train_model_{slug(name)}_{s.name}" for s in settings_of(config)
                    if s.only_when is None or s.only_when == ("arch", arch)}
        assert expected <= shown, expected - shown
        hidden_for_conv = f"train_model_{slug(name)}_hidden"
        assert (hidden_for_conv in shown) == (arch == "mlp")


def test_a_taken_run_name_is_refused_before_start_and_the_field_empties_after_a_start(empty_root, trained_runs):
    shutil.copytree(trained_runs["ae"], empty_root / "taken")
    at = choose_small_run(open_page("train"))
    at.text_input(key="train_run_name").set_value("taken").run()
    assert any("A run called **taken** already exists" in error.value for error in at.error)
    assert at.button(key="train_start").disabled  # no silent "taken-2"
    at.text_input(key="train_run_name").set_value("my first run!").run()
    assert not at.error and not at.button(key="train_start").disabled
    assert "It will be saved as **my-first-run**" in page_text(at)
    at.button(key="train_start").click().run()
    assert not at.exception
    assert finish_current_job().status == "completed"
    at.run()
    assert (empty_root / "my-first-run" / layout.WEIGHTS_FILE).exists()
    assert at.text_input(key="train_run_name").value == ""  # the next run does not inherit the name


def test_the_owner_pauses_steps_and_changes_the_rate_of_a_running_job_and_others_see_no_controls(empty_root):
    from gen_core.run.control import read_control

    owner = choose_small_run(open_page("train"), epochs=10_000)
    owner.text_input(key="train_run_name").set_value("stepped")
    owner.button(key="train_start").click().run()
    run_dir = empty_root / "stepped"
    key = "jobs_ctl_stepped"
    wait_for(lambda: any(b.key == f"{key}_pause" for b in owner.run().button), "the job panel's controls")
    owner.button(key=f"{key}_pause").click().run()
    assert read_control(run_dir).paused and "Pausing after the current batch" in page_text(owner)
    wait_for(lambda: live.read_live(run_dir).is_paused, "the job to pause")
    owner.run()
    assert "Paused at step" in page_text(owner) and owner.button(key=f"{key}_resume")
    paused_at = live.read_live(run_dir).step
    owner.button(key=f"{key}_step_batch").click().run()
    wait_for(lambda: live.read_live(run_dir).control.get("steps_taken") == 1, "one step")
    assert live.read_live(run_dir).step == paused_at + 1
    owner.number_input(key=f"{key}_lr").set_value(0.0005)
    owner.button(key=f"{key}_apply_lr").click().run()
    assert read_control(run_dir).lr == 0.0005
    owner.button(key=f"{key}_resume").click().run()
    wait_for(lambda: any(c.get("lr") == 0.0005 for c in live.read_live(run_dir).controls), "the new rate in use")
    # the rate is recorded as soon as it is applied, which can be while still paused: resuming comes after
    wait_for(lambda: not live.read_live(run_dir).is_paused, "the job to resume")

    other = open_page("train")
    assert "Training stepped" in page_text(other)
    assert not [b for b in other.button if b.key.startswith(key)], "no controls for another's job"
    owner.run()
    chart = next(c for c in owner.get("plotly_chart") if "lr 0.0005" in c.proto.spec)
    assert '"dash":"dot"' in chart.proto.spec.replace(" ", ""), "the rate change is marked on the loss curves"
    next(b for b in owner.button if b.key.startswith("jobs_stop_")).click().run()
    assert finish_current_job().status == "stopped"
