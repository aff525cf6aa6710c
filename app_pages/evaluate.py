"""Evaluate: score runs side by side, one column per run and sampler, with the best of each row marked."""

from __future__ import annotations

import streamlit as st

from gen_core.metrics import METRICS, evaluate_run, inception_unavailable_reason, store_final_metrics
from gen_core.metrics.final import SCORED_SAMPLERS
from gen_core.run import layout
from gen_core.sampling import COVARIANCE_TYPES, SAMPLER_TITLES
from ui import presentation, url_state
from ui.state import active_run_path, list_runs, user_errors
from ui.text import plain
from ui.views.comparison import (GROUP_TITLES, charted_metrics, column_summary, comparison_table, gather_columns,
                                 metric_bar_figure, mismatched_settings, planned_evaluations, reading_notes,
                                 reports_json)

RUNS_KEY = "evaluate_runs"            # session key: the chosen run folders (str paths)
FRESH_KEY = "evaluate_fresh_reports"  # session key: reports computed here, by (run path, sampler)
SAMPLE_COUNTS = [50, 100, 200, 500, 1000, 2000]
IWAE_KS = [1, 4, 16, 64, 256]
CLASS_SAMPLES = [10, 20, 50, 100, 200]
DEFAULT_RUNS = 4
COLUMN_WIDTH_PX = 110
LECTURE_TABLE_PX = 940  # the main area's width in the lecture view on a 1024-wide projector
HEADER_CHAR_PX = 8  # about one character of a header at the default font


def _show_cards(table) -> None:
    """A card per run and sampler, two to a row: each group's metrics with the value, ± its uncertainty
    and the best mark, as the table's cells show them."""
    for start in range(0, len(table.columns), 2):
        for column, index in zip(st.columns(2), range(start, min(start + 2, len(table.columns)))):
            with column.container(border=True):
                st.markdown(f"**{plain(table.labels[index])}**")
                for group, lines in table.card(index).items():
                    st.markdown(f"*{GROUP_TITLES.get(group, group)}*  \n" + "  \n".join(
                        f"{plain(label)}: " + (f":green[**{text}**]" if best else f"**{text}**")
                        for label, text, best in lines))


def _weights_mtime(path) -> float:
    weights = layout.WEIGHTS_FILE
    return (path / weights).stat().st_mtime if (path / weights).exists() else 0.0


@st.cache_data(show_spinner=False, max_entries=64)
def _evaluate(path: str, mtime: float, sampler: str, settings: dict, _title: str) -> dict:
    """One report; the progress bar lives in here so a cache hit replays it as already gone."""
    bar = st.progress(0.0, text=f"{_title}: starting")
    try:
        return evaluate_run(path, sampler=sampler, **settings,
                            progress=lambda fraction, message: bar.progress(min(1.0, fraction),
                                                                            text=f"{_title}: {message}"))
    finally:
        bar.empty()


def _default_runs(runs) -> list[str]:
    """The active run first, then runs that already hold stored metrics."""
    active = active_run_path()
    chosen = [str(active)] if active is not None else []
    chosen += [str(run.path) for run in runs if run.metrics and str(run.path) not in chosen]
    return chosen[:DEFAULT_RUNS]


def _keep_valid_runs(paths: list[str], runs) -> None:
    """Forget chosen runs that were deleted or renamed since (a multiselect refuses unknown values)."""
    if RUNS_KEY in st.session_state:
        st.session_state[RUNS_KEY] = [path for path in st.session_state[RUNS_KEY] if path in paths]
    else:
        st.session_state[RUNS_KEY] = _default_runs(runs)


def _compute(chosen, samplers, settings: dict, mixture: dict) -> None:
    fresh = st.session_state.setdefault(FRESH_KEY, {})
    plan = planned_evaluations(chosen, samplers)
    if not plan:
        st.warning("Nothing to compute: a GAN has no encoder to fit a mixture to, so choose the prior sampler too.")
    for number, (run, sampler) in enumerate(plan, start=1):
        title = f"{run.name} · {sampler} ({number} of {len(plan)})"
        own_settings = {**settings, "sampler_params": mixture if sampler == "gmm" else {}}
        with user_errors(f"{run.name} with the {sampler} sampler could not be evaluated: "):
            report = _evaluate(str(run.path), _weights_mtime(run.path), sampler, own_settings, title)
            fresh[(str(run.path), sampler)] = report
            with user_errors(f"The {sampler} scores of {run.name} could not be saved with the run: "):
                store_final_metrics(run.path, report)


