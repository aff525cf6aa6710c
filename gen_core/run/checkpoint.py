"""A run's checkpoint: settings, weights, optimiser state and history saved and loaded together.

An epoch's files are committed together (gen_core.run.files): after a crash, a killed process or
a full disk, weights, optimiser state and history all stand at the last completed epoch. The
weights record that epoch in their safetensors metadata, so the pairing can be checked. Loading
reads the settings and history through the run record's schema (gen_core.run.record), sizes the
model before building it, and checks every tensor's shape; nothing is ever unpickled. File names
come from gen_core.run.layout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from gen_core.atomic import write_json_atomic
from gen_core.errors import CheckpointError
from gen_core.limits import MAX_PARAMETERS
from gen_core.models import build_model, config_to_dict, make_config
from gen_core.run.files import commit_files, recover_if_abandoned, writing
from gen_core.run.layout import CONFIG_FILE, HISTORY_FILE, OPTIMIZER_FILE, OPTIMIZER_META_FILE, WEIGHTS_FILE
from gen_core.run.record import FORMAT_VERSION, RecordError, check_config, check_history, read_json, read_record

EPOCH_KEY = "epoch"  # safetensors metadata: the epochs trained when these tensors were saved
MAX_WEIGHTS_BYTES = 4 * MAX_PARAMETERS + 64 * 2**20  # float32 weights of the largest model allowed, and buffers
MAX_OPTIMIZER_BYTES = 3 * MAX_WEIGHTS_BYTES  # Adam keeps two tensors per weight


def _tensor_writer(tensors: dict[str, torch.Tensor], epoch: int):
    metadata = {EPOCH_KEY: str(epoch)}

    def write(path: Path) -> None:
        try:
            save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(path), metadata=metadata)
        except SafetensorError as error:  # its I/O errors (a full disk) are OSErrors like any other write's
            raise OSError(f"Could not write the weights: {error}") from None
    return write


def _json_writer(value):
    return lambda path: path.write_bytes(json.dumps(value, indent=1, allow_nan=True).encode())


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
             optimizers: dict | None = None, name: str | None = None, extra: dict | None = None,
             files: dict | None = None) -> Path:
    """Write (or overwrite) a run folder as one change: settings, optimiser state, weights and
    history all move to the new epoch together, or (after a crash or a full disk) none do.
    ``files``: more of the epoch's files committed with them (a run file's name -> its writer)."""
    run_dir = Path(run_dir)
    epoch = len(history.get("epochs", []))
    config = {"format_version": FORMAT_VERSION, "family": model.family, "name": name or run_dir.name,
              "model": config_to_dict(model.config), "data": data, "training": training, **(extra or {})}
    writers = {CONFIG_FILE: _json_writer(config)}
    if optimizers:
        tensors, meta = _flatten_optimizers(optimizers)
        writers[OPTIMIZER_FILE] = _tensor_writer(tensors, epoch)
        writers[OPTIMIZER_META_FILE] = _json_writer(meta)
    writers[WEIGHTS_FILE] = _tensor_writer(model.state_dict(), epoch)
    writers[HISTORY_FILE] = _json_writer(history)
    writers.update(files or {})
    with writing(run_dir):
        commit_files(run_dir, writers)
    return run_dir


def save_history(run_dir: Path, history: dict) -> None:
    """Write history.json, never ahead of the saved weights: epochs after the one the weights were
    saved at (an epoch whose save failed half way, e.g. on a full disk) are left out."""
    run_dir = Path(run_dir)
    with writing(run_dir):
        saved = saved_epoch(run_dir)
        if saved is not None and len(history.get("epochs", [])) > saved:
            history = {**history, "epochs": history["epochs"][:saved],
                       "steps": [s for s in history.get("steps", []) if s.get("epoch", 0) <= saved]}
        write_json_atomic(run_dir / HISTORY_FILE, history)


def update_history(run_dir: Path, change) -> dict:
    """Read history.json, let ``change(history)`` edit it in place, write it back under the lock."""
    run_dir = Path(run_dir)
    with writing(run_dir):
        history = read_json(run_dir / HISTORY_FILE)
        if not isinstance(history, dict):
            raise RecordError(f"{HISTORY_FILE} does not hold a training history")
        change(history)
        write_json_atomic(run_dir / HISTORY_FILE, history)
    return history


def saved_epoch(run_dir: Path) -> int | None:
    """The epoch the weights were saved at (None for runs saved before this was recorded)."""
    try:
        with safe_open(str(Path(run_dir) / WEIGHTS_FILE), "pt") as weights:
            value = (weights.metadata() or {}).get(EPOCH_KEY)
        return int(value) if value is not None else None
    except (SafetensorError, OSError, ValueError):
        return None


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
    """config.json, checked against the run record's schema (gen_core.run.record)."""
    return check_config(read_json(Path(run_dir) / CONFIG_FILE))


