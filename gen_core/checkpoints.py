"""Runs on disk: a folder per run holding data, never code.

    <run>/model.safetensors      weights (and buffers)
    <run>/optimizer.safetensors  optimiser tensors, for resuming (+ optimizer.json for the rest)
    <run>/config.json            {"format_version", "family", "model", "data", "training", "name", ...}
    <run>/history.json           losses per step and epoch, status, final metrics
    <run>/samples/epoch_NNN.png  sample grids from a fixed noise batch

Every file is written to a temporary name and renamed into place, so a crash mid-write never
leaves a half file. Loading checks the format version and every tensor's shape against the model
the config describes; nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gen_core.errors import CheckpointError, GenCoreError
from gen_core.models import build_model, config_to_dict, make_config

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
OPTIMIZER_META_FILE = "optimizer.json"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
SAMPLES_DIR = "samples"


def default_root() -> Path:
    """Where runs live: $GEN_CORE_CHECKPOINTS, else ./checkpoints."""
    return Path(os.environ.get("GEN_CORE_CHECKPOINTS", "checkpoints"))


# -- atomic writes ---------------------------------------------------------------------------
def write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, value) -> None:
    write_bytes_atomic(path, json.dumps(value, indent=1, allow_nan=True).encode())


def _save_tensors_atomic(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, temp_name)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON ({error})") from None


# -- optimiser state as plain tensors + JSON -------------------------------------------------
def _flatten_optimizers(optimizers: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, meta = {}, {}
    for name, optimizer in optimizers.items():
        state = optimizer.state_dict()
        scalars = {}
        for index, values in state["state"].items():
            for key, value in values.items():
                if torch.is_tensor(value):
                    tensors[f"{name}/{index}/{key}"] = value
                else:
                    scalars[f"{index}/{key}"] = value
        meta[name] = {"param_groups": state["param_groups"], "scalars": scalars}
    return tensors, meta


def _unflatten_optimizer(name: str, tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        owner, index, field_name = key.split("/")
        if owner == name:
            state.setdefault(int(index), {})[field_name] = value
    for key, value in meta[name]["scalars"].items():
        index, field_name = key.split("/")
        state.setdefault(int(index), {})[field_name] = value
    return {"state": state, "param_groups": meta[name]["param_groups"]}


# -- save / load ------------------------------------------------------------------------------
def save_run(run_dir: Path, model, *, data: dict, training: dict, history: dict,
             optimizers: dict | None = None, name: str | None = None, extra: dict | None = None) -> Path:
    """Write (or overwrite) a run folder. Weights go last but one, history last, so a reader
    that sees the new history also sees the matching weights."""
    run_dir = Path(run_dir)
    config = {"format_version": FORMAT_VERSION, "family": model.family, "name": name or run_dir.name,
              "model": config_to_dict(model.config), "data": data, "training": training, **(extra or {})}
    write_json_atomic(run_dir / CONFIG_FILE, config)
    if optimizers:
        tensors, meta = _flatten_optimizers(optimizers)
        _save_tensors_atomic(run_dir / OPTIMIZER_FILE, tensors)
        write_json_atomic(run_dir / OPTIMIZER_META_FILE, meta)
    _save_tensors_atomic(run_dir / WEIGHTS_FILE, model.state_dict())
    write_json_atomic(run_dir / HISTORY_FILE, history)
    return run_dir


def save_history(run_dir: Path, history: dict) -> None:
    write_json_atomic(Path(run_dir) / HISTORY_FILE, history)


@dataclass
class Run:
    path: Path
    config: dict
    history: dict
    model: torch.nn.Module
    optimizer_state: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.get("name", self.path.name)

    @property
    def family(self) -> str:
        return self.config["family"]


def read_config(run_dir: Path) -> dict:
    config = read_json(Path(run_dir) / CONFIG_FILE)
    if not isinstance(config, dict):
        raise CheckpointError(f"{run_dir}/{CONFIG_FILE} does not hold a settings object")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{run_dir}: checkpoint format version {version!r}, this version reads {FORMAT_VERSION}")
    for key in ("family", "model"):
        if key not in config:
            raise CheckpointError(f"{run_dir}/{CONFIG_FILE} has no {key!r} entry")
    return config


def load_run(run_dir: Path, device: str | torch.device = "cpu", with_optimizer_state: bool = False) -> Run:
    """Rebuild the model a run describes and load its weights, checking every shape."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"No run folder at {run_dir}")
    config = read_config(run_dir)
    try:
        model = build_model(config["family"], make_config(config["family"], **config["model"]))
    except (GenCoreError, TypeError) as error:
        raise CheckpointError(f"{run_dir}: the saved model settings are invalid: {error}") from None
    weights = _load_tensors(run_dir / WEIGHTS_FILE)
    _check_state_matches(run_dir, model.state_dict(), weights)
    model.load_state_dict(weights)
    model.to(device).eval()
    history = read_json(run_dir / HISTORY_FILE) if (run_dir / HISTORY_FILE).exists() else {}
    if not isinstance(history, dict):
        raise CheckpointError(f"{run_dir}/{HISTORY_FILE} does not hold a training history")
    optimizer_state = {}
    if with_optimizer_state and (run_dir / OPTIMIZER_FILE).exists():
        tensors = _load_tensors(run_dir / OPTIMIZER_FILE)
        meta = read_json(run_dir / OPTIMIZER_META_FILE)
        try:
            optimizer_state = {name: _unflatten_optimizer(name, tensors, meta) for name in meta}
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{run_dir}: the saved optimiser state is malformed ({error!r})") from None
    return Run(run_dir, config, history, model, optimizer_state)


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.exists():
        raise CheckpointError(f"{path} is missing")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path} is not a readable safetensors file ({error})") from None


def _check_state_matches(run_dir: Path, expected: dict, found: dict) -> None:
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = [f"{k}: saved {tuple(found[k].shape)}, model needs {tuple(v.shape)}"
             for k, v in expected.items() if k in found and found[k].shape != v.shape]
    if missing or unexpected or wrong:
        details = "; ".join(filter(None, [
            f"missing {', '.join(missing[:5])}" if missing else "",
            f"unexpected {', '.join(unexpected[:5])}" if unexpected else "",
            "shape mismatch " + "; ".join(wrong[:5]) if wrong else ""]))
        raise CheckpointError(f"{run_dir}: weights do not match the model in config.json ({details})")
