"""Input-to-frame latency of the in-browser decoder in headless Chromium (ui/components/browser_decoder.py).

    python bench/bench_browser_decoder.py RUN_NAME [RUN_NAME ...] [--runs-root checkpoints] [--moves 200]

For each run: start the app on a free port, open Latent sliders, drag the first slider back and
forth ``--moves`` times without letting go, and read the component's own record of the time from
each input event to the canvas being redrawn (median and p95, ms). The server does no work while
the drag lasts: the values reach Python once, on release.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]

from pages.test_browser import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402
from pages.test_browser_decoder import _serve, _wait_for_frame_after  # noqa: E402


def measure(url: str, run: str, moves: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/latent_sliders?run={run}")
        root = page.locator(".decoder")
        root.wait_for(timeout=120_000)
        _wait_for_frame_after(root, 0)
        box = root.locator("input[type=range]").first.bounding_box()
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + 8, y)
        page.mouse.down()
        root.evaluate("(root) => { root.browserDecoder.latencies.length = 0; }")
        for move in range(moves):
            fraction = abs((move % 40) - 20) / 20  # there and back
            page.mouse.move(box["x"] + 8 + fraction * (box["width"] - 16), y)
            page.wait_for_timeout(16)  # about one pointer event per display frame, as a hand makes them
        page.mouse.up()
        page.wait_for_timeout(500)
        latencies = root.evaluate("(root) => root.browserDecoder.latencies.slice()")
        browser.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--runs-root", type=Path, default=Path("checkpoints"))
    parser.add_argument("--moves", type=int, default=200)
    args = parser.parse_args()
    with _serve(Path(__file__).resolve().parents[1], args.runs_root.resolve()) as url:
        for run in args.runs:
            latencies = sorted(measure(url, run, args.moves))
            p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
            print(f"{run}: {len(latencies)} frames, input-to-frame median {statistics.median(latencies):.1f} ms, "
                  f"p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
