"""Step-through training's request channel: control.json written by a viewer, read by the run's writer
through one schema; a running run pauses, steps, takes a new rate and shows where it stands."""

from __future__ import annotations

import json

import pytest

from gen_core.run import checkpoint, layout, live
from gen_core.run.control import MAX_CONTROL_BYTES, ControlReader, read_control, request_control
from gen_core.run.start import TrainingRun
from gen_core.training import TrainConfig, Trainer
from gen_core.training.events import Control, Step
from gen_core.training.stepping import ControlError, Controls


def test_a_step_request_pauses_the_run_and_counts_up(tmp_runs):
    first = request_control(tmp_runs, step="batch")
    second = request_control(tmp_runs, step="epoch", step_player="discriminator")
    assert (first.paused, first.step_id, second.step_id, second.step_unit) == (True, 1, 2, "epoch")
    assert read_control(tmp_runs) == second and second.step_player == "discriminator"
    assert not request_control(tmp_runs, paused=False).paused and read_control(tmp_runs).step_id == 2


@pytest.mark.parametrize("change", [{"lr": 0.0}, {"lr": 1.5}, {"d_steps": 11}, {"step_count": 1001},
                                    {"step_player": "referee"}, {"rm": "-rf"}])
def test_a_request_out_of_bounds_is_refused_and_nothing_is_written(tmp_runs, change):
    with pytest.raises(ControlError):
        request_control(tmp_runs, **change)
    assert not (tmp_runs / layout.CONTROL_FILE).exists()


@pytest.mark.parametrize("content, why", [
    (b"\xff\xfe", "not valid JSON"), (b"{", "not valid JSON"), (b"[1, 2]", "must be an object"),
    (b'{"lr": 1e400}', "lr"), (b'{"paused": 1}', "paused"), (b" " * (MAX_CONTROL_BYTES + 1), "larger than")])
def test_a_hostile_control_file_is_refused_with_a_reason_and_no_path(tmp_runs, content, why):
    (tmp_runs / layout.CONTROL_FILE).write_bytes(content)
    with pytest.raises(ControlError, match=why) as error:
        read_control(tmp_runs)
    assert str(tmp_runs) not in str(error.value)


def test_the_reader_parses_the_file_only_when_it_changed(tmp_runs):
    reader = ControlReader(tmp_runs)
    assert reader() is None, "no file, nothing asked"
    request_control(tmp_runs, lr=0.01)
    assert reader() == Controls(lr=0.01) and reader() is None
    (tmp_runs / layout.CONTROL_FILE).write_text('{"lr": "fast"}')
    with pytest.raises(ControlError):
        reader()
    assert reader() is None, "a broken file is reported once, not at every batch"


def _run(build_tiny, mnist_small, run_dir, epochs=2) -> TrainingRun:
    config = TrainConfig(epochs=epochs, batch_size=64, device="cpu", sample_count=4, sample_epochs=(0,), log_every=2)
    return TrainingRun(Trainer(build_tiny("vae-mlp"), mnist_small, config), run_dir)


def test_a_run_pauses_steps_and_takes_a_new_rate_through_its_folder(build_tiny, mnist_small, tmp_runs):
    run_dir = tmp_runs / "step-me"
    run_dir.mkdir()
    request_control(run_dir, paused=True)  # left over from an earlier process: the new writer clears it
    run = _run(build_tiny, mnist_small, run_dir)
    seen = []
    run.writer  # made now: it clears the request left over
    assert not (run_dir / layout.CONTROL_FILE).exists()

    def on_event(event):
        if isinstance(event, Step) and event.entry["step"] == 2 and not seen:
            request_control(run_dir, paused=True)
        if isinstance(event, Control) and event.grid is not None:
            shown = live.read_live(run_dir)
            seen.append((shown.step, shown.control["steps_taken"], shown.is_paused, shown.step_grid_path is not None))
            if len(seen) == 1:
                request_control(run_dir, step="batch")
            else:
                request_control(run_dir, paused=False, lr=1e-4)

    history = run.fit(on_event=on_event)
    assert seen == [(2, 0, True, True), (3, 1, True, True)], "paused after step 2; one step is one batch"
    assert history["status"] == "completed" and history["controls"] == [{"step": 3, "epoch": 1, "lr": 1e-4}]
    assert checkpoint.load_run(run_dir).history["controls"] == history["controls"], "saved with the checkpoint"
    assert run.trainer.optimizers["model"].param_groups[0]["lr"] == 1e-4
    assert not live.read_live(run_dir).is_paused and live.read_live(run_dir).step_grid_path is None


def test_a_hostile_file_during_a_run_is_ignored_and_said_so_in_progress(build_tiny, mnist_small, tmp_runs):
    run_dir = tmp_runs / "hostile"
    run = _run(build_tiny, mnist_small, run_dir, epochs=1)
    run.writer  # the writer clears old requests when made; the hostile one comes after
    (run_dir / layout.CONTROL_FILE).write_text(json.dumps({"paused": True, "lr": -3}))
    messages = []
    history = run.fit(on_event=lambda event: messages.append(live.read_status(run_dir)["control"]["message"])
                      if isinstance(event, Control) else None)
    assert history["status"] == "completed" and "controls" not in history
    assert messages[0].startswith("Control request ignored: lr must be a number above 0")
