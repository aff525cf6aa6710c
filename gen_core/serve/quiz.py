"""A quiz for the whole room: "which one is real?", the same pairs on every screen, answers counted live.

A round is a small JSON file in the runs folder, ``<root>/_quizzes/<round>.json``::

    {"format": "latent-lab-quiz", "version": 1, "id": "1765111111111-a1b2c3", "run": "vae-mnist",
     "kind": "digits", "seed": 7, "pairs": [{"real": 4120, "real_side": "left"}, ...],
     "state": "open", "host": "lecturer", "started": 1765111111.1}

``run`` is the model's folder relative to the runs folder (``students/<name>/<run>`` for a
student's); pair ``n`` shows test image ``real`` beside the ``n``-th image the model draws with
the round's seed, on ``real_side``. Which side is real is read only by the server: a page shows it
once the host reveals the round. The newest round that is not closed is the room's round; starting
one closes the others.

The answers are kept beside the round, in ``<root>/_quizzes/<round>/`` (gen_core.serve.quiz_answers).

Round files and answers come from disk, which anyone with the folder can edit: every one is read
through one schema, sized before it is read, and refused with a one-line reason.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from gen_core.atomic import disk_errors, write_bytes_atomic
from gen_core.errors import CheckpointError, DatasetError, GenCoreError
from gen_core.places import QUIZZES_DIR, STUDENTS_DIR
from gen_core.run.collection import resolve_run

FORMAT = "latent-lab-quiz"
VERSION = 1
SIDES = ("left", "right")
KINDS = ("digits", "tiles")  # whole images of a dataset, or tiles of large images
STATES = ("open", "revealed", "closed")
MAX_PAIRS = 20
MAX_ROUND_BYTES = 8 * 1024
KEEP_ROUNDS = 30  # older rounds and their answers are removed when a round starts
ROUND_ID = re.compile(r"^\d{13}-[0-9a-f]{6}$")
_HOST = re.compile(r"^[a-z]{1,20}(:[A-Za-z0-9_-]{1,64})?$")
_RUN = re.compile(rf"^({STUDENTS_DIR}/[a-z0-9][a-z0-9_-]{{0,30}}/)?[A-Za-z0-9][A-Za-z0-9._-]{{0,79}}$")


class QuizError(GenCoreError, ValueError):
    """A round or an answer that cannot be used; the message says why in one line."""


# -- one pair ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QuizRound:
    """One "which one is real?" question: which tiles, and on which side the real one sits."""

    number: int
    real_index: int
    generated_index: int
    real_side: str

    def is_correct(self, side: str) -> bool:
        return side == self.real_side


def draw_round(number: int, seed: int, real_count: int, generated_count: int) -> QuizRound:
    """The same (number, seed) always gives the same round, so a class can replay a quiz."""
    if real_count < 1 or generated_count < 1:
        raise DatasetError("The quiz needs at least one real and one generated tile.")
    rng = np.random.default_rng([int(seed), int(number)])
    return QuizRound(number=number, real_index=int(rng.integers(real_count)),
                     generated_index=int(rng.integers(generated_count)), real_side=str(rng.choice(SIDES)))


def room_pairs(seed: int, count: int, real_count: int) -> tuple[QuizRound, ...]:
    """A room round's pairs: drawn like the Tiles quiz's rounds, but pair ``n`` shows the ``n``-th
    generated image (the model draws one per pair), so no generated image is shown twice."""
    return tuple(replace(draw_round(number, seed, real_count, count), generated_index=number)
                 for number in range(count))


# -- a round -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Round:
    id: str
    run: str  # the model's folder, relative to the runs folder
    kind: str
    seed: int
    pairs: tuple[QuizRound, ...]
    state: str = "open"
    host: str = ""  # the owner key of whoever started it ("lecturer", "session:<token>")
    started: float = 0.0

    @property
    def revealed(self) -> bool:
        return self.state != "open"

    def to_json(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "id": self.id, "run": self.run, "kind": self.kind,
                "seed": self.seed, "pairs": [{"real": p.real_index, "real_side": p.real_side} for p in self.pairs],
                "state": self.state, "host": self.host, "started": self.started}


def kind_of(dataset_name: str) -> str:
    """The kind of round a model makes: tiles for a model trained on tiles, digits for whole images."""
    return "tiles" if dataset_name == "tiles" else "digits"


def run_reference(root: Path, run_dir: Path) -> str:
    """How a round names its model: the run folder relative to the runs folder."""
    try:
        relative = Path(run_dir).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        raise QuizError("A round's model must be a run in the runs folder.") from None
    if not _RUN.match(relative):
        raise QuizError("A round's model must be a run in the runs folder or in a student's space.")
    return relative


def run_folder(root: Path, quizzed: Round) -> Path:
    """The run folder a round's model names, which must be a run in the runs folder or a student's space."""
    parent, _, name = quizzed.run.rpartition("/")
    try:
        return resolve_run(name, Path(root) / parent if parent else root)
    except CheckpointError:
        raise QuizError("The model of this round is no longer in the runs folder.") from None


def _integer(value, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise QuizError(f"{what} is not a whole number from {low} to {high}.")
    return value


def check_round(round_id, run, kind, seed, pairs, state, host, started) -> Round:
    """A round from its parts, each checked; QuizError with the reason otherwise."""
    if not isinstance(round_id, str) or not ROUND_ID.match(round_id):
        raise QuizError("A round's id is its start time and six hex digits.")
    if not isinstance(run, str) or not _RUN.match(run) or ".." in run:
        raise QuizError("A round's model is the name of a run in the runs folder.")
    if kind not in KINDS:
        raise QuizError(f"A round is on {' or '.join(KINDS)}.")
    if state not in STATES:
        raise QuizError(f"A round's state is one of {', '.join(STATES)}.")
    if not isinstance(host, str) or not _HOST.match(host):
        raise QuizError("A round's host is not a session of this app.")
    if isinstance(started, bool) or not isinstance(started, (int, float)) or not 0 <= started < 1e11:
        raise QuizError("A round's start time is not a time.")
    if not isinstance(pairs, list) or not 1 <= len(pairs) <= MAX_PAIRS:
        raise QuizError(f"A round has 1 to {MAX_PAIRS} pairs.")
    parsed = []
    for number, pair in enumerate(pairs):
        if not isinstance(pair, dict) or pair.get("real_side") not in SIDES:
            raise QuizError(f"Pair {number + 1} of the round does not say which side is real.")
        real = _integer(pair.get("real"), 0, 10**8, f"Pair {number + 1}'s real image")
        parsed.append(QuizRound(number, real, number, pair["real_side"]))
    return Round(round_id, run, kind, _integer(seed, 0, 2**31 - 1, "A round's seed"), tuple(parsed), state, host,
                 float(started))


def round_from_json(data: bytes | str) -> Round:
    """A round from its file's bytes; QuizError with the reason when it is not one."""
    if len(data) > MAX_ROUND_BYTES:
        raise QuizError(f"A quiz round file is at most {MAX_ROUND_BYTES // 1024} KB; this one is larger.")
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise QuizError("This file is not a quiz round: it is not JSON.") from None
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise QuizError(f"This file is not a quiz round: it lacks \"format\": \"{FORMAT}\".")
    if value.get("version") != VERSION:
        raise QuizError(f"This quiz round's version is not {VERSION}; it was written by another version of the app.")
    return check_round(value.get("id"), value.get("run"), value.get("kind"), value.get("seed"), value.get("pairs"),
                       value.get("state"), value.get("host"), value.get("started"))


