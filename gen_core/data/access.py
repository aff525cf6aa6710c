"""Which server folders datasets may be read from: the data folders the operator allows.

A folder or tile dataset names a path on the server, typed into the app, given on the command
line or recorded in a run's config.json (which may come from anyone). Such a path is used only
when it lies inside one of the data folders:

* ``$GEN_CORE_DATA_DIRS``: folders separated by ``os.pathsep`` (":" on Linux and macOS), or
  by default ``./data``, the project's own data folder, where a laptop user drops images;
* the uploads folder (``_uploads`` under the runs folder), where the app keeps uploaded zips;
  in classroom mode each student's in a folder of their own (``_uploads/students/<name>/``),
  and while ``uploads_scope`` names one, no other upload can be named or read.

A run records its dataset relative to its data folder (``faces/cats``, ``_uploads/...``), never
as a server path (``recorded_path``), so a downloaded run shows nothing of the server.

Relative paths are looked up in the current folder and then in each data folder, so both
``data/faces`` and ``faces`` name ``./data/faces``. Symbolic links are resolved first, so a
link cannot lead out. Anything else is refused with a message that names no server path and
lists nothing; the registry's "folder" and "tiles" loaders and torchvision's ``root`` all go
through ``resolve_data_path``. (The low-level ``load_image_folder``/``load_tile_source`` stay
unrestricted for notebooks.)
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Iterable, Iterator

from gen_core.atomic import disk_errors, outermost_missing, write_bytes_atomic
from gen_core.errors import DatasetError
from gen_core.places import STUDENTS_DIR, UPLOADS_DIR, default_root

DATA_DIRS_ENV = "GEN_CORE_DATA_DIRS"
DEFAULT_DATA_DIR = "data"
MAX_PATH_CHARS = 1024
_uploads_scope: ContextVar[Path | None] = ContextVar("uploads_scope", default=None)


class DataAccessError(DatasetError):
    """A dataset path lies outside the data folders this server reads from."""


def data_folders() -> list[Path]:
    """The folders the operator allows (resolved), without the uploads folder."""
    configured = os.environ.get(DATA_DIRS_ENV)
    names = [part for part in (configured or DEFAULT_DATA_DIR).split(os.pathsep) if part.strip()]
    return [Path(name).expanduser().resolve() for name in names]


def uploads_folder() -> Path:
    return (default_root() / UPLOADS_DIR).resolve()


def allowed_roots() -> list[Path]:
    return [*data_folders(), uploads_folder()]


def resolve_data_path(path: str | os.PathLike) -> Path:
    """``path`` as an absolute path inside a data folder, or DataAccessError / DatasetError.

    The path need not exist yet only when it could not be found anywhere: then the message says
    it is missing, still naming no server folder.
    """
    text = os.fspath(path).strip() if path is not None else ""
    if not text or len(text) > MAX_PATH_CHARS or "\x00" in text:
        raise DatasetError("Give the name of a folder or .zip file inside the data folder.")
    roots, candidate = allowed_roots(), Path(text)
    bases = [Path.cwd(), *data_folders(), default_root()] if not candidate.is_absolute() else [Path("/")]
    inside = [found for found in ((base / candidate).resolve() for base in bases) if _within(found, roots)]
    scope = _uploads_scope.get()
    if scope is not None:  # another student's uploads are outside for this one
        inside = [found for found in inside if not _within(found, [uploads_folder()]) or _within(found, [scope])]
    for found in inside:
        if found.exists():
            return found
    if inside:
        raise DatasetError(f"There is no folder or .zip file called {_shown_text(text)!r} in the data folder.")
    raise DataAccessError(f"{_shown_text(text)!r} is outside the data folders this server reads images from. "
                          f"Put the images in {describe_data_folders()} or upload a zip instead.")


def shown_path(path: str | os.PathLike) -> str:
    """A dataset path for messages: relative to its data folder ("faces/cats"), never absolute."""
    resolved = Path(path).resolve()
    for root in allowed_roots():
        if _within(resolved, [root]):
            relative = resolved.relative_to(root).as_posix()
            return "an upload" if root == uploads_folder() else (relative if relative != "." else root.name)
    return resolved.name or "that folder"


def shown_folder(folder: str | os.PathLike) -> str:
    """A server folder as a visitor may see it: relative to the app's folder, or just its name."""
    folder = Path(folder).resolve()
    try:
        return folder.relative_to(Path.cwd().resolve()).as_posix() + "/"
    except ValueError:
        return f"the {folder.name}/ folder"


def describe_data_folders() -> str:
    return " or ".join(shown_folder(folder) for folder in data_folders())


