"""Retake the README's screenshots: the real app on the demo models, in headless Chromium (playwright).

    python -m gen_core demos                       # the models the pictures show
    python docs/screenshots/take_screenshots.py    # writes docs/screenshots/*.png

Each page is shot as the room sees it: at 1024x768 in the lecture view (``present=1``), with the
model (and settings) a lesson would use for it, through the same links a lecturer would bookmark;
``presentation.png`` is the Samples page with a second model beside it; ``step_through.png`` the Train
page's job panel while a DCGAN, trained from a terminal meanwhile, is paused after a discriminator-only
step and a new learning rate.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

APP_DIR = Path(__file__).resolve().parents[2]
# file name -> (page path, query, a text that appears once the page's main content rendered)
SHOTS = {
    "train": ("", "run=demo-vae-2d", "Layer summary"),
    "models": ("models", "run=demo-vae-2d", "Demo models for a lesson"),
    "samples": ("samples", "run=demo-vae-32d&vs=demo-dcgan&seed=3", "Progress over training"),
    "latent_sliders": ("latent_sliders", "run=demo-beta-vae&axes=dim&sweep=0", "Move the code"),
    "interpolate": ("interpolate", "run=demo-vae-2d&a=3&b=57&mix=30", "Paths in latent space"),
    "latent_map": ("latent_map", "run=demo-vae-2d&classes=4,7,9&img=17", "Eigenvalue spectrum"),
    "class_sampler": ("class_sampler", "run=demo-ae-32d&n=6", "Class sampler"),
    "evaluate": ("evaluate", "run=demo-vae-gan", "More settings"),
    "tiles": ("tiles", "run=demo-tile-vae", "Coverage heat map"),
}
PRESENTATION = ("samples", "run=demo-vae-32d&vs=demo-dcgan&seed=3&present=1", "Random samples")


def _serve(runs: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=APP_DIR, env={**os.environ, "GEN_CORE_CHECKPOINTS": str(runs)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return process, url
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit("the app did not start")


def _shoot(page, url: str, path: str, query: str, key_text: str, target: Path) -> None:
    page.goto(f"{url}/{path}?{query}", wait_until="domcontentloaded")
    page.locator('[data-testid="stMain"]').get_by_text(key_text, exact=False).first.wait_for(timeout=300_000)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=300_000)
    page.wait_for_function("() => [...document.images].every(image => image.complete)")
    page.wait_for_timeout(1500)  # charts draw after the script ends
    page.screenshot(path=str(target))
    print(f"wrote {target}")


def _shoot_room_quiz(page, url: str, target: Path) -> None:
    """The Room quiz as the projector shows it once the host has started a round (this writes the
    round into the runs folder's _quizzes/, as a lecturer's click would)."""
    page.goto(f"{url}/room_quiz?present=1", wait_until="domcontentloaded")
    page.get_by_role("button", name="Start the round").click(timeout=300_000)
    page.locator('[data-testid="stMain"]').get_by_text("Reveal which was real", exact=False).first.wait_for(
        timeout=300_000)
    page.wait_for_function("() => [...document.images].every(image => image.complete)")
    page.wait_for_timeout(2500)  # the tally's chart draws after the script ends
    page.screenshot(path=str(target))
    print(f"wrote {target}")
def _step_through(page, url: str, runs: Path, target: Path) -> None:
    """A DCGAN trains from a terminal; once its first grid is saved it is paused, stepped (the
    discriminator alone) and given a new rate, then shot on the Train page and stopped."""
    sys.path.insert(0, str(APP_DIR))
    from gen_core.run import live
    from gen_core.run.control import request_control

    run_dir = runs / "dcgan-step-through"
    shutil.rmtree(run_dir, ignore_errors=True)
    trainer = subprocess.Popen(
        [sys.executable, "-m", "gen_core", "train", "--model", "dcgan", "--dataset", "mnist5k", "--epochs", "1000",
         "--batch-size", "64", "--gen-channels", "64,32", "--disc-channels", "16,32", "--device", "cpu",
         "--no-eval", "--out", str(run_dir)], cwd=APP_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _until(lambda: live.read_live(run_dir).epochs, "the first epoch")
        request_control(run_dir, lr=5e-4)
        _until(lambda: live.read_live(run_dir).controls, "the new rate")
        request_control(run_dir, paused=True)
        _until(lambda: live.read_live(run_dir).is_paused, "the pause")
        request_control(run_dir, step="batch", step_player="discriminator")
        _until(lambda: live.read_live(run_dir).control.get("steps_taken") == 1, "the step")
        page.goto(f"{url}/?present=1", wait_until="domcontentloaded")
        panel = page.get_by_text("Step through", exact=True).first
        panel.wait_for(timeout=300_000)
        page.wait_for_function("() => [...document.images].every(image => image.complete)")
        page.set_viewport_size({"width": 1024, "height": 1200})  # the controls, the curves and the grid
        page.get_by_text("Training dcgan-step-through").first.evaluate("node => node.scrollIntoView()")
        page.wait_for_timeout(2500)  # charts draw after the script ends
        page.screenshot(path=str(target))
        page.set_viewport_size({"width": 1024, "height": 768})
        print(f"wrote {target}")
    finally:
        live.request_stop(run_dir)
        trainer.wait(timeout=120)
        shutil.rmtree(run_dir, ignore_errors=True)


def _until(condition, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path(os.environ.get("GEN_CORE_CHECKPOINTS", "checkpoints")))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--only", choices=[*SHOTS, "presentation", "room_quiz", "step_through"], help="retake one picture")
    args = parser.parse_args()
    process, url = _serve(args.runs.resolve())
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or shutil.which("chromium-browser"),
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            projector = browser.new_page(viewport={"width": 1024, "height": 768})
            for name, (path, query, key_text) in SHOTS.items():
                if args.only in (None, name):
                    _shoot(projector, url, path, f"{query}&present=1", key_text, args.out / f"{name}.png")
            if args.only in (None, "presentation"):
                _shoot(projector, url, *PRESENTATION, args.out / "presentation.png")
            if args.only in (None, "room_quiz"):
                _shoot_room_quiz(projector, url, args.out / "room_quiz.png")
            if args.only in (None, "step_through"):
                _step_through(projector, url, args.runs.resolve(), args.out / "step_through.png")
            browser.close()
    finally:
        process.terminate()


if __name__ == "__main__":
    main()