def quizzes_dir(root: Path) -> Path:
    return Path(root) / QUIZZES_DIR


def answers_dir(root: Path, round_id: str) -> Path:
    """The folder of a round's answers (gen_core.serve.quiz_answers)."""
    return quizzes_dir(root) / round_id


def _round_ids(root: Path) -> list[str]:
    """Every round's id under ``root``, newest first (an id starts with its start time)."""
    try:
        names = [path.name[:-5] for path in quizzes_dir(root).iterdir() if path.name.endswith(".json")]
    except OSError:
        return []
    return sorted((name for name in names if ROUND_ID.match(name)), reverse=True)


def load_round(root: Path, round_id: str) -> Round:
    if not isinstance(round_id, str) or not ROUND_ID.match(round_id):
        raise QuizError("There is no such quiz round.")
    path = quizzes_dir(root) / f"{round_id}.json"
    try:
        with path.open("rb") as file:
            data = file.read(MAX_ROUND_BYTES + 1)
    except OSError:
        raise QuizError("There is no such quiz round.") from None
    loaded = round_from_json(data)
    if loaded.id != round_id:
        raise QuizError("This quiz round's file names another round.")
    return loaded


def current_round(root: Path) -> Round | None:
    """The room's round: the newest one that is not closed (rounds that cannot be read are passed
    over, see ``unreadable_rounds``); None when there is none."""
    for round_id in _round_ids(root)[:KEEP_ROUNDS + 5]:
        try:
            found = load_round(root, round_id)
        except QuizError:
            continue
        if found.state != "closed":
            return found
    return None


