"""Lesson decks in the app: save the view on screen to a deck, reorder it, step through it in the lecture view.

The sidebar's *Lesson deck* box saves the current page and its link state as a slide, moves and
removes slides, exports the deck as JSON and imports one. *Play* turns the lecture view on and
opens the first slide; a bar above the page then steps through the deck (buttons, or the PageDown
and PageUp keys a presentation clicker sends). A slide opens exactly as its link would: the page
with its query, read by ``url_state`` as a link that just arrived.

Deck names and notes come from visitors: they are validated (gen_core.serve.decks) and shown as
plain text.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from gen_core.serve.decks import (Deck, DeckError, add_slide, check_name, check_slide, deck_bytes, deck_from_json,
                                  deck_names, load_deck, move_slide, remove_slide, save_deck)
from ui import classroom, state

CHOSEN = "deck_chosen"  # session key: the deck shown in the sidebar box
_CHOOSE_NEXT = "_deck_choose_next"  # a deck to show once the box is drawn again (just saved or imported)
PLAYING = "deck_playing"  # session key: (deck name, slide index) while a deck is being stepped through
NEW_NAME = "deck_new_name"
NOTE = "deck_note"
_LEFT_OUT = ("present",)  # the lecture view is the player's, not the slide's


def _roots() -> list[Path]:
    """Where this visitor's decks are saved first, then the lecturer's (read) in classroom mode."""
    own, top = classroom.own_space(), classroom.top_root()
    return [own] if own.resolve() == top.resolve() else [own, top]


def available() -> list[str]:
    names = []
    for root in _roots():
        names += [name for name in deck_names(root) if name not in names]
    return names


def open_deck(name: str) -> Deck:
    for root in _roots():
        if name in deck_names(root):
            return load_deck(root, name)
    raise DeckError(f"There is no deck named {name}.")


def current_slide(url_path: str, note: str = ""):
    """The view on screen as a slide: this page and the link state in the address."""
    query = {name: st.query_params.get(name) for name in st.query_params
             if name not in classroom.IDENTITY_PARAMS and name not in _LEFT_OUT}
    return check_slide(url_path, query, note)


def _go(deck: Deck, index: int, pages: dict) -> None:
    """Open slide ``index`` of ``deck`` as a link would, in the lecture view."""
    index = min(max(index, 0), len(deck.slides) - 1)
    slide = deck.slides[index]
    st.session_state[PLAYING] = (deck.name, index)
    page = pages.get(slide.page)
    if page is None:
        st.warning(f"Slide {index + 1} names a page this app does not have.")
        return
    query = {**slide.query, "present": "1", **classroom.identity_query()}  # ?present=1: the lecture view
    st.switch_page(page, query_params=query)


def player(pages: dict) -> None:
    """Above the page while a deck plays: previous / where we are / next, and the slide's note."""
    playing = st.session_state.get(PLAYING)
    if not playing:
        return
    name, index = playing
    try:
        deck = open_deck(name)
    except DeckError as error:
        st.session_state.pop(PLAYING, None)
        st.warning(str(error))
        return
    if not deck.slides:
        st.session_state.pop(PLAYING, None)
        return
    index = min(index, len(deck.slides) - 1)
    with st.container(horizontal=True, vertical_alignment="center", key="deck_player"):
        if st.button("Previous", icon=":material/arrow_back:", key="deck_previous", disabled=index == 0,
                     shortcut="PageUp", help="The previous view of the deck (PageUp)."):
            _go(deck, index - 1, pages)
        st.text(f"{name}: {index + 1} / {len(deck.slides)}")
        if st.button("Next", icon=":material/arrow_forward:", key="deck_next",
                     disabled=index >= len(deck.slides) - 1, shortcut="PageDown",
                     help="The next view of the deck (PageDown)."):
            _go(deck, index + 1, pages)
        if st.button("End", icon=":material/close:", key="deck_end", help="Stop stepping through the deck."):
            st.session_state.pop(PLAYING, None)
            st.rerun()
    if deck.slides[index].note:
        st.text(deck.slides[index].note)  # plain text, whatever it holds


