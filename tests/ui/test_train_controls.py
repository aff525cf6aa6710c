"""The step-through controls of the Train page's job panel: each one writes what it says into the run's
control request; a GAN gets its players and ratio, a VAE its beta."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from gen_core.run.control import read_control


def _controls_script():
    """The controls of a running run, as the job panel draws them for who may stop it."""
    from pathlib import Path

    import streamlit as st

    from gen_core.run.live import LiveRun
    from ui.train_controls import step_through

    paused = st.session_state["paused"]
    run = LiveRun(run_dir=Path(st.session_state["run_dir"]), status="running", step=42,
                  control={"paused": paused, "steps_taken": 2, "lr": 2e-4, "beta": 1.0} if paused else {})
    step_through(run, None, st.session_state["family"])


def _open(tmp_path, family: str, paused: bool = False) -> AppTest:
    at = AppTest.from_function(_controls_script)
    at.session_state["run_dir"], at.session_state["family"], at.session_state["paused"] = str(tmp_path), family, paused
    return at.run()


def test_a_gan_run_is_paused_stepped_by_one_player_and_given_a_ratio(tmp_path):
    at = _open(tmp_path, "dcgan")
    key = f"jobs_ctl_{tmp_path.name}"
    assert not at.exception and not [n for n in at.number_input if n.key == f"{key}_beta"], "a DCGAN has no beta"
    at.button(key=f"{key}_pause").click().run()
    assert read_control(tmp_path).paused and at.button(key=f"{key}_resume")
    at.selectbox(key=f"{key}_player").set_value("discriminator").run()
    at.button(key=f"{key}_step_epoch").click().run()
    asked = read_control(tmp_path)
    assert (asked.step_id, asked.step_unit, asked.step_player) == (1, "epoch", "discriminator")
    at.number_input(key=f"{key}_d_steps").set_value(3).run()
    at.button(key=f"{key}_apply_ratio").click().run()
    assert (read_control(tmp_path).d_steps, read_control(tmp_path).g_steps) == (3, 1)
    assert "ratio applies from the next batch" in " ".join(i.value for i in at.info)
    at.button(key=f"{key}_resume").click().run()
    assert not read_control(tmp_path).paused and read_control(tmp_path).step_id == 1


def test_a_vae_run_is_stepped_a_batch_and_given_a_new_rate_and_beta(tmp_path):
    at = _open(tmp_path, "vae", paused=True)
    key = f"jobs_ctl_{tmp_path.name}"
    assert "Paused at step 42 · 2 steps taken while paused" in " ".join(c.value for c in at.caption)
    assert not [s for s in at.selectbox if s.key == f"{key}_player"], "one player: nothing to choose"
    assert at.number_input(key=f"{key}_lr").value == 2e-4, "the rate starts at the one the run trains with"
    at.button(key=f"{key}_step_batch").click().run()
    asked = read_control(tmp_path)
    assert (asked.paused, asked.step_id, asked.step_unit, asked.step_player) == (True, 1, "batch", "both")
    at.number_input(key=f"{key}_lr").set_value(0.01).run()
    at.button(key=f"{key}_apply_lr").click().run()
    at.number_input(key=f"{key}_beta").set_value(4.0).run()
    at.button(key=f"{key}_apply_beta").click().run()
    assert (read_control(tmp_path).lr, read_control(tmp_path).beta) == (0.01, 4.0) and not at.exception


def test_a_broken_request_file_is_replaced_by_the_next_request(tmp_path):
    (tmp_path / "control.json").write_text('{"lr": "fast", "paused": "maybe"}')
    at = _open(tmp_path, "ae")
    key = f"jobs_ctl_{tmp_path.name}"
    assert at.button(key=f"{key}_pause"), "an unreadable request reads as none"
    at.button(key=f"{key}_pause").click().run()
    assert read_control(tmp_path).paused and not at.exception
