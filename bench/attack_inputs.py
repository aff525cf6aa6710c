"""Hostile and careless inputs against the command line and the app, and what each one did.

Every input is tried in a fresh temporary world (runs folder, data folder, a folder of "private"
photos outside it) and sorted into one of five outcomes:

  handled cleanly   it worked, or was set aside harmlessly (e.g. a broken run listed as unreadable)
  clear error       refused with a short message: exit 2 and one line, or a message on the page
  traceback         a raw traceback, an exception box, a crash, or a command killed for time/memory
  data lost         a run's saved state was lost or left inconsistent
  reached outside   a visitor saw a server path or a file name outside the app, or used one

App-side inputs go through the real pages with Streamlit's AppTest; after each one every page is
rendered again and must show no exception. Goal: 0 in the last three columns.

Usage: python bench/attack_inputs.py [--skip-heavy] [--only TEXT] [--markdown FILE]
--skip-heavy leaves out the inputs that, unguarded, allocate tens of gigabytes (for measuring an
old version on a shared machine).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # a package named "tests" in site-packages hides ours

import hostile_inputs as hostile  # noqa: E402

OUTCOMES = ("handled cleanly", "clear error", "traceback", "data lost", "reached outside", "impersonation",
            "markup rendered", "over budget")
PAGES = ("train", "models", "samples", "latent_sliders", "interpolate", "latent_map", "class_sampler",
         "evaluate", "tiles")
SECRET = "secret_photo"  # file names in the folder a visitor must not reach


@dataclass
class Result:
    group: str
    case: str
    outcome: str
    detail: str = ""


class World:
    """A temporary runs folder, data folder and an outside folder, with the environment pointing at them."""

    def __init__(self) -> None:
        self._temp = tempfile.TemporaryDirectory(prefix="attack-")
        self.base = Path(self._temp.name).resolve()
        self.runs, self.data, self.outside = self.base / "runs", self.base / "data", self.base / "outside"
        for folder in (self.runs, self.data, self.outside / "photos", self.outside / "runs"):
            folder.mkdir(parents=True)
        from PIL import Image
        for index in range(6):
            Image.new("RGB", (96, 96), (40 * index, 90, 200)).save(self.outside / "photos" / f"{SECRET}_{index}.png")
        os.environ.update(GEN_CORE_CHECKPOINTS=str(self.runs), GEN_CORE_DATA_DIRS=str(self.data))
        self.base_run = self._train_base_run()
        self.files = hostile.run_files(self.base_run)

    def _train_base_run(self) -> Path:
        result = cli(["train", "--model", "ae", "--dataset", "digits", "--epochs", "2", "--hidden", "32",
                      "--latent-dim", "4", "--device", "cpu", "--no-eval", "--out", str(self.runs / "base")])
        if result.returncode != 0:
            raise SystemExit(f"could not train the base run: {result.stderr}")
        return self.runs / "base"

    def reset_runs(self) -> None:
        """Back to the base run alone (inputs must not see each other's leftovers)."""
        import shutil
        for path in self.runs.iterdir():
            if path.name != "base":
                shutil.rmtree(path) if path.is_dir() else path.unlink()

    def leaks(self, text: str) -> str:
        for needle, what in ((str(self.base), "a server path"), (SECRET, "a private file name"),
                             ("Traceback (most recent", "a traceback"), ("/etc/", "a server path")):
            if needle in text:
                return what
        if re.search(r"\d+ files could not be read", text):
            return "what is in a server folder"
        return ""


# -- running things --------------------------------------------------------------------------------
def cli(args: list[str], timeout: float = 300, limit_file_bytes: int | None = None) -> subprocess.CompletedProcess:
    def limits() -> None:
        if limit_file_bytes is not None:  # a disk that fills up: writes past this size fail with EFBIG
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_bytes, limit_file_bytes))
    try:
        return subprocess.run([sys.executable, "-m", "gen_core", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout, preexec_fn=limits, env={**os.environ, "PYTHONPATH": str(ROOT)})
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, -9, "", f"killed after {timeout} s")


def cli_outcome(result: subprocess.CompletedProcess) -> tuple[str, str]:
    progress = re.compile(r"\d+%\||step/s\]")  # tqdm's bars (and their first, empty one) while a run trains
    errors = [line for line in result.stderr.splitlines() if line.strip() and not progress.search(line)]
    if result.returncode == 0:
        return "handled cleanly", "exit 0"
    if result.returncode == 2 and len(errors) == 1 and "Traceback" not in result.stderr:
        return "clear error", errors[0][:110]
    last = errors[-1][:110] if errors else ""
    return "traceback", f"exit {result.returncode}, {len(errors)} lines: {last}"


