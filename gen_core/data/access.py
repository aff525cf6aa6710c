"""Which server folders datasets may be read from: the data folders the operator allows.

A folder or tile dataset names a path on the server, typed into the app, given on the command
line or recorded in a run's config.json (which may come from anyone). Such a path is used only
when it lies inside one of the data folders:

* ``$GEN_CORE_DATA_DIRS``: folders separated by ``os.pathsep`` (":" on Linux and macOS), or
  by default ``./data``, the project's own data folder, where a laptop user drops images;
* the uploads folder (``_uploads`` under the runs folder), where the app keeps uploaded zips.

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
from pathlib import Path

from gen_core.atomic import write_bytes_atomic
from gen_core.errors import DatasetError
from gen_core.places import UPLOADS_DIR, default_root

DATA_DIRS_ENV = "GEN_CORE_DATA_DIRS"
DEFAULT_DATA_DIR = "data"
MAX_PATH_CHARS = 1024


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
    bases = [Path.cwd(), *data_folders()] if not candidate.is_absolute() else [Path("/")]
    inside = [found for found in ((base / candidate).resolve() for base in bases) if _within(found, roots)]
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


def save_upload(name: str, data: bytes) -> Path:
    """Keep an uploaded zip in the uploads folder, named by its content so a re-upload is reused."""
    digest = hashlib.sha256(data).hexdigest()[:12]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(str(name)).stem).strip("-.")[:60] or "upload"
    target = uploads_folder() / f"{stem}-{digest}.zip"
    if not target.exists():
        write_bytes_atomic(target, data)
    return target


def _within(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _shown_text(text: str) -> str:
    """What a visitor typed, for a message. A path from the root, or one that climbs out with "..",
    is cut to its last part: the message then names no place on the server, whoever reads it."""
    typed = Path(text)
    if typed.is_absolute() or ".." in typed.parts:
        text = typed.name or "that folder"
    return text if len(text) <= 80 else text[:79] + "…"