def read_history(run_dir: Path) -> dict:
    """history.json, checked; an empty history when the run has none yet."""
    path = Path(run_dir) / HISTORY_FILE
    return check_history(read_json(path) if path.exists() else {})


def load_run(run_dir: Path, device: str | torch.device = "cpu", with_optimizer_state: bool = False) -> Run:
    """Rebuild the model a run describes and load its weights, checking every field and shape first."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"No run folder called {run_dir.name!r}")
    recover_if_abandoned(run_dir)
    record = read_record(run_dir)
    config = record.config
    model = build_model(config["family"], make_config(config["family"], **config["model"]))
    weights = _load_tensors(run_dir / WEIGHTS_FILE, MAX_WEIGHTS_BYTES)
    _check_state_matches(run_dir, model.state_dict(), weights)
    _check_epoch_matches(run_dir, record.history)
    model.load_state_dict(weights)
    model.to(device).eval()
    optimizer_state = {}
    if with_optimizer_state and (run_dir / OPTIMIZER_FILE).exists():
        optimizer_state = _load_optimizer_state(run_dir, model)
    return Run(run_dir, config, record.history, model, optimizer_state)


def _check_epoch_matches(run_dir: Path, history: dict) -> None:
    saved = saved_epoch(run_dir)
    if saved is not None and saved != len(history["epochs"]):
        raise CheckpointError(f"{run_dir.name}: {HISTORY_FILE} records {len(history['epochs'])} epochs but the weights "
                              f"were saved after epoch {saved}; the run folder was changed by hand")


def _load_optimizer_state(run_dir: Path, model) -> dict:
    tensors = _load_tensors(run_dir / OPTIMIZER_FILE, MAX_OPTIMIZER_BYTES)
    meta = read_json(run_dir / OPTIMIZER_META_FILE)
    try:
        state = {name: _unflatten_optimizer(name, tensors, meta) for name in meta}
        optimizers = model.make_optimizers(1e-3)
        for name, value in state.items():  # the optimisers the Trainer will make must take it
            _check_param_groups(value["param_groups"])
            optimizers[name].load_state_dict(value)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{run_dir.name}: the saved optimiser state is malformed ({error!r:.200})") from None
    return state


def _check_param_groups(groups) -> None:
    for group in groups:
        for key, value in group.items():
            values = value if isinstance(value, list) else [value]
            if not all(item is None or isinstance(item, (bool, int, float)) for item in values):
                raise ValueError(f"parameter group setting {key!r} is not a number")


def _load_tensors(path: Path, max_bytes: int) -> dict[str, torch.Tensor]:
    if not path.exists():
        raise CheckpointError(f"{path.parent.name}: {path.name} is missing")
    try:
        if path.stat().st_size > max_bytes:
            raise CheckpointError(f"{path.parent.name}: {path.name} is larger than a model this server allows")
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path.parent.name}: {path.name} is not a readable safetensors file "
                              f"({str(error)[:200]})") from None


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
        raise CheckpointError(f"{run_dir.name}: weights do not match the model in {CONFIG_FILE} ({details})")
