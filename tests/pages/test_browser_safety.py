"""The real server in a real browser, against a visitor who tries what they should not: a link to a run
outside the runs folder, a path outside the data folders, and a page that fails unexpectedly. Nothing
on screen may show a traceback, a server path or a file name from outside.

The unexpected failure is made real by starting the server with ``load_run`` replaced, for one run
name, by a function that raises an error whose message holds a server path.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ui.boundary import PAGE_FAILED

from .test_browser import APP_DIR, CHROMIUM, CHROMIUM_FLAGS, _free_port, wait_until_serving

pytestmark = pytest.mark.browser

CRASHING = "crash-here"
START_WITH_A_BROKEN_LOADER = f"""
import runpy, sys
from pathlib import Path
import gen_core.run.checkpoint as checkpoints
real_load_run = checkpoints.load_run
def load_run(path, *args, **kwargs):
    if Path(path).name == {CRASHING!r}:
        raise RuntimeError(f"disk on fire while reading {{Path(path).resolve()}}/model.safetensors")
    return real_load_run(path, *args, **kwargs)
checkpoints.load_run = load_run
sys.argv = ["streamlit", "run", "app.py", *sys.argv[1:]]
runpy.run_module("streamlit", run_name="__main__")
"""


@pytest.fixture(scope="module")
def world(trained_runs, tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("browser-safety")
    runs, data, private = base / "runs", base / "data", base / "private"
    for name in (CRASHING, "tiny-vae2"):
        shutil.copytree(trained_runs["vae2"], runs / name)
    os.utime(runs / "tiny-vae2" / "model.safetensors")  # the newest: what a page falls back to
    shutil.copytree(trained_runs["vae2"], private / "evil-run")
    data.mkdir()
    for index in range(3):
        (private / f"secret_photo_{index}.png").write_bytes(b"\x89PNG not really")
    return {"base": base, "runs": runs, "data": data, "private": private}


@pytest.fixture(scope="module")
def server(world):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; `make test` installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    port = _free_port()
    env = {**os.environ, "GEN_CORE_CHECKPOINTS": str(world["runs"]), "GEN_CORE_DATA_DIRS": str(world["data"]),
           "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(APP_DIR)}
    log = world["base"] / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-c", START_WITH_A_BROKEN_LOADER, "--server.port", str(port), "--server.headless", "true",
         "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=APP_DIR, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url)
        yield url, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _settled(page, name: str) -> str:
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=90_000)
    page.wait_for_timeout(300)
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(os.environ["SCREENSHOT_DIR"]) / f"safety-{name}.png"))
    return page.inner_text("body")


def _leaks(text: str, world: dict[str, Path]) -> list[str]:
    found = [what for what, needle in (("a traceback", "Traceback"), ("a server path", str(world["base"])),
                                       ("a file from outside", "secret_photo"), ("the error's details", "disk on fire"))
             if needle in text]
    return found + (["a path of this machine"] if "/tmp/" in text or "/root/" in text else [])


def test_a_visitor_reaches_nothing_outside_and_sees_no_traceback(server, world):
    from playwright.sync_api import sync_playwright

    url, log = server
    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1024, "height": 768})

        for number, link in enumerate((str(world["private"] / "evil-run"), "../private/evil-run", "../../../etc")):
            page.goto(f"{url}/samples?run={link}", wait_until="domcontentloaded")
            page.get_by_text(re.compile("not on this server|Ignored in the link")).first.wait_for(timeout=90_000)
            text = _settled(page, f"link-{number}").replace(link[:30], "<typed>")  # echoing the visitor's own link
            problems += [f"?run={link}: shows {leak}" for leak in _leaks(text, world)]
            shown = page.locator('[data-testid="stMain"]').inner_text()  # the page names the model it shows
            if "tiny-vae2 ·" not in shown:
                problems.append(f"?run={link}: the page does not show the newest model from the runs folder")

        page.goto(url, wait_until="domcontentloaded")
        _settled(page, "train")
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Dataset").click()
        page.get_by_role("option", name="folder", exact=False).first.click()
        page.get_by_text("Folder or zip path", exact=True).click()
        box = page.get_by_role("textbox", name="Folder or .zip in the data folder")
        box.fill(str(world["private"]))
        box.press("Enter")
        page.get_by_text("outside the data folders", exact=False).first.wait_for(timeout=90_000)
        text = _settled(page, "path-outside")
        problems += [f"path outside: shows {leak}" for leak in _leaks(text.replace(str(world["private"]), "<typed>"),
                                                                      world)]

        page.goto(f"{url}/samples?run={CRASHING}", wait_until="domcontentloaded")
        page.get_by_text(PAGE_FAILED[:40], exact=False).first.wait_for(timeout=90_000)
        text = _settled(page, "unexpected-error")
        problems += [f"unexpected error: shows {leak}" for leak in _leaks(text, world)]
        browser.close()
    assert not problems, "\n".join(problems)
    server_log = log.read_text()
    assert "disk on fire" in server_log and "Traceback" in server_log, "the details went to the server log"
