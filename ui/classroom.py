"""Who is looking, and what they may change: classroom names, the lecturer, job owners.

Without classroom mode (a laptop) every run is shared and only running jobs are guarded: a job is
controlled by the browser session that started it, and by any session once that one has gone
(reloaded or closed), so a lone user never finds their own job locked. With classroom mode
(gen_core.serve.classroom) each visitor gives a name once, kept in the URL with a key that proves it is
theirs, and manages only the runs and jobs in their own space. The lecturer's passphrase (set by
the operator) unlocks everything, in either mode.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from gen_core.atomic import write_bytes_atomic
from gen_core.places import default_root
from gen_core.serve.classroom import (STUDENTS_DIR, ClassroomError, ClassroomSettings, space_owner, student_slug,
                                      student_space, student_spaces)
from gen_core.serve.demos import DEMO_OWNER

STUDENT_PARAM, KEY_PARAM = "student", "key"
IDENTITY_PARAMS = (STUDENT_PARAM, KEY_PARAM)
_TOKEN, _STUDENT, _KEY, _LECTURER = "viewer_token", "viewer_student", "viewer_key", "viewer_lecturer"
_KEY_FILE = ".owner"  # in a student's space: the hash of the key that claimed the name
_KEY_SHAPE = re.compile(r"^[0-9a-f]{32}$")
_session_ids: dict[str, str] = {}  # viewer token -> Streamlit session id, to ask whether it is still connected


@dataclass(frozen=True)
class Viewer:
    owner: str  # the job queue's owner key: "student:<name>", "lecturer" or "session:<token>"
    label: str  # how others see this viewer's jobs
    student: str | None
    lecturer: bool
    classroom: bool


def settings() -> ClassroomSettings:
    """Classroom settings: environment variables, overridden by the same names in Streamlit secrets."""
    values: dict = dict(os.environ)
    try:
        if st.secrets.load_if_toml_exists():
            values.update({k: v for k, v in st.secrets.items() if str(k).startswith("LATENT_LAB_")})
    except Exception:  # an unreadable secrets file must not take the app down; the environment still counts
        pass
    return ClassroomSettings.from_mapping(values)


def top_root() -> Path:
    return default_root()


def viewer() -> Viewer:
    config = settings()
    token = st.session_state.setdefault(_TOKEN, secrets.token_hex(16))
    _remember_session(token)
    lecturer = bool(st.session_state.get(_LECTURER)) and bool(config.passphrase)
    student = current_student() if config.enabled else None
    if lecturer:
        return Viewer("lecturer", "the lecturer", student, True, config.enabled)
    if student:
        return Viewer(f"student:{student}", student, student, False, True)
    return Viewer(f"session:{token}", "another visitor", None, False, config.enabled)


def own_space(who: Viewer | None = None) -> Path:
    """Where this viewer's runs live: the student's space, the whole runs folder otherwise."""
    who = who or viewer()
    if who.classroom and not who.lecturer:
        return student_space(top_root(), who.student) if who.student else top_root() / STUDENTS_DIR
    return top_root()


def gallery_spaces(who: Viewer | None = None) -> dict[str, Path]:
    """Classroom mode: the folders of everyone else's runs, by owner ("lecturer" for the runs folder
    itself); empty outside classroom mode, where every run is in one list already."""
    who = who or viewer()
    if not who.classroom:
        return {}
    spaces = {} if who.lecturer else {"lecturer": top_root()}
    spaces.update({space.name: space for space in student_spaces(top_root()) if space.name != who.student})
    return spaces


def space_of(run_dir: Path) -> Path:
    """The folder holding ``run_dir``, which must lie in the runs folder (or a student's space in it)."""
    run_dir, root = Path(run_dir).resolve(), top_root().resolve()
    if run_dir.parent not in (root, *student_spaces(root)):
        raise ClassroomError(f"{run_dir.name} is not in the runs folder")
    return run_dir.parent


def can_manage_run(run_dir: Path, who: Viewer | None = None) -> bool:
    """Rename or delete: the lecturer any run; a student the runs in their space; anyone on a laptop."""
    who = who or viewer()
    if who.lecturer or not who.classroom:
        return True
    return who.student is not None and space_owner(top_root(), run_dir) == who.student


def can_control_job(owner: str | None, who: Viewer | None = None) -> bool:
    """Stop or cancel a job of ``owner`` (None: a run started outside the app, from a terminal; the
    demo set's jobs are treated the same)."""
    who = who or viewer()
    if who.lecturer or owner == who.owner:
        return True
    if who.classroom:
        return False
    return owner is None or owner == DEMO_OWNER or (owner.startswith("session:") and not _session_connected(owner.split(":", 1)[1]))


def owner_label(owner: str | None, label: str, who: Viewer | None = None) -> str:
    who = who or viewer()
    if owner == who.owner:
        return "you"
    return label if owner is not None else "started outside the app"


# -- names in the URL ------------------------------------------------------------------------------
def current_student() -> str | None:
    """The name this visitor gave, from the session or the URL (checked against its key)."""
    name, key = st.query_params.get(STUDENT_PARAM), st.query_params.get(KEY_PARAM)
    if name and (name, key) != (st.session_state.get(_STUDENT), st.session_state.get(_KEY)):
        try:
            claim_name(name, key or "")
        except ClassroomError:
            st.query_params.pop(STUDENT_PARAM, None)
            st.query_params.pop(KEY_PARAM, None)
    student = st.session_state.get(_STUDENT)
    if student and st.query_params.get(STUDENT_PARAM) != student:  # page navigation drops it: put it back,
        st.query_params[STUDENT_PARAM] = student  # so a reload or a bookmark keeps the name
        st.query_params[KEY_PARAM] = st.session_state[_KEY]
    return student


def identity_query() -> dict[str, str]:
    """The URL parameters that keep this visitor's classroom name (empty when they gave none)."""
    student, key = st.session_state.get(_STUDENT), st.session_state.get(_KEY)
    return {STUDENT_PARAM: student, KEY_PARAM: key} if student and key else {}


def claim_name(name: str, key: str = "") -> str:
    """Take ``name`` for this session: new names are claimed with a fresh key; a taken one needs its key."""
    slug = student_slug(name)
    space = student_space(top_root(), slug)
    key_file = space / _KEY_FILE
    if key_file.exists():
        if not _KEY_SHAPE.match(key) or not secrets.compare_digest(key_file.read_text().strip(), _hash(key)):
            raise ClassroomError(f"The name {slug} is taken in this class. Pick another one, or open the link "
                                 "you bookmarked when you chose it.")
    else:
        key = secrets.token_hex(16)
        space.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(key_file, _hash(key).encode())
    st.session_state[_STUDENT], st.session_state[_KEY] = slug, key
    st.query_params[STUDENT_PARAM], st.query_params[KEY_PARAM] = slug, key
    return slug


def log_in_as_lecturer(attempt: str) -> bool:
    if settings().is_lecturer_passphrase(attempt):
        st.session_state[_LECTURER] = True
        return True
    time.sleep(1.0)  # slows guessing down; only this visitor's rerun waits
    return False


def log_out_lecturer() -> None:
    st.session_state.pop(_LECTURER, None)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# -- is a session still there? ---------------------------------------------------------------------
def _remember_session(token: str) -> None:
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx
        context = get_script_run_ctx()
    except ImportError:
        context = None
    if context is not None:
        _session_ids[token] = context.session_id


def _session_connected(token: str) -> bool:
    """Whether the browser session that owns ``token`` is still connected (True when unknown)."""
    from streamlit import runtime

    session_id = _session_ids.get(token)
    if session_id is None or not runtime.exists():
        return session_id is not None or not runtime.exists()
    return runtime.get_instance().is_active_session(session_id)