def unreadable_rounds(root: Path) -> list[str]:
    """Why each unreadable round file newer than the room's round was passed over, for the host."""
    reasons = []
    for round_id in _round_ids(root)[:KEEP_ROUNDS + 5]:
        try:
            if load_round(root, round_id).state != "closed":
                break
        except QuizError as error:
            reasons.append(f"{round_id}: {error}")
    return reasons


def _save(root: Path, saved: Round) -> Round:
    data = json.dumps(saved.to_json(), indent=1).encode()
    with disk_errors("keep the quiz round"):
        write_bytes_atomic(quizzes_dir(root) / f"{saved.id}.json", data)
    return saved


def start_round(root: Path, run: str, kind: str, pair_count: int, seed: int, real_count: int, host: str) -> Round:
    """Start a round of ``pair_count`` pairs on ``run`` (whose test set holds ``real_count``
    images); the rounds before it are closed and the oldest beyond KEEP_ROUNDS removed."""
    pair_count = _integer(pair_count, 1, MAX_PAIRS, "The number of pairs")
    if isinstance(real_count, bool) or not isinstance(real_count, int) or real_count < 1:
        raise QuizError("This model's dataset has no test images to show as the real ones.")
    earlier = _round_ids(root)
    # ids sort by start time, so a round started in the same millisecond as the last one is a millisecond
    # later (a hand-made id far in the future is not followed)
    now = time.time_ns() // 1_000_000
    after_last = int(earlier[0][:13]) + 1 if earlier else now
    stamp = after_last if now <= after_last < now + 60_000 else now
    round_id = f"{stamp:013d}-{secrets.token_hex(3)}"
    pairs = [{"real": p.real_index, "real_side": p.real_side} for p in room_pairs(seed, pair_count, real_count)]
    started = check_round(round_id, run, kind, seed, pairs, "open", host, time.time())
    for earlier_id in earlier:
        set_state(root, earlier_id, "closed", quiet=True)
    _save(root, started)
    _remove_old_rounds(root)
    return started


def set_state(root: Path, round_id: str, state: str, quiet: bool = False) -> Round | None:
    """Reveal (``revealed``) or close (``closed``) a round; ``quiet``: pass over one that cannot be read."""
    if state not in STATES:
        raise QuizError(f"A round's state is one of {', '.join(STATES)}.")
    try:
        found = load_round(root, round_id)
    except QuizError:
        if quiet:
            return None
        raise
    if found.state == state or (found.state == "closed" and state != "closed"):
        return found  # a closed round stays closed
    return _save(root, replace(found, state=state))


def take_over(root: Path, round_id: str, host: str) -> Round:
    """Make ``host`` the round's host (its first host's session has gone)."""
    found = load_round(root, round_id)
    return _save(root, check_round(found.id, found.run, found.kind, found.seed, found.to_json()["pairs"],
                                   found.state, host, found.started))


def _remove_old_rounds(root: Path) -> None:
    for round_id in _round_ids(root)[KEEP_ROUNDS:]:
        (quizzes_dir(root) / f"{round_id}.json").unlink(missing_ok=True)
        shutil.rmtree(answers_dir(root, round_id), ignore_errors=True)
