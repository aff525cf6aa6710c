"""Train: pick a dataset and a model, watch it learn, and keep the result as the active model.

Training runs in a background thread owned by the process (gen_core.jobs), so leaving the page,
reloading it or opening a second tab finds the same run; this page only polls its snapshot.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from gen_core.checkpoints import WEIGHTS_FILE
from gen_core.errors import GenCoreError, TrainingError
from gen_core.jobs import current_job, start_job
from gen_core.models import FAMILY_LABELS, family_class
from gen_core.pipeline import prepare_training, resume_training, train_config_from_dict
from gen_core.presets import PRESETS, QUICK_START
from ui import state
from ui.train_widgets import (cached_dataset, dataset_label, dataset_options_inputs, dataset_rows, enlarged,
                              format_duration, keep_form_across_pages, layer_table, make_active,
                              model_settings_inputs, steps_per_epoch, training_settings_inputs)
from ui.views.loss_charts import loss_curves_figure

WATCHED = "train_watched_run"  # run folder this session started: made active when it ends
JUST_ENDED = "train_just_ended"  # that run's folder, for the one rerun that announces the result
DEFAULT_PRESET = "MLP VAE, latent 2"


def launch(trainer, measure: bool = True) -> None:
    """Start ``trainer`` in the background, or say why not (another run is still going).

    With ``measure`` the finished run is scored (metrics stored with it) in the same thread.
    """
    try:
        start_job(trainer, trainer.run_name, measure_at_end=measure)
    except TrainingError as error:
        st.error(str(error))
        return
    st.session_state[WATCHED] = str(trainer.run_dir)
    st.rerun()


def job_is_active() -> bool:
    job = current_job()
    return job is not None and job.snapshot().is_active


def curves_and_samples(snapshot, per_epoch: float | None, key: str) -> None:
    chart_col, samples_col = st.columns([3, 2])
    with chart_col:
        if snapshot.steps or snapshot.epochs:
            figure = loss_curves_figure(snapshot.steps, snapshot.epochs, steps_per_epoch=per_epoch)
            st.plotly_chart(figure, width="stretch", key=f"train_curves_{key}", config={"displayModeBar": False})
        else:
            st.caption("The loss curves appear after the first logged batches.")
    with samples_col:
        if snapshot.latest_samples is not None:
            st.image(enlarged(snapshot.latest_samples, 480),
                     caption=f"Samples after epoch {snapshot.latest_samples_epoch} (fixed noise, so epochs compare)",
                     output_format="PNG")
        else:
            st.caption("A sample grid appears after the first epoch.")


def live_panel(job) -> None:
    """Redrawn every second by the fragment; a full rerun once the run has ended."""
    snapshot = job.snapshot()
    if not snapshot.is_active:
        settle_watched_run(snapshot)  # here, in a fragment rerun, the sidebar's picker can follow
        st.rerun()
    with st.container(border=True):
        title_col, stop_col = st.columns([5, 1])
        title_col.subheader(f"Training {snapshot.run_name}")
        if stop_col.button("Stop", key="train_stop", icon=":material/stop_circle:", width="stretch",
                           help="Finish the current batch, save the run and end."):
            job.stop()
            st.session_state["train_stop_sent"] = snapshot.run_dir
        current = min(snapshot.epoch + 1, snapshot.total_epochs)
        stopping = " · stopping…" if st.session_state.get("train_stop_sent") == snapshot.run_dir else ""
        eta = format_duration(snapshot.eta_seconds) if snapshot.eta_seconds else "estimating…"
        st.progress(snapshot.fraction, text=f"Epoch {current} of {snapshot.total_epochs} · {snapshot.fraction:.0%}"
                                            f" · time left: {eta}{stopping}")
        curves_and_samples(snapshot, steps_per_epoch(job), key="live")


def settle_watched_run(snapshot) -> None:
    """Once the run this session started has ended, make it the active model (when it saved)."""
    if st.session_state.get(WATCHED) != snapshot.run_dir:
        return
    st.session_state.pop(WATCHED)
    st.session_state[JUST_ENDED] = snapshot.run_dir
    if snapshot.run_dir and (Path(snapshot.run_dir) / WEIGHTS_FILE).exists():
        make_active(snapshot.run_dir)


def run_was_moved(snapshot) -> bool:
    """A run that saved epochs but whose folder is gone was renamed or deleted: old news."""
    return bool(snapshot.run_dir and snapshot.epochs) and not Path(snapshot.run_dir).is_dir()


def metrics_note(snapshot) -> None:
    """How the scoring after training is going (the model is usable meanwhile)."""
    if snapshot.metrics_state == "computing":
        st.progress(snapshot.metrics_fraction, text=f"Measuring the model: {snapshot.metrics_message} "
                                                   "(you can explore it meanwhile)")
    elif snapshot.metrics_state == "done":
        st.caption(f":material/analytics: {snapshot.metrics_message} See them on the Models and Evaluate pages.")
    elif snapshot.metrics_state == "failed":
        st.warning(snapshot.metrics_message)


def finished_panel(job) -> None:
    snapshot = job.snapshot()
    settle_watched_run(snapshot)
    saved = bool(snapshot.run_dir) and (Path(snapshot.run_dir) / WEIGHTS_FILE).exists()
    just_ended = st.session_state.pop(JUST_ENDED, None) == snapshot.run_dir
    is_active = saved and str(state.active_run_path()) == str(Path(snapshot.run_dir))
    active_note = " It is now the active model: explore it with the pages in the sidebar." if is_active else ""
    name = f"**{snapshot.run_name}**"
    if snapshot.status == "completed":
        st.success(f"{name} is trained: {snapshot.message}{active_note}", icon=":material/check_circle:")
    elif snapshot.status == "stopped":
        st.info(f"{name}: {snapshot.message} The saved epochs are kept.{active_note}",
                icon=":material/stop_circle:")
    else:
        kept = ("" if "checkpoint is kept" in snapshot.message else " The last good checkpoint is kept.") \
            if saved else " Nothing was saved: it failed before the first epoch ended."
        st.error(f"{name} failed: {snapshot.message}{kept}{active_note}", icon=":material/error:")
    if snapshot.metrics_state == "computing":
        st.fragment(run_every=2.0)(lambda: metrics_note(job.snapshot()))()
    else:
        metrics_note(snapshot)
    with st.expander("Loss curves and samples of this run", expanded=just_ended):
        curves_and_samples(snapshot, steps_per_epoch(job), key="done")


# -- page ------------------------------------------------------------------------------------------
keep_form_across_pages()
st.title("Train")
st.caption("Pick a dataset and a model, adjust its settings, and watch it learn. Training keeps going "
           "when you switch pages; the result becomes the active model for the explore pages.")

if not state.list_runs() and not job_is_active():
    with st.container(border=True):
        st.subheader("New here? Start with one click")
        hidden = "-".join(str(size) for size in QUICK_START.model["hidden"])
        st.markdown(f"Trains a small VAE (dense layers 784-{hidden}-{QUICK_START.model['latent_dim']} and back) on "
                    f"the 4,500 MNIST digits that ship with the app, for {QUICK_START.training['epochs']} epochs. "
                    "It takes seconds on a laptop CPU, and its 2-d latent space can be drawn as a map afterwards.")
        if st.button("Train the quick-start model", type="primary", icon=":material/bolt:", key="train_quick_start"):
            with state.user_errors("Could not start the quick start: "):
                launch(prepare_training(QUICK_START.family, QUICK_START.model, cached_dataset("mnist5k", {}),
                                        train_config_from_dict(QUICK_START.training), root=state.runs_root(),
                                        name="quick-start"))

job = current_job()
if job is not None and job.snapshot().is_active:
    st.fragment(run_every=1.0)(live_panel)(job)
elif job is not None and not run_was_moved(job.snapshot()):
    finished_panel(job)

st.header("New training run")
settings_col, summary_col = st.columns([1, 1], gap="large")
with settings_col:
    st.subheader("1 · Data")
    rows = dataset_rows()
    names = list(rows)
    dataset_name = st.selectbox("Dataset", names, index=names.index("mnist5k"), key="train_dataset",
                                format_func=lambda n: dataset_label(rows[n]))
    st.caption(rows[dataset_name]["description"])
    dataset_choice = dataset_options_inputs(dataset_name)

    st.subheader("2 · Model")
    preset_names = list(PRESETS)
    preset = PRESETS[st.selectbox("Preset", preset_names, index=preset_names.index(DEFAULT_PRESET),
                                  key="train_preset")]
    st.caption(f"{FAMILY_LABELS[preset.family]}: {preset.description}")
    model_settings = model_settings_inputs(preset)

    st.subheader("3 · Training")
    fit_settings = training_settings_inputs(preset)
    run_name = st.text_input("Run name (optional)", key="train_run_name",
                             placeholder="default: family-dataset-date-time").strip() or None
    measure = st.checkbox("Measure the model when training ends", value=True, key="train_measure",
                          help="Reconstruction, likelihood, MMD, Fréchet distance, sharpness... with the prior and "
                               "the per-class GMM sampler, stored with the run. About 30 s on a CPU (the first "
                               "time per dataset a small feature classifier is trained too).")

with summary_col:
    st.subheader("Layer summary")
    table = None
    if dataset_choice is None:
        st.caption("The summary appears once the data is chosen (it sizes the model to the images).")
    else:
        image_shape = dataset_choice[1]
        try:
            table = layer_table(preset.family, model_settings, tuple(image_shape))
        except GenCoreError as error:
            st.error(f"These settings do not make a model: {error}")
    if table is not None:
        trainable = "all trainable" if table["trainable"] == table["total"] else f"{table['trainable']:,} trainable"
        st.markdown(f"**{table['total']:,} parameters** ({trainable}) · {table['total'] * 4 / 2**20:.1f} MB "
                    f"of weights · for {image_shape[0]}×{image_shape[1]}×{image_shape[2]} images")
        decoder_name = "decoder" if family_class(preset.family).has_encoder else "generator"
        records = [{**row, "part": row["part"].replace("decoder/generator", decoder_name)} for row in table["records"]]
        st.dataframe(records, hide_index=True, width="stretch", height=420, column_config={
            "part": st.column_config.TextColumn("part", width="small"),
            "layer": st.column_config.TextColumn("layer", width="medium"),
            "output shape": st.column_config.TextColumn("output", width="small"),
            "parameters": st.column_config.NumberColumn("parameters", format="localized", width="small")})

with settings_col:
    if job_is_active():
        st.caption("A run is training now; a new one can start when it ends or is stopped.")
    ready = dataset_choice is not None and table is not None
    if st.button("Start training", type="primary", icon=":material/play_arrow:", key="train_start",
                 disabled=not ready, width="stretch"):
        options, _ = dataset_choice
        with state.user_errors("Could not start: "):
            dataset = cached_dataset(dataset_name, options)
            launch(prepare_training(preset.family, model_settings, dataset, train_config_from_dict(fit_settings),
                                    root=state.runs_root(), name=run_name), measure=measure)

with st.expander("Resume a saved run", icon=":material/replay:"):
    saved_runs = [run for run in state.list_runs() if not run.error]
    if not saved_runs:
        st.caption("No saved runs yet.")
    else:
        by_path = {str(run.path): run for run in saved_runs}
        run_col, epochs_col = st.columns([3, 1])
        chosen = run_col.selectbox("Run", list(by_path), key="train_resume_run",
                                   format_func=lambda p: f"{by_path[p].name} · {by_path[p].family} · "
                                                         f"{by_path[p].epochs_done} epochs · {by_path[p].status}")
        extra = epochs_col.number_input("More epochs", 1, 10_000, 5, key="train_resume_epochs")
        st.caption("Continues with the saved optimiser state and the run's own settings, on the device chosen "
                   "above; the new epochs are added to the same run folder.")
        if st.button("Resume", icon=":material/replay:", key="train_resume"):
            with state.user_errors("Could not resume: "):
                launch(resume_training(Path(chosen), int(extra), device=st.session_state.get("train_device", "auto")),
                       measure=st.session_state.get("train_measure", True))
