"""Load: N browser sessions on the explore pages of the real server while a job trains.

Starts ``streamlit run app.py`` on a free loopback port and one training job the way the app
starts one (gen_core.serve.jobs: a worker process, the app's priority and thread settings). Then, for
each N, opens N Chromium contexts (N browser sessions) that each move between the explore pages
and move a latent slider in a loop for a fixed time, and measures:

  page rerun        a click on another page in the sidebar until that page's script has finished
  slider round trip a key press on a latent slider until the new decoded image is on screen
                    (server decoding); with the decoder in the browser, a pointer move while
                    dragging until the canvas is redrawn (the component's own record), the values
                    reaching the server once, on release
  errors            exception boxes, tracebacks, page errors, waits over 30 s
  training          the job's images per second in the same window, against windows with no
                    sessions before and after (the machine is shared, so alone is measured twice)
  CPU               cores used by the web server, the training worker and the rest (the browsers,
                    mostly) in each window, from /proc: here the browsers share the server's
                    cores, which the students' own laptops spare it in a lecture hall

Each decoding mode (``--decode server browser``) gets its own server (LATENT_LAB_BROWSER_DECODE)
and its own windows; ``--sliders-only`` keeps every session on Latent sliders, so the server's CPU
in a window divided by the pictures drawn is its CPU per slider move. In a lecture hall the
browsers run on the students' laptops; ``--split-cpus`` stands in for that: the web server and the
training job share CPU 0, the browsers get the other CPUs, so the training speed against alone
shows what the server's work costs it. ``--browser-nice`` runs Chromium at a lower priority.

Goal on a 2-core CPU with 8 sessions and one job: no error, slider round trip p95 < 500 ms,
training at least 70% of its speed alone (90% with the decoder in the browser). Everything runs
on 127.0.0.1; loops are bounded by time and by count.

Usage: python bench/bench_load.py [--sessions 1 4 8] [--seconds 40] [--decode server browser]
                                  [--sliders-only] [--split-cpus] [--browser-nice N] [--nice N] [--threads N] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gen_core.models.presets import PRESETS, QUICK_START  # noqa: E402
from gen_core.run import live  # noqa: E402
from gen_core.run.start import TrainingRequest, prepare_training, reserve_run_dir  # noqa: E402
from gen_core.serve import jobs  # noqa: E402
from gen_core.training import TrainConfig  # noqa: E402
from ui.components.browser_decoder import SWITCH as BROWSER_SWITCH  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]
EXPLORE_RUN = "load-ae5"
# sidebar link -> text of that page's main area once it has drawn its content
PAGES = {"Samples": "Random samples", "Latent map": "Eigenvalue", "Latent sliders": "Decoded image"}
SLIDER_MOVES_PER_VISIT = 10
MAX_CYCLES = 200  # per session and window, on top of the time limit
WAIT_MS = 30_000  # a wait longer than this counts as an error
DECODER = ".decoder"  # the in-browser decoder component's root
DRAG_STEP_MS = 16  # about one pointer event per display frame, as a hand makes them
IMAGES_JS = "() => [...document.querySelectorAll('[data-testid=\"stMain\"] img')].map(i => i.src).join(' ')"


@dataclass
class Window:
    sessions: int
    seconds: float = 0.0
    rerun_ms: list[float] = field(default_factory=list)
    slider_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    train_images_per_sec: float = 0.0
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # per process group, over the window
    decode: str = "server"  # where the Latent sliders picture was decoded


# -- setup -------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def train_explore_model(root: Path) -> None:
    """The run the sessions explore: the 5-hidden-layer autoencoder with a 32-d code, briefly trained."""
    preset = PRESETS["AE, 5 hidden layers"]
    prepare_training(preset.family, preset.model, "mnist5k", TrainConfig(epochs=2, device="cpu"), root=root,
                     name=EXPLORE_RUN).fit()


def start_server(root: Path, port: int, decode: str) -> subprocess.Popen:
    env = {**os.environ, "GEN_CORE_CHECKPOINTS": str(root), "PYTHONUNBUFFERED": "1",
           BROWSER_SWITCH: "on" if decode == "browser" else "off"}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("the Streamlit server did not start within 90 s")


def start_training(root: Path, queue: jobs.JobQueue) -> jobs.JobView:
    """The quick-start VAE on mnist5k for far more epochs than the benchmark lasts (stopped at the end)."""
    run_dir = reserve_run_dir(root, "vae", "mnist5k", "load-training")
    request = TrainingRequest(run_dir, QUICK_START.family, QUICK_START.model, "mnist5k", {},
                              {**QUICK_START.training, "epochs": 10_000, "device": "cpu"}, evaluate=False)
    view = queue.submit(jobs.JobRequest(request, owner="bench"))
    deadline = time.monotonic() + 180
    while len(live.read_live(run_dir).epochs) < 1:
        if time.monotonic() > deadline or queue.view(view.id).state == jobs.ENDED:
            raise RuntimeError(f"the training job did not get going: {queue.view(view.id).message}")
        time.sleep(0.2)
    return view


def images_per_sec(run_dir: Path, seconds: float) -> float:
    """The job's training speed over the next ``seconds`` (steps from its progress file, 128 per batch)."""
    first, start = live.read_status(run_dir), time.monotonic()
    time.sleep(seconds)
    last, elapsed = live.read_status(run_dir), time.monotonic() - start
    return _rate(first, last, elapsed)


