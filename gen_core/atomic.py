"""Files written so that no reader ever sees half of one, and outputs checked before the work.

Every file is written under a temporary name in its own folder and renamed into place. Files are
not fsync'ed: this protects against a process dying, not against power loss.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from gen_core.errors import GenCoreError, OutputPathError

TEMP_SUFFIX = ".tmp"


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(temporary_path)`` and rename the result to ``path``; no half file on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    os.close(handle)
    try:
        write(Path(temp_name))
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    write_atomic(path, lambda temp: temp.write_bytes(data))


def write_json_atomic(path: Path, value) -> None:
    write_bytes_atomic(path, json.dumps(value, indent=1, allow_nan=True).encode())


def create_exclusive(path: Path, data: bytes) -> bool:
    """Write ``path`` with ``data`` only if no file of that name exists, atomically: of two processes
    (or threads) creating one name at the same moment, exactly one gets True. Written under a
    temporary name and hard-linked into place, so a reader never sees it half-written."""
    path = Path(path)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
        os.link(temp_name, path)  # fails with FileExistsError when the name is taken
        return True
    except FileExistsError:
        return False
    finally:
        Path(temp_name).unlink(missing_ok=True)


# -- a disk that is full or read-only ------------------------------------------------------------
class DiskError(GenCoreError):
    """The server could not write: its disk is full, read-only or not writable for it."""


_DISK_WORDS = {errno.ENOSPC: "is full", errno.EDQUOT: "is over its quota", errno.EROFS: "is read-only",
               errno.EACCES: "is not writable for the app", errno.EPERM: "is not writable for the app"}


@contextmanager
def disk_errors(what: str, made: Path | None = None) -> Iterator[None]:
    """Turn a full, read-only or unwritable disk into one sentence (a DiskError) that names no
    path: "Could not save the upload: the server's disk is full. Nothing was saved." ``made``: a
    folder this step created, removed again on failure so nothing half-made is left."""
    try:
        yield
    except OSError as error:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        words = _DISK_WORDS.get(error.errno)
        if words is None:
            raise
        raise DiskError(f"Could not {what}: the server's disk {words}. Nothing was saved; ask the "
                        "lecturer or the operator.") from None


# -- outputs, checked before the work that fills them ------------------------------------------------
def check_output_folder(path: Path) -> Path:
    """Make ``path`` (and its parents) and prove a file can be written in it, or say why not."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=path, prefix=".write-test-", suffix=TEMP_SUFFIX)
        os.close(handle)
        os.unlink(probe)
    except FileExistsError:
        raise OutputPathError(f"{path} is a file, not a folder") from None
    except NotADirectoryError:
        raise OutputPathError(f"Cannot write {path}: a file stands where a folder is needed on the way") from None
    except OSError as error:
        raise OutputPathError(f"Cannot write in {path}: {error.strerror or error}") from None
    return path


def check_output_file(path: Path) -> Path:
    """A file that is about to be written: its folder must be writable and it must not be a folder."""
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{path} is a folder; give a file name")
    check_output_folder(path.parent)
    return path


def outermost_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` that does not exist yet (None when it all exists)."""
    missing = None
    for folder in (Path(path), *Path(path).parents):
        if folder.exists():
            return missing
        missing = folder
    return missing
