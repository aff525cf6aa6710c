"""The run record: a run's config.json and history.json, read through one schema before any use.

A run folder may come from anyone (a zip from the internet, a shared folder), so its JSON is
untrusted. Every field is checked here for type, range and size, keys nobody writes are
refused, and the model it describes is sized (gen_core.limits) before anything is built. What
passes is safe to list, display, build from and resume; what fails raises ``RecordError`` whose
message names the file and the field, never a server path.

The schema is written out by hand rather than as JSON Schema: a long run's history holds hundreds
of thousands of step entries, and a generic validator takes seconds over them where these
loops take milliseconds.
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass, fields
from pathlib import Path

from gen_core.errors import CheckpointError, GenCoreError
from gen_core.limits import MAX_CLASSES, MAX_EPOCHS, MAX_GRID_IMAGES, check_model_size
from gen_core.models import FAMILIES, make_config
from gen_core.run.layout import CONFIG_FILE, HISTORY_FILE
from gen_core.training.config import TrainConfig
from gen_core.training.events import RunStatus

FORMAT_VERSION = 1
MAX_JSON_BYTES = 64 * 2**20
MAX_NAME_CHARS = 200
MAX_TEXT_CHARS = 4000
MAX_ENTRY_KEYS = 64
CONFIG_KEYS = ("format_version", "family", "name", "model", "data", "training")
HISTORY_KEYS = ("steps", "epochs", "status", "message", "metrics", "compute", "controls")
# Written next to the TrainConfig fields: how many processes trained, and their batch together.
TRAINING_RECORD_KEYS = {"world_size": 4096, "total_batch_size": 2**24}
LEGACY_TRAINING_KEYS = ("mixed_precision",)  # written before ``precision`` replaced it; ignored
MAX_COMPUTE_ENTRIES = 10_000  # one per training session (start and every resume)
MAX_CONTROL_ENTRIES = 10_000  # a learning rate, beta or D:G ratio changed while the run trained
CONTROL_ENTRY_KEYS = ("step", "epoch", "lr", "beta", "d_steps", "g_steps")
# What a GAN's epoch entry holds at grid epochs besides numbers (Trainer.grid_statistics): the share of
# each class among the fixed-noise samples, and counts of D(x) and D(G(z)) in equal bins over 0..1.
GRID_STATISTICS = ("class_shares", "d_histogram")
MAX_HISTOGRAM_BINS = 100
SHARES_SUM_TOLERANCE = 1e-3  # a hand-edited file may round its shares
METRIC_ENTRY_KEYS = ("metrics", "unavailable", "details", "settings", "epochs_trained", "seconds", "evaluated_at")


class RecordError(CheckpointError):
    """config.json or history.json does not follow the run record's schema."""


@dataclass(frozen=True)
class RunRecord:
    """A run's settings and history, checked. ``config`` and ``history`` keep the JSON layout."""

    config: dict
    history: dict

    @property
    def family(self) -> str:
        return self.config["family"]

    @property
    def name(self) -> str | None:
        return self.config.get("name")

    @property
    def dataset_name(self) -> str:
        return str(self.config["data"].get("name") or "?")

    @property
    def epochs(self) -> list[dict]:
        return self.history["epochs"]

    @property
    def epochs_planned(self) -> int:
        return int(self.config["training"].get("epochs", len(self.epochs)))


