"""Classroom mode: each student's own space of runs, a lecturer who manages all, per-student limits.

Off by default, so a laptop user sees no change. The operator turns it on and sets its limits with
environment variables (or the same names in Streamlit's secrets):

    LATENT_LAB_CLASSROOM=1                     each visitor gives a name; runs go to students/<name>/
    LATENT_LAB_LECTURER_PASSPHRASE=...         unlocks managing every run and job
    LATENT_LAB_MAX_RUNS_PER_STUDENT=10         runs a student keeps (a new job needs a free place)
    LATENT_LAB_MAX_EPOCHS=100                  epochs per job
    LATENT_LAB_MAX_IMAGE_SIZE=64               the larger image side per job, in pixels
    LATENT_LAB_JOIN_CODE=...                   the class code a name claim needs (default: made up and
                                               shown to the lecturer, see ``join_code``)

and the compute budgets of gen_core.serve.budget. Roles are not names: the lecturer is a role
(the passphrase), never a student name, and names that read as a role or as the app's own words
are refused. A name is claimed once, atomically, and only with the class code shown on the
projector; the lecturer sees every name and can release one. This module holds the rules;
ui/classroom.py asks them on behalf of a browser session.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from gen_core.atomic import create_exclusive, disk_errors, outermost_missing, write_bytes_atomic
from gen_core.errors import GenCoreError
from gen_core.places import STUDENTS_DIR

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,30}$")
_TRUE = ("1", "true", "yes", "on")
OWNER_FILE = ".owner"  # in a student's space: who claimed it (the hash of its key, when)
JOIN_CODE_FILE = ".join-code"  # in the students folder: the class code, when the operator set none
_CODE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a projector
_KEY_SHAPE = re.compile(r"^[0-9a-f]{32}$")
# Names that read as a role or as the app's own words ("the lecturer", "you", "started outside the
# app"...): a student taking one could pass for someone else in the queue or the gallery.
RESERVED_NAMES = frozenset({
    "lecturer", "teacher", "professor", "instructor", "tutor", "admin", "administrator", "root", "staff",
    "operator", "moderator", "owner", "server", "system", "app", "you", "me", "everyone", "anyone", "all",
    "nobody", "somebody", "another-visitor", "visitor", "guest", "student", "students", "class", "demo",
    "demos", "started-outside-the-app", "outside", "terminal", "lab", "latent-lab", "null", "none"})
_ROLE_WORDS = ("lecturer", "teacher", "professor", "instructor", "admin", "moderator")


class ClassroomError(GenCoreError):
    """A name that cannot be used, a limit reached, or an action on someone else's run."""


@dataclass(frozen=True)
class ClassroomSettings:
    enabled: bool = False
    passphrase: str = ""
    max_runs: int = 10
    max_epochs: int = 100
    max_image_size: int = 64
    join_code: str = ""  # set by the operator; empty: one is made up and kept in the runs folder
    max_upload_mb: int = 200  # a student's uploaded zips, all together
    # compute budgets of one student's job, estimated before it is queued (gen_core.serve.budget)
    max_parameters: int = 5_000_000
    max_batch_mb: int = 2048  # activations of one batch, forward and backward
    max_image_epochs: int = 2_000_000  # training images times epochs
    max_dataset_mb: int = 1024  # the decoded images of a folder or zip dataset
    max_job_minutes: int = 30  # wall clock per job; then it is stopped and its epochs kept
    student_minutes: int = 120  # training time per student while the server runs

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> "ClassroomSettings":
        """Read the LATENT_LAB_* settings from ``values`` (the environment, or secrets over it)."""
        def number(key: str, default: int) -> int:
            text = str(values.get(key, "")).strip()
            return int(text) if text.isdigit() and int(text) >= 1 else default

        return cls(enabled=str(values.get("LATENT_LAB_CLASSROOM", "")).strip().lower() in _TRUE,
                   passphrase=str(values.get("LATENT_LAB_LECTURER_PASSPHRASE", "") or ""),
                   max_runs=number("LATENT_LAB_MAX_RUNS_PER_STUDENT", cls.max_runs),
                   max_epochs=number("LATENT_LAB_MAX_EPOCHS", cls.max_epochs),
                   max_image_size=number("LATENT_LAB_MAX_IMAGE_SIZE", cls.max_image_size),
                   join_code=normal_code(values.get("LATENT_LAB_JOIN_CODE", "")),
                   max_upload_mb=number("LATENT_LAB_MAX_UPLOAD_MB", cls.max_upload_mb),
                   max_parameters=number("LATENT_LAB_MAX_PARAMETERS", cls.max_parameters),
                   max_batch_mb=number("LATENT_LAB_MAX_BATCH_MB", cls.max_batch_mb),
                   max_image_epochs=number("LATENT_LAB_MAX_IMAGE_EPOCHS", cls.max_image_epochs),
                   max_dataset_mb=number("LATENT_LAB_MAX_DATASET_MB", cls.max_dataset_mb),
                   max_job_minutes=number("LATENT_LAB_MAX_JOB_MINUTES", cls.max_job_minutes),
                   student_minutes=number("LATENT_LAB_STUDENT_MINUTES", cls.student_minutes))

    def is_lecturer_passphrase(self, attempt: str) -> bool:
        """Constant-time comparison; no passphrase configured means nobody is the lecturer."""
        if not self.passphrase or not isinstance(attempt, str):
            return False
        return hmac.compare_digest(attempt.encode(), self.passphrase.encode())


