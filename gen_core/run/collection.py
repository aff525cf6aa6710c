"""The runs folder as a collection: create, list, rename, delete, export and import as zip."""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from gen_core.atomic import write_json_atomic
from gen_core.errors import ArchiveError, CheckpointError, GenCoreError, ImageInputError
from gen_core.images.archive import SafeZip
from gen_core.images.upload import decode_image
from gen_core.limits import MAX_SAVED_GRID_PIXELS
from gen_core.places import IMPORT_STAGING_PREFIX, STUDENTS_DIR, default_root
from gen_core.run import checkpoint, layout
from gen_core.run.files import writing
from gen_core.run.timeline import read_codes

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_ZIP_BYTES = 512 * 1024 * 1024
MAX_ZIP_MEMBERS = 4_000  # a run holds 5 files and (say) at most 1,000 sample grids and as many timeline files
_log = logging.getLogger(__name__)


def safe_run_name(name: str) -> str:
    """``name`` as a run folder's name: letters, digits, dots, dashes and underscores, at most 80.

    The runs folder's own folders are never a run's: no name starts with "_" (``_jobs``,
    ``_uploads``) or "." (import staging), and "students" is kept for classroom mode's spaces.
    """
    cleaned = _SAFE_NAME.sub("-", str(name).strip()).strip("-._")[:80].rstrip("-._")
    if not cleaned:
        raise CheckpointError("A run name needs at least one letter or digit")
    if cleaned.lower() == STUDENTS_DIR:
        raise CheckpointError(f"'{cleaned}' is kept for the students' folders of classroom mode; choose another "
                              "run name")
    return cleaned


def new_run_dir(root: Path, family: str, dataset: str, name: str | None = None, create: bool = False) -> Path:
    """A fresh, unused folder under ``root``: the given name, or family-dataset-timestamp.

    With ``create`` the folder is made here, atomically, so two callers at the same moment
    (two students pressing Start) never get the same one.
    """
    root = Path(root)
    base = safe_run_name(name) if name else f"{family}-{safe_run_name(dataset)}-{time.strftime('%Y%m%d-%H%M%S')}"
    candidate, counter = root / base, 2
    while True:
        if not candidate.exists():
            if not create:
                return candidate
            try:
                candidate.mkdir(parents=True)
                return candidate
            except FileExistsError:
                pass
        candidate, counter = root / f"{base}-{counter}", counter + 1


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
    """Every run folder under ``root``, newest first; unreadable ones are listed with the reason."""
    root = Path(root or default_root())
    try:
        folders = [path for path in root.iterdir() if path.is_dir() and (path / layout.CONFIG_FILE).exists()]
    except OSError:  # no runs folder yet, or one this process may not read
        return []
    return sorted((_run_info(path) for path in folders), key=lambda run: run.modified, reverse=True)


def _run_info(path: Path) -> RunInfo:
    try:
        modified = path.stat().st_mtime
        # Newest weights first: scoring a run rewrites history.json, and that must not make it "newest".
        weights_path = path / layout.WEIGHTS_FILE
        if weights_path.exists():
            modified = weights_path.stat().st_mtime
        record = checkpoint.read_record(path)
    except (GenCoreError, OSError) as error:
        return _unreadable(path, str(error) if isinstance(error, GenCoreError) else "it cannot be read")
    except Exception:  # a listing must never fail because of one folder; the log says why
        _log.exception("Unexpected error while reading the run folder %s", path)
        return _unreadable(path, "it could not be read")
    epochs = record.epochs
    return RunInfo(name=path.name, path=path, family=record.family, dataset=record.dataset_name,
                   epochs_done=len(epochs), epochs_planned=record.epochs_planned,
                   status=record.history["status"], final=epochs[-1] if epochs else {},
                   metrics=record.history["metrics"], modified=modified)


def _unreadable(path: Path, reason: str) -> RunInfo:
    try:
        modified = path.stat().st_mtime
    except OSError:
        modified = 0.0
    return RunInfo(path.name, path, "?", "?", 0, 0, "unreadable", {}, {}, modified, reason)


def resolve_run(name_or_path, root: Path | None = None) -> Path:
    """The run folder a name (or a path) stands for, which must be a run directly in ``root``.

    Everything that names a run from outside (a link's ``?run=``, a page action, a session's
    saved choice) goes through here, so ``../x``, ``/abs/path`` or a symlink out of the runs
    folder never reaches a run operation.
    """
    root = Path(root or default_root()).resolve()
    text = str(name_or_path)
    if not text or len(text) > 4096 or "\x00" in text:
        raise CheckpointError("That is not the name of a run.")
    candidate = Path(text)
    try:
        path = (candidate if candidate.is_absolute() else root / candidate).resolve()
        if path.parent != root:
            raise CheckpointError("That run is not in the runs folder.")
        if not (path / layout.CONFIG_FILE).is_file():
            raise CheckpointError(f"There is no run called {path.name[:80]!r}.")
    except OSError:  # a name too long for the file system, a loop of links...
        raise CheckpointError("That is not the name of a run.") from None
    return path


def delete_run(path: Path, root: Path | None = None) -> None:
    path = _run_in_root(path, root, "deleting")
    with writing(path):  # refused while a training run writes it
        shutil.rmtree(path)


