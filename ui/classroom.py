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
import secrets
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from gen_core.data import access
from gen_core.errors import GenCoreError
from gen_core.places import STUDENTS_DIR, default_root
from gen_core.serve.classroom import (LECTURER_SPACE, ClassroomError, ClassroomSettings, PassphraseGuard,
                                      claim_space, key_opens, space_owner, student_slug, student_space,
                                      student_spaces)
from gen_core.run import checkpoint
from gen_core.run.collection import list_runs
from gen_core.serve.demos import DEMO_OWNER
from gen_core.serve.jobs import default_queue

STUDENT_PARAM, KEY_PARAM, JOIN_PARAM = "student", "key", "join"
IDENTITY_PARAMS = (STUDENT_PARAM, KEY_PARAM, JOIN_PARAM)
_TOKEN, _STUDENT, _KEY, _LECTURER = "viewer_token", "viewer_student", "viewer_key", "viewer_lecturer"
LINK_NOTICE = "viewer_link_notice"  # why a name in the link was not used, said once in the sidebar
PASSPHRASE_GUARD = PassphraseGuard()  # one for the whole server: every session's wrong guesses count
_session_ids: dict[str, str] = {}  # viewer token -> Streamlit session id, to ask whether it is still connected


@dataclass(frozen=True)
class Viewer:
    owner: str  # the job queue's owner key: "student:<name>", "lecturer" or "session:<token>"
    label: str  # how others see this viewer's jobs
    student: str | None
    lecturer: bool
    classroom: bool
    person: str = ""  # the browser behind the name (one waiting job per person, whatever the name)


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
    person = browser_fingerprint() or f"session:{token}"
    if lecturer:
        return Viewer("lecturer", "the lecturer", student, True, config.enabled, "lecturer")
    if student:
        return Viewer(f"student:{student}", student, student, False, True, person)
    return Viewer(f"session:{token}", "another visitor", None, False, config.enabled, person)