def _save(root: Path, deck: Deck) -> None:
    try:
        save_deck(root, deck)
    except (DeckError, OSError) as error:
        st.session_state["_deck_error"] = str(error) if isinstance(error, DeckError) else "The deck could not be saved."


def panel(url_path: str, pages: dict) -> None:
    """The sidebar box: choose or name a deck, add this view, reorder, play, export, import."""
    if not state.list_runs():  # no model yet: no view worth saving
        return
    own = _roots()[0]
    with st.expander("Lesson deck", icon=":material/slideshow:"):
        names = available()
        if st.session_state.get(_CHOOSE_NEXT) in names:
            st.session_state[CHOSEN] = st.session_state.pop(_CHOOSE_NEXT)
        if names:
            if st.session_state.get(CHOSEN) not in names:
                st.session_state[CHOSEN] = names[0]
            chosen = st.selectbox("Deck", names, key=CHOSEN)
        else:
            chosen = None
            st.caption("No deck yet: name one and add this view to it.")
        new_name = st.text_input("New deck", key=NEW_NAME, max_chars=40, placeholder="e.g. week-3",
                                 help="Letters, digits, - and _.")
        note = st.text_input("Note for this view (optional)", key=NOTE, max_chars=200)
        if st.button("Add this view", icon=":material/add:", key="deck_add"):
            _add_view(own, chosen, new_name, note, url_path)
        error = st.session_state.pop("_deck_error", None)
        if error:
            st.error(error)
        if chosen is None:
            _import(own)
            return
        try:
            deck = open_deck(chosen)
        except DeckError as problem:
            st.error(f"The deck {chosen} cannot be used: {problem}")
            _import(own)
            return
        _slides(own, deck)
        if deck.slides and st.button("Play in the lecture view", icon=":material/play_arrow:", key="deck_play",
                                     type="primary"):
            _go(deck, 0, pages)
        st.download_button("Export", deck_bytes(deck), file_name=f"{deck.name}.json", mime="application/json",
                           icon=":material/download:", key="deck_export", on_click="ignore")
        _import(own)


def _add_view(root: Path, chosen: str | None, new_name: str, note: str, url_path: str) -> None:
    try:
        name = check_name(new_name) if new_name.strip() else chosen
        if name is None:
            raise DeckError("Name the deck first.")
        deck = open_deck(name) if name in available() else Deck(name)
        save_deck(root, add_slide(Deck(name, deck.slides), current_slide(url_path, note)))
        st.session_state[_CHOOSE_NEXT] = name
        st.rerun()
    except DeckError as error:
        st.session_state["_deck_error"] = str(error)
    except OSError:
        st.session_state["_deck_error"] = "The deck could not be saved."


def _slides(root: Path, deck: Deck) -> None:
    for index, slide in enumerate(deck.slides):
        row = st.container(horizontal=True, vertical_alignment="center")
        shown = ", ".join(f"{key}={value}" for key, value in list(slide.query.items())[:3])
        row.text(f"{index + 1}. {slide.page or 'train'} {shown}"[:60])
        if row.button("", icon=":material/arrow_upward:", key=f"deck_up_{index}", disabled=index == 0,
                      help="Earlier"):
            _save(root, move_slide(deck, index, -1))
            st.rerun()
        if row.button("", icon=":material/arrow_downward:", key=f"deck_down_{index}",
                      disabled=index == len(deck.slides) - 1, help="Later"):
            _save(root, move_slide(deck, index, 1))
            st.rerun()
        if row.button("", icon=":material/delete:", key=f"deck_remove_{index}", help="Remove"):
            _save(root, remove_slide(deck, index))
            st.rerun()


def _import(root: Path) -> None:
    upload = st.file_uploader("Import a deck (.json)", type=["json"], key="deck_import")
    if upload is None:
        return
    marker = (upload.name, upload.size)
    if st.session_state.get("_deck_imported") == marker:
        return
    st.session_state["_deck_imported"] = marker
    try:
        deck = deck_from_json(upload.getvalue())
        save_deck(root, deck)
        st.session_state[_CHOOSE_NEXT] = deck.name
        st.success(f"Imported the deck {deck.name} ({len(deck.slides)} views).")
    except DeckError as error:
        st.error(f"This file cannot be used as a deck: {error}")
    except OSError:
        st.error("The deck could not be saved.")
