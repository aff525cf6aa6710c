"""The real app in a real browser: start ``streamlit run app.py`` and open every page in headless Chromium.

Every page is opened on a 1024x768 projector, in the normal layout and in presentation mode
(``?present=1``), and must render without an exception box, without running off the right edge
of the window (a horizontal scroll) and without a button whose label is cut short.

Slow (one server start, one page load per page and layout), so it is marked ``browser``. It needs
Debian's ``chromium``; ``make test`` installs it when it can. Outside CI a machine without it skips
the test; in CI (``CI=true``) a missing browser is a failure, not a skip.
Set ``SCREENSHOT_DIR`` to keep a PNG of each page in each layout checked. (The README's screenshots
show the demo models instead: docs/screenshots/take_screenshots.py.)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = pytest.mark.browser

APP_DIR = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]

# url path -> a text that only the page's body shows once its main content rendered: looked for in
# the main area alone (the sidebar repeats page titles and the active run's name), and each one
# comes after the page's real work (a model built, samples drawn, a mixture fitted...).
# Train is the default page, served at the root URL.
PAGES = {
    "": "Layer summary",
    "models": "tiny-vae2",
    "samples": "Progress over training",
    "latent_sliders": "Move the code",
    "interpolate": "Paths in latent space",
    "latent_map": "Eigenvalue spectrum",
    "class_sampler": "Median distance",
    "evaluate": "More settings",
    "tiles": "Coverage heat map",
    "room_quiz": "No round is open",
}
MAIN = '[data-testid="stMain"]'
SIDEBAR = '[data-testid="stSidebar"]'
PROJECTOR = {"width": 1024, "height": 768}
# (name, viewport, query) of each layout checked
LAYOUTS = [("1024x768", PROJECTOR, ""), ("1024x768 presentation", PROJECTOR, "&present=1")]

# Elements that stick out past the right edge of the main area (the page scrolls sideways), and
# buttons whose label is cut short ("R…"). Tables and charts scroll inside their own frame, so
# only their frame is measured.
_LAYOUT_PROBLEMS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const right = main.getBoundingClientRect().right + 1;
  const problems = [];
  if (main.scrollWidth > main.clientWidth + 1 || document.documentElement.scrollWidth > window.innerWidth + 1)
    problems.push(`the page scrolls sideways (${main.scrollWidth} px wide in ${main.clientWidth})`);
  const boxes = main.querySelectorAll('img, button, canvas, [data-testid="stDataFrame"], [data-testid="stPlotlyChart"],'
                                      + ' [data-testid="stElementContainer"]');
  for (const box of boxes) {
    const rect = box.getBoundingClientRect();
    if (rect.width > 0 && rect.right > right && !box.closest('[data-testid="stDataFrame"] canvas')) {
      problems.push(`${box.tagName.toLowerCase()} "${(box.innerText || box.alt || '').slice(0, 30)}" ends at `
                    + `${Math.round(rect.right)} px, past the page's edge at ${Math.round(right)} px`);
      if (problems.length > 4) break;
    }
  }
  for (const label of main.querySelectorAll('button p, button [data-testid="stMarkdownContainer"]')) {
    if (label.scrollWidth > label.clientWidth + 1)
      problems.push(`the button "${label.innerText.slice(0, 30)}" is cut short (${label.clientWidth} of `
                    + `${label.scrollWidth} px shown)`);
  }
  return problems;
}"""


