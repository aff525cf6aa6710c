"""Reports kept with the run: ``history.json["metrics"]``, one entry per sampler.

Stored per sampler because sample-based scores differ between the prior and a fitted mixture;
storing a "gmm" report keeps an earlier "prior" one. Each entry records the number of epochs the
weights had when scored, so a page can tell when a resumed run's metrics have gone stale.
"""

from __future__ import annotations

import time
from pathlib import Path

from gen_core.errors import CheckpointError
from gen_core.metrics.catalogue import RENAMED_METRICS
from gen_core.run import checkpoint, layout

_STORED_KEYS = ("metrics", "unavailable", "details", "settings", "epochs_trained", "seconds")


def store_final_metrics(run_dir, reports) -> dict:
    """Write one or more ``evaluate_run`` reports into the run's history.json, atomically.

    ``reports`` is a report or a list of them. Returns the history's new "metrics" value:
    ``{sampler: {"metrics": {...}, "unavailable": {...}, "details": {...}, "settings": {...},
    "epochs_trained": int, "seconds": float, "evaluated_at": "YYYY-MM-DDTHH:MM:SS"}}``.
    """
    reports = [reports] if isinstance(reports, dict) else list(reports)
    for report in reports:
        if not isinstance(report, dict) or "sampler" not in report or "metrics" not in report:
            raise CheckpointError("store_final_metrics takes the reports evaluate_run returns.")

    def add_reports(history: dict) -> None:
        stored = history.get("metrics")
        stored = dict(stored) if isinstance(stored, dict) else {}
        for report in reports:
            entry = {key: report[key] for key in _STORED_KEYS if key in report}
            entry["evaluated_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
            stored[report["sampler"]] = entry
        history["metrics"] = stored

    # Under the run's writer lock: refused while another process trains the run.
    return checkpoint.update_history(Path(run_dir), add_reports)["metrics"]


def stored_metrics(run_dir) -> dict:
    """What ``store_final_metrics`` saved for a run ({} when nothing yet)."""
    history_path = Path(run_dir) / layout.HISTORY_FILE
    if not history_path.exists():
        return {}
    stored = checkpoint.read_json(history_path).get("metrics")
    if not isinstance(stored, dict):
        return {}
    return {sampler: _current_names(entry) for sampler, entry in stored.items()}


def _current_names(entry):
    """An entry with metric names an older version stored under their current names."""
    if not isinstance(entry, dict):
        return entry
    renamed = dict(entry)
    for part in ("metrics", "unavailable"):
        if isinstance(entry.get(part), dict):
            renamed[part] = {RENAMED_METRICS.get(name, name): value for name, value in entry[part].items()}
    return renamed
