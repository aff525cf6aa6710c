"""The teaching controls in a real Chromium, clicked as a visitor would:

* step-through training on the Train page: a job started from the form is paused and stays put,
  one "Step batch" moves it by exactly one batch (and redraws the paused grid), a new learning rate
  is marked on the loss chart, then it resumes and stops;
* the Room quiz: a host starts a round, two other browser sessions answer the first pair, the host's
  screen (the projector) counts both answers, and the reveal says which side was real on every screen;
* the Class sampler's mixture inspector: the BIC/AIC chart rings the K of the lowest BIC, and choosing
  a component redraws the samples from it.

Slow (a server, Chromium, a training process), so it is marked ``browser``. The AppTest page tests
(test_train_page.py, test_room_quiz_page.py, test_class_sampler_page.py) check the same controls in depth.
"""

from __future__ import annotations

import re
import shutil
import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from gen_core.run import live
from gen_core.serve import quiz, quiz_answers

from .test_browser import (CHROMIUM, CHROMIUM_FLAGS, MAIN, _settled, _wait_until_rendered, require_chromium,
                           serve_app)

pytestmark = pytest.mark.browser

WAIT_MS = 120_000  # a training process or a first page takes a while to start on a busy 2-core machine
VIEWPORT = {"width": 1280, "height": 900}
RUN = "stepped"
CONTROLS = f".st-key-jobs_ctl_{RUN}"  # the step-through buttons' keys (ui/train_controls.py)
PAUSED = re.compile(r"Paused at step ([\d,]+) · (\d+) steps? taken while paused")


@pytest.fixture(scope="module")
def runs(trained_runs, tmp_path_factory):
    """A runs folder of this file's own: the job, the quiz's rounds and answers are written there."""
    root = tmp_path_factory.mktemp("teaching-controls")
    for key in ("ae", "vae8"):
        shutil.copytree(trained_runs[key], root / f"tiny-{key}")
    return root


@pytest.fixture(scope="module")
def server(runs):
    require_chromium()
    with serve_app(runs) as url:
        yield url


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def _open(browser, url: str, key_text: str, errors: list[str]):
    """A new browser session (a context of its own) on ``url``, once ``key_text`` shows in the main area."""
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url, wait_until="domcontentloaded")
    assert _wait_until_rendered(page, key_text), f"'{key_text}' never appeared"
    return page


def _type(box, text: str) -> None:
    box.fill(text)
    box.press("Enter")


def _picture(image) -> bytes:
    """The bytes of the picture an <img> shows now (asked again if a redraw replaced it meanwhile)."""
    for _ in range(10):
        response = image.page.request.get(image.evaluate("img => img.src"))
        if response.ok:
            return response.body()
        image.page.wait_for_timeout(200)
    raise AssertionError("the picture could not be fetched")


def _paused_at(main) -> tuple[int, int]:
    """(step, steps taken while paused) from the paused run's line."""
    found = PAUSED.search(main.get_by_text(PAUSED).first.inner_text())
    return int(found.group(1).replace(",", "")), int(found.group(2))


def _until(condition, what: str, timeout: float = WAIT_MS / 1000) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _button(page, control: str):
    """A step-through button (a button with a tooltip also leaves a hidden copy of itself in the page)."""
    return page.locator(f"{CONTROLS}_{control} button:visible")


def _paused_grid(main, step: int):
    """The <img> of the fixed noise decoded where the paused run stands, captioned with its step."""
    captioned = main.locator('[data-testid="stImageContainer"]').filter(
        has_text=f"The fixed noise decoded at step {step:,},")
    return captioned.locator("img").first


def _no_error_shown(*pages) -> None:
    for page in pages:
        assert page.locator('[data-testid="stException"]').count() == 0
        assert "Traceback" not in page.inner_text("body")