def student_slug(name: object) -> str:
    """A student's name as a folder-safe slug: lower case letters, digits, - and _, at most 31
    characters. Anything else (a path, dots, spaces only, a huge string) is refused."""
    if not isinstance(name, str) or len(name) > 64:
        raise ClassroomError("A name is at most 31 letters, digits, - or _")
    slug = re.sub(r"\s+", "-", name.strip().lower())
    if not _NAME.match(slug):
        raise ClassroomError("Use a short name of letters, digits, - or _ (for example ada or ada-l)")
    if slug in RESERVED_NAMES or slug.replace("_", "-") in RESERVED_NAMES or any(w in slug for w in _ROLE_WORDS):
        raise ClassroomError(f"{slug} is a word this app uses for a role or for itself: pick your own name")
    return slug


def student_space(root: Path, slug: str) -> Path:
    """The folder holding one student's runs."""
    return Path(root) / STUDENTS_DIR / student_slug(slug)


def space_owner(root: Path, run_dir: Path) -> str | None:
    """The student whose space holds ``run_dir``, or None for a run outside every student's space."""
    try:
        relative = Path(run_dir).resolve().relative_to(Path(root).resolve())
    except ValueError:
        return None
    parts = relative.parts
    return parts[1] if len(parts) >= 3 and parts[0] == STUDENTS_DIR else None


def student_spaces(root: Path) -> list[Path]:
    """Every student's space under ``root``, by name."""
    folder = Path(root) / STUDENTS_DIR
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.is_dir() and _NAME.match(path.name))


def check_job_limits(settings: ClassroomSettings, epochs: int, image_shape, runs_kept: int,
                     new_run: bool = True) -> None:
    """Refuse a student's job that goes past the operator's limits, saying which and by how much."""
    if epochs > settings.max_epochs:
        raise ClassroomError(f"{epochs} epochs is more than the {settings.max_epochs} allowed per job here")
    side = max(int(v) for v in tuple(image_shape)[1:]) if image_shape else 0
    if side > settings.max_image_size:
        raise ClassroomError(f"{side}-pixel images are larger than the {settings.max_image_size} pixels "
                             "allowed per job here")
    if new_run and runs_kept >= settings.max_runs:
        raise ClassroomError(f"You keep {runs_kept} runs, the most allowed here is {settings.max_runs}: "
                             "delete one on the Models page first")


# -- the class code and name claims ----------------------------------------------------------------
def normal_code(text: object) -> str:
    """A class code as compared: letters and digits, upper case (spaces and dashes ignored)."""
    return re.sub(r"[^A-Z0-9]", "", str(text or "").upper())[:32]


def join_code(root: Path, settings: ClassroomSettings) -> str:
    """The code a name claim needs: the operator's, or one made up once and kept in the runs folder
    (so every process of the server and a restart agree on it)."""
    if settings.join_code:
        return settings.join_code
    path = Path(root) / STUDENTS_DIR / JOIN_CODE_FILE
    try:
        code = normal_code(path.read_text()[:64])
        if len(code) >= 4:
            return code
    except OSError:
        pass
    return new_join_code(root, keep_existing=True)