MESSAGES = ("info", "warning", "error", "success")
EVERYTHING = ("title", "header", "subheader", "markdown", "caption", *MESSAGES, "text", "code")


def page_text(at, kinds=MESSAGES) -> str:
    """What the page says in messages (or, with EVERYTHING, in every text element and menu)."""
    parts = []
    for kind in kinds:
        parts += [str(element.value) for element in getattr(at, kind)]
    for box in at.exception:
        parts += [box.message, *box.stack_trace]
    if kinds == EVERYTHING:
        for select in at.selectbox:
            parts += [str(option) for option in select.options]
    return "\n".join(parts)


def open_page(page: str, query: dict | None = None, session: dict | None = None):
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    for key, value in (session or {}).items():
        at.session_state[key] = value
    at.query_params.update(query or {})
    at.switch_page(f"app_pages/{page}.py")
    return at.run()


def every_page(world: World, query: dict | None = None, kinds=MESSAGES) -> tuple[str, str]:
    """Render every page; the worst thing seen, as (outcome, detail)."""
    for page in PAGES:
        try:
            at = open_page(page, query)
        except Exception as error:  # AppTest itself failing means the page hung or crashed
            return "traceback", f"{page}: {type(error).__name__}"
        if at.exception:
            return "traceback", f"{page}: {at.exception[0].message[:90]}"
        leak = world.leaks(page_text(at, kinds))
        if leak:
            return "reached outside", f"{page} shows {leak}"
    return "handled cleanly", "every page renders"


def normal_visit(world: World) -> Result:
    """No hostile input at all: does any page show a server path in any text?"""
    world.reset_runs()
    outcome, detail = every_page(world, kinds=EVERYTHING)
    return Result("app", "a plain visit: any server path on any page", outcome, detail)


def current_job_or_none():
    try:
        from gen_core.serve.jobs import current_job
        return current_job()
    except Exception:  # the job API is not what this script knows
        return None


def stop_any_job() -> None:
    try:
        from gen_core.serve.jobs import current_job, wait_until_finished
        job = current_job()
        if job is not None and job.snapshot().is_active:
            job.stop()
            wait_until_finished(job, timeout=120)
    except Exception:  # the job API is not what this script knows: nothing to stop
        pass


# -- app-side inputs -------------------------------------------------------------------------------
def import_through_models_page(world: World, name: str, data: bytes) -> Result:
    world.reset_runs()
    at = open_page("models")
    at.file_uploader(key="models_upload").set_value((f"{name}.zip", data, "application/zip"))
    at.run()
    if at.exception:
        return Result("run zip import", name, "traceback", at.exception[0].message[:90])
    text = page_text(at)
    leak = world.leaks(text)
    if leak:
        return Result("run zip import", name, "reached outside", f"import message shows {leak}")
    refused = any("Could not import" in element.value for element in at.error)
    imported = sorted(p.name for p in world.runs.iterdir() if p.is_dir() and p.name not in ("base", "_uploads"))
    worst, detail = every_page(world, query={"run": imported[0]} if imported else None)  # the import as active
    if worst != "handled cleanly":
        return Result("run zip import", name, worst, detail)
    if refused:
        message = next(e.value for e in at.error if "Could not import" in e.value)
        return Result("run zip import", name, "clear error", message.split(": ", 1)[-1][:110])
    return Result("run zip import", name, "handled cleanly", "imported; every page renders")


def run_folder_on_disk(world: World, name: str, files: dict[str, bytes]) -> Result:
    world.reset_runs()
    hostile.write_folder(files, world.runs / "dropped-in")
    worst, detail = every_page(world, query={"run": "dropped-in"})  # as the active model, when it can be
    if worst != "handled cleanly":
        return Result("run folder on disk", name, worst, detail)
    at = open_page("models")
    unreadable = [e.value for e in at.error if "dropped-in" in e.value or "cannot be read" in e.value]
    if unreadable:
        return Result("run folder on disk", name, "clear error", unreadable[0][:110])
    return Result("run folder on disk", name, "handled cleanly", "every page renders")