def read_json(path: Path, max_bytes: int = MAX_JSON_BYTES):
    """Parse a JSON file of at most ``max_bytes``; every failure is a RecordError naming the file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise RecordError(f"{path.name} is {size / 2**20:.0f} MB, above the {max_bytes // 2**20} MB limit")
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        raise RecordError(f"{path.name} is missing") from None
    except IsADirectoryError:
        raise RecordError(f"{path.name} is a folder, not a file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RecordError(f"{path.name} is not valid JSON ({_short(error)})") from None
    except RecursionError:
        raise RecordError(f"{path.name} is nested too deeply to be a run's settings") from None
    except OSError as error:
        raise RecordError(f"{path.name} cannot be read ({error.strerror or 'input/output error'})") from None


def read_record(run_dir: Path) -> RunRecord:
    run_dir = Path(run_dir)
    config = check_config(read_json(run_dir / CONFIG_FILE))
    history_path = run_dir / HISTORY_FILE
    history = check_history(read_json(history_path) if history_path.exists() else {})
    return RunRecord(config, history)


# -- config.json ------------------------------------------------------------------------------------
def check_config(config) -> dict:
    """The checked settings, with ``data`` and ``training`` always present (maybe empty)."""
    where = CONFIG_FILE
    _expect(config, dict, where, "a settings object")
    _known_keys(config, CONFIG_KEYS, where)
    version = config.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise RecordError(f"{where}: checkpoint format version {version!r}; this version reads {FORMAT_VERSION}")
    for key in ("family", "model"):
        if key not in config:
            raise RecordError(f"{where} has no {key!r} entry")
    checked = {**config, "data": config.get("data", {}), "training": config.get("training", {})}
    if "name" in checked:
        _text(checked["name"], f"{where}: name", MAX_NAME_CHARS)
    _check_model(checked["family"], checked["model"])
    _check_training(checked["training"])
    _check_data(checked["data"])
    return checked


def _check_model(family, settings) -> None:
    if not isinstance(family, str) or family not in FAMILIES:
        raise RecordError(f"{CONFIG_FILE}: Unknown model family {_short(family)}; known: {', '.join(FAMILIES)}")
    _expect(settings, dict, f"{CONFIG_FILE}: model", "an object of model settings")
    try:
        config = make_config(family, **settings)
        check_model_size(FAMILIES[family][1], config)
    except (GenCoreError, TypeError, ValueError, OverflowError) as error:
        raise RecordError(f"{CONFIG_FILE}: the saved model settings are invalid: {_short(error)}") from None


def _check_training(training) -> None:
    where = f"{CONFIG_FILE}: training"
    _expect(training, dict, where, "an object of training settings")
    _known_keys(training, [*(f.name for f in fields(TrainConfig)), *TRAINING_RECORD_KEYS, *LEGACY_TRAINING_KEYS], where)
    for key, most in TRAINING_RECORD_KEYS.items():
        if key in training:
            _whole(training[key], f"{where}: {key}", 1, most)
    try:
        TrainConfig(**{key: value for key, value in training.items()
                       if key not in TRAINING_RECORD_KEYS and key not in LEGACY_TRAINING_KEYS})
    except (GenCoreError, TypeError, ValueError, OverflowError) as error:
        raise RecordError(f"{where}: {_short(error)}") from None
    _whole(training.get("epochs", 1), f"{where}: epochs", 1, MAX_EPOCHS)
    _whole(training.get("sample_count", 1), f"{where}: sample_count", 1, MAX_GRID_IMAGES)
    if len(training.get("sample_epochs", ())) > MAX_EPOCHS:
        raise RecordError(f"{where}: sample_epochs lists more than {MAX_EPOCHS:,} epochs")
    _text(training.get("device", "auto"), f"{where}: device", 40)


def _check_data(data) -> None:
    """The dataset's source: its registry name and loader options (paths are checked on load)."""
    where = f"{CONFIG_FILE}: data"
    _expect(data, dict, where, "an object describing the dataset")
    if len(data) > 32:
        raise RecordError(f"{where} has {len(data)} entries; at most 32")
    for key, value in data.items():
        _text(key, f"{where}: a key", 64)
        items = value if isinstance(value, list) else [value]
        if len(items) > 1000:
            raise RecordError(f"{where}: {key} lists more than 1,000 values")
        for item in items:
            if item is not None and not isinstance(item, (bool, int, float, str)):
                raise RecordError(f"{where}: {key} must be text, a number or a list of them")
            if isinstance(item, str):
                _text(item, f"{where}: {key}", MAX_TEXT_CHARS)
    if "name" in data:
        _text(data["name"], f"{where}: name", 100)