def rename_run(path: Path, new_name: str, root: Path | None = None) -> Path:
    root = Path(root or default_root()).resolve()
    path = _run_in_root(path, root, "renaming")
    target = root / safe_run_name(new_name)
    if target.exists():
        raise CheckpointError(f"A run called {target.name!r} already exists")
    with writing(path):
        path.rename(target)
        # The lock moved with the folder; write through the old lock rather than taking a new one.
        config = checkpoint.read_json(target / layout.CONFIG_FILE)
        config["name"] = target.name
        write_json_atomic(target / layout.CONFIG_FILE, config)
    return target


def _run_in_root(path: Path, root: Path | None, action: str) -> Path:
    root = Path(root or default_root()).resolve()
    path = Path(path).resolve()
    if path.parent != root:
        raise CheckpointError("That folder is not inside the runs folder.")
    if not (path / layout.CONFIG_FILE).exists():
        raise CheckpointError(f"{path.name!r} does not look like a run folder; not {action} it")
    return path


def export_zip(path: Path) -> bytes:
    """The run folder as zip bytes (data files only; links are not followed out of the folder)."""
    path = Path(path).resolve()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(path.rglob("*")):
            relative = file.relative_to(path).as_posix()
            if file.is_file() and not file.is_symlink() and layout.is_run_file(relative):
                archive.write(file, relative)
    return buffer.getvalue()


def import_zip(data: bytes, root: Path | None = None, name: str | None = None) -> Path:
    """Unpack an uploaded run zip into a new run folder, after checking every file in it.

    The zip is read with the one safe reader (gen_core.images.archive); only known data files
    are taken (weights must be safetensors, sample grids PNGs within a pixel limit, timeline
    codes the model's, gen_core.run.timeline), the settings and history must pass the run
    record's schema and the weights must load. The run
    appears in the runs folder in one rename, complete or not at all.
    """
    root = _mkdir(Path(root or default_root()))
    if len(data) > MAX_ZIP_BYTES:
        raise CheckpointError(f"The zip is {len(data) / 2**20:.0f} MB, above the {MAX_ZIP_BYTES // 2**20} MB limit")
    _remove_stale_staging(root)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=IMPORT_STAGING_PREFIX))
    try:
        prefix = _unpack_run_zip(data, staging)
        try:
            run = checkpoint.load_run(staging)
        except GenCoreError as error:  # (named without the staging folder, which means nothing to anyone)
            raise CheckpointError("The zip does not hold a loadable run: "
                                  + str(error).replace(f"{staging.name}: ", "")) from None
        _check_timeline(staging, run.model.latent_dim)
        dataset = str(run.config["data"].get("name") or "upload")
        wanted = name or (prefix.strip("/") or None) or run.config.get("name")
        try:
            destination = new_run_dir(root, run.family, dataset, wanted, create=True)
        except CheckpointError:
            if name:  # a name the visitor typed: say what is wrong with it
                raise
            destination = new_run_dir(root, run.family, dataset, create=True)  # the zip's own name is unusable
        try:
            config = checkpoint.read_json(staging / layout.CONFIG_FILE)
            write_json_atomic(staging / layout.CONFIG_FILE, {**config, "name": destination.name})
            os.replace(staging, destination)  # onto the empty folder reserved for it
        except BaseException:
            shutil.rmtree(destination, ignore_errors=True)
            raise
        return destination
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _unpack_run_zip(data: bytes, staging: Path) -> str:
    """Write the zip's run files into ``staging``; returns the zip's top folder ("" when none)."""
    try:
        with SafeZip(data, max_members=MAX_ZIP_MEMBERS, max_total_bytes=MAX_ZIP_BYTES) as archive:
            if archive.unsafe_names:
                raise CheckpointError(f"Unexpected file {archive.unsafe_names[0]} in the zip: it points outside the zip")
            prefix = _common_folder(archive.members)
            for member in archive.members:
                relative = member.name[len(prefix):]
                if not layout.is_run_file(relative):
                    raise CheckpointError(f"Unexpected file {member.name[:80]!r} in the zip; a run zip holds "
                                          f"{', '.join(layout.RECORD_FILES)}, sample grids and timeline codes only")
                content = archive.read(member)
                if relative.endswith(".png"):
                    _check_grid(relative, content)
                (staging / relative).parent.mkdir(parents=True, exist_ok=True)
                (staging / relative).write_bytes(content)
    except ArchiveError as error:
        raise CheckpointError(str(error)) from None
    return prefix


def _check_grid(name: str, content: bytes) -> None:
    try:
        decode_image(content, MAX_SAVED_GRID_PIXELS).close()
    except ImageInputError as error:
        raise CheckpointError(f"{name} in the zip is not a usable sample grid: {error}") from None


def _check_timeline(run_dir: Path, latent_dim: int) -> None:
    """Every timeline file must hold codes of the model's length (their test images are checked where
    the test set is at hand, on the Latent map)."""
    for _epoch, path in layout.timeline_files(run_dir):
        try:
            read_codes(path, latent_dim, test_count=2**31 - 1)
        except CheckpointError as error:
            raise CheckpointError(f"The zip's {error}") from None


def _remove_stale_staging(root: Path) -> None:
    """Staging folders of imports that died half way (older than an hour)."""
    for path in root.glob(f"{IMPORT_STAGING_PREFIX}*"):
        try:
            if time.time() - path.stat().st_mtime > 3600:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _common_folder(members) -> str:
    """'run-name/' when every member sits in one top folder (zips made by file managers)."""
    tops = {member.path.parts[0] for member in members}
    if len(tops) == 1 and all(len(member.path.parts) > 1 for member in members):
        return tops.pop() + "/"
    return ""
