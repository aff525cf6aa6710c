"""The real app in a real browser: start ``streamlit run app.py`` and open every page in headless Chromium.

Slow (one server start, one page load per page), so it is marked ``browser``. It needs Debian's
``chromium``; ``make test`` installs it when it can. Outside CI a machine without it skips the
test; in CI (``CI=true``) a missing browser is a failure, not a skip.
Set ``SCREENSHOT_DIR`` to keep a PNG of each page (the README's screenshots come from here).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
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
    "class_sampler": "encoded training images in",
    "evaluate": "More settings",
    "tiles": "Coverage heat map",
}
MAIN = '[data-testid="stMain"]'
SIDEBAR = '[data-testid="stSidebar"]'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(trained_runs, runs_root):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; `make test` installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    port = _free_port()
    env = {**os.environ, "GEN_CORE_CHECKPOINTS": str(runs_root), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=APP_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("the Streamlit server did not start within 60 s")
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


def test_every_page_renders_without_errors(server, trained_runs):
    from playwright.sync_api import sync_playwright

    screenshot_dir = os.environ.get("SCREENSHOT_DIR")
    failures = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for url_path, key_text in PAGES.items():
            page.goto(f"{server}/{url_path}?run={trained_runs['vae2'].name}", wait_until="domcontentloaded")
            if not _wait_until_rendered(page, key_text):
                failures.append(f"/{url_path}: '{key_text}' never appeared in the page's main area")
            sidebar = page.locator(SIDEBAR)
            # the page ran inside app.py's frame: grouped navigation and the shared sidebar are there
            for frame_text in ("Explore", "Measure", "Device:"):
                if not sidebar.get_by_text(frame_text, exact=False).count():
                    failures.append(f"{url_path}: the sidebar lacks '{frame_text}' (page ran without app.py?)")
            exceptions = page.locator('[data-testid="stException"]')
            if exceptions.count():
                failures.append(f"{url_path}: exception box: {exceptions.first.inner_text()[:300]}")
            if page.get_by_text("Page not found").count():
                failures.append(f"/{url_path}: Streamlit says the page does not exist")
            if "Traceback (most recent call last)" in page.inner_text("body"):
                failures.append(f"{url_path}: a traceback is shown")
            if screenshot_dir:  # images arrive after the script ends: wait until each has loaded
                page.wait_for_function("() => [...document.images].every(image => image.complete)")
                Path(screenshot_dir).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(Path(screenshot_dir) / f"{url_path or 'train'}.png"), full_page=True)
        browser.close()
    assert not failures, "\n".join(failures)
