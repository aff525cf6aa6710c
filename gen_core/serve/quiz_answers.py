"""The room's answers to a quiz round (gen_core.serve.quiz), and their tally.

Each answer is a file of its own, ``<root>/_quizzes/<round>/<answerer>/<pair>`` holding ``left``
or ``right``, created atomically and exclusively (gen_core.atomic.create_exclusive): sessions
answering at the same moment never lose a vote, and an answerer's first answer to a pair stands
(a second one is refused, as in the Tiles page's quiz). Answerers are named by their session
(a student's name, or a browser session's own token), never by a link.

An answer file is never rewritten, so a tally kept between refreshes (``RoomTally``) reads only the
files that appeared since: the host's screen follows a full lecture hall for the price of one
folder listing per answerer.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

from gen_core.atomic import create_exclusive, disk_errors
from gen_core.serve.quiz import MAX_PAIRS, ROUND_ID, SIDES, QuizError, Round, answers_dir, load_round

MAX_ANSWERERS = 500  # a lecture hall; answers from more are refused
_ANSWERER = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_PAIR_FILE = re.compile(r"^\d{2}$")


def answerer_id(owner: str) -> str:
    """An answerer's folder name from a session's owner key (``student:ada`` -> ``student-ada``)."""
    slug = str(owner).replace(":", "-").lower()
    if not _ANSWERER.match(slug):
        raise QuizError("This session cannot answer: it has no name the quiz can keep.")
    return slug


def _answerers(root: Path, round_id: str) -> list[Path]:
    """The answer folders of a round, at most MAX_ANSWERERS, in name order."""
    try:
        folders = [path for path in answers_dir(root, round_id).iterdir() if _ANSWERER.match(path.name)]
    except OSError:
        return []
    return sorted(folder for folder in folders if folder.is_dir())[:MAX_ANSWERERS]


def answerer_count(root: Path, round_id: str) -> int:
    """How many have answered a round so far (one folder listing)."""
    return len(_answerers(root, round_id))


def answer(root: Path, round_id: str, answerer: str, pair: int, side: str) -> bool:
    """Record ``answerer``'s answer to pair ``pair``; False when they had answered it already (their
    first answer stands). QuizError when the round is revealed or closed, or the answer is not one."""
    if not isinstance(answerer, str) or not _ANSWERER.match(answerer):
        raise QuizError("This session cannot answer: it has no name the quiz can keep.")
    if side not in SIDES:
        raise QuizError("An answer is left or right.")
    found = load_round(root, round_id)
    if found.state != "open":
        raise QuizError("This round has been revealed: answers are no longer counted.")
    if isinstance(pair, bool) or not isinstance(pair, int) or not 0 <= pair < len(found.pairs):
        raise QuizError(f"The pair is not a whole number from 0 to {len(found.pairs) - 1}.")
    folder = answers_dir(root, round_id) / answerer
    with disk_errors("keep your answer"):
        if not folder.is_dir():
            if answerer_count(root, round_id) >= MAX_ANSWERERS:
                raise QuizError(f"This round has answers from {MAX_ANSWERERS} people, the most it counts.")
            folder.mkdir(parents=True, exist_ok=True)
        return create_exclusive(folder / f"{pair:02d}", side.encode())


def _read_answers(folder: Path, pair_count: int, known: dict[str, str | None] | None = None) -> dict[str, str | None]:
    """One answerer's answer files, file name -> side (None: not an answer); the names in ``known``
    are not read again (an answer file is never rewritten)."""
    known = known or {}
    try:
        names = [path.name for path in folder.iterdir() if _PAIR_FILE.match(path.name) and int(path.name) < pair_count]
    except OSError:
        return dict(known)
    answers = {}
    for name in names:
        if name in known:
            answers[name] = known[name]
            continue
        try:
            with (folder / name).open("rb") as file:
                side = file.read(8).decode("ascii", "replace")
        except OSError:
            continue
        answers[name] = side if side in SIDES else None
    return answers


def answers_of(root: Path, round_id: str, answerer: str) -> dict[int, str]:
    """What ``answerer`` answered in a round, pair -> side."""
    if not ROUND_ID.match(str(round_id)) or not _ANSWERER.match(str(answerer)):
        return {}
    found = _read_answers(answers_dir(root, round_id) / answerer, MAX_PAIRS)
    return {int(name): side for name, side in found.items() if side is not None}


@dataclass(frozen=True)
class PairTally:
    left: int = 0
    right: int = 0
    correct: int = 0

    @property
    def answered(self) -> int:
        return self.left + self.right

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.answered if self.answered else None


@dataclass(frozen=True)
class Tally:
    answerers: int
    pairs: tuple[PairTally, ...]

    @property
    def answered(self) -> int:
        return sum(pair.answered for pair in self.pairs)

    @property
    def correct(self) -> int:
        return sum(pair.correct for pair in self.pairs)

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.answered if self.answered else None


class RoomTally:
    """A round's tally kept between refreshes: each ``count()`` lists the answerers' folders and reads
    only the answer files that are new since the last one. Safe to share between sessions."""

    def __init__(self, root: Path, counted: Round):
        self.root, self.round = Path(root), counted
        self._files: dict[str, dict[str, str | None]] = {}  # answerer -> file name -> side
        self._lock = threading.Lock()

    def count(self) -> Tally:
        with self._lock:
            self._files = {folder.name: _read_answers(folder, len(self.round.pairs), self._files.get(folder.name))
                           for folder in _answerers(self.root, self.round.id)}
            counts = [[0, 0, 0] for _ in self.round.pairs]  # left, right, correct
            answerers = 0
            for files in self._files.values():
                sides = {int(name): side for name, side in files.items() if side is not None}
                answerers += bool(sides)
                for number, side in sides.items():
                    counts[number][SIDES.index(side)] += 1
                    counts[number][2] += int(self.round.pairs[number].is_correct(side))
            return Tally(answerers, tuple(PairTally(*each) for each in counts))


def tally(root: Path, counted: Round) -> Tally:
    """The room's answers to a round: per pair how many chose each side and how many were right."""
    return RoomTally(root, counted).count()
