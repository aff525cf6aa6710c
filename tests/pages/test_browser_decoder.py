"""The in-browser decoder in a real Chromium (ui/components/browser_decoder.py).

* Dragging a slider without letting go redraws the canvas at every step, and every frame is the
  server's decode of the code it reports; on release the values reach Python (the link's ``z``)
  and the server's decode of them is the last frame.
* A browser without WebAssembly, and an app whose runtime files were never installed, say so in
  one line and decode on the server (Streamlit's own sliders and a server-drawn picture).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
import torch
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from gen_core.run.checkpoint import load_run
from .test_browser import (APP_DIR, CHROMIUM, CHROMIUM_FLAGS, _free_port, _wait_until_rendered,
                                      require_chromium, wait_until_serving)
from ui.components.browser_decoder import RUNTIME_DIR, runtime_installed

pytestmark = pytest.mark.browser
DECODER = ".decoder"
_FRAME = """(root) => {
  const canvas = root.querySelector("canvas.frame");
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  return {frames: Number(root.dataset.frames || 0), code: JSON.parse(root.dataset.code || "[]"),
          values: JSON.parse(root.dataset.values || "[]"), red: Array.from(pixels.filter((_, i) => i % 4 === 0))};
}"""


@contextmanager
def _serve(app_dir: Path, runs_root: Path):
    port = _free_port()
    env = {**os.environ, "GEN_CORE_CHECKPOINTS": str(runs_root), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
           "LATENT_LAB_BROWSER_DECODE": "auto"}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=app_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def _browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def _wait_for_frame_after(root, count: int) -> None:
    """Until the component has drawn more than ``count`` frames (it counts them in data-frames)."""
    root.evaluate("(root, count) => new Promise((done, fail) => { const until = Date.now() + 30000;"
                  " const check = () => Number(root.dataset.frames || 0) > count ? done()"
                  " : Date.now() > until ? fail(new Error('no new frame')) : setTimeout(check, 10); check(); })", count)


def _server_pixels(model, code) -> np.ndarray:
    """What the server draws for a code: decode, clamp, round to 0-255 (gen_core.images.to_pil)."""
    with torch.no_grad():
        image = model.decode(torch.tensor([code], dtype=torch.float32))[0, 0]
    return image.clamp(0, 1).mul(255).round().to(torch.uint8).numpy().astype(int).reshape(-1)


@pytest.fixture(scope="module")
def live_server(trained_runs, runs_root):
    require_chromium()
    if not runtime_installed():
        pytest.skip("onnxruntime-web is not installed (make browser-assets, which needs npm)")
    with _serve(APP_DIR, runs_root) as url:
        yield url


def test_dragging_redraws_the_canvas_with_the_servers_decode(live_server, trained_runs):
    model = load_run(trained_runs["vae2"]).model
    with _browser() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{live_server}/latent_sliders?run={trained_runs['vae2'].name}&seed=3")
        assert _wait_until_rendered(page, "Move the code")
        root = page.locator(DECODER)
        root.wait_for(timeout=60_000)
        _wait_for_frame_after(root, 0)
        slider = root.locator("input[type=range]").first
        box = slider.bounding_box()
        y = box["y"] + box["height"] / 2
        frames, seen = [], root.evaluate(_FRAME)["frames"]
        page.mouse.move(box["x"] + 8, y)
        page.mouse.down()
        for step in range(1, 16):  # across the slider, never letting go
            page.mouse.move(box["x"] + 8 + step * (box["width"] - 16) / 15, y)
            _wait_for_frame_after(root, seen)
            frame = root.evaluate(_FRAME)
            seen = frame["frames"]
            frames.append(frame)
        page.mouse.up()

        distinct = {tuple(frame["red"]) for frame in frames}
        assert len(distinct) >= 10, f"only {len(distinct)} different pictures in 15 steps of a drag"
        for frame in frames:  # every frame is what the server draws for the code it reports
            assert len(frame["code"]) == model.latent_dim
            difference = np.abs(np.array(frame["red"]) - _server_pixels(model, frame["code"])).max()
            assert difference <= 1, f"a frame differs from the server's decode by {difference} levels"

        # On release Python gets the values: the link's z= follows, and decodes to the last frame.
        last = frames[-1]
        page.wait_for_function("(values) => { const z = new URL(location.href).searchParams.get('z');"
                               " return z !== null && z.split(',').every((v, i) => Math.abs(Number(v) - values[i]) < 1e-3); }",
                               arg=last["values"], timeout=30_000)
        linked = [float(v) for v in parse_qs(urlparse(page.url).query)["z"][0].split(",")]
        assert np.allclose(linked, last["values"], atol=1e-4)
        assert np.abs(np.array(last["red"]) - _server_pixels(model, linked)).max() <= 2


def _is_server_path(page) -> bool:
    """Streamlit's own sliders and a picture drawn on the server (they may come a moment after the text)."""
    main = page.locator('[data-testid="stMain"]')
    try:
        main.locator('[data-testid="stSlider"]').first.wait_for(timeout=90_000)
        main.locator('[data-testid="stImage"] img').first.wait_for(timeout=90_000)
    except PlaywrightTimeout:
        return False
    return True


def test_a_browser_without_webassembly_decodes_on_the_server(live_server, trained_runs):
    with _browser() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script("delete window.WebAssembly;")
        page = context.new_page()
        page.goto(f"{live_server}/latent_sliders?run={trained_runs['vae2'].name}")
        page.get_by_text("Decoding on the server: this browser could not run the decoder (no WebAssembly).").wait_for(
            timeout=60_000)
        assert _wait_until_rendered(page, "Move the code")
        assert _is_server_path(page)
        assert page.locator(DECODER).count() == 0


def test_without_the_runtime_files_pages_decode_on_the_server(trained_runs, runs_root, tmp_path):
    """A clone where set-up had no npm: the same app without static/onnxruntime-web."""
    require_chromium()
    app = tmp_path / "app"
    app.mkdir()
    for name in ("app.py", "app_pages", "ui", "gen_core", ".streamlit"):
        source = APP_DIR / name
        (shutil.copytree if source.is_dir() else shutil.copy)(
            source, app / name, **({"ignore": shutil.ignore_patterns("__pycache__")} if source.is_dir() else {}))
    assert not (app / "static" / RUNTIME_DIR.name).exists()
    with _serve(app, runs_root) as url, _browser() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/latent_sliders?run={trained_runs['vae2'].name}")
        assert _wait_until_rendered(page, "Move the code")
        assert page.get_by_text("the in-browser decoder's files are not installed").count() == 1
        assert _is_server_path(page)
        assert page.locator(DECODER).count() == 0


def test_hovering_the_latent_map_changes_the_picture_under_the_pointer(live_server, trained_runs):
    with _browser() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{live_server}/latent_map?run={trained_runs['vae2'].name}")
        assert _wait_until_rendered(page, "Walk the plane")
        root = page.locator(DECODER)
        root.scroll_into_view_if_needed(timeout=60_000)
        _wait_for_frame_after(root, 0)
        box = root.locator("canvas.pad").bounding_box()
        pictures = []
        for fx, fy in ((0.15, 0.5), (0.85, 0.5), (0.5, 0.15)):
            before = root.evaluate(_FRAME)["frames"]
            page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
            _wait_for_frame_after(root, before)
            pictures.append(tuple(root.evaluate(_FRAME)["red"]))
        assert len(set(pictures)) == 3, "the picture did not follow the pointer across the map"
