"""Hostile and careless command lines: each ends in exit 2 with one line, before any work, and no run is lost."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from gen_core.cli import main
from gen_core.run import checkpoint, files, layout

from conftest import SMALL_AE_ARGS as SMALL

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hostile-cli") / "base"
    assert main(["train", *SMALL, "--epochs", "1", "--out", str(out)]) == 0
    return out


@pytest.fixture
def run_copy(base_run, tmp_path) -> Path:
    return Path(shutil.copytree(base_run, tmp_path / "copy"))


def _one_line_exit_2(argv, capsys) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def _fingerprint(run: Path) -> dict:
    return {path.name: path.read_bytes() for path in run.iterdir() if path.is_file() and path.name != ".lock"}


@pytest.mark.parametrize("extra, message", [
    (["--device", "bogus"], "Unknown device 'bogus'"),
    (["--device", "cuda:7"], "CUDA"),
    (["--hidden", "100000,100000"], "this server allows at most 200,000,000"),
    (["--dataset", "tiles", "--tile-size", "256", "--tiles-per-epoch", "200000", "--channels", "3"], "the limit is 2 GB"),
    (["--dataset", "folder", "--path", "/etc"], "outside the data folders"),
    (["--epochs", "0"], "epochs must be a whole number of at least 1"),
])
def test_bad_training_requests_are_refused_before_any_work(extra, message, tmp_path, capsys):
    out = tmp_path / "never"
    argv = ["train", *SMALL, "--epochs", "1", "--out", str(out), *extra]
    if "--epochs" in extra:
        argv.remove("1"), argv.remove("--epochs")
    assert message in _one_line_exit_2(argv, capsys)
    assert not out.exists(), "a refused run leaves no folder behind"


@pytest.mark.parametrize("epochs", ["0", "-3"])
def test_resume_with_less_than_one_epoch_changes_nothing(epochs, run_copy, capsys):
    before = _fingerprint(run_copy)
    assert "at least 1" in _one_line_exit_2(["train", "--resume", str(run_copy), "--epochs", epochs], capsys)
    assert _fingerprint(run_copy) == before


def test_outputs_that_cannot_be_written_are_refused_before_training_or_sampling(base_run, tmp_path, capsys):
    (tmp_path / "a-file").write_text("x")
    under_file = str(tmp_path / "a-file" / "run")
    assert "a file stands where a folder is needed" in _one_line_exit_2(["train", *SMALL, "--out", under_file], capsys)
    assert "is a file, not a folder" in _one_line_exit_2(["sample", str(base_run), "--out", under_file + ".png"],
                                                         capsys)
    if Path("/sys").is_dir():  # a read-only file system refuses even root
        assert "Cannot write" in _one_line_exit_2(["train", *SMALL, "--out", "/sys/new-run"], capsys)


@pytest.mark.parametrize("argv, message", [
    (["--n", "20000", "--out", "grid.png"], "PNG grid is 20,000; this server allows at most 10,000"),
    (["--n", "100000000", "--out", "many.npy"], "the limit is 2 GB"),
])
def test_too_many_samples_are_refused_up_front_with_the_limit(argv, message, base_run, tmp_path, capsys):
    argv = ["sample", str(base_run), *[str(tmp_path / a) if a.endswith((".png", ".npy")) else a for a in argv]]
    assert message in _one_line_exit_2(argv, capsys)
    assert not list(tmp_path.glob("*.png")) + list(tmp_path.glob("*.npy"))


def test_an_evaluation_larger_than_allowed_is_refused(base_run, capsys):
    assert "at most 50,000" in _one_line_exit_2(["eval", str(base_run), "--samples", "1000000000"], capsys)


def _environment() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_a_second_writer_is_refused_before_any_work(run_copy, capsys):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from gen_core.run.files import writing\n"
         "with writing(sys.argv[1]):\n    print('locked', flush=True); sys.stdin.read()",
         str(run_copy)], cwd=REPO, env=_environment(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = _fingerprint(run_copy)
        assert "being written by another training run" in _one_line_exit_2(
            ["train", "--resume", str(run_copy), "--epochs", "1", "--no-eval", "--device", "cpu"], capsys)
        assert "being written" in _one_line_exit_2(["train", *SMALL, "--out", str(run_copy)], capsys)
        assert _fingerprint(run_copy) == before
    finally:
        holder.communicate("")


def _state(run: Path) -> tuple[int, int | None, int]:
    history = json.loads((run / layout.HISTORY_FILE).read_text())
    steps = int(load_file(str(run / layout.OPTIMIZER_FILE))["model/0/step"].item())
    return len(history["epochs"]), checkpoint.saved_epoch(run), steps


def test_a_full_disk_leaves_the_run_at_its_last_completed_epoch(run_copy):
    before = _state(run_copy)
    limit = (run_copy / layout.WEIGHTS_FILE).stat().st_size // 2  # writes past this fail with EFBIG

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run([sys.executable, "-m", "gen_core", "train", "--resume", str(run_copy), "--epochs", "2",
                             "--no-eval", "--device", "cpu"], cwd=REPO, env=_environment(), capture_output=True,
                            text=True, preexec_fn=small_disk)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: OSError")
    assert _state(run_copy) == before
    assert checkpoint.read_history(run_copy)["status"] == "failed"
    assert not [p for p in run_copy.iterdir() if p.name.endswith((".tmp", ".pending"))]


def test_kill_9_leaves_a_consistent_run_and_the_next_start_cleans_up(run_copy):
    per_epoch = _state(run_copy)[2]
    process = subprocess.Popen([sys.executable, "-m", "gen_core", "train", "--resume", str(run_copy), "--epochs",
                                "1000", "--no-eval", "--device", "cpu"], cwd=REPO, env=_environment(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _state(run_copy)[0] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    # read the run as any reader does: a kill after an epoch's commit point but before its files were
    # moved into place leaves that epoch committed, and the first reader finishes moving it
    files.recover_if_abandoned(run_copy)
    epochs, saved, steps = _state(run_copy)
    assert epochs >= 3 and saved == epochs and steps == epochs * per_epoch
    assert main(["train", "--resume", str(run_copy), "--epochs", "1", "--no-eval", "--device", "cpu"]) == 0
    assert _state(run_copy)[0] == epochs + 1
    assert not [p for p in run_copy.rglob(".*") if p.name.endswith((".tmp", ".pending", ".commit.json"))]