def wait_until_serving(url: str, timeout_s: float = 60) -> None:
    """Poll the Streamlit server's health endpoint until it answers "ok"."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the Streamlit server did not start within {timeout_s:.0f} s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_chromium() -> None:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; `make test` installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")


@contextmanager
def serve_app(runs_root: Path, **environment: str):
    """``streamlit run app.py`` on a free loopback port over ``runs_root``; yields its URL."""
    port = _free_port()
    env = {**os.environ, "GEN_CORE_CHECKPOINTS": str(runs_root), "PYTHONUNBUFFERED": "1", **environment}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=APP_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url)
        yield url
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        if "Traceback" in (output or ""):
            print(output)


@pytest.fixture(scope="module")
def server(trained_runs, runs_root):
    require_chromium()
    with serve_app(runs_root) as url:
        yield url


def _wait_until_rendered(page, key_text: str, timeout_ms: int = 90_000) -> bool:
    """Wait for ``key_text`` in the page's main area, then for Streamlit to finish running the
    script (the app root reports its script state); False when the text never appeared."""
    found = True
    try:
        page.locator(MAIN).get_by_text(key_text, exact=False).first.wait_for(timeout=timeout_ms)
    except PlaywrightTimeout:
        found = False
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
    return found


def _check_page(page, url_path: str, key_text: str, layout: str) -> list[str]:
    failures = []
    where = f"/{url_path} ({layout})"
    if not _wait_until_rendered(page, key_text):
        failures.append(f"{where}: '{key_text}' never appeared in the page's main area")
    sidebar = page.locator(SIDEBAR)
    # the page ran inside app.py's frame: grouped navigation and the shared sidebar are there
    for frame_text in ("Explore", "Measure", "Device:"):
        if not sidebar.get_by_text(frame_text, exact=False).count():
            failures.append(f"{where}: the sidebar lacks '{frame_text}' (page ran without app.py?)")
    exceptions = page.locator('[data-testid="stException"]')
    if exceptions.count():
        failures.append(f"{where}: exception box: {exceptions.first.inner_text()[:300]}")
    if page.get_by_text("Page not found").count():
        failures.append(f"{where}: Streamlit says the page does not exist")
    if "Traceback (most recent call last)" in page.inner_text("body"):
        failures.append(f"{where}: a traceback is shown")
    page.wait_for_function("() => [...document.images].every(image => image.complete)")
    failures += [f"{where}: {problem}" for problem in page.evaluate(_LAYOUT_PROBLEMS)]
    return failures


def _screenshot(page, folder: str, name: str) -> None:
    page.wait_for_function("() => [...document.images].every(image => image.complete)")
    Path(folder).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_every_page_fits_a_projector_without_errors(server, trained_runs):
    from playwright.sync_api import sync_playwright

    screenshot_dir = os.environ.get("SCREENSHOT_DIR")
    failures = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        for layout, viewport, query in LAYOUTS:
            page = browser.new_page(viewport=viewport)  # a fresh session: presentation mode comes from the link
            for url_path, key_text in PAGES.items():
                page.goto(f"{server}/{url_path}?run={trained_runs['vae2'].name}{query}", wait_until="domcontentloaded")
                failures += _check_page(page, url_path, key_text, layout)
                if screenshot_dir:
                    _screenshot(page, screenshot_dir, f"{url_path or 'train'}-{layout.replace(' ', '-')}")
                if query and not page.locator(SIDEBAR).get_by_role("switch", name="Presentation mode").is_checked():
                    failures.append(f"/{url_path} ({layout}): ?present=1 did not turn presentation mode on")
            page.close()
        browser.close()
    assert not failures, "\n".join(failures)


# The lecture view (presentation mode) on a 1024x768 projector: the sidebar folded away, and each
# page's main picture (the container presentation.main_picture() draws) starting above the fold and
# at least half the window wide. Evaluate shows no table until a model is scored, which this runs
# folder never is, and Room quiz no chart until a round is started, so their pictures are not looked
# for here (tests/pages/test_room_quiz_page.py and bench figures cover the quiz).
_MAIN_PICTURE = """() => {
  const box = document.querySelector('.st-key-lecture-main');
  const sidebar = document.querySelector('[data-testid="stSidebar"]');
  const side = sidebar ? sidebar.getBoundingClientRect() : null;
  return {picture: box ? {top: box.getBoundingClientRect().top, width: box.getBoundingClientRect().width} : null,
          sidebarOpen: !!(sidebar && sidebar.getAttribute('aria-expanded') !== 'false' && side.right > 1)};
}"""


# Chart text in the lecture view: every title, tick label, legend entry and annotation of every chart in
# the main area at least 16 px (readable from the back row), and no two of one chart's tick labels, axis
# titles or legend entries overlapping (a label drawn over another can be read as neither).
_CHART_TEXT_PROBLEMS = """() => {
  const problems = [];
  const charts = document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot');
  charts.forEach((chart, number) => {
    const texts = [...chart.querySelectorAll('.main-svg text')].filter(text => {
      const rect = text.getBoundingClientRect();
      return text.textContent.trim() && rect.width > 0 && !text.closest('.hoverlayer');
    });
    for (const text of texts) {
      const size = parseFloat(getComputedStyle(text).fontSize);
      if (size < 16) {
        problems.push(`chart ${number + 1}: "${text.textContent.slice(0, 30)}" is ${size} px`);
        break;
      }
    }
    const labels = texts.filter(text => text.closest('.xtick, .ytick, .g-xtitle, .g-ytitle, .legendtext, .legend'));
    const boxes = labels.map(text => [text.textContent.slice(0, 20), text.getBoundingClientRect()]);
    for (let i = 0; i < boxes.length && problems.length < 8; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, ra] = boxes[i], [b, rb] = boxes[j];
        const overlapX = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
        const overlapY = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
        if (overlapX > 2 && overlapY > 2) {
          problems.push(`chart ${number + 1}: "${a}" overlaps "${b}"`);
          break;
        }
      }
    }
  });
  return problems;
}"""


def _fits(found: dict) -> bool:
    picture = found["picture"]
    return not found["sidebarOpen"] and picture is not None and picture["top"] < PROJECTOR["height"] \
        and picture["width"] >= PROJECTOR["width"] / 2


def test_lecture_view_shows_each_pages_main_picture_above_the_fold(server, trained_runs):
    from playwright.sync_api import sync_playwright

    failures = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport=PROJECTOR)
        for url_path, key_text in PAGES.items():
            page.goto(f"{server}/{url_path}?run={trained_runs['vae2'].name}&present=1", wait_until="domcontentloaded")
            failures += _check_page(page, url_path, key_text, "lecture view")
            # the sidebar's collapse is animated, and a first visit may rerun once more as ?present=1 is
            # applied: the layout is measured once it holds, or after 10 s
            found = page.evaluate(_MAIN_PICTURE)
            for _ in range(20):
                if _fits(found):
                    break
                page.wait_for_timeout(500)
                found = page.evaluate(_MAIN_PICTURE)
            where = f"/{url_path} (lecture view)"
            failures += [f"{where}: {problem}" for problem in page.evaluate(_CHART_TEXT_PROBLEMS)]
            if found["sidebarOpen"]:
                failures.append(f"{where}: the sidebar is open")
            picture = found["picture"]
            if picture is None:
                if url_path not in ("evaluate", "room_quiz"):
                    failures.append(f"{where}: no main picture")
                continue
            if picture["top"] >= PROJECTOR["height"]:
                failures.append(f"{where}: the main picture starts at {picture['top']:.0f} px, below the fold")
            if picture["width"] < PROJECTOR["width"] / 2:
                failures.append(f"{where}: the main picture is {picture['width']:.0f} px wide, under half the window")
        browser.close()
    assert not failures, "\n".join(failures)


def _link_in_popover(page) -> str:
    page.locator(MAIN).get_by_role("button", name="Link to this view").click()
    code = page.locator('[data-testid="stPopoverBody"] code').first
    code.wait_for(timeout=10_000)
    text = code.inner_text().strip()
    page.keyboard.press("Escape")
    return text


def _settled(page) -> None:
    """Until the script is not running and the address has stayed the same for a second: one key
    press queues a rerun per step, and on a busy machine the last may start after a pause."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        address = page.url
        page.wait_for_timeout(1000)
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000)
        if page.url == address:
            return