def query_run(world: World, name: str, value: str) -> Result:
    world.reset_runs()
    import shutil
    shutil.copytree(world.base_run, world.outside / "runs" / "evil", dirs_exist_ok=True)
    if value == "broken":
        hostile.write_folder(hostile.BAD_RUN_CONTENTS["history odd epoch entries"](world.files), world.runs / "broken")
    at = open_page("samples", query={"run": value})
    if at.exception:
        return Result("?run= link", name, "traceback", at.exception[0].message[:90])
    active = str(at.session_state["active_run"]) if "active_run" in at.session_state else ""
    if active and not Path(active).resolve().is_relative_to(world.runs):
        return Result("?run= link", name, "reached outside", "the active model is a folder outside the runs folder")
    worst, detail = every_page(world, query={"run": value})
    if worst != "handled cleanly":
        return Result("?run= link", name, worst, detail)
    notes = [e.value for e in (*at.warning, *at.info, *at.error) if "run" in e.value.lower()]
    if notes:
        return Result("?run= link", name, "clear error", notes[0][:110])
    return Result("?run= link", name, "handled cleanly", "ignored; every page renders")


def train_page_path(world: World, name: str, dataset: str, path: str, settings: dict | None = None) -> Result:
    world.reset_runs()
    before, job_before = {p.name for p in world.runs.iterdir()}, current_job_or_none()
    at = open_page("train")
    at.selectbox(key="train_dataset").set_value(dataset).run()
    prefix = f"train_{dataset}"
    if path:
        at.radio(key=f"{prefix}_source").set_value("Folder or zip path").run()
        at.text_input(key=f"{prefix}_path").set_value(path).run()
    for key, value in (settings or {}).items():
        widget = at.number_input(key=key) if key.endswith(("size", "count")) else at.radio(key=key)
        widget.set_value(value).run()
    if not at.button(key="train_start").disabled:
        at.button(key="train_start").click().run()
    text = page_text(at)
    time.sleep(2)
    started = ({p.name for p in world.runs.iterdir()} - before - {"_uploads"}
               or current_job_or_none() not in (None, job_before))
    stop_any_job()
    if at.exception:
        return Result("Train page input", name, "traceback", at.exception[0].message[:90])
    leak = world.leaks(text) or (re.search(r"\d+ (files|file\(s\))|skipped|passwd|hostname", text)
                                 and "what is in a server folder")
    if leak:
        return Result("Train page input", name, "reached outside", f"the page shows {leak}")
    if started and path:
        return Result("Train page input", name, "reached outside", f"trained on {path}")
    errors = [e.value for e in at.error]
    if errors:
        return Result("Train page input", name, "clear error", errors[0][:110])
    return Result("Train page input", name, "handled cleanly", "started" if started else "nothing started")


# -- command-line inputs ---------------------------------------------------------------------------
def cli_case(name: str, args: list[str], timeout: float = 300) -> Result:
    outcome, detail = cli_outcome(cli(args, timeout=timeout))
    return Result("command line", name, outcome, detail)


def history_epochs(run: Path) -> int:
    return len(json.loads((run / "history.json").read_text())["epochs"])


def optimizer_steps(run: Path) -> int:
    from safetensors.torch import load_file
    steps = [float(v) for k, v in load_file(str(run / "optimizer.safetensors")).items() if k.endswith("/step")]
    return int(max(steps)) if steps else 0


def consistent(run: Path, steps_per_epoch: int) -> bool:
    """History, optimiser state and weights agree on how many epochs were trained."""
    try:
        from gen_core.run import checkpoint
        checkpoint.load_run(run, with_optimizer_state=True)
    except Exception:
        return False
    return optimizer_steps(run) == history_epochs(run) * steps_per_epoch


def fresh_cli_run(world: World, name: str, epochs: int = 1) -> Path:
    out = world.runs / name
    cli(["train", "--model", "ae", "--dataset", "digits", "--epochs", str(epochs), "--hidden", "32",
         "--latent-dim", "4", "--device", "cpu", "--no-eval", "--out", str(out)])
    return out


