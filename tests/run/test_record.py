"""The run record: every damaged or hostile config.json / history.json is refused with a message that
names the file and field (never a server path), listed as unreadable, and can still be deleted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from hostile_inputs import BAD_RUN_CONTENTS, run_files, write_folder

from gen_core.run.start import TrainingRun
from gen_core.errors import CheckpointError
from gen_core.models import build_model
from gen_core.run import checkpoint, collection
from gen_core.run.record import check_config, check_history
from gen_core.training import TrainConfig, Trainer

# What each bad content is refused for (a part of the message).
REFUSED_FOR = {
    "config training is a list": "config.json: training must be an object",
    "config data is a list": "config.json: data must be an object",
    "config model is a string": "config.json: model must be an object",
    "config unknown family": "Unknown model family",
    "config epochs is text": "config.json: training",
    "config image 3000x3000": "larger than this server allows",
    "config image 100000x100000": "larger than this server allows",
    "config 10^10 parameters": "this server allows at most",
    "config nested 100,000 deep": "nested too deeply",
    "config not JSON": "config.json is not valid JSON",
    "history odd epoch entries": "history.json: epochs[0]",
    "history is a list": "history.json must be a training history object",
    "sample PNG 30000x30000": None,  # the record is fine; the grid is refused where it is read
    "history 40 MB": None,  # under the 64 MB limit: a long run's history is allowed
    "config data path outside": None,  # the record is fine; the path is refused when the data is loaded
    "weights not safetensors": "model.safetensors is not a readable safetensors file",
}


@pytest.fixture(scope="module")
def good_files(tmp_path_factory, mnist_small) -> dict[str, bytes]:
    run_dir = tmp_path_factory.mktemp("record") / "good"
    model = build_model("ae", image_shape=(1, 28, 28), hidden=(16,), latent_dim=2)
    TrainingRun(Trainer(model, mnist_small, TrainConfig(epochs=1, batch_size=128, device="cpu", sample_count=4)), run_dir).fit()
    return run_files(run_dir)


def test_every_bad_content_is_named_in_the_table():
    assert set(REFUSED_FOR) == set(BAD_RUN_CONTENTS)


@pytest.mark.parametrize("case", sorted(BAD_RUN_CONTENTS))
def test_a_damaged_record_is_refused_by_name_and_listed_as_unreadable(case, good_files, tmp_runs):
    run_dir = write_folder(BAD_RUN_CONTENTS[case](good_files), tmp_runs / "bad-run")
    expected = REFUSED_FOR[case]
    if expected is None:
        checkpoint.load_run(run_dir)  # readable: what is wrong is refused where it is used
        return
    with pytest.raises(CheckpointError, match=expected.replace("[", r"\[").replace("^", r"\^")) as refused:
        checkpoint.load_run(run_dir)
    assert str(tmp_runs) not in str(refused.value), "no server path in the message"
    listed = {info.name: info for info in collection.list_runs(tmp_runs)}["bad-run"]
    if case != "weights not safetensors":  # the listing reads settings and history, not weights
        assert listed.status == "unreadable" and expected.split(":")[0] in listed.error
        assert str(tmp_runs) not in listed.error
    collection.delete_run(run_dir, root=tmp_runs)
    assert not run_dir.exists()


def test_an_oversized_model_is_refused_before_anything_is_built(good_files, tmp_runs, monkeypatch):
    import gen_core.models.autoencoder as autoencoder

    built = []
    original = autoencoder.Autoencoder.__init__

    def record_build(self, config):
        built.append(torch.empty(0).device.type)  # "meta" inside the size check's shape-only build
        original(self, config)

    monkeypatch.setattr(autoencoder.Autoencoder, "__init__", record_build)
    run_dir = write_folder(BAD_RUN_CONTENTS["config 10^10 parameters"](good_files), tmp_runs / "huge")
    with pytest.raises(CheckpointError, match="at most 200,000,000"):
        checkpoint.load_run(run_dir)
    assert built == ["meta"], "only a shape-only model on the meta device was ever made"


def test_the_schema_fills_defaults_and_refuses_unknown_keys(good_files):
    config = json.loads(good_files["config.json"])
    assert check_config({key: value for key, value in config.items() if key not in ("data", "training")})["data"] == {}
    with pytest.raises(CheckpointError, match="unknown entries: surprise"):
        check_config({**config, "surprise": 1})
    with pytest.raises(CheckpointError, match="training has unknown entries: depth"):
        check_config({**config, "training": {**config["training"], "depth": 3}})
    assert check_history({}) == {"steps": [], "epochs": [], "status": "unknown", "message": "", "metrics": {}}
    with pytest.raises(CheckpointError, match="history.json: metrics: prior.metrics: ssim must be a number"):
        check_history({"metrics": {"prior": {"metrics": {"ssim": "high"}}}})
    with pytest.raises(CheckpointError, match="epochs\\[0\\].epoch must be a whole number"):
        check_history({"epochs": [{"epoch": 0, "train_loss": 1.0}]})


def test_a_listing_survives_every_bad_record_at_once(good_files, tmp_runs):
    for index, make in enumerate(BAD_RUN_CONTENTS.values()):
        write_folder(make(good_files), tmp_runs / f"bad-{index}")
    write_folder(good_files, tmp_runs / "good")
    listed = collection.list_runs(tmp_runs)
    assert len(listed) == len(BAD_RUN_CONTENTS) + 1
    assert {info.name for info in listed if not info.error} >= {"good"}
    for info in listed:
        collection.delete_run(info.path, root=tmp_runs)
    assert not any(Path(tmp_runs).iterdir())


def test_a_run_name_never_reaches_outside_the_runs_folder(good_files, tmp_runs, tmp_path):
    write_folder(good_files, tmp_runs / "good")
    outside = write_folder(good_files, tmp_path / "outside" / "evil")
    assert collection.resolve_run("good", tmp_runs) == (tmp_runs / "good").resolve()
    for name in (str(outside), "../outside/evil", "good/../../outside/evil", "", "x" * 5000, "nul\x00l",
                 "missing"):
        with pytest.raises(CheckpointError) as refused:
            collection.resolve_run(name, tmp_runs)
        assert str(tmp_path) not in str(refused.value)
    (tmp_runs / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(CheckpointError, match="not in the runs folder"):
        collection.resolve_run("link", tmp_runs)
    for action in (lambda: collection.delete_run(outside, root=tmp_runs), lambda: collection.rename_run(outside, "x", tmp_runs)):
        with pytest.raises(CheckpointError, match="not inside the runs folder"):
            action()
    assert (outside / "config.json").exists()
    shutil.rmtree(tmp_path / "outside")


GOOD_GRID_EPOCH = {"epoch": 2, "train_loss": 1.0, "class_shares": [0.5, 0.25, 0.25],
                   "d_histogram": {"real": [0, 3, 13], "fake": [10, 6, 0]}}


@pytest.mark.parametrize("change, refused_for", [
    ({"class_shares": [0.5, 0.6]}, "class_shares must sum to 1"),
    ({"class_shares": [1.5, -0.5]}, "class_shares must be a list of 1 to 100 shares from 0 to 1"),
    ({"class_shares": [float("nan"), 1.0]}, "class_shares must be a list"),
    ({"class_shares": ["half", "half"]}, "class_shares must be a list"),
    ({"class_shares": [True]}, "class_shares must be a list"),
    ({"class_shares": []}, "class_shares must be a list"),
    ({"class_shares": [0.01] * 100 + [0.0]}, "class_shares must be a list"),
    ({"class_shares": {"0": 1.0}}, "class_shares must be a list"),
    ({"d_histogram": [1, 2]}, "d_histogram must be an object"),
    ({"d_histogram": {"real": [1]}}, "d_histogram must hold exactly 'real' and 'fake'"),
    ({"d_histogram": {"real": [1], "fake": [1], "extra": [1]}}, "must hold exactly 'real' and 'fake'"),
    ({"d_histogram": {"real": [1, -1], "fake": [0, 0]}}, "d_histogram.real must be a list of 1 to 100 image counts"),
    ({"d_histogram": {"real": [1, 1], "fake": [0.5, 0]}}, "d_histogram.fake must be a list"),
    ({"d_histogram": {"real": [10**9], "fake": [1]}}, "at most 10,000 together"),
    ({"d_histogram": {"real": [0] * 101, "fake": [0] * 101}}, "d_histogram.real must be a list"),
    ({"d_histogram": {"real": [1, 2], "fake": [3]}}, "real and fake must have the same number of bins"),
])
def test_a_hand_edited_gan_history_with_bad_grid_statistics_is_refused_by_field(change, refused_for):
    assert check_history({"epochs": [GOOD_GRID_EPOCH]})["epochs"][0] == GOOD_GRID_EPOCH
    with pytest.raises(CheckpointError, match=r"history\.json: epochs\[0\]\.") as refused:
        check_history({"epochs": [{**GOOD_GRID_EPOCH, **change}]})
    assert refused_for in str(refused.value)
    with pytest.raises(CheckpointError, match="must be a number"):  # nothing else nested is let through
        check_history({"epochs": [{**GOOD_GRID_EPOCH, "d_shares": [1.0]}]})


GOOD_CONTROLS = [{"step": 3, "epoch": 1, "lr": 1e-4}, {"step": 9, "epoch": 2, "beta": 0.0},
                 {"step": 9, "epoch": 2, "d_steps": 3, "g_steps": 1}]


@pytest.mark.parametrize("controls, refused_for", [
    ({"step": 3}, "controls must be a list"), ([{"lr": 1e-4}], "controls[0].step must be a whole number"),
    ([{"step": 1.5, "lr": 1e-4}], "step must be a whole number"),
    ([{"step": 1, "lr": 0}], "lr must be a number above 0"),
    ([{"step": 1, "lr": float("inf")}], "lr must be a number above 0"), ([{"step": 1, "lr": True}], "lr must be"),
    ([{"step": 1, "beta": -2.0}], "beta must be a number from 0"), ([{"step": 1, "lr": "fast"}], "must be a number"),
    ([{"step": 1, "momentum": 0.9}], "unknown entries: momentum"), ([GOOD_CONTROLS[0]] * 10_001, "more than 10,000"),
])
def test_a_history_records_changes_made_while_training_and_refuses_bad_ones_by_field(controls, refused_for):
    assert check_history({"controls": GOOD_CONTROLS})["controls"] == GOOD_CONTROLS
    with pytest.raises(CheckpointError, match=r"history\.json: controls") as refused:
        check_history({"controls": controls})
    assert refused_for in str(refused.value)
