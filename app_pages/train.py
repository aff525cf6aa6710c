"""Train: pick a dataset and a model, watch it learn, and keep the result as the active model.

Each run trains in a worker process of its own, queued when others train (ui/train_jobs.py); this
page only queues it and reads its run folder, so leaving the page, reloading it or opening a second
tab finds the same run, and other visitors see it too.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import streamlit as st

from gen_core.errors import GenCoreError
from gen_core.models import FAMILY_LABELS
from gen_core.models.presets import PRESETS, QUICK_START
from gen_core.run.start import train_config_from_dict
from gen_core.serve.jobs import gpu_count
from ui import classroom, presentation, state
from ui.estimates import quick_start_estimate
from ui.live_runs import queue
from ui.run_name import forget_run_name, run_name_input
from ui.train_jobs import has_own_job, jobs_section, processes_note, submit_new_run, submit_resume
from ui.train_widgets import (dataset_label, dataset_options_inputs, dataset_rows,
                              keep_form_across_pages, layer_table, model_settings_inputs, training_settings_inputs)

DEFAULT_PRESET = "MLP VAE, latent 2"


# -- page ------------------------------------------------------------------------------------------
keep_form_across_pages()
st.title("Train")
st.caption("Pick a dataset and a model, adjust its settings, and watch it learn. Training keeps going "
           "when you switch pages; the result becomes the active model for the explore pages.")

who = classroom.viewer()
if not state.list_runs() and not has_own_job():
    with st.container(border=True):
        st.subheader("New here? Start with one click")
        hidden = "-".join(str(size) for size in QUICK_START.model["hidden"])
        st.markdown(f"Trains a small VAE (dense layers 784-{hidden}-{QUICK_START.model['latent_dim']} and back: the "
                    f"*MLP VAE, latent 2* preset at half its width) on the 4,500 MNIST digits that ship with the app, "
                    f"for {QUICK_START.training['epochs']} epochs. "
                    f"{quick_start_estimate()} Its 2-d latent space can be drawn as a map afterwards.")
        if st.button("Train the quick-start model", type="primary", icon=":material/bolt:", key="train_quick_start"):
            with state.user_errors("Could not start the quick start: "):
                submit_new_run(QUICK_START.family, QUICK_START.model, "mnist5k", {},
                               asdict(train_config_from_dict(QUICK_START.training)), (1, 28, 28), name="quick-start")
                st.rerun()

jobs_section()

st.header("New training run")
# the lecture view gives the layer table (the page's picture) the larger share of a 1024-wide projector
settings_col, summary_col = st.columns([2, 3] if presentation.is_on() else [1, 1], gap="large")
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
    run_name, name_ok = run_name_input(classroom.own_space())
    measure = st.checkbox("Measure the model when training ends", value=True, key="train_measure",
                          help="Reconstruction, likelihood, MMD, Fréchet distance, sharpness... with the prior and "
                               "the per-class GMM sampler, stored with the run. About 30 s on a CPU (the first "
                               "time per dataset a small feature classifier is trained too).")

with summary_col, presentation.main_picture():
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
        # no "part" column: each layer's name starts with its part (encoder, decoder, discriminator...);
        # widths in pixels so the three columns fit half the page of a 1024-wide projector (about 305 px)
        st.dataframe(table["records"], hide_index=True, width="stretch", height=420,
                     column_order=("layer", "output shape", "parameters"), column_config={
            "layer": st.column_config.TextColumn("layer", width=185),
            "output shape": st.column_config.TextColumn("output", width=56),
            "parameters": st.column_config.NumberColumn("params", format="localized", width=64)})

with settings_col:
    processes = 1
    if gpu_count() > 1 and fit_settings["device"] != "cpu":
        processes = int(st.number_input("GPUs for this run", 1, gpu_count(), 1, key="train_processes",
                                        help="More than one trains with DistributedDataParallel through torchrun, "
                                             "one process per GPU; the batch size is per process."))
    st.caption(processes_note(processes, fit_settings["device"]))
    busy = len(queue().jobs(include_ended=False))
    if busy:
        st.caption(f"{busy} job{'s are' if busy > 1 else ' is'} training or waiting on this server; a new one "
                   "takes its place in the queue.")
    named = not who.classroom or who.lecturer or who.student is not None
    if not named:
        st.info("Give your name in the sidebar first: your runs are kept under it.")
    ready = dataset_choice is not None and table is not None and named and name_ok
    if st.button("Start training", type="primary", icon=":material/play_arrow:", key="train_start",
                 disabled=not ready, width="stretch"):
        options, shape = dataset_choice
        with state.user_errors("Could not start: "):
            submit_new_run(preset.family, model_settings, dataset_name, options, fit_settings, shape,
                           name=run_name, measure=measure, processes=processes)
            forget_run_name()
            st.rerun()

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
                submit_resume(Path(chosen), int(extra),
                              device=st.session_state.get("train_device", "auto"),
                              measure=st.session_state.get("train_measure", True))
                st.rerun()
