"""What the Evaluate page shows, as plain Python: runs side by side, one column per run and sampler.

A column is one ``evaluate_run`` report: computed just now, or stored in the run's history.json.
The sampler is part of a column because samples drawn from the prior and from a per-class
Gaussian mixture fitted to the latent space score differently; a GAN has no encoder, so its
mixture column is shown, and says why it is empty. Rows are the metrics of
``gen_core.metrics.catalogue``, grouped as it groups them, and each row marks its best value
with ``catalogue.better_value``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go
from pandas.io.formats.style import Styler

from gen_core.metrics.catalogue import METRICS, MetricInfo, better_value
from gen_core.metrics.final import SCORED_SAMPLERS
from gen_core.metrics.storage import stored_metrics
from gen_core.metrics.uncertainty import differ
from gen_core.metrics.verdicts import disagreements
from gen_core.models import family_class
from gen_core.sampling import PRIOR, SAMPLER_TITLES, sampler_unusable_reason
from ui.text import chart_text
from ui.views.two_sample import c2st_sentence

SAMPLER_COLOURS = {PRIOR: "#1f77b4", "gmm": "#ff7f0e"}
GROUP_TITLES = {"reconstruction": "Reconstruction", "likelihood": "Likelihood", "distribution": "Distance to real images",
                "classes": "Classes and mode coverage", "sharpness": "Sharpness", "novelty": "Novelty and diversity"}
BETTER_MARKS = {"lower": "lower ↓", "higher": "higher ↑", "near 1": "near 1", "": "—"}
NOT_AVAILABLE = "n/a"
BEST_MARK = "✓"
BEST_STYLE = "background-color: #d5f5dd; color: #0b5d1e; font-weight: bold"
NOT_AVAILABLE_STYLE = "color: #9a9a9a"
FID_NOT_REQUESTED = "Not requested: tick *Standard FID (Inception v3)* under More settings (slow without a GPU)."
BLURRY_BELOW, SHARP_ABOVE = 0.85, 1.15  # sharpness ratios this far from 1 are worth a sentence


def sampler_unavailable_reason(family: str, sampler: str) -> str | None:
    """Why ``sampler`` cannot be evaluated for a model family (None when it can)."""
    return sampler_unusable_reason(family, sampler)


@dataclass
class EvaluatedColumn:
    """One run scored with one sampler: its report entry, or the reason it has none."""

    run_name: str
    run_path: str
    family: str
    sampler: str
    epochs_now: int
    entry: dict | None = None
    reason: str = ""

    @property
    def epochs_scored(self) -> int | None:
        return None if self.entry is None else int(self.entry.get("epochs_trained", 0))

    @property
    def stale(self) -> bool:
        """Scored before the run trained further: the weights have moved on since."""
        return self.entry is not None and (self.epochs_scored or 0) < self.epochs_now

    @property
    def label(self) -> str:
        sampler = sampler_name("prior", self.family)
        if self.sampler == "gmm":
            components = ((self.entry or {}).get("settings", {}).get("sampler_params") or {}).get("n_components")
            sampler = f"GMM K={components}" if components else "GMM"
        return f"{self.run_name} · {sampler}{' ⚠' if self.stale else ''}"

    def value(self, name: str) -> float | None:
        value = (self.entry or {}).get("metrics", {}).get(name)
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None

    def interval(self, name: str) -> tuple[float, float] | None:
        """The score's 90% bootstrap interval over its samples, when the report has one."""
        pair = (self.entry or {}).get("intervals", {}).get(name)
        if isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(v, (int, float)) for v in pair):
            return float(pair[0]), float(pair[1])
        return None

    def count(self, name: str) -> int | None:
        value = (self.entry or {}).get("counts", {}).get(name)
        return int(value) if isinstance(value, int) else None

    def why_missing(self, name: str) -> str:
        if self.entry is None:
            return self.reason
        return self.entry.get("unavailable", {}).get(name, "Not part of this report (computed by an older version).")


def gather_columns(runs, samplers, fresh: dict | None = None) -> tuple[list[EvaluatedColumn], list[EvaluatedColumn]]:
    """(columns to show, columns not computed yet) for ``runs`` (``gen_core.run.collection.RunInfo``) x ``samplers``.

    ``fresh`` maps (run path, sampler) to reports computed in this session; they win over what
    history.json holds (which is the same report once it has been stored).
    """
    shown, missing = [], []
    for run in runs:
        stored = stored_metrics(run.path)
        for sampler in samplers:
            column = EvaluatedColumn(run.name, str(run.path), run.family, sampler, int(run.epochs_done))
            reason = sampler_unavailable_reason(run.family, sampler)
            column.entry = (fresh or {}).get((str(run.path), sampler)) or stored.get(sampler)
            if reason is not None:
                column.entry, column.reason = None, reason
            (shown if column.entry is not None or reason is not None else missing).append(column)
    return shown, missing


