"""How a job becomes a process: the settings file, the command, the reason a worker ended."""

from __future__ import annotations

import signal
import sys

import pytest

from gen_core import checkpoints, run_progress, worker
from gen_core.cli import main
from gen_core.distributed import torchrun_command
from gen_core.errors import GenCoreError

SETTINGS = {"family": "ae", "model": {"hidden": [16], "latent_dim": 2}, "dataset": "digits",
            "dataset_options": {}, "training": {"epochs": 1, "batch_size": 128, "device": "cpu", "sample_count": 4}}


def test_the_cli_trains_from_a_settings_file_and_writes_progress(tmp_runs):
    path = worker.write_settings_file(tmp_runs / "settings.json", **SETTINGS)
    assert worker.read_settings_file(path) == SETTINGS
    out = tmp_runs / "from-settings"
    assert main(["train", "--settings", str(path), "--out", str(out), "--no-eval"]) == 0
    assert checkpoints.read_config(out)["model"]["hidden"] == [16]
    progress = run_progress.read_progress(out)
    assert progress["status"] == "completed" and progress["epoch"] == 1


@pytest.mark.parametrize("content, says", [
    (b"[]", "exactly"),
    (b'{"family": "ae"}', "exactly"),
    (b'{"family": 1, "model": {}, "dataset": "digits", "dataset_options": {}, "training": {}}', "'family' must be"),
    (b'{"family": "ae", "model": [], "dataset": "digits", "dataset_options": {}, "training": {}}', "'model' must be"),
    (b"not json", "not valid JSON"),
    (b" " * 2_000_000, "larger than"),
])
def test_bad_settings_files_are_refused_with_a_reason(tmp_runs, content, says):
    path = tmp_runs / "bad.json"
    path.write_bytes(content)
    with pytest.raises(GenCoreError, match=says):
        worker.read_settings_file(path)


def test_the_cli_answers_a_bad_settings_file_with_exit_2(tmp_runs, capsys):
    path = tmp_runs / "bad.json"
    path.write_text('{"family": "ae"}')
    assert main(["train", "--settings", str(path), "--out", str(tmp_runs / "x")]) == 2
    assert "exactly" in capsys.readouterr().err


def test_one_process_is_the_plain_cli_and_several_go_through_torchrun():
    assert worker.train_command(["--no-eval"]) == [sys.executable, "-m", "gen_core", "train", "--no-eval"]
    command = worker.train_command(["--no-eval"], processes=4)
    assert command == torchrun_command(["--no-eval"], 4)
    assert "torch.distributed.run" in command and "--nproc_per_node=4" in command
    assert command[-4:] == ["-m", "gen_core", "train", "--no-eval"]


def test_exit_reasons_name_the_signal_or_the_clis_one_line_error_without_paths(tmp_path):
    assert "out of memory" in worker.exit_reason(-signal.SIGKILL, None)
    assert "SIGTERM" in worker.exit_reason(-signal.SIGTERM, None)
    assert "exit code 1" in worker.exit_reason(1, None)
    log = tmp_path / "worker.log"
    log.write_text("loading...\nerror: No images found in /srv/secret/photos/ (check the folder)\n")
    reason = worker.exit_reason(2, log)
    assert reason.startswith("No images found in") and "/srv" not in reason and "photos" in reason


def test_the_worker_environment_finds_this_project_and_limits_threads():
    env = worker.worker_environment(threads=1, gpus=[2, 3])
    assert env["PYTHONPATH"].split(":")[0] == str(worker.PROJECT_ROOT)
    assert (env["OMP_NUM_THREADS"], env["CUDA_VISIBLE_DEVICES"]) == ("1", "2,3")