def _move_slider(page, slider) -> None:
    """One step to the right, as one drag released: a single change and the rerun it starts. (Five
    quick presses started five reruns, each cutting the last short, and the link box could be drawn
    by one that was then cut.)"""
    slider.focus()
    slider.press("ArrowRight")
    _settled(page)


def test_link_box_matches_the_address_after_each_slider_moves(server, trained_runs):
    """The sliders of Latent sliders and Interpolate rerun as fragments, or decode in the browser and
    report on release: the link handed out must still be the address bar's after each one moves, on a
    laptop and in the lecture view."""
    from playwright.sync_api import sync_playwright

    failures = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        for layout, viewport, query in (("laptop", {"width": 1280, "height": 900}, ""),
                                        ("lecture view", PROJECTOR, "&present=1")):
            page = browser.new_page(viewport=viewport)
            for url_path, key_text in (("latent_sliders", "Move the code"), ("interpolate", "Paths in latent space")):
                page.goto(f"{server}/{url_path}?run={trained_runs['vae2'].name}{query}", wait_until="domcontentloaded")
                _wait_until_rendered(page, key_text)
                # Streamlit's sliders (a range input inside stSlider; disabled ones cannot move) and, where
                # the page decodes in the browser, the decoder's own
                sliders = page.locator(f'{MAIN} [data-testid="stSlider"] input[type=range]:not([disabled]):visible, '
                                       f'{MAIN} .decoder input[type=range]:visible')
                where = f"/{url_path} ({layout})"
                try:  # the in-browser decoder's sliders appear once its model is loaded
                    sliders.first.wait_for(timeout=60_000)
                except PlaywrightTimeout:
                    failures.append(f"{where}: no slider to move")
                for number in range(sliders.count()):
                    before = page.url
                    _move_slider(page, sliders.nth(number))
                    link = _link_in_popover(page)
                    if page.url == before:
                        failures.append(f"{where}: slider {number + 1} moved but the address did not change")
                    if link != page.url:
                        failures.append(f"{where}: after slider {number + 1} the link is {link}, "
                                        f"the address {page.url}")
            page.close()
        browser.close()
    assert not failures, "\n".join(failures)
