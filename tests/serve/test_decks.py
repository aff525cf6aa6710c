"""Lesson decks: saved, reordered and read back through one schema; hostile files refused with a reason."""

from __future__ import annotations

import json

import pytest

from gen_core.places import DECKS_DIR
from gen_core.serve.decks import (Deck, DeckError, Slide, add_slide, check_name, deck_bytes, deck_from_json,
                                  deck_names, load_deck, move_slide, remove_slide, save_deck)
from gen_core.serve.demos import DEMO_DECK, DEMOS, write_demo_deck


def _deck() -> Deck:
    return Deck("week-3", (Slide("samples", {"run": "a", "seed": "3"}), Slide("latent_sliders", {"z": "0.5,-1"}, "move"),
                           Slide("", {"run": "b"})))


def test_a_deck_is_saved_under_the_runs_folder_and_read_back(tmp_path):
    path = save_deck(tmp_path, _deck())
    assert path == tmp_path / DECKS_DIR / "week-3.json"
    assert deck_names(tmp_path) == ["week-3"]
    assert load_deck(tmp_path, "week-3") == _deck()


def test_slides_move_and_go(tmp_path):
    deck = _deck()
    assert [s.page for s in move_slide(deck, 0, 1).slides] == ["latent_sliders", "samples", ""]
    assert [s.page for s in move_slide(deck, 0, -1).slides] == ["samples", "latent_sliders", ""]  # kept in range
    assert [s.page for s in remove_slide(deck, 1).slides] == ["samples", ""]
    assert len(add_slide(deck, Slide("tiles")).slides) == 4


@pytest.mark.parametrize("name", ["", "a" * 41, "../etc", "week 3", "<b>x</b>", "-x", None, 7])
def test_a_bad_deck_name_is_refused(name):
    with pytest.raises(DeckError):
        check_name(name)


@pytest.mark.parametrize("text, reason", [
    (b"not json", "not JSON"),
    (b"[]", "latent-lab-deck"),
    (json.dumps({"format": "latent-lab-deck", "version": 9, "name": "x", "slides": []}), "version"),
    (json.dumps({"format": "latent-lab-deck", "version": 1, "name": "../x", "slides": []}), "name"),
    (json.dumps({"format": "latent-lab-deck", "version": 1, "name": "x", "slides": [{"page": "../../etc"}]}), "Slide 1"),
    (json.dumps({"format": "latent-lab-deck", "version": 1, "name": "x",
                 "slides": [{"page": "samples", "query": {"run": "a\x00b"}}]}), "control"),
    (json.dumps({"format": "latent-lab-deck", "version": 1, "name": "x",
                 "slides": [{"page": "samples", "query": {"seed": {"$gt": 1}}}]}), "not text"),
    (json.dumps({"format": "latent-lab-deck", "version": 1, "name": "x",
                 "slides": [{"page": "samples"}] * 61}), "at most 60"),
    (b" " * 200_000, "KB"),
])
def test_a_hostile_deck_file_gets_a_clear_message(text, reason):
    with pytest.raises(DeckError, match=reason):
        deck_from_json(text)


def test_an_exported_deck_imports_as_itself():
    assert deck_from_json(deck_bytes(_deck())) == _deck()


def test_the_demo_deck_uses_only_the_demo_models_and_keeps_a_lecturers_edits(tmp_path):
    demo_names = {demo.name for demo in DEMOS}
    for slide in DEMO_DECK.slides:
        named = {slide.query[key] for key in ("run", "vs") if key in slide.query}
        assert named and named <= demo_names, slide
    assert write_demo_deck(tmp_path)
    assert load_deck(tmp_path, DEMO_DECK.name) == DEMO_DECK
    edited = Deck(DEMO_DECK.name, DEMO_DECK.slides[:2])
    save_deck(tmp_path, edited)
    assert not write_demo_deck(tmp_path)
    assert load_deck(tmp_path, DEMO_DECK.name) == edited