def test_a_job_pauses_stays_still_steps_one_batch_takes_a_new_rate_resumes_and_stops(server, browser, runs):
    errors = []
    page = _open(browser, server, "Layer summary", errors)
    main = page.locator(MAIN)
    _type(page.locator(".st-key-train_run_name input"), RUN)
    _type(page.locator(".st-key-train_fit_mlp_vae_latent_2_epochs input"), "10000")  # it must not end meanwhile
    page.locator(".st-key-train_start button").click()
    main.get_by_text(f"Training {RUN}").first.wait_for(timeout=WAIT_MS)
    run_dir = runs / RUN

    main.get_by_text("Step through", exact=True).click(timeout=WAIT_MS)  # shown once the job trains
    _button(page, "pause").click(timeout=WAIT_MS)
    main.get_by_text(PAUSED).first.wait_for(timeout=WAIT_MS)
    step, taken = _paused_at(main)
    assert taken == 0 and step > 0
    page.wait_for_timeout(3000)  # the panel redraws every second: a paused run stays where it is
    assert _paused_at(main) == (step, 0) and live.read_live(run_dir).step == step
    grid = _paused_grid(main, step)
    grid.wait_for(timeout=WAIT_MS)
    before = _picture(grid)

    _button(page, "step_batch").click()
    main.get_by_text(f"Paused at step {step + 1:,} · 1 step taken while paused").wait_for(timeout=WAIT_MS)
    page.wait_for_timeout(2000)
    assert _paused_at(main) == (step + 1, 1), "exactly one batch, then paused again"
    assert live.read_live(run_dir).step == step + 1
    # the grid is redrawn from the stepped weights (its file may land just after the step's count)
    _until(lambda: _picture(_paused_grid(main, step + 1)) != before, "the paused grid redrawn after the step")

    _type(page.locator(f"{CONTROLS}_lr input"), "0.0005")
    _button(page, "apply_lr").click()
    # the change is marked on the loss curves: a dotted line labelled with the new rate
    main.locator('[data-testid="stPlotlyChart"]').get_by_text("lr 0.0005").first.wait_for(timeout=WAIT_MS)

    _button(page, "resume").click()
    _until(lambda: live.read_live(run_dir).step > step + 1, "the resumed run to train on")
    expect(main.get_by_text(PAUSED)).to_have_count(0, timeout=WAIT_MS)
    assert any(change.get("lr") == 0.0005 for change in live.read_live(run_dir).controls)

    page.locator('[class*="st-key-jobs_stop_"] button').first.click()
    main.get_by_text(re.compile(r"Stopped[ ;]")).first.wait_for(timeout=WAIT_MS)
    assert live.read_live(run_dir).status == "stopped"
    _no_error_shown(page)
    page.context.close()
    assert not errors, errors


def _metric(page, label: str):
    return page.locator('[data-testid="stMetric"]').filter(has_text=label).locator('[data-testid="stMetricValue"]')