# -- history.json -----------------------------------------------------------------------------------
def check_history(history) -> dict:
    """The checked history with every key present: steps, epochs, status, message, metrics."""
    where = HISTORY_FILE
    _expect(history, dict, where, "a training history object")
    _known_keys(history, HISTORY_KEYS, where)
    checked = {"steps": [], "epochs": [], "status": RunStatus.UNKNOWN.value, "message": "", "metrics": {}, **history}
    _text(checked["status"], f"{where}: status", 40)
    _text(checked["message"], f"{where}: message", MAX_TEXT_CHARS, allow_empty=True)
    for key in ("epochs", "steps"):
        _expect(checked[key], list, f"{where}: {key}", "a list")
    if len(checked["epochs"]) > MAX_EPOCHS:
        raise RecordError(f"{where} lists more than {MAX_EPOCHS:,} epochs")
    for index, entry in enumerate(checked["epochs"]):
        place = f"{where}: epochs[{index}]"
        if type(entry) is dict and any(key in entry for key in GRID_STATISTICS):
            check_grid_statistics(entry, place)
            entry = {key: value for key, value in entry.items() if key not in GRID_STATISTICS}
        _numbers_entry(entry, place)
        _whole(entry.get("epoch"), f"{place}.epoch", 1, MAX_EPOCHS)
    for index, entry in enumerate(checked["steps"]):
        _numbers_entry(entry, f"{where}: steps[{index}]")
    _check_metrics(checked["metrics"])
    _check_compute(checked.get("compute", []))
    _check_controls(checked.get("controls", []))
    return checked


def _check_controls(changes) -> None:
    """Changes made while the run trained (step-through training): the global step at which each took
    effect, and the new learning rate, beta or D:G step ratio."""
    where = f"{HISTORY_FILE}: controls"
    _expect(changes, list, where, "a list")
    if len(changes) > MAX_CONTROL_ENTRIES:
        raise RecordError(f"{where} lists more than {MAX_CONTROL_ENTRIES:,} changes")
    for index, entry in enumerate(changes):
        place = f"{where}[{index}]"
        _numbers_entry(entry, place)
        _known_keys(entry, CONTROL_ENTRY_KEYS, place)
        _whole(entry.get("step"), f"{place}.step", 0, 2**53)
        rate, beta = entry.get("lr", 1.0), entry.get("beta", 0.0)
        if type(rate) is bool or not (math.isfinite(rate) and rate > 0):
            raise RecordError(f"{place}.lr must be a number above 0, not {_short(rate)}")
        if type(beta) is bool or not (math.isfinite(beta) and beta >= 0):
            raise RecordError(f"{place}.beta must be a number from 0, not {_short(beta)}")


def check_grid_statistics(entry: dict, where: str) -> None:
    """A GAN's grid-epoch records: class shares from 0 to 1 that sum to 1, and two histograms (real,
    fake) of the same number of bins holding whole, non-negative image counts."""
    if "class_shares" in entry:
        shares, place = entry["class_shares"], f"{where}.class_shares"
        if (type(shares) is not list or not 1 <= len(shares) <= MAX_CLASSES
                or any(type(share) not in (int, float) or not 0 <= share <= 1 for share in shares)):
            raise RecordError(f"{place} must be a list of 1 to {MAX_CLASSES} shares from 0 to 1, not {_short(shares)}")
        if abs(sum(shares) - 1) > SHARES_SUM_TOLERANCE:
            raise RecordError(f"{place} must sum to 1 (every class's share of the samples), not {sum(shares):.4g}")
    if "d_histogram" in entry:
        histogram, place = entry["d_histogram"], f"{where}.d_histogram"
        _expect(histogram, dict, place, "an object with the real and the fake images' counts")
        if sorted(histogram) != ["fake", "real"]:
            raise RecordError(f"{place} must hold exactly 'real' and 'fake', not {_short(sorted(map(str, histogram)))}")
        for side in ("real", "fake"):
            counts = histogram[side]
            if (type(counts) is not list or not 1 <= len(counts) <= MAX_HISTOGRAM_BINS
                    or any(type(count) is not int or count < 0 for count in counts) or sum(counts) > MAX_GRID_IMAGES):
                raise RecordError(f"{place}.{side} must be a list of 1 to {MAX_HISTOGRAM_BINS} image counts (whole "
                                  f"numbers from 0, at most {MAX_GRID_IMAGES:,} together), not {_short(counts)}")
        if len(histogram["real"]) != len(histogram["fake"]):
            raise RecordError(f"{place}: real and fake must have the same number of bins")