def resume_zero_epochs(world: World, epochs: str) -> Result:
    run = fresh_cli_run(world, f"resume-{epochs}")
    before = (run / "model.safetensors").read_bytes(), history_epochs(run)
    outcome, detail = cli_outcome(cli(["train", "--resume", str(run), "--epochs", epochs, "--no-eval",
                                       "--device", "cpu"]))
    after = (run / "model.safetensors").read_bytes(), history_epochs(run)
    if after != before:
        return Result("command line", f"train --resume RUN --epochs {epochs}", "data lost",
                      f"trained on: {before[1]} -> {after[1]} epochs")
    return Result("command line", f"train --resume RUN --epochs {epochs}", outcome, detail)


def two_writers(world: World) -> Result:
    out = world.runs / "twin"
    args = [sys.executable, "-m", "gen_core", "train", "--model", "ae", "--dataset", "digits", "--epochs", "3",
            "--hidden", "32", "--latent-dim", "4", "--device", "cpu", "--no-eval", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first, second = (subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True) for _ in range(2))
    results = [(p.wait(300), p.communicate()) for p in (first, second)]
    codes = sorted(code for code, _ in results)
    name = "two `train --out X` at once"
    if codes == [0, 0]:
        return Result("command line", name, "data lost", "both said 'Run saved'; one run is gone")
    if codes == [0, 2]:
        refused = next(out for code, out in results if code == 2)
        return cli_result_as(name, subprocess.CompletedProcess(args, 2, refused[0], refused[1]))
    return Result("command line", name, "traceback", f"exit codes {codes}")


def cli_result_as(name: str, result) -> Result:
    outcome, detail = cli_outcome(result)
    return Result("command line", name, outcome, detail)


