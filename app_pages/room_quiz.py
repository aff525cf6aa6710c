"""Room quiz: which one is real? One host starts a round, every screen shows the same pairs, the projector counts."""

from __future__ import annotations

import secrets
from pathlib import Path

import streamlit as st

from gen_core.errors import GenCoreError
from gen_core.images import png_bytes
from gen_core.sampling import draw_images
from gen_core.serve import quiz, quiz_answers
from ui import classroom, presentation, state
from ui.boundary import public_message
from ui.explore_widgets import run_key
from ui.state import user_errors
from ui.text import plain
from ui.views import room_quiz as quiz_view
from ui.views.tiles import zoom_factor

KIND_TITLES = {"digits": "Digits and other whole images", "tiles": "Tiles of large images"}
HOST_REFRESH_S, ROOM_REFRESH_S = 2.0, 3.0
COLUMNS = 4  # pairs per row
PAIR_SIDE_PX = 112  # each image of a pair, before the lecture view enlarges it
NOTICE = "room_quiz_notice"  # session key: why the last answer was not counted, said once
HOST_NOTICE = "room_quiz_host_notice"  # session key: why the round did not start, said once


@st.cache_data(show_spinner="Drawing the round's pairs…", max_entries=8)
def _pair_pngs(round_id: str, revealed: bool, key: tuple, zoom: int, _run, _dataset, _round) -> list[bytes]:
    """Every pair's picture, once per round for the whole room (the same seed, the same images), and
    once more at the reveal with the real one framed."""
    generated = draw_images(_run.model, len(_round.pairs), _round.seed)
    pairs = quiz_view.pair_images(_round.pairs, _dataset.test_images, generated)
    return [png_bytes(quiz_view.pair_picture(left, right, zoom, pair.real_side if revealed else None))
            for pair, (left, right) in zip(_round.pairs, pairs)]


@st.cache_resource(show_spinner=False, max_entries=4)
def _room_tally(root: str, counted: quiz.Round) -> quiz_answers.RoomTally:
    """One live tally per round for the whole server: each refresh reads only the answers that are new."""
    return quiz_answers.RoomTally(Path(root), counted)


@st.cache_data(show_spinner=False, max_entries=16)
def _final_tally(root: str, counted: quiz.Round) -> quiz_answers.Tally:
    """A revealed round's tally, counted once for every screen (no answer is counted after the reveal)."""
    return quiz_answers.tally(Path(root), counted)


def _tally_now(root: Path, counted: quiz.Round) -> quiz_answers.Tally:
    return _final_tally(str(root), counted) if counted.revealed else _room_tally(str(root), counted).count()


def _is_host(who: classroom.Viewer, current: quiz.Round) -> bool:
    """Whose screen is the projector: the lecturer's; without classroom mode also the session that started
    the round."""
    return who.lecturer or (not who.classroom and who.owner == current.host)


def _may_take_over(who: classroom.Viewer, current: quiz.Round) -> bool:
    """Without classroom mode, anyone may host a round whose host's session has gone (a reloaded projector)."""
    return not who.classroom and not _is_host(who, current) and classroom.can_control_job(current.host, who)


def _may_start(who: classroom.Viewer, current: quiz.Round | None) -> bool:
    if who.classroom:
        return who.lecturer
    return current is None or _is_host(who, current) or _may_take_over(who, current)


# -------------------------------------------------------------------------- the host's controls

def _quizzable_runs(kind: str) -> dict:
    """This host's loadable runs of ``kind``, by name."""
    return {info.name: info for info in state.list_runs()
            if not info.error and quiz.kind_of(info.dataset) == kind and state.loadable_run(info.path) is not None}


def _start_controls(who: classroom.Viewer, root: Path) -> None:
    st.session_state.setdefault("room_quiz_seed", secrets.randbelow(10_000))
    kind_column, model_column, pairs_column, seed_column = st.columns([2, 3, 2, 1], vertical_alignment="bottom")
    kind = kind_column.radio("Which is real? on", quiz.KINDS, format_func=KIND_TITLES.get, key="room_quiz_kind")
    runs = _quizzable_runs(kind)
    if not runs:
        model_column.info(f"No trained model of {KIND_TITLES[kind].lower()} yet: train one on the **Train** page.")
        return
    model_column.selectbox("Model", list(runs), key="room_quiz_model", format_func=plain)
    pairs_column.slider("Pairs", 1, quiz.MAX_PAIRS, 8, key="room_quiz_pairs")
    seed_column.number_input("Seed", 0, 2**31 - 1, key="room_quiz_seed", help="The same seed, the same pairs.")
    st.button("Start the round", key="room_quiz_start", type="primary", icon=":material/play_arrow:",
              on_click=_start, args=(who, root, {name: info.path for name, info in runs.items()}, kind))