st.title("Evaluate")
st.caption("Score trained models side by side: reconstruction, likelihood, distance to real images, classes, "
           "sharpness and novelty. Every sample-based number depends on where the latent codes come from, so each "
           "run gets a column per sampler: the normal prior, or a Gaussian mixture fitted to the latent codes of "
           "each class.")
url_state.publish()  # the address keeps the model and presentation mode (this page adds no settings)
runs = [run for run in list_runs() if not run.error and (run.path / layout.WEIGHTS_FILE).exists()]
if not runs:
    st.info("No trained model yet. Train one on the **Train** page; its quick start says how long "
            "that takes on this machine.")
    st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()
by_path = {str(run.path): run for run in runs}
_keep_valid_runs(list(by_path), runs)

# -- what to compare --------------------------------------------------------------------------
with presentation.settings("Runs, samplers and sample counts"):
    # one under the other on a projector: a run's or sampler's chip at the large font overflows a column
    runs_column, samplers_column = (st.container(), st.container()) if presentation.is_on() else st.columns([3, 2])
    chosen_paths = runs_column.multiselect(
        "Runs", list(by_path), key=RUNS_KEY, placeholder="Choose runs to compare",
        format_func=lambda path: f"{by_path[path].name} · {by_path[path].family} · {by_path[path].epochs_done} ep")
    samplers = samplers_column.multiselect(
        "Samplers", SCORED_SAMPLERS, default=list(SCORED_SAMPLERS), key="evaluate_samplers",
        format_func=SAMPLER_TITLES.get,
        help="Prior: decode z ~ N(0, I) (an autoencoder uses its codes' own spread, a VAE with a sampling mixture "
             "its fitted mixture). GMM: fit a Gaussian mixture to "
             "each class's encoded training images and decode draws from it; GANs have no encoder, so prior only.")
    chosen = [by_path[path] for path in chosen_paths]

    samples_column, k_column, components_column = st.columns(3)
    n_samples = samples_column.select_slider("Generated images scored", SAMPLE_COUNTS, value=500,
                                             key="evaluate_n_samples", help="Fewer is faster but noisier.")
    iwae_k = k_column.select_slider("IWAE k (importance samples)", IWAE_KS, value=64, key="evaluate_iwae_k",
                                    help="Per test image, for the log-likelihood bound of VAEs; it tightens with k. "
                                         "Smaller k is faster.")
    components = components_column.number_input(
        "GMM components K per class", 1, 50, 10, key="evaluate_components", disabled="gmm" not in samplers,
        help="Lowered automatically when the smallest class has too few images for K full covariances.")
with st.expander("More settings"):
    more = st.columns(4)
    covariance = more[0].selectbox("GMM covariance", COVARIANCE_TYPES, key="evaluate_covariance")
    class_samples = more[1].select_slider("Images per class (class accuracy)", CLASS_SAMPLES, value=100,
                                          key="evaluate_class_samples")
    seed = more[2].number_input("Seed", 0, 999_999, 0, key="evaluate_seed")
    fid_reason = inception_unavailable_reason()
    with_inception = more[3].checkbox("Standard FID (Inception v3)", value=False, key="evaluate_inception",
                                      disabled=fid_reason is not None,
                                      help=fid_reason or "Slow without a GPU: minutes for 500 + 500 images.")
settings = {"n_samples": int(n_samples), "iwae_k": int(iwae_k), "class_samples": int(class_samples),
            "seed": int(seed), "inception": bool(with_inception), "device": "auto"}
mixture = {"n_components": int(components), "covariance_type": covariance}

compute_column, note_column = st.columns([1, 4], vertical_alignment="center")
pressed = compute_column.button("Compute", type="primary", icon=":material/calculate:", key="evaluate_compute",
                                disabled=not chosen or not samplers)
note_column.caption("About 10 s per column on a CPU with the defaults. The first evaluation on a dataset also trains "
                    "its small feature classifier (about 20 s), which is then kept. Results are saved with each run.")
if pressed:
    _compute(chosen, samplers, settings, mixture)