def _rate(first: dict, last: dict, elapsed: float) -> float:
    # steps restart their count in each process but not within one: the difference is the work done
    return (last["step"] - first["step"]) * QUICK_START.training["batch_size"] / elapsed


# -- where the CPU goes ------------------------------------------------------------------------------
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_by_group(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the web server, the training worker(s), and everything else on the
    machine (the browsers, mostly: here they share the server's cores, which the students' own laptops
    spare it in a lecture hall). Read from /proc (Linux)."""
    totals = {"server": _process_seconds(Path("/proc", str(server_pid))), "training": 0.0}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and "gen_core train" in _command(entry):
            totals["training"] += _process_seconds(entry)
    with open("/proc/stat") as stat:  # the machine's busy time: user, nice, system, irq, softirq, steal
        fields = [int(value) for value in stat.readline().split()[1:]]
    busy = (sum(fields[:3]) + sum(fields[5:8])) / CLOCK_TICKS
    totals["browsers and the rest"] = busy - totals["server"] - totals["training"]
    return totals


def _process_seconds(entry: Path) -> float:
    try:
        stat = (entry / "stat").read_text()
    except OSError:  # ended meanwhile
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _command(entry: Path) -> str:
    try:
        return (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# -- one browser session -----------------------------------------------------------------------------
async def wait_rendered(page, text: str, timeout_ms: int = WAIT_MS) -> None:
    await page.locator('[data-testid="stMain"]').get_by_text(text, exact=False).first.wait_for(timeout=timeout_ms)
    await page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)


async def check_page(page, window: Window, where: str) -> None:
    if await page.locator('[data-testid="stException"]').count():
        window.errors.append(f"{where}: exception box")
    if "Traceback (most recent call last)" in await page.inner_text("body"):
        window.errors.append(f"{where}: traceback on screen")


async def wait_page(page, link: str, window: Window, timeout_ms: int = WAIT_MS) -> None:
    if link == "Latent sliders" and window.decode == "browser":  # the first frame drawn on the canvas
        root = page.locator(DECODER)  # inside the component's shadow root: a locator reaches it, a query does not
        await root.wait_for(timeout=timeout_ms)
        await root.evaluate("(root, ms) => new Promise((done, fail) => { const until = Date.now() + ms;"
                            " const check = () => Number(root.dataset.frames || 0) > 0 ? done()"
                            " : Date.now() > until ? fail(new Error('no frame drawn')) : setTimeout(check, 50);"
                            " check(); })", timeout_ms)
        return
    await wait_rendered(page, PAGES[link], timeout_ms)


async def open_page(page, link: str, window: Window, measure: bool = True) -> None:
    started = time.perf_counter()
    await page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=link).click()
    await wait_page(page, link, window)
    if measure:
        window.rerun_ms.append((time.perf_counter() - started) * 1000)
    await check_page(page, window, link)


async def drag_slider(page, window: Window, moves: int) -> None:
    """One drag of the first latent slider in the browser decoder: ``moves`` pointer moves, then release.
    Every redrawn frame counts as a slider move, timed by the component from input event to canvas."""
    root = page.locator(DECODER)
    await root.evaluate("(root) => { root.browserDecoder.latencies.length = 0; }")
    slider = root.locator("input[type=range]").first
    await slider.scroll_into_view_if_needed()  # at 1024x768 the sliders may start below the fold
    box = await slider.bounding_box()
    y, left, width = box["y"] + box["height"] / 2, box["x"] + 8, box["width"] - 16
    await page.mouse.move(left + width / 2, y)
    await page.mouse.down()
    for move in range(moves):
        await page.mouse.move(left + width * abs((move % 8) - 4) / 8 + width / 4, y)
        await page.wait_for_timeout(DRAG_STEP_MS)
    await page.wait_for_timeout(50)  # the last frame; read before the release, whose rerun renews the component
    window.slider_ms.extend(await root.evaluate("(root) => root.browserDecoder.latencies.slice()"))
    await page.mouse.up()
    await page.wait_for_timeout(100)  # the release reruns the page with the values, as a link needs them
    await page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=WAIT_MS)


async def move_slider(page, window: Window, forward: bool) -> None:
    slider = page.locator('[data-testid="stSlider"] input[type="range"]').first
    before = await page.evaluate(IMAGES_JS)
    started = time.perf_counter()
    await slider.focus()
    await page.keyboard.press("ArrowRight" if forward else "ArrowLeft")
    await page.wait_for_function(f"before => ({IMAGES_JS})() !== before && "
                                 "[...document.querySelectorAll('[data-testid=\"stMain\"] img')].every(i => i.complete)",
                                 arg=before, timeout=WAIT_MS)
    window.slider_ms.append((time.perf_counter() - started) * 1000)


async def session(browser, url: str, window: Window, opened: list[int], go: asyncio.Event,
                  deadline: list[float], sliders_only: bool) -> None:
    context = await browser.new_context(viewport={"width": 1024, "height": 768})
    page = await context.new_page()
    page.on("pageerror", lambda error: window.errors.append(f"page error: {error}"))
    try:
        await page.goto(f"{url}/latent_sliders?run={EXPLORE_RUN}", wait_until="domcontentloaded", timeout=180_000)
        await wait_page(page, "Latent sliders", window, timeout_ms=180_000)  # a first visit loads the model
        opened[0] += 1
        await go.wait()  # every session is open before the clock starts
        for cycle in range(MAX_CYCLES):
            for link in () if sliders_only else ("Samples", "Latent map", "Latent sliders"):
                if time.monotonic() > deadline[0]:
                    return
                await open_page(page, link, window)
            if window.decode == "browser":
                if time.monotonic() > deadline[0]:
                    return
                await drag_slider(page, window, SLIDER_MOVES_PER_VISIT)
                continue
            for move in range(SLIDER_MOVES_PER_VISIT):
                if time.monotonic() > deadline[0]:
                    return
                await move_slider(page, window, forward=(cycle + move) % 4 < 2)
    except Exception as error:  # a timeout or a lost page: counted, and this session ends its window
        window.errors.append(f"{type(error).__name__}: {' '.join(str(error).split())[:300]}")
    finally:
        await context.close()


async def measure_window(url: str, sessions: int, seconds: float, run_dir: Path, server_pid: int, decode: str,
                         sliders_only: bool, browser_nice: int, browser_cpus: set[int] | None) -> Window:
    from playwright.async_api import async_playwright

    window = Window(sessions, decode=decode)
    async with async_playwright() as playwright:
        executable = CHROMIUM
        if browser_nice or browser_cpus:  # a wrapper, so every Chromium process (renderers too) inherits it
            executable = str(Path(tempfile.mkdtemp(prefix="latent-lab-chromium-")) / "chromium")
            pin = f"taskset -c {','.join(map(str, sorted(browser_cpus)))} " if browser_cpus else ""  # util-linux
            Path(executable).write_text(f'#!/bin/sh\nexec {pin}nice -n {browser_nice} "{CHROMIUM}" "$@"\n')
            os.chmod(executable, 0o755)
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        opened, go, deadline = [0], asyncio.Event(), [float("inf")]
        tasks = [asyncio.create_task(session(browser, url, window, opened, go, deadline, sliders_only))
                 for _ in range(sessions)]
        give_up = time.monotonic() + 120
        while opened[0] + sum(t.done() for t in tasks) < sessions and time.monotonic() < give_up:
            await asyncio.sleep(0.2)
        await asyncio.sleep(3)  # the first loads settle
        first, started, cpu = live.read_status(run_dir), time.monotonic(), cpu_by_group(server_pid)
        deadline[0] = started + seconds
        go.set()
        await asyncio.gather(*tasks)
        last, window.seconds = live.read_status(run_dir), time.monotonic() - started
        window.cpu_seconds = {group: used - cpu[group] for group, used in cpu_by_group(server_pid).items()}
        window.train_images_per_sec = _rate(first, last, window.seconds)
        await browser.close()
    return window


# -- report ------------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def table(windows: list[Window], alone: list[float]) -> str:
    baseline = statistics.mean(alone)
    lines = [("| decoding | sessions | page rerun median / p95 | slider move to picture median / p95 | slider moves "
              "| errors | training, images/s | vs. alone |"), "|---|---|---|---|---|---|---|---|",
             f"| | 0 (job alone) | | | | | {baseline:,.0f} (windows: {', '.join(f'{a:,.0f}' for a in alone)}) | 1.00 |"]
    for w in windows:
        lines.append(f"| {w.decode} | {w.sessions} | {statistics.median(w.rerun_ms) if w.rerun_ms else float('nan'):.0f} / "
                     f"{percentile(w.rerun_ms, 0.95):.0f} ms | {statistics.median(w.slider_ms) if w.slider_ms else float('nan'):.0f}"
                     f" / {percentile(w.slider_ms, 0.95):.0f} ms | {len(w.slider_ms)} | {len(w.errors)} | "
                     f"{w.train_images_per_sec:,.0f} | {w.train_images_per_sec / baseline:.2f} |")
    lines += ["", "CPU used in each window, in cores (2 here): who was busy", "",
              ("| decoding | sessions | web server | training | browsers and the rest "
               "| server CPU per page rerun or slider move |"), "|---|---|---|---|---|---|"]
    for w in windows:
        cores = {group: used / w.seconds for group, used in w.cpu_seconds.items()} if w.seconds else {}
        actions = len(w.rerun_ms) + len(w.slider_ms)
        per_action = f"{w.cpu_seconds.get('server', 0) / actions * 1000:.0f} ms" if actions else "n/a"
        lines.append(f"| {w.decode} | {w.sessions} | {cores.get('server', 0):.2f} | {cores.get('training', 0):.2f} | "
                     f"{cores.get('browsers and the rest', 0):.2f} | {per_action} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--seconds", type=float, default=40.0, help="length of each measured window")
    parser.add_argument("--nice", type=int, help="the worker's niceness (default: the app's)")
    parser.add_argument("--threads", type=int, help="the worker's torch threads (default: the app's)")
    parser.add_argument("--decode", nargs="+", choices=("server", "browser"), default=["server", "browser"],
                        help="where Latent sliders decodes: each mode gets its own server and windows")
    parser.add_argument("--sliders-only", action="store_true",
                        help="sessions only move sliders (no page changes): server CPU per move is then exact")
    parser.add_argument("--split-cpus", action="store_true",
                        help="the server and the job on CPU 0, the browsers on the rest (Linux, 2+ CPUs)")
    parser.add_argument("--browser-nice", type=int, default=0,
                        help="Chromium's niceness: the browsers stand in for the students' own laptops")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if CHROMIUM is None:
        sys.exit("chromium is not installed (apt-get install chromium)")
    all_cpus, browser_cpus = sorted(os.sched_getaffinity(0)), None
    if args.split_cpus:
        if len(all_cpus) < 2:
            sys.exit("--split-cpus needs at least two CPUs")
        browser_cpus = set(all_cpus[1:])
    root = Path(tempfile.mkdtemp(prefix="latent-lab-load-"))
    server, queue = None, None
    try:
        train_explore_model(root)
        settings = {k: v for k, v in (("nice", args.nice), ("threads", args.threads)) if v is not None}
        queue = jobs.JobQueue(**settings)
        with pinned({all_cpus[0]} if browser_cpus else None):  # the job's worker inherits it
            job = start_training(root, queue)
        if browser_cpus:  # this process drives the browsers (playwright's driver inherits it)
            os.sched_setaffinity(0, browser_cpus)
        alone, windows = [images_per_sec(job.run_dir, args.seconds)], []
        for decode in args.decode:
            port = free_port()
            with pinned({all_cpus[0]} if browser_cpus else None):
                server = start_server(root, port, decode)
            for sessions in args.sessions:
                windows.append(asyncio.run(measure_window(f"http://127.0.0.1:{port}", sessions, args.seconds,
                                                          job.run_dir, server.pid, decode, args.sliders_only,
                                                          args.browser_nice, browser_cpus)))
                alone.append(images_per_sec(job.run_dir, args.seconds))
                print(f"{decode} decoding, {sessions} sessions: {len(windows[-1].slider_ms)} slider moves, "
                      f"{len(windows[-1].errors)} errors", flush=True)
            stop_server(server)
            server = None
        print(f"\nworker: nice {queue.nice}, torch threads {queue.threads or 'default'}; {args.seconds:.0f} s windows; "
              f"{'sliders only' if args.sliders_only else 'pages and sliders'}; Chromium at nice {args.browser_nice}"
              f"{'; browsers on CPUs ' + ','.join(map(str, sorted(browser_cpus))) + ', server and job on the first' if browser_cpus else ''}\n")
        print(table(windows, alone))
        for window in windows:
            for error in window.errors[:5]:
                print(f"  {window.sessions} sessions: {error}")
        if args.json:
            args.json.write_text(json.dumps({"alone": alone, "windows": [asdict(w) for w in windows],
                                             "nice": queue.nice, "threads": queue.threads}, indent=1))
    finally:
        if queue is not None:
            queue.close(timeout=30)
        if server is not None:
            stop_server(server)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def pinned(cpus: set[int] | None):
    """Processes started inside run on ``cpus`` (they inherit this process's affinity); this one
    goes back to its own CPUs afterwards."""
    if not cpus:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    output, _ = server.communicate(timeout=20)
    if "Traceback" in (output or ""):
        print("server log had a traceback:\n" + output[-3000:])


if __name__ == "__main__":
    main()