def disk_full(world: World) -> Result:
    run = fresh_cli_run(world, "disk-full")
    per_epoch = optimizer_steps(run)
    size = (run / "model.safetensors").stat().st_size
    result = cli(["train", "--resume", str(run), "--epochs", "2", "--no-eval", "--device", "cpu"],
                 limit_file_bytes=size // 2)
    stray = [p.name for p in run.rglob("*") if ".tmp" in p.name or ".pending" in p.name]
    if not consistent(run, per_epoch):
        return Result("command line", "disk full during an epoch", "data lost",
                      f"history {history_epochs(run)} epochs, optimiser {optimizer_steps(run) // per_epoch}")
    outcome, detail = cli_outcome(result)
    return Result("command line", "disk full during an epoch", outcome,
                  detail + (f"; {len(stray)} temp files left" if stray else ""))


def kill_nine(world: World, tries: int = 20) -> Result:
    run = fresh_cli_run(world, "killed")
    per_epoch = optimizer_steps(run)
    rng, broken = random.Random(0), 0
    for _ in range(tries):
        process = subprocess.Popen([sys.executable, "-m", "gen_core", "train", "--resume", str(run), "--epochs",
                                    "400", "--no-eval", "--device", "cpu"], cwd=ROOT,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(3.5, 8.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        broken += not consistent(run, per_epoch)
    cli(["train", "--resume", str(run), "--epochs", "1", "--no-eval", "--device", "cpu"])
    stray = [p.name for p in run.rglob("*") if ".tmp" in p.name or ".pending" in p.name]
    if broken or not consistent(run, per_epoch):
        return Result("command line", f"kill -9 while training (x{tries})", "data lost",
                      f"{broken} of {tries} kills left an inconsistent run")
    detail = f"consistent after {tries} kills" + (f"; {len(stray)} stray temp files" if stray else
                                                   ", no stray temp files on the next start")
    return Result("command line", f"kill -9 while training (x{tries})",
                  "handled cleanly" if not stray else "data lost", detail)


# -- engine readers ----------------------------------------------------------------------------------
def reader_case(world: World, name: str, action) -> Result:
    from gen_core.errors import GenCoreError
    try:
        outcome = action()
    except GenCoreError as error:
        leak = world.leaks(str(error))
        if leak:
            return Result("image and zip reader", name, "reached outside", f"message shows {leak}")
        return Result("image and zip reader", name, "clear error", str(error)[:110])
    except Exception as error:
        return Result("image and zip reader", name, "traceback", f"{type(error).__name__}: {str(error)[:80]}")
    return Result("image and zip reader", name, "handled cleanly", outcome)


def folder_zip(world: World, broken: str | None, dataset: str = "folder") -> str:
    from PIL import Image

    from gen_core.data import load_dataset
    images = {}
    for index in range(4):
        buffer = __import__("io").BytesIO()
        Image.new("L", (64, 64), 60 * index).save(buffer, "PNG")
        images[f"img_{index}.png"] = buffer.getvalue()
    if broken == "huge":
        images = {"huge.png": hostile.huge_png(), **images}
        broken = None
    path = world.data / f"{dataset}-{broken or 'huge'}.zip"
    path.write_bytes(hostile.image_zip(images, broken))
    options = {"path": str(path), "size": 16} if dataset == "folder" else {"path": str(path), "tile_size": 16}
    loaded = load_dataset(dataset, **options)
    return f"loaded {len(loaded.train_images) + len(loaded.test_images)} images; {loaded.description[-60:]}"


def upload_case(data: bytes) -> str:
    from gen_core.images import load_upload
    return f"decoded to {tuple(load_upload(data).shape)}"


# -- the list ------------------------------------------------------------------------------------------
def cases(world: World, heavy: bool):
    """(name, run) for every input; ``run()`` returns its Result."""
    yield "a plain visit: any server path on any page", lambda: normal_visit(world)
    huge_contents = {"config image 3000x3000", "config image 100000x100000", "config 10^10 parameters"}
    for name, make in hostile.BAD_RUN_CONTENTS.items():
        if heavy or name not in huge_contents:
            yield name, lambda n=name, m=make: import_through_models_page(world, n, hostile.zip_of(m(world.files)))
    for name, make in hostile.BAD_RUN_ZIPS.items():
        yield name, lambda n=name, m=make: import_through_models_page(world, n, m(world.files))
    for name in ("config training is a list", "config data path outside", "history odd epoch entries",
                 "sample PNG 30000x30000", "config nested 100,000 deep"):
        yield name, lambda n=name: run_folder_on_disk(world, n, hostile.BAD_RUN_CONTENTS[n](world.files))
    links = {"?run=/absolute/path/to/a/run": str(world.outside / "runs" / "evil"),
             "?run=../outside/runs/evil": "../outside/runs/evil", "?run=<an unreadable run>": "broken",
             "?run=<3,000 characters>": "x" * 3000}
    for name, value in links.items():
        yield name, lambda n=name, v=value: query_run(world, n, v)
    paths = {"folder path: a folder of private photos": ("folder", str(world.outside / "photos")),
             "folder path: /etc": ("folder", "/etc"),
             "folder path: ../../ up to the photos": ("folder", os.path.relpath(world.outside / "photos", ROOT)),
             "tiles path: a folder of private photos": ("tiles", str(world.outside / "photos"))}
    for name, (dataset, path) in paths.items():
        yield name, lambda n=name, d=dataset, p=path: train_page_path(world, n, d, p)
    if heavy:
        name = "tiles: 256 px x 200,000 tiles, colour"
        yield name, lambda: train_page_path(world, name, "tiles", "", {
            "train_tiles_size": 256, "train_tiles_count": 200_000, "train_tiles_channels": 3})
    yield "train --resume RUN --epochs 0", lambda: resume_zero_epochs(world, "0")
    yield "train --resume RUN --epochs -3", lambda: resume_zero_epochs(world, "-3")
    yield "two `train --out X` at once", lambda: two_writers(world)
    (world.base / "a-file").write_text("not a folder")
    base, common = str(world.base_run), ["--model", "ae", "--dataset", "digits", "--hidden", "32", "--epochs", "1",
                                         "--no-eval"]
    commands = {
        "train --out under a file": ["train", *common, "--out", str(world.base / "a-file" / "r")],
        "train --out unwritable (/sys)": ["train", *common, "--out", "/sys/new-run"],
        "train --device bogus": ["train", *common, "--device", "bogus"],
        "train --batch-size 0": ["train", *common, "--batch-size", "0"],
        "sample --out under a file": ["sample", base, "--out", str(world.base / "a-file" / "x.png")],
        "sample --n 100000 --out x.npy (25 MB)": ["sample", base, "--n", "100000", "--out", str(world.base / "m.npy")],
    }
    if heavy:
        commands.update({
            "train --latent-dim 1000000000": ["train", *common, "--latent-dim", "1000000000"],
            "sample --n 10000000 --out x.png": ["sample", base, "--n", "10000000", "--out", str(world.base / "h.png")],
            "eval --samples 1000000000": ["eval", base, "--samples", "1000000000", "--no-inception"],
            "train tiles 256 px x 200,000, colour": ["train", "--model", "vae", "--dataset", "tiles", "--tile-size",
                                                     "256", "--tiles-per-epoch", "200000", "--channels", "3",
                                                     "--epochs", "1", "--no-eval"]})
    for name, argv in commands.items():
        yield name, lambda n=name, a=argv: cli_case(n, a, timeout=200)
    yield "disk full during an epoch", lambda: disk_full(world)
    yield "kill -9 while training (x20)", lambda: kill_nine(world)
    yield "upload: PNG of 30000x30000", lambda: reader_case(world, "upload: PNG of 30000x30000",
                                                            lambda: upload_case(hostile.huge_png()))
    yield "upload: truncated PNG", lambda: reader_case(world, "upload: truncated PNG",
                                                       lambda: upload_case(hostile.huge_png(64, 64)[:60]))
    for broken in ("bad CRC", "encrypted flag", "unknown method", "lying size", "huge"):
        name = f"folder zip: one member {'a 30000x30000 PNG' if broken == 'huge' else broken}"
        yield name, lambda n=name, b=broken: reader_case(world, n, lambda: folder_zip(world, b))
    name = "tiles zip: one member encrypted flag"
    yield name, lambda: reader_case(world, name, lambda: folder_zip(world, "encrypted flag", "tiles"))


# -- a mischievous student in classroom mode ------------------------------------------------
def classroom_case(name: str, attempt) -> Result:
    """``attempt()`` returns (outcome, detail); a GenCoreError it raises is a clear error."""
    from gen_core.errors import GenCoreError
    try:
        outcome, detail = attempt()
    except GenCoreError as error:
        outcome, detail = "clear error", str(error)
    return Result("classroom", name, outcome, detail[:160])


def classroom_cases(world: World):
    import errno
    import threading
    from unittest import mock

    from gen_core.data import access
    from gen_core.data.folders import survey_image_folder
    from gen_core.run.writer import RunWriter
    from gen_core.serve.budget import budget_problems, estimate_cost
    from gen_core.serve.classroom import ClassroomError, ClassroomSettings, PassphraseGuard, claim_space

    settings = ClassroomSettings(enabled=True, passphrase="chalk", join_code="ROOM42")
    budgets = (settings.max_parameters, settings.max_batch_mb * 2**20, settings.max_image_epochs)

    def claimed(name, code="ROOM42"):
        claim_space(world.runs, name, code, settings)
        return "impersonation", f"{name} was accepted"

    yield "name: lecturer", lambda: classroom_case("name: lecturer", lambda: claimed("lecturer"))
    yield "name: The-Lecturer2", lambda: classroom_case("name: The-Lecturer2", lambda: claimed("The-Lecturer2"))
    yield "name: without the class code", lambda: classroom_case("name: without the class code",
                                                                 lambda: claimed("early-bird", ""))

    def race():
        winners, start = [], threading.Barrier(8)

        def one():
            start.wait()
            try:
                winners.append(claim_space(world.runs, "contested", "ROOM42", settings))
            except ClassroomError:
                pass
        threads = [threading.Thread(target=one) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return ("handled cleanly", "one session got it") if len(winners) == 1 else \
            ("impersonation", f"{len(winners)} sessions got one name")
    yield "name: claimed by 8 sessions at once", lambda: classroom_case("name: claimed by 8 sessions at once", race)

    def guesses():
        guard = PassphraseGuard()
        for _ in range(10):
            guard.check(settings, "guess")
        return "impersonation", "ten guesses were all tried"
    yield "passphrase: 10 guesses from 3 sessions", lambda: classroom_case("passphrase: 10 guesses from 3 sessions",
                                                                           guesses)

    def markup():
        at = open_page("class_sampler", {"seed": "[Log in here](https://evil.example)", "run": "base"})
        shown = page_text(at, EVERYTHING)
        if "[Log in here](" in shown:
            return "markup rendered", "the link's value became a link"
        return ("traceback", "page failed") if at.exception else ("handled cleanly", "shown as text")
    yield "?seed=[Log in here](https://…)", lambda: classroom_case("?seed=[Log in here](https://…)", markup)

    def job(name, family, model, shape, batch):
        problems = budget_problems(estimate_cost(family, model, shape, batch, 4500, 100), *budgets)
        return ("clear error", "; ".join(problems)) if problems else ("over budget", "accepted")
    yield "job: hidden 100000 (163 M parameters)", lambda: classroom_case(
        "job: hidden 100000 (163 M parameters)", lambda: job("", "vae", {"hidden": (100_000,), "latent_dim": 2},
                                                             (1, 28, 28), 128))
    yield "job: batch 8192 of 64 px colour", lambda: classroom_case(
        "job: batch 8192 of 64 px colour", lambda: job("", "dcgan", {"latent_dim": 8}, (3, 64, 64), 8192))

    def others_upload():
        bobs = access.save_upload("bobs.zip", folder_zip_bytes(), access.student_uploads("bob"))
        with access.uploads_scope(access.student_uploads("ada")):
            access.resolve_data_path(str(bobs))
        return "reached outside", "ada named bob's upload"
    yield "folder path: another student's upload", lambda: classroom_case("folder path: another student's upload",
                                                                          others_upload)

    def recorded():
        upload = access.save_upload("mine.zip", folder_zip_bytes(), access.student_uploads("ada"))
        text = access.recorded_path(upload)
        return ("reached outside", text) if str(world.base) in text else ("handled cleanly", f"recorded as {text}")
    yield "config.json of a run on an upload", lambda: classroom_case("config.json of a run on an upload", recorded)

    def header_size():
        upload = access.save_upload("many.zip", folder_zip_bytes(2000))
        survey_image_folder(str(upload), size=256, channels=3, most_bytes=settings.max_dataset_mb * 2**20)
        return "over budget", "decoded"
    yield "zip of 2,000 images at 256 px: sized from its listing", lambda: classroom_case(
        "zip of 2,000 images at 256 px: sized from its listing", header_size)

    def read_only():
        with mock.patch("gen_core.atomic.os.link", side_effect=OSError(errno.EROFS, "Read-only file system")):
            try:
                claim_space(world.runs, "on-a-read-only-disk", "ROOM42", settings)
            finally:
                if (world.runs / "students" / "on-a-read-only-disk").exists():
                    return "data lost", "a half-made student folder was left"
        return "traceback", "no error"
    yield "runs folder read-only: claim a name", lambda: classroom_case("runs folder read-only: claim a name",
                                                                        read_only)

    def removed():
        import shutil
        writer = RunWriter(world.runs / "vanishing", min_interval=0)
        shutil.rmtree(world.runs / "vanishing")
        time.sleep(0.3)
        stopped = writer.should_stop()
        writer.finish("stopped", "gone")
        if (world.runs / "vanishing").exists():
            return "data lost", "the removed folder was re-created"
        return ("handled cleanly", "the writer stopped") if stopped else ("over budget", "it kept training")
    yield "run folder removed while it trains", lambda: classroom_case("run folder removed while it trains", removed)


def folder_zip_bytes(count: int = 4) -> bytes:
    import io
    import zipfile

    from PIL import Image
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(count):
            image = io.BytesIO()
            Image.new("L", (8, 8), index % 250).save(image, "PNG")
            archive.writestr(f"set/{index}.png", image.getvalue())
    return buffer.getvalue()


def table(results: list[Result]) -> str:
    counts = Counter(result.outcome for result in results)
    lines = ["| " + " | ".join(["inputs", *OUTCOMES]) + " |", "|" + "---|" * (len(OUTCOMES) + 1),
             "| " + " | ".join([str(len(results)), *(str(counts[o]) for o in OUTCOMES)]) + " |", "",
             "| group | input | outcome | detail |", "|---|---|---|---|"]
    for result in results:
        detail = result.detail.replace("|", "/").replace("\n", " ")
        lines.append(f"| {result.group} | {result.case} | {result.outcome} | {detail} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-heavy", action="store_true")
    parser.add_argument("--only", help="run only the inputs whose name contains this text")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    started = time.perf_counter()
    world = World()
    results = []
    for name, run in itertools.chain(cases(world, heavy=not args.skip_heavy), classroom_cases(world)):
        if args.only and args.only not in name:
            continue
        try:
            result = run()
        except Exception as error:  # the script could not drive this input (a widget moved, ...)
            result = Result("?", name, "traceback", f"script: {type(error).__name__}: {str(error)[:80]}")
        results.append(result)
        print(f"{result.outcome:>16} | {result.group} | {result.case} | {result.detail}", flush=True)
    print()
    print(table(results))
    print(f"\n{len(results)} inputs in {time.perf_counter() - started:.0f} s")
    if args.markdown:
        args.markdown.write_text(table(results) + "\n")


if __name__ == "__main__":
    main()
