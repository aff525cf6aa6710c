"""Writing a run folder so that nothing is lost: all-or-nothing epochs, one writer.

* Every file is written atomically (gen_core.atomic), so no reader ever sees half a file.
* The files of one epoch (weights, optimiser state, settings, history, the timeline's codes) are
  committed together: each is first written as ``.NAME.pending`` beside its final place; then a
  small journal naming them is renamed into place (the commit point); then each pending file is
  renamed over its final name and the journal removed. A crash, ``kill -9`` or a full disk before
  the journal exists leaves the last completed epoch untouched (the pending files are removed on
  the next open); after it, the next open finishes the renames. Either way weights, optimiser
  state and history agree.
* One process writes a run folder at a time: it holds an OS file lock (``filelock``) on
  ``RUN/.lock`` for as long as it writes, and a second writer is refused at once, before it
  does any work. Temporary files left by a dead writer are cleaned by the next one to take the
  lock (or by a reader, when no writer holds it).

Files are not fsync'ed: this protects against a process dying, not against power loss, and
keeps a checkpoint per epoch cheap.
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from filelock import FileLock, Timeout

from gen_core.atomic import TEMP_SUFFIX, write_json_atomic
from gen_core.errors import CheckpointError, RunBusyError
from gen_core.run.layout import CODES_DIR, JOURNAL_FILE, LOCK_FILE, SAMPLES_DIR, is_run_file

_PENDING_SUFFIX = ".pending"


# -- several files as one change --------------------------------------------------------------------
def _pending(run_dir: Path, name: str) -> Path:
    """Where ``name`` (a run file, perhaps in a sub-folder: ``codes/epoch_007.npy``) waits to be committed."""
    final = run_dir / name
    return final.with_name(f".{final.name}{_PENDING_SUFFIX}")


def commit_files(run_dir: Path, writers: dict[str, Callable[[Path], None]]) -> None:
    """Write several files of ``run_dir`` as one change: after a crash, all of them or none.
    ``writers``: a run file's name (gen_core.run.layout) -> a function writing it at a given path."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    staged: list[Path] = []
    try:
        for name, write in writers.items():
            if not is_run_file(name):
                raise ValueError(f"{name!r} is not a run file")
            pending = _pending(run_dir, name)
            pending.parent.mkdir(exist_ok=True)
            staged.append(pending)
            write(pending)
        write_json_atomic(run_dir / JOURNAL_FILE, {"files": list(writers)})  # the commit point
    except BaseException:
        for pending in staged:
            pending.unlink(missing_ok=True)
        raise
    _finish_commit(run_dir)


def _finish_commit(run_dir: Path) -> None:
    """Move the journal's pending files into place (again, after a crash), then drop the journal."""
    journal = run_dir / JOURNAL_FILE
    try:
        names = json.loads(journal.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        journal.unlink(missing_ok=True)  # a journal we cannot read was never committed
        return
    for name in names:
        if isinstance(name, str) and is_run_file(name):  # a journal edited by hand names nothing else
            pending = _pending(run_dir, name)
            if pending.exists():
                os.replace(pending, run_dir / name)
    journal.unlink(missing_ok=True)


def needs_recovery(run_dir: Path) -> bool:
    try:
        return any(_is_leftover(entry.name) or entry.name == JOURNAL_FILE for entry in os.scandir(run_dir))
    except OSError:
        return False


def _is_leftover(name: str) -> bool:
    return name.startswith(".") and name.endswith((_PENDING_SUFFIX, TEMP_SUFFIX))


def _recover(run_dir: Path) -> None:
    """Finish a committed change, then remove what an interrupted writer left behind."""
    if (run_dir / JOURNAL_FILE).exists():
        _finish_commit(run_dir)
    for folder in (run_dir, run_dir / SAMPLES_DIR, run_dir / CODES_DIR):
        if folder.is_dir():
            for entry in os.scandir(folder):
                if _is_leftover(entry.name):
                    Path(entry.path).unlink(missing_ok=True)


# -- the writer's lock ------------------------------------------------------------------------------
_held_lock = threading.Lock()
_held: dict[str, tuple[int, FileLock, int]] = {}  # resolved run path -> (thread id, lock, depth)


@contextmanager
def writing(run_dir: Path) -> Iterator[Path]:
    """Hold ``run_dir``'s writer lock for the block; refuse at once when someone else holds it.

    Re-entrant within a thread (a trainer's save inside a caller's lock); another thread of this
    process or another process gets ``RunBusyError``. Taking the lock first finishes or cleans
    up whatever a writer that died left in the folder.
    """
    run_dir = Path(run_dir)
    key, me = str(run_dir.resolve()), threading.get_ident()
    with _held_lock:
        owner = _held.get(key)
        if owner is not None and owner[0] != me:
            raise RunBusyError(_busy_message(run_dir))
        if owner is None:
            _lock_folder(run_dir, key)
        thread, lock, depth = _held[key]
        _held[key] = (thread, lock, depth + 1)
    try:
        yield run_dir
    finally:
        with _held_lock:
            thread, lock, depth = _held[key]
            if depth > 1:
                _held[key] = (thread, lock, depth - 1)
            else:
                del _held[key]
                lock.release()


def _lock_folder(run_dir: Path, key: str) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(run_dir / LOCK_FILE, timeout=0)
        lock.acquire()
    except Timeout:
        raise RunBusyError(_busy_message(run_dir)) from None
    except OSError as error:
        raise CheckpointError(f"Cannot write the run folder {run_dir.name!r}: {error.strerror or error}") from None
    _held[key] = (threading.get_ident(), lock, 0)
    _recover(run_dir)


def _busy_message(run_dir: Path) -> str:
    return (f"Run {run_dir.name!r} is being written by another training run right now; "
            "wait for it to end or stop it first.")


def recover_if_abandoned(run_dir: Path) -> None:
    """For readers: clean up after a dead writer, unless a live one holds the folder."""
    if not needs_recovery(run_dir):
        return
    try:
        with writing(run_dir):
            pass
    except CheckpointError:
        pass  # a writer is alive (it cleans up itself), or the folder is read-only: read as it is