# -- the table --------------------------------------------------------------------------------
if not chosen or not samplers:
    st.info("Choose at least one run and one sampler.")
    st.stop()
columns, not_computed = gather_columns(chosen, samplers, st.session_state.get(FRESH_KEY))
if not_computed:
    st.info("Not computed yet: " + ", ".join(f"**{c.run_name}** with the {c.sampler} sampler" for c in not_computed)
            + ". Press **Compute**.")
if not any(column.entry for column in columns):
    st.stop()
stale = [column for column in columns if column.stale]
if stale:
    st.warning("Scored before the run trained further, so these numbers are out of date (marked ⚠): "
               + ", ".join(f"**{c.label}** ({c.epochs_scored} of {c.epochs_now} epochs)" for c in stale)
               + ". Press **Compute** to refresh them.")
mismatched = mismatched_settings(columns)
if mismatched:
    st.warning(f"The columns were computed with different {', '.join(mismatched)}; sample-based numbers are only "
               "comparable at equal settings (see *How each column was computed*).")

table = comparison_table(columns)
# A column is as wide as its header (run names are long), so no header is cut off; with many runs
# the table scrolls sideways inside itself, never the page.
table_layout = {"_index": st.column_config.Column(width=200), "Better": st.column_config.Column(width=70),
                "Unit": st.column_config.Column(width=180),
                **{label: st.column_config.Column(width=max(COLUMN_WIDTH_PX, HEADER_CHAR_PX * len(label) + 24), help=label)
                   for label in table.labels}}
st.subheader("Side by side")
table_width = sum(int(column["width"]) for column in table_layout.values())
with presentation.main_picture():
    if presentation.is_on() and table_width > LECTURE_TABLE_PX:
        # Too wide for the projector: a card per run and sampler, two to a row, instead of a table
        # that would scroll sideways out of the room's sight.
        _show_cards(table)
    else:
        for group, rows in table.groups().items():
            st.markdown(f"**{GROUP_TITLES.get(group, group)}**")
            st.dataframe(table.styled(group), width="stretch", placeholder="n/a",
                         column_order=["Better", *table.labels, "Unit"], column_config=table_layout)
st.caption("Each number ± how much it could change with other samples (a 90% bootstrap interval over the images "
           "it was computed from; their number is under *How each column was computed*). ✓ on green: the best "
           "value of its row, marked only where it is better by more than that uncertainty (by the *Better* column: "
           "lower, higher, or nearest 1 for ratios against real images). Rows without a direction get no mark.")
notes = reading_notes(table)
if notes:
    st.markdown("**What the numbers say**")
    st.caption("A sharpness ratio well below 1 is the classic VAE blur: a pixel-wise loss rewards averaging over "
               "plausible images. Classes that random samples rarely show are the classic GAN failure, mode collapse.")
    st.caption("  \n".join(notes))
with st.expander("Why some cells say n/a"):
    for metric_labels, column_labels, reason in table.missing_reasons():
        st.markdown(f"- **{', '.join(metric_labels)}** in *{', '.join(column_labels)}*: {reason}")
with st.expander("What each row measures"):
    for row in table.rows:
        st.markdown(f"- **{row.info.label}** ({row.info.unit}): {row.info.description}")
with st.expander("How each column was computed"):
    st.dataframe(column_summary(columns), hide_index=True, width="stretch", placeholder="—")
with st.container(horizontal=True):
    st.download_button("Download table (CSV)", table.csv(), file_name="evaluation.csv", mime="text/csv",
                       icon=":material/download:", key="evaluate_download_csv", on_click="ignore")
    st.download_button("Download reports (JSON)", reports_json(columns), file_name="evaluation-reports.json",
                       mime="application/json", icon=":material/download:", key="evaluate_download_json",
                       on_click="ignore")

# -- bar charts -------------------------------------------------------------------------------
st.subheader("Bar chart")
charted = charted_metrics(table)
if charted:
    default = charted.index("frechet_feature") if "frechet_feature" in charted else 0
    metric = st.selectbox("Metric", charted, index=default, key="evaluate_metric",
                          format_func=lambda name: METRICS[name].label)
    st.plotly_chart(presentation.style_figure(metric_bar_figure(table, metric)), key="evaluate_bar_chart",
                    width="stretch")
    st.caption(METRICS[metric].description)
