"""Classroom mode: each student's own space of runs, a lecturer who manages all, per-student limits.

Off by default, so a laptop user sees no change. The operator turns it on and sets its limits with
environment variables (or the same names in Streamlit's secrets):

    LATENT_LAB_CLASSROOM=1                     each visitor gives a name; runs go to students/<name>/
    LATENT_LAB_LECTURER_PASSPHRASE=...         unlocks managing every run and job
    LATENT_LAB_MAX_RUNS_PER_STUDENT=10         runs a student keeps (a new job needs a free place)
    LATENT_LAB_MAX_EPOCHS=100                  epochs per job
    LATENT_LAB_MAX_IMAGE_SIZE=64               the larger image side per job, in pixels

This module holds the rules; ui/classroom.py asks them on behalf of a browser session.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from gen_core.errors import GenCoreError

STUDENTS_DIR = "students"  # under the runs root: one folder per student
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,30}$")
_TRUE = ("1", "true", "yes", "on")


class ClassroomError(GenCoreError):
    """A name that cannot be used, a limit reached, or an action on someone else's run."""


@dataclass(frozen=True)
class ClassroomSettings:
    enabled: bool = False
    passphrase: str = ""
    max_runs: int = 10
    max_epochs: int = 100
    max_image_size: int = 64

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
                   max_image_size=number("LATENT_LAB_MAX_IMAGE_SIZE", cls.max_image_size))

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