@dataclass
class ComparisonRow:
    name: str
    info: MetricInfo
    values: list[float | None]
    best: list[bool]
    intervals: list[tuple[float, float] | None] = field(default_factory=list)


@dataclass
class ComparisonTable:
    """Rows = metrics (catalogue order, so grouped), columns = run x sampler."""

    columns: list[EvaluatedColumn]
    rows: list[ComparisonRow] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [column.label for column in self.columns]

    def row(self, name: str) -> ComparisonRow:
        return next(row for row in self.rows if row.name == name)

    def groups(self) -> dict[str, list[ComparisonRow]]:
        grouped: dict[str, list[ComparisonRow]] = {}
        for row in self.rows:
            grouped.setdefault(row.info.group, []).append(row)
        return grouped

    def frame(self, group: str | None = None) -> pd.DataFrame:
        """Numbers (NaN where n/a), indexed by metric label, with its unit and which way is better."""
        rows = [row for row in self.rows if group is None or row.info.group == group]
        data = {"Unit": [row.info.unit for row in rows], "Better": [BETTER_MARKS[row.info.better] for row in rows]}
        for index, label in enumerate(self.labels):
            data[label] = [math.nan if row.values[index] is None else row.values[index] for row in rows]
        return pd.DataFrame(data, index=pd.Index([row.info.label for row in rows], name="Metric"))

    def styled(self, group: str) -> Styler:
        """The group's rows with each best value bold, green and ticked; n/a in grey.

        Each row has its own scale, so every row gets its own formatter (4 significant digits).
        """
        frame = self.frame(group)
        styler = frame.style
        styles = pd.DataFrame("", index=frame.index, columns=frame.columns)
        for row in (row for row in self.rows if row.info.group == group):
            for index, label in enumerate(self.labels):
                interval = row.intervals[index] if index < len(row.intervals) else None
                styler = styler.format(lambda value, best=row.best[index], interval=interval:
                                       _cell_text(value, best, interval), subset=pd.IndexSlice[[row.info.label], [label]])
                styles.loc[row.info.label, label] = BEST_STYLE if row.best[index] else \
                    NOT_AVAILABLE_STYLE if row.values[index] is None else ""
        return styler.apply(lambda _frame: styles, axis=None)

    def card(self, index: int) -> dict[str, list[tuple[str, str, bool]]]:
        """Column ``index`` as a card: group -> (metric label, the cell's text, best) for each metric it
        reports, for pages too narrow for the side-by-side table (the lecture view)."""
        card: dict[str, list[tuple[str, str, bool]]] = {}
        for row in self.rows:
            if row.values[index] is None:
                continue
            interval = row.intervals[index] if index < len(row.intervals) else None
            card.setdefault(row.info.group, []).append(
                (row.info.label, _cell_text(row.values[index], row.best[index], interval), row.best[index]))
        return card

    def csv(self) -> bytes:
        frame = self.frame().reset_index()
        frame.insert(0, "Group", [GROUP_TITLES.get(row.info.group, row.info.group) for row in self.rows])
        frame.insert(1, "Key", [row.name for row in self.rows])
        return frame.to_csv(index=False).encode()

    def missing_reasons(self) -> list[tuple[list[str], list[str], str]]:
        """(metric labels, column labels, reason) for the n/a cells, one line per distinct reason.

        A column with no report at all (a GAN's mixture column) gets one line for all its rows.
        """
        lines: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for index, column in enumerate(self.columns):
            if column.entry is None:
                lines.setdefault((column.reason, ("All rows",)), []).append(column.label)
                continue
            by_reason: dict[str, list[str]] = {}
            for row in self.rows:
                if row.values[index] is None:
                    reason = column.why_missing(row.name)
                    if row.name == "fid_inception" and reason.startswith("Not requested"):
                        reason = FID_NOT_REQUESTED
                    by_reason.setdefault(reason, []).append(row.info.label)
            for reason, labels in by_reason.items():
                lines.setdefault((reason, tuple(labels)), []).append(column.label)
        return [(list(labels), columns, reason) for (reason, labels), columns in lines.items()]


def _cell_text(value: float, best: bool, interval: tuple[float, float] | None = None) -> str:
    """The value, its uncertainty (± half the 90% interval's width) and the best mark."""
    if value is None or value != value:
        return NOT_AVAILABLE
    text = f"{value:.4g}"
    if interval is not None:
        text += f" ± {(interval[1] - interval[0]) / 2:.2g}"
    return f"{text} {BEST_MARK}" if best else text


