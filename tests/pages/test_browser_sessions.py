"""Two browser sessions on the real server at once: one job trains, the other waits with its place shown;
only the session that started a job sees its Stop button; stopping one starts the next.

Slow (a server, two Chromium contexts, two training processes), so it is marked ``browser``.
"""

from __future__ import annotations

import pytest

from .test_browser import CHROMIUM, CHROMIUM_FLAGS, MAIN, require_chromium, serve_app

pytestmark = pytest.mark.browser

WAIT_MS = 120_000  # a training process takes a few seconds to start on a busy 2-core machine
STOP = '[class*="st-key-jobs_stop_"] button'


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory):
    require_chromium()
    with serve_app(tmp_path_factory.mktemp("two-sessions"), LATENT_LAB_MAX_JOBS="1") as url:
        yield url


def _main_text(page, text: str):
    page.locator(MAIN).get_by_text(text, exact=False).first.wait_for(timeout=WAIT_MS)


def test_two_sessions_one_training_one_waiting_each_controls_only_its_own(empty_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        first, second = (browser.new_context(viewport={"width": 1024, "height": 768}).new_page() for _ in range(2))
        errors = []
        for page in (first, second):
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(empty_server, wait_until="domcontentloaded")
            _main_text(page, "Start with one click")

        first.locator(".st-key-train_quick_start button").click()
        _main_text(first, "Training quick-start")
        second.locator(".st-key-train_quick_start button").click()
        _main_text(second, "is waiting: place 1 of 1 in the queue")
        _main_text(second, "Only the person who started it, or the lecturer, can stop it")
        assert second.locator(STOP).count() == 0, "the waiting session cannot stop the other's job"
        first.locator(STOP).first.wait_for(timeout=WAIT_MS)
        assert first.locator(MAIN).get_by_text("is waiting").count() == 0

        first.locator(STOP).first.click()  # the first job stops; the waiting one starts
        _main_text(second, "Training quick-start-2")
        second.locator(STOP).first.wait_for(timeout=WAIT_MS)
        second.locator(STOP).first.click()
        _main_text(second, "quick-start-2")
        for page in (first, second):
            assert page.locator('[data-testid="stException"]').count() == 0
            assert "Traceback" not in page.inner_text("body")
        browser.close()
    assert not errors, errors