def check_dataset_root(root: str | os.PathLike, default: Path) -> Path:
    """A torchvision ``root``: the default download folder, or a folder inside the data folders.

    (CIFAR-10's files are pickles, so a root a run record could point anywhere would be a way to
    run code; here it can only be a folder the operator filled.)
    """
    resolved = Path(root).resolve()
    if resolved == Path(default).resolve() or _within(resolved, data_folders()):
        return resolved
    raise DataAccessError(f"The dataset folder {_shown_text(os.fspath(root))!r} is outside the data folders this "
                          "server reads from.")


def recorded_path(path: str | os.PathLike) -> str:
    """How a run records a dataset path: relative to its data folder ("faces/cats"), or to the runs
    folder for an upload ("_uploads/..."), so that it names no server folder and still resolves
    with ``resolve_data_path``. A path outside every data folder is kept as given (it is refused
    when used)."""
    try:
        resolved = resolve_data_path(path)
    except DatasetError:
        return os.fspath(path)
    uploads = uploads_folder()
    if _within(resolved, [uploads]):
        return Path(UPLOADS_DIR, resolved.relative_to(uploads)).as_posix()
    for root in data_folders():
        if _within(resolved, [root]) and resolved != root:
            return resolved.relative_to(root).as_posix()
    return os.fspath(path)


# -- uploads: each student's own --------------------------------------------------------------------
@contextmanager
def uploads_scope(folder: Path | None) -> Iterator[None]:
    """While inside, only uploads in ``folder`` can be named (None: every upload, as for the operator)."""
    token = _uploads_scope.set(None if folder is None else Path(folder).resolve())
    try:
        yield
    finally:
        _uploads_scope.reset(token)


def student_uploads(slug: str) -> Path:
    """The folder of one student's uploads."""
    return uploads_folder() / STUDENTS_DIR / slug


def scope_for_run(run_dir: Path) -> Path | None:
    """The uploads a run may train on: its student's, for a run in a student's space; else all."""
    try:
        parts = Path(run_dir).resolve().relative_to(default_root().resolve()).parts
    except ValueError:
        return None
    return student_uploads(parts[1]) if len(parts) >= 3 and parts[0] == STUDENTS_DIR else None


def uploads_size(folder: Path) -> int:
    """Bytes of the zips kept in ``folder``."""
    try:
        return sum(entry.stat().st_size for entry in Path(folder).glob("*.zip"))
    except OSError:
        return 0


def save_upload(name: str, data: bytes, folder: Path | None = None, quota_bytes: int | None = None) -> Path:
    """Keep an uploaded zip in ``folder`` (default: the uploads folder), named by its content so a
    re-upload is reused; refused when the folder's zips would pass ``quota_bytes``."""
    folder = Path(folder) if folder is not None else uploads_folder()
    digest = hashlib.sha256(data).hexdigest()[:12]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(str(name)).stem).strip("-.")[:60] or "upload"
    target = folder / f"{stem}-{digest}.zip"
    if target.exists():
        return target
    if quota_bytes is not None and uploads_size(folder) + len(data) > quota_bytes:
        raise DatasetError(f"Your uploads would take {(uploads_size(folder) + len(data)) / 2**20:.0f} MB; each "
                           f"student may keep {quota_bytes / 2**20:.0f} MB here. Deleting a run deletes the "
                           "uploads only it used.")
    with disk_errors("save the upload", made=outermost_missing(folder)):
        write_bytes_atomic(target, data)
    return target


def prune_uploads(folder: Path, still_used: Iterable[str | os.PathLike], min_age: float = 600.0) -> list[Path]:
    """Remove the zips in ``folder`` that no run uses any more (``still_used``: dataset paths the
    remaining runs and jobs record), except ones saved in the last ``min_age`` seconds (just
    picked for a run not yet started)."""
    used = set()
    for path in still_used:
        try:
            used.add(resolve_data_path(path))
        except (DatasetError, OSError):
            continue
    removed, now = [], time.time()
    for upload in Path(folder).glob("*.zip"):
        try:
            if upload.resolve() not in used and now - upload.stat().st_mtime > min_age:
                upload.unlink()
                removed.append(upload)
        except OSError:
            continue
    return removed


def _within(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _shown_text(text: str) -> str:
    """What a visitor typed, for a message. A path from the root, or one that climbs out with "..",
    is cut to its last part: the message then names no place on the server, whoever reads it."""
    typed = Path(text)
    if typed.is_absolute() or ".." in typed.parts:
        text = typed.name or "that folder"
    return text if len(text) <= 80 else text[:79] + "…"