def _clear_best(values, intervals, best_value) -> list[bool]:
    """Mark the best value only where its interval clears every other column's: a difference
    smaller than the uncertainty gets no mark."""
    marks = []
    for index, value in enumerate(values):
        is_best = best_value is not None and value == best_value
        if is_best:
            is_best = all(differ(intervals[index], intervals[other]) for other, rival in enumerate(values)
                          if other != index and rival is not None and rival != value)
        marks.append(is_best)
    return marks


def comparison_table(columns: list[EvaluatedColumn]) -> ComparisonTable:
    """Every catalogued metric that some column reports (as a number or as unavailable)."""
    table = ComparisonTable(list(columns))
    for name, info in METRICS.items():
        reported = any(column.entry is not None and (name in column.entry.get("metrics", {}) or
                                                     name in column.entry.get("unavailable", {}))
                       for column in table.columns)
        if not reported:
            continue
        values = [column.value(name) for column in table.columns]
        present = [value for value in values if value is not None]
        best = better_value(name, present) if len(set(present)) > 1 else None  # nothing to beat otherwise
        intervals = [column.interval(name) for column in table.columns]
        table.rows.append(ComparisonRow(name, info, values, _clear_best(values, intervals, best), intervals))
    return table


def planned_evaluations(runs, samplers) -> list[tuple[object, str]]:
    """The (run, sampler) pairs a Compute press evaluates: every pair a model family supports."""
    return [(run, sampler) for run in runs for sampler in samplers
            if sampler_unavailable_reason(run.family, sampler) is None]


def metric_bar_figure(table: ComparisonTable, name: str) -> go.Figure:
    """One bar per column, coloured by sampler; the best bar outlined, n/a columns labelled."""
    row, info = table.row(name), METRICS[name]
    figure = go.Figure()
    for sampler in dict.fromkeys(column.sampler for column in table.columns):
        indices = [index for index, column in enumerate(table.columns) if column.sampler == sampler]
        figure.add_bar(
            x=[chart_text(table.labels[index]) for index in indices],
            y=[row.values[index] or 0.0 for index in indices],
            name=SAMPLER_TITLES.get(sampler, sampler), marker_color=SAMPLER_COLOURS.get(sampler),
            marker_line_color="#0b5d1e", marker_line_width=[4 if row.best[index] else 0 for index in indices],
            text=[NOT_AVAILABLE if row.values[index] is None else
                  f"{row.values[index]:.4g}{' ' + BEST_MARK if row.best[index] else ''}" for index in indices],
            textposition="outside", cliponaxis=False,
            error_y=_error_bars(row, indices),
            hovertext=[table.columns[index].why_missing(name) if row.values[index] is None else info.description
                       for index in indices], hoverinfo="x+text")
    if info.better == "near 1":
        figure.add_hline(y=1.0, line_dash="dash", line_color="#555", annotation_text="real images",
                         annotation_position="top left")
    better = {"lower": "lower is better", "higher": "higher is better", "near 1": "nearer 1 is better"}
    subtitle = better.get(info.better, "descriptive: no better direction on its own")
    figure.update_layout(title=dict(text=f"{info.label}<br><sup>{info.unit} · {subtitle}</sup>"),
                         barmode="group", height=440, margin=dict(t=90, b=40, l=60, r=20),
                         # below the plot: above it, at projector font sizes, it ran into the subtitle
                         legend=dict(orientation="h", yanchor="top", y=-0.18, xanchor="left", x=0.0),
                         xaxis=dict(categoryorder="array", categoryarray=[chart_text(label) for label in table.labels]),
                         yaxis_title=info.unit)
    return figure


def _error_bars(row: ComparisonRow, indices: list[int]) -> dict:
    """Each bar's 90% bootstrap interval as an error bar (none where the report has no interval)."""
    above, below = [], []
    for index in indices:
        value = row.values[index]
        interval = row.intervals[index] if index < len(row.intervals) else None
        above.append(max(interval[1] - value, 0.0) if value is not None and interval else 0.0)
        below.append(max(value - interval[0], 0.0) if value is not None and interval else 0.0)
    return dict(type="data", symmetric=False, array=above, arrayminus=below, thickness=2, width=8)


def charted_metrics(table: ComparisonTable) -> list[str]:
    """Metrics with a number in at least one column: the ones a bar chart can show."""
    return [row.name for row in table.rows if any(value is not None for value in row.values)]


