"""The runs folder as a collection: create, list, rename, delete, export and import as zip."""

from __future__ import annotations

import io
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from gen_core import checkpoints
from gen_core.errors import CheckpointError, GenCoreError

# Only these names may come in through an uploaded zip: data files, never code or pickles.
_ALLOWED_MEMBERS = re.compile(r"^(model\.safetensors|optimizer\.safetensors|optimizer\.json|config\.json|"
                              r"history\.json|metrics\.json|samples/epoch_\d{3}\.png)$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_ZIP_BYTES = 512 * 1024 * 1024


def safe_run_name(name: str) -> str:
    cleaned = _SAFE_NAME.sub("-", name.strip()).strip("-.")
    if not cleaned:
        raise CheckpointError("A run name needs at least one letter or digit")
    return cleaned[:80]


def new_run_dir(root: Path, family: str, dataset: str, name: str | None = None) -> Path:
    """A fresh, unused folder under ``root``: the given name, or family-dataset-timestamp."""
    root = Path(root)
    base = safe_run_name(name) if name else f"{family}-{safe_run_name(dataset)}-{time.strftime('%Y%m%d-%H%M%S')}"
    candidate, counter = root / base, 2
    while candidate.exists():
        candidate, counter = root / f"{base}-{counter}", counter + 1
    return candidate


@dataclass
class RunInfo:
    name: str
    path: Path
    family: str
    dataset: str
    epochs_done: int
    epochs_planned: int
    status: str
    final: dict  # the last epoch's entry from history
    metrics: dict
    modified: float  # when the weights were last written (the folder's time when there are none)
    error: str = ""  # set when the folder could not be read


def list_runs(root: Path | None = None) -> list[RunInfo]:
    """Every run folder under ``root``, newest first; unreadable ones are listed with an error."""
    root = Path(root or checkpoints.default_root())
    if not root.is_dir():
        return []
    runs = []
    for path in root.iterdir():
        if path.is_dir() and (path / checkpoints.CONFIG_FILE).exists():
            runs.append(_run_info(path))
    return sorted(runs, key=lambda run: run.modified, reverse=True)


def _run_info(path: Path) -> RunInfo:
    modified = path.stat().st_mtime
    try:
        config = checkpoints.read_config(path)
        history_path = path / checkpoints.HISTORY_FILE
        history = checkpoints.read_json(history_path) if history_path.exists() else {}
        # Newest weights first: scoring a run rewrites history.json, and that must not make it "newest".
        weights_path = path / checkpoints.WEIGHTS_FILE
        if weights_path.exists():
            modified = weights_path.stat().st_mtime
        if not isinstance(history, dict):
            raise CheckpointError(f"{history_path} does not hold a training history")
    except CheckpointError as error:
        return RunInfo(path.name, path, "?", "?", 0, 0, "unreadable", {}, {}, modified, str(error))
    epochs = history.get("epochs", [])
    return RunInfo(
        name=path.name, path=path, family=config["family"], dataset=config.get("data", {}).get("name", "?"),
        epochs_done=len(epochs), epochs_planned=int(config.get("training", {}).get("epochs", len(epochs))),
        status=history.get("status", "unknown"), final=epochs[-1] if epochs else {},
        metrics=history.get("metrics", {}), modified=modified)


def _inside(root: Path, path: Path) -> Path:
    root, path = Path(root).resolve(), Path(path).resolve()
    if root not in path.parents:
        raise CheckpointError(f"{path} is not inside the runs folder {root}")
    return path


def delete_run(path: Path, root: Path | None = None) -> None:
    path = _inside(root or checkpoints.default_root(), path)
    if not (path / checkpoints.CONFIG_FILE).exists():
        raise CheckpointError(f"{path} does not look like a run folder; not deleting it")
    shutil.rmtree(path)


def rename_run(path: Path, new_name: str, root: Path | None = None) -> Path:
    root = Path(root or checkpoints.default_root())
    path = _inside(root, path)
    if not (path / checkpoints.CONFIG_FILE).exists():
        raise CheckpointError(f"{path} does not look like a run folder; not renaming it")
    target = root.resolve() / safe_run_name(new_name)
    if target.exists():
        raise CheckpointError(f"A run called {target.name!r} already exists")
    path.rename(target)
    config = checkpoints.read_json(target / checkpoints.CONFIG_FILE)
    config["name"] = target.name
    checkpoints.write_json_atomic(target / checkpoints.CONFIG_FILE, config)
    return target


def export_zip(path: Path) -> bytes:
    """The run folder as zip bytes (data files only)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(Path(path).rglob("*")):
            relative = file.relative_to(path).as_posix()
            if file.is_file() and _ALLOWED_MEMBERS.match(relative):
                archive.write(file, relative)
    return buffer.getvalue()


def import_zip(data: bytes, root: Path | None = None, name: str | None = None) -> Path:
    """Unpack an uploaded run zip into a new run folder, after checking it loads.

    Only known data files are taken (weights must be safetensors); anything else in the zip is
    an error, so nothing executable or pickled can arrive this way.
    """
    root = Path(root or checkpoints.default_root())
    if len(data) > MAX_ZIP_BYTES:
        raise CheckpointError(f"The zip is {len(data) / 2**20:.0f} MB, above the {MAX_ZIP_BYTES // 2**20} MB limit")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise CheckpointError("This file is not a zip archive") from None
    with archive, tempfile.TemporaryDirectory(dir=_mkdir(root), prefix=".import-") as staging:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if sum(m.file_size for m in members) > MAX_ZIP_BYTES:  # a small zip can unpack to gigabytes
            raise CheckpointError(f"The zip unpacks to more than {MAX_ZIP_BYTES // 2**20} MB")
        prefix = _common_folder(members)
        for member in members:
            relative = member.filename[len(prefix):]
            if not _ALLOWED_MEMBERS.match(relative):
                raise CheckpointError(f"Unexpected file {member.filename!r} in the zip; a run zip holds "
                                      "model.safetensors, config.json, history.json and samples/*.png only")
            target = Path(staging) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(member))
        try:
            run = checkpoints.load_run(Path(staging))
        except GenCoreError as error:
            raise CheckpointError(f"The zip does not hold a loadable run: {error}") from None
        data = run.config.get("data")  # uploaded JSON: any type may stand where a name should be
        dataset_name = str(data.get("name") or "upload") if isinstance(data, dict) else "upload"
        saved_name = run.config.get("name")
        destination = new_run_dir(root, run.family, dataset_name, name or (prefix.strip("/") or None)
                                  or (saved_name if isinstance(saved_name, str) else None))
        shutil.copytree(staging, destination)
    config = checkpoints.read_json(destination / checkpoints.CONFIG_FILE)
    config["name"] = destination.name
    checkpoints.write_json_atomic(destination / checkpoints.CONFIG_FILE, config)
    return destination


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _common_folder(members) -> str:
    """'run-name/' when every member sits in one top folder (zips made by file managers)."""
    tops = {m.filename.split("/", 1)[0] for m in members}
    if len(tops) == 1 and all("/" in m.filename for m in members):
        return tops.pop() + "/"
    return ""