def new_join_code(root: Path, keep_existing: bool = False) -> str:
    """Make up a fresh code (the lecturer's "new code": names already claimed keep working)."""
    path = Path(root) / STUDENTS_DIR / JOIN_CODE_FILE
    code = "".join(secrets.choice(_CODE_LETTERS) for _ in range(6))
    with disk_errors("keep the class code"):
        path.parent.mkdir(parents=True, exist_ok=True)
        if keep_existing:
            if not create_exclusive(path, code.encode()):  # another session made one first: use theirs
                return normal_code(path.read_text()[:64])
        else:
            write_bytes_atomic(path, code.encode())
    return code


def claim_space(root: Path, name: object, code_attempt: object, settings: ClassroomSettings,
                person: str = "") -> tuple[str, str]:
    """Claim a new name with the class code; return (slug, key). Atomic: of two sessions claiming
    one name at the same moment exactly one gets it. ``person`` (a browser's fingerprint) is kept
    with the claim so the queue can count one person's jobs across names."""
    slug = student_slug(name)
    if not hmac.compare_digest(normal_code(code_attempt).encode(), join_code(root, settings).encode()):
        raise ClassroomError("That class code is not right: it is shown on the projector (ask the lecturer).")
    key = secrets.token_hex(16)
    space = student_space(root, slug)
    record = json.dumps({"key": _hash(key), "person": person, "claimed": time.time()}).encode()
    with disk_errors("keep your name", made=outermost_missing(space)):  # a failed claim leaves no folder
        space.mkdir(parents=True, exist_ok=True)
        claimed = create_exclusive(space / OWNER_FILE, record)
    if not claimed:
        raise ClassroomError(f"The name {slug} is taken in this class. Pick another one, or open the link "
                             "you bookmarked when you chose it.")
    return slug, key


def space_claim(root: Path, slug: str) -> dict | None:
    """What the claim of ``slug`` holds ({"key", "person", "claimed"}), or None when unclaimed."""
    try:
        text = (student_space(root, slug) / OWNER_FILE).read_text()[:4096]
    except (OSError, ClassroomError):
        return None
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        record = {"key": text.strip()}  # a claim from before the record was JSON: the key's hash alone
    return record if isinstance(record, dict) and isinstance(record.get("key"), str) else None


def key_opens(root: Path, slug: str, key: object) -> bool:
    """Whether ``key`` (from a bookmark) proves the name ``slug``."""
    claim = space_claim(root, slug)
    return claim is not None and isinstance(key, str) and bool(_KEY_SHAPE.match(key)) \
        and hmac.compare_digest(claim["key"], _hash(key))


def claimed_names(root: Path) -> list[tuple[str, float]]:
    """Every claimed name with when it was claimed (for the lecturer's list), oldest first."""
    found = []
    for space in student_spaces(root):
        claim = space_claim(root, space.name)
        if claim is not None:
            found.append((space.name, float(claim.get("claimed") or 0)))
    return sorted(found, key=lambda item: item[1])


def release_name(root: Path, slug: str) -> None:
    """The lecturer frees a name: its key stops working and the next claim takes it (its runs stay)."""
    with disk_errors("release the name"):
        (student_space(root, slug) / OWNER_FILE).unlink(missing_ok=True)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# -- guessing the passphrase -----------------------------------------------------------------------
@dataclass
class PassphraseGuard:
    """Wrong passphrases counted across every session of the server: after ``most`` wrong ones within
    ``window`` seconds, nobody may try for ``lockout`` seconds (each further lockout twice as long)."""

    most: int = 5
    window: float = 300.0
    lockout: float = 300.0
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0
    lockouts: int = 0
    total_failures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def seconds_locked(self, now: float | None = None) -> float:
        now = time.time() if now is None else now
        return max(0.0, self.locked_until - now)

    def check(self, settings: ClassroomSettings, attempt: object, now: float | None = None) -> bool:
        """Try ``attempt``; raises ClassroomError while locked (without comparing)."""
        now = time.time() if now is None else now
        with self._lock:
            left = self.seconds_locked(now)
            if left:
                raise ClassroomError(f"Too many wrong passphrases on this server: the lecturer login is locked "
                                     f"for {int(left) + 1} more seconds.")
            if settings.is_lecturer_passphrase(attempt):
                return True
            self.total_failures += 1
            self.failures = [t for t in self.failures if now - t < self.window] + [now]
            if len(self.failures) >= self.most:
                self.locked_until = now + self.lockout * 2 ** min(self.lockouts, 6)
                self.lockouts += 1
                self.failures.clear()
            return False


# -- the gallery -----------------------------------------------------------------------------------
LECTURER_SPACE = ":lecturer"  # the gallery key of the runs folder's top: no student name can be it