def reading_notes(table: ComparisonTable) -> list[str]:
    """A line per column on blur (sharpness ratio), the two-sample test and mode collapse (classes covered)."""
    notes = []
    for index, column in enumerate(table.columns):
        parts = []
        ratio = column.value("sharpness_ratio")
        if ratio is not None:
            verdict = ("blurrier than real images" if ratio < BLURRY_BELOW else
                       "sharper or noisier than real images" if ratio > SHARP_ABOVE else "about as sharp as real images")
            parts.append(f"{verdict} (edge strength {ratio:.0%} of real)")
        told_apart = c2st_sentence((column.entry or {}).get("details"))
        if told_apart:
            parts.append(told_apart)
        covered = column.value("modes_covered")
        classes = ((column.entry or {}).get("details") or {}).get("classes_in_data")
        if covered is not None and classes:
            parts.append(f"all {classes} classes drawn" if covered >= classes else
                         f"only {covered:.0f} of {classes} classes drawn often enough: some modes are missing")
        metrics = {name: column.value(name) for name in METRICS if column.value(name) is not None}
        contradictions = disagreements(metrics, classes)
        if parts or contradictions:
            notes.append(f"**{table.labels[index]}**: " + "; ".join(parts) + ("." if parts else "")
                         + "".join(f" :orange[:material/warning:] {text}" for text in contradictions))
    return notes


def column_summary(columns: list[EvaluatedColumn]) -> pd.DataFrame:
    """How each column was computed: epochs then and now, sample counts, k, K, when."""
    records = []
    for column in columns:
        entry = column.entry or {}
        settings = entry.get("settings", {})
        records.append({"Column": column.label, "Sampler": SAMPLER_TITLES.get(column.sampler, column.sampler),
                        "Epochs scored": column.epochs_scored, "Epochs now": column.epochs_now,
                        "Samples": settings.get("n_samples"), "IWAE k": settings.get("iwae_k"),
                        "GMM K": (settings.get("sampler_params") or {}).get("n_components"),
                        "Evaluated at": str(entry.get("evaluated_at", "this session" if entry else NOT_AVAILABLE)).replace(
                            "T", " "),
                        "Seconds": round(entry["seconds"], 1) if "seconds" in entry else None})
    return pd.DataFrame.from_records(records)


def reports_json(columns: list[EvaluatedColumn]) -> bytes:
    """The reports behind the table, keyed by column label, for a download."""
    reports = {column.label: {"run": column.run_name, "run_dir": column.run_path, "family": column.family,
                              "sampler": column.sampler, "epochs_now": column.epochs_now, "stale": column.stale,
                              **({"unavailable_reason": column.reason} if column.entry is None else column.entry)}
               for column in columns}
    return json.dumps(reports, indent=1, default=str).encode()


def mismatched_settings(columns: list[EvaluatedColumn]) -> list[str]:
    """Settings that differ between computed columns: their sample-based numbers are not like for like."""
    names = {"n_samples": "samples", "iwae_k": "IWAE k", "seed": "seed", "class_samples": "images per class"}
    settings = [column.entry.get("settings", {}) for column in columns if column.entry is not None]
    return [label for key, label in names.items() if len({json.dumps(entry.get(key)) for entry in settings}) > 1]


# The few numbers a run's card shows; the Evaluate page has the rest.
HEADLINE_METRICS = ("recon_mse", "ssim", "elbo", "frechet_feature", "sharpness_ratio", "modes_covered")


def sampler_name(sampler: str, family: str | None = None) -> str:
    """A short name for a column's sampler. An autoencoder has no prior: its "prior" samples come
    from a Gaussian that follows its own codes, and are named so."""
    if sampler == "gmm":
        return "GMM"
    return "code Gaussian" if sampler == "prior" and not getattr(family_class(family), "has_prior", True) else sampler


def headline_lines(stored: dict, family: str | None = None) -> list[tuple[str, str]]:
    """(label, "prior value · GMM value") for the headline metrics a run has stored; a number that
    does not depend on the sampler (a reconstruction score) is given once, not once per sampler."""
    lines = []
    for name in HEADLINE_METRICS:
        values = [(sampler, stored[sampler]["metrics"][name]) for sampler in SCORED_SAMPLERS
                  if isinstance(stored.get(sampler), dict) and name in stored[sampler].get("metrics", {})]
        if len(values) > 1 and len({value for _, value in values}) == 1:
            lines.append((METRICS[name].label, f"{values[0][1]:.4g}"))
        elif values:
            text = " · ".join(f"{value:.4g} ({sampler_name(sampler, family)})" for sampler, value in values)
            lines.append((METRICS[name].label, text))
    return lines