def browser_fingerprint() -> str:
    """A hash of the browser's own cookie (Streamlit's XSRF cookie, one per browser, shared by its
    tabs); "" when there is none (a test, or cookies off)."""
    try:
        cookie = st.context.cookies.get("_streamlit_xsrf") or ""
    except Exception:  # no request context (a bare script run)
        cookie = ""
    # the cookie is "2|mask|masked-token|time": unmask, so every tab of one browser gives one token
    parts = str(cookie).split("|")
    if len(parts) >= 3 and parts[0] == "2":
        try:
            mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
            cookie = bytes(a ^ b for a, b in zip(masked, mask * (len(masked) // max(1, len(mask)) + 1))).hex()
        except ValueError:
            pass
    return f"browser:{hashlib.sha256(str(cookie).encode()).hexdigest()[:16]}" if cookie else ""


def own_space(who: Viewer | None = None) -> Path:
    """Where this viewer's runs live: the student's space, the whole runs folder otherwise."""
    who = who or viewer()
    if who.classroom and not who.lecturer:
        return student_space(top_root(), who.student) if who.student else top_root() / STUDENTS_DIR
    return top_root()


def gallery_spaces(who: Viewer | None = None) -> dict[str, Path]:
    """Classroom mode: the folders of everyone else's runs, keyed by space (LECTURER_SPACE for the
    runs folder itself, a student's name for theirs, which can never be LECTURER_SPACE); empty
    outside classroom mode, where every run is in one list already."""
    who = who or viewer()
    if not who.classroom:
        return {}
    spaces = {} if who.lecturer else {LECTURER_SPACE: top_root()}
    spaces.update({space.name: space for space in student_spaces(top_root()) if space.name != who.student})
    return spaces


def own_uploads(who: Viewer | None = None) -> tuple[Path, int | None]:
    """Where this viewer's uploads are kept, and their quota in bytes (None: no quota)."""
    who = who or viewer()
    if who.classroom and not who.lecturer:  # no name: a folder no name can be, so nothing is in it
        return access.student_uploads(who.student or "-"), settings().max_upload_mb * 2**20
    return access.uploads_folder(), None


def uploads_scope(who: Viewer | None = None):
    """A context in which only this viewer's uploads can be named (a student's own; all otherwise)."""
    who = who or viewer()
    mine = who.classroom and not who.lecturer
    return access.uploads_scope(own_uploads(who)[0] if mine else None)


def may_save(who: Viewer | None = None) -> bool:
    """Whether anything may be kept for this viewer: not for a classroom visitor without a name."""
    who = who or viewer()
    return not who.classroom or who.lecturer or who.student is not None


def check_room_for_a_run(who: Viewer | None = None) -> None:
    """A student keeps at most max_runs runs, trained or imported (ClassroomError otherwise)."""
    who = who or viewer()
    if not who.classroom or who.lecturer:
        return
    if who.student is None:
        raise ClassroomError("Give your name in the sidebar first: your runs are kept under it")
    kept, most = len(list_runs(own_space(who))), settings().max_runs
    if kept >= most:
        raise ClassroomError(f"You keep {kept} runs, the most allowed here is {most}: delete one first")


def prune_uploads(space: Path) -> None:
    """Remove the uploads of ``space``'s owner that no run of theirs and no waiting job uses any more."""
    slug = space_owner(top_root(), space / "run")
    folder = access.student_uploads(slug) if slug else access.uploads_folder()
    used = []
    for info in list_runs(space):
        try:
            used.append(str((checkpoint.read_config(info.path).get("data") or {}).get("path", "")))
        except GenCoreError:
            continue
    used += [view.dataset_path for view in default_queue().jobs(include_ended=False)]
    access.prune_uploads(folder, [path for path in used if path], min_age=600.0)


def space_label(space_key: str) -> str:
    """How a gallery space is shown: "the lecturer" for the lecturer's, else the student's name."""
    return "the lecturer" if space_key == LECTURER_SPACE else space_key


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
    """The name this visitor gave, from the session or the URL (checked against its key; a new name
    in the URL is claimed only with the class code, ``?join=``)."""
    name, key = st.query_params.get(STUDENT_PARAM), st.query_params.get(KEY_PARAM)
    code = st.query_params.pop(JOIN_PARAM, None)
    if name and (name, key) != (st.session_state.get(_STUDENT), st.session_state.get(_KEY)):
        try:
            claim_name(name, code or "", key or "")
        except GenCoreError as error:
            st.query_params.pop(STUDENT_PARAM, None)
            st.query_params.pop(KEY_PARAM, None)
            st.session_state[LINK_NOTICE] = f"The name in this link was not used: {error}"
    student = st.session_state.get(_STUDENT)
    if student and not key_opens(top_root(), student, st.session_state.get(_KEY)):  # released by the lecturer
        for entry in (_STUDENT, _KEY):
            st.session_state.pop(entry, None)
        st.query_params.pop(STUDENT_PARAM, None)
        st.query_params.pop(KEY_PARAM, None)
        st.session_state[LINK_NOTICE] = f"The lecturer released the name {student}: give a name again."
        return None
    if student and st.query_params.get(STUDENT_PARAM) != student:  # page navigation drops it: put it back,
        st.query_params[STUDENT_PARAM] = student  # so a reload or a bookmark keeps the name
        st.query_params[KEY_PARAM] = st.session_state[_KEY]
    return student


def identity_query() -> dict[str, str]:
    """The URL parameters that keep this visitor's classroom name (empty when they gave none)."""
    student, key = st.session_state.get(_STUDENT), st.session_state.get(_KEY)
    return {STUDENT_PARAM: student, KEY_PARAM: key} if student and key else {}


def claim_name(name: str, code: str = "", key: str = "") -> str:
    """Take ``name`` for this session: a name of this class with its key (a bookmark), or a new one
    with the class code."""
    slug = student_slug(name)
    if key and key_opens(top_root(), slug, key):
        pass
    elif key:
        raise ClassroomError(f"The key in this link does not prove the name {slug}: it was mistyped, or the "
                             "lecturer released the name. Give a name again with the class code.")
    else:
        slug, key = claim_space(top_root(), slug, code, settings(), person=viewer_person())
    st.session_state[_STUDENT], st.session_state[_KEY] = slug, key
    st.query_params[STUDENT_PARAM], st.query_params[KEY_PARAM] = slug, key
    return slug


def viewer_person() -> str:
    return browser_fingerprint() or f"session:{st.session_state.setdefault(_TOKEN, secrets.token_hex(16))}"


def log_in_as_lecturer(attempt: str) -> bool:
    """Check the passphrase; raises ClassroomError while the server's login is locked."""
    if PASSPHRASE_GUARD.check(settings(), attempt):
        st.session_state[_LECTURER] = True
        return True
    return False


def log_out_lecturer() -> None:
    st.session_state.pop(_LECTURER, None)


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
