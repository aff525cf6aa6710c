"""Nothing lost: epochs committed all or nothing, leftovers of a dead writer cleaned, one writer at a time."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gen_core.run.start import TrainingRun
from gen_core.errors import OutputPathError, RunBusyError
from gen_core.models import build_model
from gen_core.atomic import check_output_file, check_output_folder
from gen_core.run import checkpoint, layout
from gen_core.run.files import writing
from gen_core.training import TrainConfig, Trainer

REPO = Path(__file__).resolve().parents[2]


def _train(run_dir: Path, mnist_small, epochs: int = 1, history=None, optimizer_state=None, model=None):
    model = model or build_model("ae", image_shape=(1, 28, 28), hidden=(16,), latent_dim=2)
    trainer = TrainingRun(Trainer(model, mnist_small, TrainConfig(epochs=epochs, batch_size=128, device="cpu", sample_count=4), history=history, optimizer_state=optimizer_state), run_dir)
    trainer.fit()
    return trainer


def _state(run_dir: Path) -> tuple:
    """What a reader sees: epochs in history, the weights' epoch, the optimiser's step count."""
    history = json.loads((run_dir / layout.HISTORY_FILE).read_text())
    steps = load_file(str(run_dir / layout.OPTIMIZER_FILE))["model/0/step"].item()
    return len(history["epochs"]), checkpoint.saved_epoch(run_dir), steps


def _leftovers(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.rglob(".*") if p.name.endswith((".tmp", ".pending", ".commit.json")))


def test_a_failure_in_the_middle_of_an_epochs_save_keeps_the_last_epoch_whole(mnist_small, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    trainer = _train(run_dir, mnist_small)
    before = _state(run_dir)
    assert before == (1, 1, before[2]) and before[2] > 0
    real_save = checkpoint.save_file
    calls = []

    def disk_full_on_the_weights(tensors, path, metadata=None):
        calls.append(path)
        if len(calls) == 2:  # optimiser state written, then the weights hit a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(tensors, path, metadata=metadata)

    monkeypatch.setattr(checkpoint, "save_file", disk_full_on_the_weights)
    resumed = checkpoint.load_run(run_dir, with_optimizer_state=True)
    with pytest.raises(OSError):
        _train(run_dir, mnist_small, epochs=2, history=resumed.history, optimizer_state=resumed.optimizer_state,
               model=resumed.model)
    assert _state(run_dir) == before, "weights, optimiser state and history all still at epoch 1"
    assert json.loads((run_dir / layout.HISTORY_FILE).read_text())["status"] == "failed"
    assert _leftovers(run_dir) == []
    assert trainer.trainer.history["epochs"][0]["epoch"] == 1


def test_a_crash_after_the_commit_point_is_finished_on_the_next_open(mnist_small, tmp_path):
    run_dir = tmp_path / "run"
    _train(run_dir, mnist_small)
    history = json.loads((run_dir / layout.HISTORY_FILE).read_text())
    # A writer died between the journal and the renames: a newer history waits as a pending file.
    newer = {**history, "message": "the newer one"}
    (run_dir / ".history.json.pending").write_text(json.dumps(newer))
    (run_dir / layout.JOURNAL_FILE).write_text(json.dumps({"files": ["history.json"]}))
    (run_dir / ".model.safetensors.abc123.tmp").write_bytes(b"half a file")
    run = checkpoint.load_run(run_dir)
    assert run.history["message"] == "the newer one"
    assert _leftovers(run_dir) == []


def test_pending_files_without_a_commit_are_thrown_away(mnist_small, tmp_path):
    run_dir = tmp_path / "run"
    _train(run_dir, mnist_small)
    weights = (run_dir / layout.WEIGHTS_FILE).read_bytes()
    (run_dir / ".model.safetensors.pending").write_bytes(b"an epoch that never completed")
    (run_dir / "samples" / ".epoch_009.png.xyz.tmp").write_bytes(b"half a grid")
    with writing(run_dir):
        assert _leftovers(run_dir) == []
    assert (run_dir / layout.WEIGHTS_FILE).read_bytes() == weights


def test_history_is_never_written_ahead_of_the_weights(mnist_small, tmp_path):
    run_dir = tmp_path / "run"
    trainer = _train(run_dir, mnist_small)
    ahead = {**trainer.trainer.history, "epochs": [*trainer.trainer.history["epochs"], {"epoch": 2, "train_loss": 1.0}],
             "steps": [*trainer.trainer.history["steps"], {"step": 999, "epoch": 2, "loss": 1.0}]}
    checkpoint.save_history(run_dir, ahead)
    saved = json.loads((run_dir / layout.HISTORY_FILE).read_text())
    assert len(saved["epochs"]) == 1 and all(step["epoch"] <= 1 for step in saved["steps"])


def test_weights_and_history_that_disagree_are_refused(mnist_small, tmp_path):
    run_dir = tmp_path / "run"
    _train(run_dir, mnist_small, epochs=2)
    history = json.loads((run_dir / layout.HISTORY_FILE).read_text())
    (run_dir / layout.HISTORY_FILE).write_text(json.dumps({**history, "epochs": history["epochs"][:1]}))
    with pytest.raises(checkpoint.CheckpointError, match="records 1 epochs but the weights were saved after epoch 2"):
        checkpoint.load_run(run_dir)


def test_a_second_writer_is_refused_at_once_in_another_thread_and_re_entry_is_allowed(tmp_path):
    run_dir = tmp_path / "run"
    refused = []

    def second_writer():
        try:
            with writing(run_dir):
                pass
        except RunBusyError as error:
            refused.append(str(error))

    with writing(run_dir):
        with writing(run_dir):  # the same thread again: a trainer's save inside a caller's lock
            pass
        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join()
    assert refused and "being written by another training run" in refused[0] and str(tmp_path) not in refused[0]
    with writing(run_dir):  # free again once released
        pass


def test_another_process_cannot_write_a_locked_run(mnist_small, tmp_path):
    run_dir = tmp_path / "run"
    _train(run_dir, mnist_small)
    code = ("import sys; from gen_core.run import checkpoint; from gen_core.errors import RunBusyError\n"
            "try:\n    checkpoint.save_history(sys.argv[1], {'epochs': []})\n"
            "except RunBusyError as error:\n    print(error); sys.exit(3)\n")
    with writing(run_dir):
        result = subprocess.run([sys.executable, "-c", code, str(run_dir)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 3 and "being written" in result.stdout, result.stderr
    assert len(checkpoint.load_run(run_dir).history["epochs"]) == 1


def test_output_paths_are_checked_before_any_work(tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(OutputPathError, match="a file stands where a folder is needed"):
        check_output_folder(tmp_path / "a-file" / "run")
    with pytest.raises(OutputPathError, match="is a file, not a folder"):
        check_output_folder(tmp_path / "a-file")
    with pytest.raises(OutputPathError, match="is a folder"):
        check_output_file(tmp_path)
    assert check_output_file(tmp_path / "new" / "grid.png").parent.is_dir()
    assert not list((tmp_path / "new").iterdir()), "the write test leaves nothing behind"


def test_a_rename_or_delete_waits_for_the_writer(mnist_small, tmp_path):
    from gen_core.run import collection
    root = tmp_path / "runs"
    run_dir = root / "busy"
    _train(run_dir, mnist_small)

    def try_both(results):
        for action in (lambda: collection.delete_run(run_dir, root=root), lambda: collection.rename_run(run_dir, "other", root)):
            try:
                action()
            except RunBusyError:
                results.append("refused")

    results = []
    with writing(run_dir):
        thread = threading.Thread(target=try_both, args=(results,))
        thread.start()
        thread.join()
    assert results == ["refused", "refused"] and (run_dir / layout.WEIGHTS_FILE).exists()
    assert torch.isfinite(checkpoint.load_run(run_dir).model.state_dict()["to_code.weight"]).all()