def _start(who: classroom.Viewer, root: Path, paths: dict, kind: str) -> None:
    """Start a round with the settings as they are when the button is pressed."""
    chosen, seed = st.session_state.get("room_quiz_model"), int(st.session_state["room_quiz_seed"])
    try:
        _check_allowed(_may_start(classroom.viewer(), quiz.current_round(root)))
        if chosen not in paths:
            raise quiz.QuizError("Pick one of the models listed.")
        dataset = state.dataset_at(paths[chosen])
        quiz.start_round(root, quiz.run_reference(root, paths[chosen]), kind, int(st.session_state["room_quiz_pairs"]),
                         seed, len(dataset.test_images), who.owner)
        st.session_state["room_quiz_seed"] = (seed + 1) % 2**31  # the next round draws new pairs
    except GenCoreError as error:
        st.session_state[HOST_NOTICE] = f"The round could not start: {public_message(error)}"


def _check_allowed(allowed: bool) -> None:
    """Asked again when a host's button acts: the session's role now, not when the button was drawn."""
    if not allowed:
        raise quiz.QuizError("Only the host of the round may do that.")


def _as_host(may, action, root: Path, round_id: str, value: str) -> None:
    """A host's button: ``action(root, round_id, value)`` if ``may`` still allows this session now;
    a refusal or a failure becomes the host's notice."""
    try:
        _check_allowed(may(classroom.viewer(), quiz.load_round(root, round_id)))
        action(root, round_id, value)
    except GenCoreError as error:
        st.session_state[HOST_NOTICE] = public_message(error)


def _set_state(root: Path, round_id: str, state_name: str) -> None:
    _as_host(_is_host, quiz.set_state, root, round_id, state_name)


def _round_controls(root: Path, current: quiz.Round) -> None:
    with st.container(horizontal=True):
        if not current.revealed:
            st.button("Reveal which was real", key="room_quiz_reveal", type="primary", icon=":material/visibility:",
                      on_click=_set_state, args=(root, current.id, "revealed"))
        st.button("Close the round", key="room_quiz_close", icon=":material/stop:", on_click=_set_state,
                  args=(root, current.id, "closed"))


def _take_over(root: Path, round_id: str, host: str) -> None:
    _as_host(_may_take_over, quiz.take_over, root, round_id, host)


def _host_panel(who: classroom.Viewer, root: Path, current: quiz.Round | None) -> None:
    if st.session_state.get(HOST_NOTICE):
        st.error(st.session_state.pop(HOST_NOTICE))
    if current is not None and _is_host(who, current):
        _round_controls(root, current)
    elif current is not None and _may_take_over(who, current):
        st.button("Host this round here", key="room_quiz_take_over", on_click=_take_over,
                  args=(root, current.id, who.owner), icon=":material/cast:",
                  help="The screen that started this round has gone: show the room's answers here instead.")
    if _may_start(who, current):
        with st.expander("Start a new round" if current else "Start a round", expanded=current is None,
                         icon=":material/quiz:"):
            _start_controls(who, root)
        for reason in quiz.unreadable_rounds(root)[:3]:
            st.caption(f":material/warning: A round file was passed over: {plain(reason)}")


# -------------------------------------------------------------------------- the room's view

def _pictures(root: Path, current: quiz.Round) -> tuple[str, list[bytes]] | None:
    """The model's name and each pair's picture, or None (the reason shown) when the model cannot be used."""
    with user_errors("This round's pairs cannot be shown: "):
        path = quiz.run_folder(root, current)
        run, dataset = state.run_at(path), state.dataset_at(path)
        zoom = zoom_factor(int(dataset.image_shape[-1]), presentation.scaled(PAIR_SIDE_PX))
        return run.name, _pair_pngs(current.id, current.revealed, run_key(run), zoom, run, dataset, current)
    return None


def _answer(root: Path, round_id: str, answerer: str, pair: int, side: str) -> None:
    try:
        if not quiz_answers.answer(root, round_id, answerer, pair, side):
            st.session_state[NOTICE] = "You had answered that pair already: your first answer counts."
    except GenCoreError as error:
        st.session_state[NOTICE] = str(error)