def _check_compute(sessions) -> None:
    """How each training session computed: threads, cores, load, precision and their reasons."""
    where = f"{HISTORY_FILE}: compute"
    _expect(sessions, list, where, "a list")
    if len(sessions) > MAX_COMPUTE_ENTRIES:
        raise RecordError(f"{where} lists more than {MAX_COMPUTE_ENTRIES:,} sessions")
    for index, entry in enumerate(sessions):
        if type(entry) is not dict or len(entry) > MAX_ENTRY_KEYS:
            raise RecordError(f"{where}[{index}] must be an object of at most {MAX_ENTRY_KEYS} entries")
        for key, value in entry.items():
            if type(value) not in (int, float, bool, str) or len(key) > 64:
                raise RecordError(f"{where}[{index}]: {_short(key)} must be text or a number")
            if type(value) is str:
                _text(value, f"{where}[{index}].{_short(key)}", 400, allow_empty=True)


def _numbers_entry(entry, where: str) -> None:
    # Checked inline: this runs for every logged step of every listed run.
    if type(entry) is not dict or len(entry) > MAX_ENTRY_KEYS:
        raise RecordError(f"{where} must be an object of at most {MAX_ENTRY_KEYS} numbers")
    for key, value in entry.items():
        if type(value) not in (int, float, bool) or len(key) > 64:
            raise RecordError(f"{where}: {_short(key)} must be a number, not {_short(value)}")


def _check_metrics(stored) -> None:
    where = f"{HISTORY_FILE}: metrics"
    _expect(stored, dict, where, "an object with one entry per sampler")
    if len(stored) > 16:
        raise RecordError(f"{where} has {len(stored)} entries; at most 16")
    for sampler, entry in stored.items():
        place = f"{where}: {_short(sampler)}"
        _text(sampler, place, 40)
        _expect(entry, dict, place, "an object")
        _known_keys(entry, METRIC_ENTRY_KEYS, place)
        values = entry.get("metrics", {})
        _expect(values, dict, f"{place}.metrics", "an object of numbers")
        for name, value in values.items():
            if not isinstance(value, numbers.Real) or isinstance(value, bool) or len(name) > 64:
                raise RecordError(f"{place}.metrics: {_short(name)} must be a number, not {_short(value)}")
        unavailable = entry.get("unavailable", {})
        _expect(unavailable, dict, f"{place}.unavailable", "an object of reasons")
        for name, reason in unavailable.items():
            _text(reason, f"{place}.unavailable: {_short(name)}", MAX_TEXT_CHARS, allow_empty=True)
        for key in ("details", "settings"):
            _expect(entry.get(key, {}), dict, f"{place}.{key}", "an object")
        _whole(entry.get("epochs_trained", 0), f"{place}.epochs_trained", 0, MAX_EPOCHS)
        seconds = entry.get("seconds", 0.0)
        if not isinstance(seconds, numbers.Real) or isinstance(seconds, bool) or not math.isfinite(seconds):
            raise RecordError(f"{place}.seconds must be a number of seconds")
        _text(entry.get("evaluated_at", "-"), f"{place}.evaluated_at", 40)


# -- small checks -----------------------------------------------------------------------------------
_KINDS = {dict: "an object", list: "a list", str: "text"}


def _expect(value, kind: type, where: str, what: str) -> None:
    if not isinstance(value, kind):
        raise RecordError(f"{where} must be {what}, not {_KINDS.get(type(value), type(value).__name__)}")


def _known_keys(value: dict, allowed, where: str) -> None:
    unknown = sorted(str(key) for key in value if key not in allowed)
    if unknown:
        raise RecordError(f"{where} has unknown entries: {_short(', '.join(unknown[:5]))}")


def _text(value, where: str, most: int, allow_empty: bool = False) -> None:
    if not isinstance(value, str) or (not value and not allow_empty) or len(value) > most:
        raise RecordError(f"{where} must be text of 1 to {most} characters, not {_short(value)}")


def _whole(value, where: str, least: int, most: int) -> None:
    if type(value) is not int or not least <= value <= most:
        raise RecordError(f"{where} must be a whole number from {least} to {most:,}, not {_short(value)}")


def _short(value, most: int = 80) -> str:
    if isinstance(value, BaseException):
        text, most = str(value), 240
    else:
        text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= most else text[:most - 1] + "…"
