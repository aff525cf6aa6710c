"""Lesson decks: views of the app saved in order, for a lecturer to step through in front of a room.

A slide is one view: the page (its path in the address, "" for Train) and the link state that
page writes into the address (``run``, ``seed``, slider positions...). A deck is a small JSON file
in the runs folder, ``<root>/_decks/<name>.json``::

    {"format": "latent-lab-deck", "version": 1, "name": "ae-vae-gan",
     "slides": [{"page": "latent_sliders", "query": {"run": "demo-vae-2d", "seed": "3"},
                 "note": "one slider per latent dimension"}, ...]}

A deck file comes from anyone (an upload, an edited file), so it is read through one schema
(``deck_from_json``): names, pages, query keys and values are checked for length and characters,
and anything else is refused with a one-line reason. Notes are plain text, never markup.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from gen_core.atomic import write_bytes_atomic
from gen_core.errors import GenCoreError
from gen_core.places import DECKS_DIR

FORMAT = "latent-lab-deck"
VERSION = 1
MAX_DECK_BYTES = 128 * 1024
MAX_SLIDES = 60
MAX_PARAMS = 32
MAX_VALUE_CHARS = 400
MAX_NOTE_CHARS = 200
MAX_NAME_CHARS = 40
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_PAGE = re.compile(r"^[a-z_]{0,40}$")
_KEY = re.compile(r"^[a-z_]{1,20}$")
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]*$")


class DeckError(GenCoreError, ValueError):
    """A deck name, file or slide that cannot be used; the message says why in one line."""


@dataclass(frozen=True)
class Slide:
    page: str  # the page's path in the address ("" is the Train page)
    query: dict = field(default_factory=dict)  # the link state: name -> text
    note: str = ""  # what to say, plain text

    def to_json(self) -> dict:
        return {"page": self.page, "query": dict(self.query), "note": self.note}


@dataclass(frozen=True)
class Deck:
    name: str
    slides: tuple[Slide, ...] = ()

    def to_json(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "name": self.name,
                "slides": [slide.to_json() for slide in self.slides]}


def check_name(name) -> str:
    """A deck's name: 1 to 40 letters, digits, - or _, starting with a letter or digit."""
    text = str(name).strip() if isinstance(name, str) else ""
    if not text:
        raise DeckError("A deck needs a name.")
    if len(text) > MAX_NAME_CHARS:
        raise DeckError(f"A deck's name has at most {MAX_NAME_CHARS} characters.")
    if not _NAME.match(text):
        raise DeckError("A deck's name uses letters, digits, - and _ only, and starts with a letter or digit.")
    return text


def check_slide(page, query, note="") -> Slide:
    """One slide, validated: a known-looking page path, short plain query values, a short note."""
    if not isinstance(page, str) or not _PAGE.match(page):
        raise DeckError("A slide's page is a page path of lowercase letters and _.")
    if not isinstance(query, dict) or len(query) > MAX_PARAMS:
        raise DeckError(f"A slide's link state is a mapping of at most {MAX_PARAMS} values.")
    clean = {}
    for key, value in query.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise DeckError("A slide's link names are lowercase letters and _ (at most 20).")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise DeckError(f"The link value '{key}' is not text or a number.")
        text = str(value)
        if len(text) > MAX_VALUE_CHARS or not _PRINTABLE.match(text):
            raise DeckError(f"The link value '{key}' is too long or holds control characters.")
        clean[key] = text
    if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS or not _PRINTABLE.match(note):
        raise DeckError(f"A slide's note is plain text of at most {MAX_NOTE_CHARS} characters.")
    return Slide(page, clean, note.strip())


def deck_from_json(data: bytes | str) -> Deck:
    """A deck from its file's bytes; DeckError with the reason when it is not one."""
    if len(data) > MAX_DECK_BYTES:
        raise DeckError(f"A deck file is at most {MAX_DECK_BYTES // 1024} KB; this one is larger.")
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise DeckError("This file is not a deck: it is not JSON.") from None
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise DeckError("This file is not a deck: it lacks \"format\": \"latent-lab-deck\".")
    if value.get("version") != VERSION:
        raise DeckError(f"This deck's version is not {VERSION}; it was written by another version of the app.")
    slides = value.get("slides")
    if not isinstance(slides, list) or len(slides) > MAX_SLIDES:
        raise DeckError(f"A deck holds a list of at most {MAX_SLIDES} slides.")
    parsed = []
    for number, slide in enumerate(slides, 1):
        if not isinstance(slide, dict):
            raise DeckError(f"Slide {number} is not a slide.")
        try:
            parsed.append(check_slide(slide.get("page"), slide.get("query", {}), slide.get("note", "")))
        except DeckError as error:
            raise DeckError(f"Slide {number}: {error}") from None
    return Deck(check_name(value.get("name")), tuple(parsed))


def deck_bytes(deck: Deck) -> bytes:
    return json.dumps(deck.to_json(), indent=1, ensure_ascii=False).encode()


def decks_dir(root: Path) -> Path:
    return Path(root) / DECKS_DIR


def deck_names(root: Path) -> list[str]:
    """The decks saved under ``root``, by name."""
    folder = decks_dir(root)
    if not folder.is_dir():
        return []
    return sorted(path.stem for path in folder.glob("*.json") if _NAME.match(path.stem))


def load_deck(root: Path, name: str) -> Deck:
    path = decks_dir(root) / f"{check_name(name)}.json"
    if not path.is_file():
        raise DeckError(f"There is no deck named {name}.")
    if path.stat().st_size > MAX_DECK_BYTES:
        raise DeckError(f"A deck file is at most {MAX_DECK_BYTES // 1024} KB; this one is larger.")
    deck = deck_from_json(path.read_bytes())
    return Deck(path.stem, deck.slides)  # the file's name is the deck's name


def save_deck(root: Path, deck: Deck) -> Path:
    """Write ``deck`` (validated again) atomically; returns its file."""
    name = check_name(deck.name)
    if len(deck.slides) > MAX_SLIDES:
        raise DeckError(f"A deck holds at most {MAX_SLIDES} slides.")
    checked = Deck(name, tuple(check_slide(s.page, s.query, s.note) for s in deck.slides))
    path = decks_dir(root) / f"{name}.json"
    write_bytes_atomic(path, deck_bytes(checked))
    return path


def delete_deck(root: Path, name: str) -> None:
    (decks_dir(root) / f"{check_name(name)}.json").unlink(missing_ok=True)


def add_slide(deck: Deck, slide: Slide) -> Deck:
    if len(deck.slides) >= MAX_SLIDES:
        raise DeckError(f"A deck holds at most {MAX_SLIDES} slides.")
    return Deck(deck.name, (*deck.slides, slide))


def move_slide(deck: Deck, index: int, step: int) -> Deck:
    """The deck with slide ``index`` moved ``step`` places (-1 earlier, +1 later), kept in range."""
    slides = list(deck.slides)
    target = min(max(index + step, 0), len(slides) - 1)
    if 0 <= index < len(slides):
        slides.insert(target, slides.pop(index))
    return Deck(deck.name, tuple(slides))


def remove_slide(deck: Deck, index: int) -> Deck:
    return Deck(deck.name, tuple(slide for number, slide in enumerate(deck.slides) if number != index))