def _pair_caption(number: int, pair: quiz.QuizRound, counted: quiz_answers.PairTally, revealed: bool,
                  mine: str | None) -> str:
    words = [f"**Pair {number + 1}**"]
    if revealed:
        words.append(f"real on the **{pair.real_side}**")
    if mine is not None:
        words.append(f"you chose {mine}" + ((" ✓" if pair.is_correct(mine) else " ✗") if revealed else ""))
    if revealed and counted.answered:
        words.append(f"{counted.correct} of {counted.answered} found it")
    return " · ".join(words)


def _pairs(current: quiz.Round, pngs: list[bytes], counted: quiz_answers.Tally, answerer: str | None,
           mine: dict[int, str], root: Path) -> None:
    for start in range(0, len(pngs), COLUMNS):
        for column, number in zip(st.columns(COLUMNS), range(start, min(start + COLUMNS, len(pngs)))):
            with column:
                pair = current.pairs[number]
                st.image(pngs[number], output_format="PNG")
                st.markdown(_pair_caption(number, pair, counted.pairs[number], current.revealed, mine.get(number)))
                if answerer is None or current.revealed:
                    continue
                for side_column, side in zip(st.columns(2), quiz.SIDES):
                    side_column.button(side.title(), key=f"room_quiz_{current.id}_{number}_{side}", width="stretch",
                                       disabled=number in mine, on_click=_answer,
                                       args=(root, current.id, answerer, number, side),
                                       type="primary" if mine.get(number) == side else "secondary")


def _projector(current: quiz.Round, counted: quiz_answers.Tally) -> None:
    people, answers, accuracy = st.columns(3)
    people.metric("People who answered", counted.answerers)
    answers.metric("Answers", counted.answered)
    accuracy.metric("The room found the real one", quiz_view.percent(counted.accuracy),
                    help="Right answers over all answers; 50% is what guessing gets.")
    with presentation.main_picture():
        st.plotly_chart(presentation.style_figure(quiz_view.tally_figure(counted)), width="stretch",
                        key=f"room_quiz_chart_{current.id}")


def _room_view(root: Path, who: classroom.Viewer) -> None:
    current = quiz.current_round(root)
    if current is None:
        st.info("No round is open. " + ("Start one above." if _may_start(who, None) else
                                        "This screen shows the next round as soon as it starts."))
        return
    shown = _pictures(root, current)
    if shown is None:
        return
    name, pngs = shown
    host = _is_host(who, current)
    status = "revealed" if current.revealed else "open: pick the real one in each pair"
    st.subheader(f"Which one is real? {len(pngs)} pairs from {plain(name)}")
    st.caption(f"The round is {status}. In each pair one image is from the test set, one was drawn by the model.")
    if host:
        counted = _tally_now(root, current)
        _projector(current, counted)
        _pairs(current, pngs, counted, None, {}, root)
        return
    # a student answers under their name; without classroom mode each browser session answers once
    answerer = quiz_answers.answerer_id(who.owner) if classroom.may_save(who) else None
    if answerer is None:
        st.warning("Give your name in the sidebar to answer: each name answers once.")
    mine = quiz_answers.answers_of(root, current.id, answerer) if answerer else {}
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.warning(plain(notice))
    counted = _tally_now(root, current) if current.revealed else \
        quiz_answers.Tally(0, tuple(quiz_answers.PairTally() for _ in pngs))
    if current.revealed and mine:
        right = sum(current.pairs[number].is_correct(side) for number, side in mine.items())
        st.success(f"You found the real one in {right} of {len(mine)} pairs; the room in "
                   f"{quiz_view.percent(counted.accuracy)} of its answers.")
    elif not current.revealed:
        answered = quiz_answers.answerer_count(root, current.id)
        st.caption(f"{answered} {'person has' if answered == 1 else 'people have'} answered so far. Your first "
                   "pick in each pair counts.")
    _pairs(current, pngs, counted, answerer, mine, root)


# -------------------------------------------------------------------------- the page

st.title("Room quiz")
presentation.note("Which one is real? The host starts a round from a trained model; every screen in the room shows "
                  "the same pairs of a real test image and a generated one, each person picks, and the projector "
                  "counts the room's answers live, then reveals which was real.")
viewer = classroom.viewer()
quiz_root = classroom.top_root()
opening_round = quiz.current_round(quiz_root)
_host_panel(viewer, quiz_root, opening_round)
hosting = opening_round is not None and _is_host(viewer, opening_round)
st.fragment(run_every=HOST_REFRESH_S if hosting else ROOM_REFRESH_S)(_room_view)(quiz_root, viewer)
