"""The job parts of the Train page: queue a run, watch it train, stop it, see everyone's jobs.

A run trains in a worker process of its own (gen_core.serve.jobs); this module only queues it and reads
its run folder. Everything here is redrawn by a fragment every second while anything trains or
waits, and shows the same to every session: the queue and its places, each job's owner, the live
curves of the run being watched. Stop and cancel buttons, and the step-through controls
(ui/train_controls.py), appear only for jobs this viewer may control (ui/classroom.py).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from gen_core.atomic import disk_errors
from gen_core.data.folders import survey_image_folder
from gen_core.errors import GenCoreError
from gen_core.limits import MAX_DATASET_BYTES
from gen_core.models import family_class
from gen_core.run import checkpoint, layout, live
from gen_core.run.collection import list_runs
from gen_core.run.start import TrainingRequest, discard_unused, reserve_run_dir
from gen_core.serve import jobs
from gen_core.serve.budget import JobCost, budget_problems, estimate_cost
from gen_core.serve.classroom import ClassroomError, check_job_limits
from gen_core.training.events import FINAL_STATUSES, RunStatus
from ui import classroom, presentation, state
from ui.live_runs import grid_image, live_run, queue, run_family, run_latent_dim, step_grid_image, training_runs
from ui.model_notes import latest_grid_caption
from ui.text import plain
from ui.train_controls import step_through
from ui.train_widgets import dataset_rows, enlarged, format_duration, make_active
from ui.views.gan_players import class_shares_figure, d_histogram_figure, histogram_epochs
from ui.views.loss_charts import kl_schedule_figure, loss_curves_figure

WATCHED = "jobs_watched_run"  # run folder of this session's newest job: made active when it ends
JUST_ENDED = "jobs_just_ended"  # that run's folder, for the one rerun that announces the result
MY_JOB = "jobs_my_job"  # id of this session's newest job
FLASH = "jobs_flash"  # (kind, text) left by a button's callback


# -- starting --------------------------------------------------------------------------------------
def processes_note(processes: int, device: str) -> str:
    where = "the CPU" if device == "cpu" or jobs.gpu_count() == 0 else \
        ("one GPU" if processes == 1 else f"{processes} GPUs, one process each (torchrun)")
    return f"The run trains in {processes} process{'es' if processes > 1 else ''} of its own, on {where}."


def is_student() -> bool:
    who = classroom.viewer()
    return who.classroom and not who.lecturer


def check_limits(epochs: int, image_shape, new_run: bool, cost: JobCost | None = None) -> None:
    """A student's job must stay within the operator's limits and budgets (the lecturer's and a
    laptop's need not)."""
    who = classroom.viewer()
    if not is_student():
        return
    if who.student is None:
        raise ClassroomError("Give your name in the sidebar first: your runs are kept under it")
    config = classroom.settings()
    kept = len(list_runs(classroom.own_space(who)))
    check_job_limits(config, epochs, image_shape, kept, new_run=new_run)
    problems = [] if cost is None else budget_problems(cost, config.max_parameters, config.max_batch_mb * 2**20,
                                                       config.max_image_epochs)
    used = queue().seconds_used(who.owner) / 60
    if used >= config.student_minutes:
        problems.append(f"your jobs have trained for {used:.0f} minutes, the {config.student_minutes} minutes "
                        "each student has on this server (the lecturer can help)")
    if problems:
        raise ClassroomError("This job is too large for this server: " + "; ".join(problems) + ".")


def job_cost(family: str, model_settings: dict, dataset: str, dataset_options: dict, training: dict,
             image_shape) -> JobCost:
    """A new run's cost, its dataset sized from file listings and headers only (nothing decoded here)."""
    train_images = dataset_rows().get(dataset, {}).get("train_size") or 0
    if dataset == "folder":
        most = classroom.settings().max_dataset_mb * 2**20 if is_student() else MAX_DATASET_BYTES
        with classroom.uploads_scope():
            survey = survey_image_folder(dataset_options.get("path", ""), int(dataset_options.get("size", 64)),
                                         dataset_options.get("channels", 3), most_bytes=most)
        train_images = survey.files
    elif dataset == "tiles":
        train_images = int(dataset_options.get("tiles_per_epoch") or 0)
    return estimate_cost(family, model_settings, image_shape, int(training.get("batch_size", 128)), train_images,
                         int(training.get("epochs", 1)))


def submit_new_run(family: str, model_settings: dict, dataset: str, dataset_options: dict, training: dict,
                   image_shape, name: str | None = None, measure: bool = True, processes: int = 1) -> None:
    """Queue a new run (its folder is reserved now); raise GenCoreError with the reason when it cannot be."""
    check_limits(int(training["epochs"]), image_shape, new_run=True)  # the quick refusals first
    check_limits(int(training["epochs"]), image_shape, new_run=True,
                 cost=job_cost(family, model_settings, dataset, dataset_options, training, image_shape))
    with disk_errors("start the run"):
        run_dir = reserve_run_dir(classroom.own_space(), family, dataset, name)
    try:
        _submit(TrainingRequest(run_dir, family, model_settings, dataset, dataset_options, training,
                                processes=processes, evaluate=measure))
    except GenCoreError:
        discard_unused(run_dir, made=run_dir)
        raise


def submit_resume(run_dir: Path, extra_epochs: int, device: str, measure: bool) -> None:
    if not classroom.can_manage_run(run_dir):
        raise ClassroomError("Only the owner of a run (or the lecturer) can train it further")
    config = checkpoint.read_config(run_dir)
    model = config.get("model", {})
    image_shape = model.get("image_shape") or ()
    cost = None
    if is_student() and image_shape:
        settings = {k: v for k, v in model.items() if k != "image_shape"}
        cost = estimate_cost(str(config.get("family", "")), settings, image_shape,
                             int(config.get("training", {}).get("batch_size", 128)), 0, 0)
    check_limits(int(extra_epochs), image_shape, new_run=False, cost=cost)
    _submit(TrainingRequest(Path(run_dir), resume=True, extra_epochs=int(extra_epochs), training={"device": device},
                            evaluate=measure))


def _submit(training: TrainingRequest) -> None:
    who = classroom.viewer()
    time_limit = classroom.settings().max_job_minutes * 60.0 if is_student() else None
    view = queue().submit(jobs.JobRequest(training, owner=who.owner, owner_label=who.label, person=who.person,
                                          time_limit=time_limit, one_waiting=not who.lecturer))
    st.session_state[MY_JOB], st.session_state[WATCHED] = view.id, str(view.run_dir)


# -- actions (button callbacks, so the rerun that follows already shows their effect) --------------
def stop_job(job_id: int, owner: str) -> None:
    if not classroom.can_control_job(owner):
        st.session_state[FLASH] = ("error", "Only the person who started this job (or the lecturer) can stop it.")
        return
    outcome = queue().stop(job_id)
    st.session_state[FLASH] = ("info", "Cancelled: the job left the queue." if outcome == "cancelled" else
                               "Stopping: the current step finishes, the epoch is saved, then the run ends.")


def stop_outside_run(run_dir: str) -> None:
    if not classroom.can_control_job(None):
        st.session_state[FLASH] = ("error", "Only the lecturer can stop a run started outside the app.")
        return
    live.request_stop(Path(run_dir))
    st.session_state[FLASH] = ("info", "Stopping: the current step finishes, the epoch is saved, then the run ends.")


# -- what the page shows -----------------------------------------------------------------------------
def anything_active() -> bool:
    """Whether any job trains or waits, or any run trains outside the app."""
    return bool(queue().jobs(include_ended=False)) or bool(training_runs())


def has_own_job() -> bool:
    """Whether this viewer has a job training or waiting."""
    owner = classroom.viewer().owner
    return any(view.owner == owner for view in queue().jobs(include_ended=False))


def jobs_section() -> None:
    """The live panel of the watched run, this viewer's place in the queue, and everyone's jobs."""
    if anything_active():
        st.fragment(run_every=1.0)(_jobs_panel)()
    else:
        _jobs_panel()


def _jobs_panel() -> None:
    _settle_my_job()  # may rerun the app: before the flash below is taken
    who = classroom.viewer()
    views = queue().jobs()
    flash = st.session_state.pop(FLASH, None)
    if flash:
        getattr(st, flash[0])(flash[1])
    finished_panel()
    queued_dirs = {str(v.run_dir) for v in views if v.is_training}
    outside = [run for run in training_runs() if str(run.run_dir.resolve()) not in queued_dirs]
    training = [v for v in views if v.is_training and live_run(v.run_dir).status not in FINAL_STATUSES]
    watched = next((v for v in training if v.owner == who.owner), training[0] if training else None)
    if watched is not None:
        live_panel(live_run(watched.run_dir), watched.owner, watched.owner_label, watched)
    elif outside:
        live_panel(outside[0], None, "", None)
    waiting = next((v for v in views if v.owner == who.owner and v.is_waiting), None)
    if waiting is not None:
        waiting_panel(waiting)
    others = len(training) + len(outside) + sum(v.is_waiting for v in views)
    if others > (1 if watched is not None or outside else 0) + (waiting is not None):
        queue_table([v for v in views if v.state != jobs.ENDED], outside)


def live_panel(run: live.LiveRun, owner: str | None, label: str, view: jobs.JobView | None) -> None:
    with st.container(border=True):
        title_col, stop_col = st.columns([5, 1])
        whose = classroom.owner_label(owner, label)
        title_col.subheader(f"Training {plain(run.run_dir.name)}")
        title_col.caption("Started outside the app (a terminal, or another machine writing to this folder)"
                          if owner is None else f"Started by {plain(whose)}")
        starting = view is not None and view.state == jobs.STARTING
        if classroom.can_control_job(owner):
            key = f"jobs_stop_{view.id if view else run.run_dir.name}"
            if view is not None:
                stop_col.button("Stop", key=key, icon=":material/stop_circle:", width="stretch",
                                disabled=view.stopping, on_click=stop_job, args=(view.id, owner),
                                help="Finish the current batch, save the run and end.")
            else:
                stop_col.button("Stop", key=key, icon=":material/stop_circle:", width="stretch",
                                on_click=stop_outside_run, args=(str(run.run_dir),),
                                disabled=live.stop_requested(run.run_dir),
                                help="Ask the process to finish its current batch, save the run and end.")
        else:
            stop_col.caption("Only the person who started it, or the lecturer, can stop it.")
        stopping = " · stopping…" if (view is not None and view.stopping) or live.stop_requested(
            run.run_dir) else ""
        if starting:
            st.progress(0.0, text=f"Starting a training process for {plain(whose)}…{stopping}")
        else:
            current = min(run.epoch + 1, run.total_epochs) if run.total_epochs else run.epoch
            eta = format_duration(run.eta_seconds) if run.eta_seconds else "estimating…"
            processes = f" · {view.processes} processes" if view is not None and view.processes > 1 else ""
            st.progress(run.fraction, text=f"Epoch {current} of {run.total_epochs} · {run.fraction:.0%} · "
                                           f"time left: {eta}{processes}{stopping}")
            if run.is_active and (view is None or view.processes == 1):  # one process: it can pause alone
                step_through(run, owner, run_family(run))
        curves_and_samples(run, key="live")


def curves_and_samples(run: live.LiveRun, key: str) -> None:
    chart_col, samples_col = st.columns([3, 2])
    with chart_col:
        if run.steps or run.epochs:
            figure = loss_curves_figure(run.steps, run.epochs, steps_per_epoch=run.steps_per_epoch,
                                        titles=getattr(family_class(run_family(run)), "loss_titles", None),
                                        controls=run.controls, columns=2 if presentation.is_on() else 3,
                                        font_px=presentation.CHART_FONT[presentation.is_on()])
            st.plotly_chart(presentation.style_figure(figure), width="stretch", key=f"jobs_curves_{key}",
                            config={"displayModeBar": False})
            schedule = kl_schedule_figure(run.epochs, latent_dim=run_latent_dim(run))
            if schedule is not None:
                st.plotly_chart(presentation.style_figure(schedule), width="stretch", key=f"jobs_kl_schedule_{key}",
                                config={"displayModeBar": False})
                presentation.note("Active units: latent dimensions whose posterior mean still varies over the test "
                                  "images (variance above 0.01); the others are ignored by the decoder. Beta: the "
                                  "KL term's weight each epoch, rising from 0 during a KL warm-up.")
        else:
            st.caption("The loss curves appear after the first logged batches.")
    with samples_col:
        grid, paused_grid = grid_image(run), step_grid_image(run)
        if paused_grid is not None:
            st.image(enlarged(paused_grid, 480), output_format="PNG",
                     caption=f"The fixed noise decoded at step {run.step:,}, where the paused run stands")
        elif grid is not None:
            current = min(run.epoch + 1, run.total_epochs) if run.is_active else None
            st.image(enlarged(grid, 480), output_format="PNG",
                     caption=latest_grid_caption(run_family(run), run.samples_epoch, current))
        else:
            st.caption("A sample grid appears after the first epoch.")
    two_players(run, key)


def two_players(run: live.LiveRun, key: str) -> None:
    """A GAN at its grid epochs: the classes among its fixed-noise samples over training, and the
    discriminator's beliefs on real and generated images at a chosen epoch (nothing for other runs)."""
    shares = class_shares_figure(run.epochs)
    epochs = histogram_epochs(run.epochs)
    if shares is None and not epochs:
        return
    shares_col, histogram_col = st.columns(2)
    if shares is not None:
        shares_col.plotly_chart(presentation.style_figure(shares), width="stretch", key=f"jobs_class_shares_{key}",
                                config={"displayModeBar": False})
    if epochs:
        with histogram_col:
            chosen = epochs[-1]
            if len(epochs) > 1:
                chosen = st.select_slider("Epoch", epochs, value=epochs[-1], key=f"jobs_histogram_at_{key}", width=300)
            st.plotly_chart(presentation.style_figure(d_histogram_figure(run.epochs, chosen)), width="stretch",
                            key=f"jobs_d_histogram_{key}", config={"displayModeBar": False})
    presentation.note("At each sample-grid epoch: a classifier's share of each digit among the samples from the "
                      "fixed noise (one digit taking over is mode collapse), and how many real and generated images "
                      "the discriminator believes real with each probability: far apart, the discriminator is "
                      "winning; on top of each other, the generator has caught up.")


def waiting_panel(view: jobs.JobView) -> None:
    with st.container(border=True):
        text_col, cancel_col = st.columns([5, 1])
        waiting_count = sum(v.is_waiting for v in queue().jobs(include_ended=False))
        text_col.markdown(f"**Your job {plain(view.run_name)} is waiting: place {view.place} of {waiting_count} "
                          f"in the queue** · {start_estimate(view)}")
        text_col.caption(f"At most {queue().limit} job{'s' if queue().limit > 1 else ''} train at once on this "
                         "server; each person may have one job waiting.")
        cancel_col.button("Cancel", key=f"jobs_cancel_{view.id}", icon=":material/cancel:", width="stretch",
                          on_click=stop_job, args=(view.id, view.owner))


def start_estimate(view: jobs.JobView) -> str:
    if view.estimated_start is None:
        return "starts when the jobs ahead of it end"
    if view.estimated_start < 5:
        return "starts in a moment"
    return f"estimated start in about {format_duration(view.estimated_start)}"


def queue_table(views: list[jobs.JobView], outside: list[live.LiveRun]) -> None:
    """Everyone's jobs: training ones with their progress, then the waiting ones in order."""
    st.markdown(f"**On this server** · at most {queue().limit} training at once")
    for view in views:
        whose = classroom.owner_label(view.owner, view.owner_label)
        if view.is_training:
            run = live_run(view.run_dir)
            state = "starting" if view.state == jobs.STARTING else \
                f"training · epoch {run.epoch}/{run.total_epochs} · {run.fraction:.0%}"
        else:
            state = f"waiting · place {view.place} · {start_estimate(view)}"
        _queue_row(view.run_name, whose, state, view)
    for run in outside:
        _queue_row(run.run_dir.name, "started outside the app",
                   f"training · epoch {run.epoch}/{run.total_epochs} · {run.fraction:.0%}", None)


def _queue_row(name: str, whose: str, state: str, view: jobs.JobView | None) -> None:
    text_col, button_col = st.columns([5, 1])
    text_col.markdown(f"{plain(name)} · {plain(whose)} · {state}")
    if view is not None and view.owner != classroom.viewer().owner and classroom.can_control_job(view.owner):
        button_col.button("Cancel" if view.is_waiting else "Stop", key=f"jobs_queue_stop_{view.id}",
                          disabled=view.stopping, on_click=stop_job, args=(view.id, view.owner))


def _my_job() -> jobs.JobView | None:
    return queue().view(st.session_state.get(MY_JOB, -1))


def _training_done(view: jobs.JobView) -> bool:
    """The job's training has ended (its process may still be scoring the run)."""
    return view.state == jobs.ENDED or live_run(view.run_dir).status in FINAL_STATUSES


def _settle_my_job() -> None:
    """Once this session's run has finished training, make it the active model (when it saved one)."""
    watched, view = st.session_state.get(WATCHED), _my_job()
    if not watched or view is None or not _training_done(view):
        return
    st.session_state.pop(WATCHED)
    st.session_state[JUST_ENDED] = watched
    if live.read_live(Path(watched)).has_weights:
        make_active(watched)
    st.rerun(scope="app")  # the sidebar's picker and the page's lists follow


def finished_panel() -> None:
    """How this session's newest job ended (or that it is trained and being scored), with its curves."""
    view = _my_job()
    if view is None or view.status == jobs.CANCELLED or not _training_done(view):
        return
    run = live_run(view.run_dir) if (view.run_dir / layout.LIVE_FILE).exists() else None
    if run is None and view.status != "failed":
        return  # renamed or deleted since: old news
    status = view.status or run.status
    message = plain(view.message or run.message)
    just_ended = st.session_state.pop(JUST_ENDED, None) == str(view.run_dir)
    saved = run is not None and run.has_weights
    is_active = saved and str(state.active_run_path()) == str(view.run_dir)
    active_note = " It is now the active model: explore it with the pages in the sidebar." if is_active else ""
    name = f"**{plain(view.run_name)}**"
    if status == RunStatus.COMPLETED:
        st.success(f"{name} is trained: {message}{active_note}", icon=":material/check_circle:")
    elif status == RunStatus.STOPPED:
        st.info(f"{name}: {message} The saved epochs are kept.{active_note}" if saved else f"{name}: {message}",
                icon=":material/stop_circle:")
    else:
        kept = ("" if "kept" in message else " The last good checkpoint is kept.") if saved else \
            " Nothing was saved: it failed before the first epoch ended."
        st.error(f"{name} failed: {message}{kept}{active_note}", icon=":material/error:")
    if run is not None:
        metrics_note(run)
        with st.expander("Loss curves and samples of this run", expanded=just_ended):
            curves_and_samples(run, key="done")


def metrics_note(run: live.LiveRun) -> None:
    """How the scoring after training is going (the model is usable meanwhile)."""
    if run.metrics_state == "computing":
        st.progress(run.metrics_fraction, text=f"Measuring the model: {plain(run.metrics_message)} "
                                               "(you can explore it meanwhile)")
    elif run.metrics_state == "done":
        st.caption(f":material/analytics: {plain(run.metrics_message)} See them on the Models and Evaluate pages.")
    elif run.metrics_state in ("failed", "skipped"):
        st.warning(plain(run.metrics_message))
