"""How a job becomes a process: the request file, the command, the reason a worker ended."""

from __future__ import annotations

import json
import signal
import sys

import pytest

from gen_core.cli import main
from gen_core.compute import thread_policy
from gen_core.errors import GenCoreError
from gen_core.run import checkpoint, live
from gen_core.run.start import TrainingRequest
from gen_core.serve import worker
from gen_core.training.distributed import torchrun_command

SETTINGS = {"family": "ae", "model": {"hidden": [16], "latent_dim": 2}, "dataset": "digits",
            "dataset_options": {}, "training": {"epochs": 1, "batch_size": 128, "device": "cpu", "sample_count": 4}}


def test_the_cli_trains_from_a_request_file_and_writes_its_live_status(tmp_runs):
    out = tmp_runs / "from-request"
    request = TrainingRequest(out, **SETTINGS, evaluate=False)
    path = request.write(tmp_runs / "request.json")
    assert TrainingRequest.read(path) == request
    assert main(["train", "--request", str(path)]) == 0
    assert checkpoint.read_config(out)["model"]["hidden"] == [16]
    status = live.read_status(out)
    assert status["status"] == "completed" and status["epoch"] == 1


def test_the_cli_resumes_from_a_request_file(tmp_runs):
    out = tmp_runs / "resumed"
    assert main(["train", "--request", str(TrainingRequest(out, **SETTINGS, evaluate=False).write(tmp_runs / "a.json"))]) == 0
    again = TrainingRequest(out, resume=True, extra_epochs=2, training={"device": "cpu"}, evaluate=False)
    assert main(["train", "--request", str(again.write(tmp_runs / "b.json"))]) == 0
    assert len(checkpoint.read_history(out)["epochs"]) == 3


def _request_json(**changes) -> bytes:
    values = {**TrainingRequest("runs/x", **SETTINGS).to_json(), **changes}
    return json.dumps(values).encode()


@pytest.mark.parametrize("content, says", [
    (b"[]", "exactly"),
    (b'{"family": "ae"}', "exactly"),
    (_request_json(family=1), "'family' must be"),
    (_request_json(model=[]), "'model' must be"),
    (_request_json(processes=True), "'processes' must be"),
    (_request_json(resume=True, extra_epochs=0), "at least one more epoch"),
    (_request_json(family=""), "needs a model family"),
    (b"not json", "not valid JSON"),
    (b" " * 2_000_000, "larger than"),
])
def test_bad_request_files_are_refused_with_a_reason(tmp_runs, content, says):
    path = tmp_runs / "bad.json"
    path.write_bytes(content)
    with pytest.raises(GenCoreError, match=says):
        TrainingRequest.read(path)


def test_the_cli_answers_a_bad_request_file_with_exit_2(tmp_runs, capsys):
    path = tmp_runs / "bad.json"
    path.write_text('{"family": "ae"}')
    assert main(["train", "--request", str(path)]) == 2
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
    assert (env["GEN_CORE_CORES"], env["CUDA_VISIBLE_DEVICES"]) == ("1", "2,3")
    # the worker's thread policy stays within the cores left to it, however idle the machine
    assert thread_policy(environ=env, load=0.0).threads == 1
