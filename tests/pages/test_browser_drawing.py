"""The drawing pad in a real Chromium: a digit drawn with the mouse on the Latent map is starred on the map and
given its nearest training images, with every file the pad needs served by the app itself (no CDN)."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from .test_browser import CHROMIUM, CHROMIUM_FLAGS, MAIN, _wait_until_rendered, require_chromium, serve_app

pytestmark = pytest.mark.browser
STREAMLIT_FAVICON = "https://fonts.gstatic.com/s/i/short-term/release/materialsymbolsrounded/"
PAD = ".st-key-latent_map_draw_pad canvas.upper-canvas"  # Fabric.js draws on the lower canvas, listens on this


@pytest.fixture(scope="module")
def server(trained_runs, runs_root):
    require_chromium()
    with serve_app(runs_root) as url:
        yield url


def _stroke(page, box, points) -> None:
    """One mouse stroke through ``points`` given as fractions of the pad's width and height."""
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + points[0][0] * box["width"], y0 + points[0][1] * box["height"])
    page.mouse.down()
    for fx, fy in points[1:]:
        page.mouse.move(x0 + fx * box["width"], y0 + fy * box["height"], steps=12)
    page.mouse.up()


def test_a_digit_drawn_with_the_mouse_is_starred_on_the_map_with_nothing_from_outside(server, trained_runs):
    from playwright.sync_api import sync_playwright

    requests = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda request: requests.append(request.url))
        page.goto(f"{server}/latent_map?run={trained_runs['ae'].name}", wait_until="domcontentloaded")
        assert _wait_until_rendered(page, "Eigenvalue spectrum")
        main = page.locator(MAIN)
        assert main.get_by_text("Draw a digit in the box").count() == 1
        pad = page.locator(PAD)
        pad.scroll_into_view_if_needed()
        box = pad.bounding_box()
        assert box["width"] >= 250 and box["height"] >= 250
        _stroke(page, box, [(0.3, 0.2), (0.7, 0.2), (0.45, 0.85)])  # a "7", off-centre
        main.get_by_text("Nearest training images to your drawing").wait_for(timeout=60_000)
        _wait_until_rendered(page, "Nearest training images to your drawing")
        assert main.get_by_text("Draw a digit in the box").count() == 0
        assert main.locator('[data-testid="stPlotlyChart"]').first.get_by_text("your drawing").count() >= 1
        assert not page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count()
        browser.close()
    pad_files = [url for url in requests if "bidi-components/streamlit-drawable-canvas" in url]
    assert pad_files and all(urlparse(url).hostname == "127.0.0.1" for url in pad_files)
    # the one request that leaves the machine is Streamlit's own: the tab's icon for a ":material/...:" page icon
    outside = [url for url in requests if urlparse(url).hostname not in ("127.0.0.1", None)]
    assert all(url.startswith(STREAMLIT_FAVICON) for url in outside), outside