def _answer_first_pair(page, side: str, runs, round_id: str, tries: int = 3) -> None:
    """Click ``side`` under the first pair until the page says it was chosen, as a student clicks again when
    nothing happened: on a loaded machine a click can land while the page reconnects. Answers are
    first-come (a second click on a counted pair is refused and its buttons are disabled), so a repeated
    click cannot count twice; the host's totals below check that."""
    main = page.locator(MAIN)
    chosen = main.get_by_text(f"Pair 1 · you chose {side}")
    before = quiz_answers.answerer_count(runs, round_id)
    for _ in range(tries):
        if quiz_answers.answerer_count(runs, round_id) == before:  # not kept yet: click (again); kept: wait on
            main.get_by_role("button", name=side.title(), exact=True).first.click(timeout=WAIT_MS)
        try:
            chosen.wait_for(timeout=WAIT_MS // tries)
            return
        except PlaywrightTimeout:
            continue
    on_disk = quiz_answers.answerer_count(runs, round_id)
    raise AssertionError(f"'{side}' was never shown as chosen ({on_disk - before} new answerers on disk); "
                         f"the page said: {main.inner_text()[:600]!r}")


def test_a_hosts_round_counts_two_sessions_answers_and_the_reveal_shows_the_real_one(server, browser, runs):
    errors = []
    host = _open(browser, f"{server}/room_quiz", "No round is open", errors)
    host.get_by_role("button", name="Start the round").click()
    host.locator(MAIN).get_by_text("Which one is real?").first.wait_for(timeout=WAIT_MS)
    expect(_metric(host, "Answers")).to_have_text("0", timeout=WAIT_MS)
    current = quiz.current_round(runs)
    real = current.pairs[0].real_side
    wrong = "right" if real == "left" else "left"

    ada, bob = (_open(browser, f"{server}/room_quiz", "Which one is real?", errors) for _ in range(2))
    for page, side in ((ada, real), (bob, wrong)):
        main = page.locator(MAIN)
        assert main.get_by_text("real on the").count() == 0, "the real side stays hidden until the reveal"
        assert _metric(page, "Answers").count() == 0, "the room's tally is the projector's"
        _answer_first_pair(page, side, runs, current.id)
    expect(_metric(host, "People who answered")).to_have_text("2", timeout=WAIT_MS)
    expect(_metric(host, "Answers")).to_have_text("2", timeout=WAIT_MS)
    expect(_metric(host, "The room found the real one")).to_have_text("50%", timeout=WAIT_MS)

    host.get_by_role("button", name="Reveal which was real").click()
    host.locator(MAIN).get_by_text(f"Pair 1 · real on the {real} · 1 of 2 found it").wait_for(timeout=WAIT_MS)
    ada.locator(MAIN).get_by_text(f"Pair 1 · real on the {real} · you chose {real} ✓").wait_for(timeout=WAIT_MS)
    ada.locator(MAIN).get_by_text("You found the real one in 1 of 1 pairs").wait_for(timeout=WAIT_MS)
    bob.locator(MAIN).get_by_text(f"Pair 1 · real on the {real} · you chose {wrong} ✗").wait_for(timeout=WAIT_MS)
    expect(bob.locator(MAIN).get_by_role("button", name="Left", exact=True)).to_have_count(0)  # answers are over
    _no_error_shown(host, ada, bob)
    for page in (host, ada, bob):
        page.context.close()
    assert not errors, errors


def _component_samples(main, component: int):
    """The <img> under the "10 samples from component K only" line."""
    label = main.locator('[data-testid="stElementContainer"]').filter(
        has_text=re.compile(rf"^10 samples from component {component} only$"))
    return label.locator("xpath=following-sibling::*[1]").locator("img")


def test_the_mixture_inspector_rings_the_best_k_and_draws_from_the_chosen_component(server, browser):
    errors = []
    page = _open(browser, f"{server}/class_sampler?run=tiny-ae&k=3&cov=diag&kmax=6", "Median distance", errors)
    main = page.locator(MAIN)
    main.get_by_text("Inspect one class's mixture", exact=True).click()
    best_line = main.get_by_text(re.compile(r"Lowest BIC at K = \d+"))
    best_line.wait_for(timeout=WAIT_MS)
    best = int(re.search(r"K = (\d+)", best_line.inner_text()).group(1))
    chart = main.locator('[data-testid="stPlotlyChart"]').filter(has_text="AIC")
    expect(chart.get_by_text(f"best K = {best}")).to_be_visible(timeout=WAIT_MS)  # the legend
    expect(chart.get_by_text(f"K = {best}", exact=True)).to_be_visible()  # the ring's label
    traces = chart.locator(".js-plotly-plot").evaluate(
        "plot => plot.data.map(trace => ({name: trace.name, x: [...trace.x], y: [...trace.y]}))")
    bic = next(trace for trace in traces if trace["name"] == "BIC")
    ring = next(trace for trace in traces if trace["name"] == f"best K = {best}")
    assert bic["x"] == [1, 2, 3, 4, 5, 6] and ring["x"] == [best] and ring["y"] == [min(bic["y"])]

    main.get_by_text("10 samples from component 0 only", exact=True).wait_for(timeout=WAIT_MS)
    first = _picture(_component_samples(main, 0))
    _settled(page)  # a rerun while the list is open would close it
    # the keyboard opens the list (a click on the box, after the switch above was clicked, only focused it)
    page.locator(".st-key-class_sampler_component").get_by_role("combobox").focus()
    page.keyboard.press("ArrowDown")
    page.get_by_role("option", name=re.compile(r"^2 \(weight")).click()
    main.get_by_text("10 samples from component 2 only", exact=True).wait_for(timeout=WAIT_MS)
    expect(main.get_by_text("10 samples from component 0 only", exact=True)).to_have_count(0)
    # the line and the picture arrive one after the other: until the picture is redrawn too
    _until(lambda: _picture(_component_samples(main, 2)) != first, "the samples drawn again from component 2")
    _no_error_shown(page)
    page.context.close()
    assert not errors, errors
