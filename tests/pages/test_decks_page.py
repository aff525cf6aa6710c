"""Lesson decks in the app: add views from the sidebar, then step through the deck and find each
view restored as it was saved (the model, the seed, the slider positions)."""

from __future__ import annotations

from gen_core.serve.decks import Deck, Slide, load_deck, save_deck

from .conftest import open_page


def _button(at, key):
    return next(button for button in at.button if button.key == key)


def test_stepping_through_a_deck_restores_each_saved_view(trained_runs, runs_root):
    vae2, ae = trained_runs["vae2"].name, trained_runs["ae"].name
    save_deck(runs_root, Deck("steps", (
        Slide("samples", {"run": ae, "seed": "17"}),
        Slide("latent_sliders", {"run": vae2, "seed": "5", "z": "0.75,-1.25"}),
        Slide("samples", {"run": vae2, "seed": "42"}))))
    at = open_page("samples", trained_runs["vae2"], deck_chosen="steps")
    _button(at, "deck_play").click().run()
    assert not at.exception
    assert at.session_state["samples_seed"] == 17 and at.session_state["active_run"].endswith(ae)
    assert at.session_state["present_mode"]  # the deck plays in the lecture view
    _button(at, "deck_next").click().run()
    assert not at.exception
    assert at.session_state["active_run"].endswith(vae2) and at.session_state["sliders_seed"] == 5
    assert [at.session_state["sliders_dim_0"], at.session_state["sliders_dim_1"]] == [0.75, -1.25]
    _button(at, "deck_next").click().run()
    assert at.session_state["samples_seed"] == 42
    _button(at, "deck_previous").click().run()
    assert [at.session_state["sliders_dim_0"], at.session_state["sliders_dim_1"]] == [0.75, -1.25]


def test_the_current_view_is_added_to_a_new_deck(trained_runs, runs_root):
    at = open_page("samples", trained_runs["vae2"], query={"seed": "9"})
    at.text_input(key="deck_new_name").input("added-here")
    at.text_input(key="deck_note").input("<b>nine</b>")
    _button(at, "deck_add").click().run()
    assert not at.exception
    deck = load_deck(runs_root, "added-here")
    assert deck.slides[0].page == "samples" and deck.slides[0].query["seed"] == "9"
    assert deck.slides[0].note == "<b>nine</b>"  # kept as text; shown with st.text, never as markup


def test_a_bad_deck_name_is_refused_with_the_reason(trained_runs):
    at = open_page("samples", trained_runs["vae2"])
    at.text_input(key="deck_new_name").input("../../etc")
    _button(at, "deck_add").click().run()
    assert any("letters, digits" in str(error.value) for error in at.error)
