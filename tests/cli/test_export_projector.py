"""`python -m gen_core export-projector`: the four files from a real run, and bad requests in one line."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from PIL import Image

from gen_core.cli import main
from gen_core.data import load_dataset
from gen_core.latent import PROJECTOR_FILES

from conftest import SMALL_AE_ARGS as SMALL, write_long_run


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("projector-cli") / "ae-digits"
    assert main(["train", *SMALL, "--epochs", "1", "--out", str(out)]) == 0
    return out


def _one_line_exit_2(argv, capsys) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "error: " in lines[0], lines
    return lines[0]


@pytest.mark.parametrize("split, n", [("test", "20"), ("train", "50")])
def test_the_four_files_agree_in_rows_and_sprite_size(digits_run, tmp_path, split, n):
    out = tmp_path / "projector"
    assert main(["export-projector", str(digits_run), "--out", str(out), "--split", split, "--n", n]) == 0
    assert sorted(path.name for path in out.iterdir()) == sorted(PROJECTOR_FILES)
    tensors = (out / "tensors.tsv").read_text().splitlines()
    metadata = (out / "metadata.tsv").read_text().splitlines()
    assert len(tensors) == int(n) and {len(row.split("\t")) for row in tensors} == {4}
    assert metadata[0] == "label\tindex" and len(metadata) == int(n) + 1
    labels = load_dataset("digits").test_labels if split == "test" else load_dataset("digits").train_labels
    assert [row.split("\t")[0] for row in metadata[1:]] == [str(int(y)) for y in labels[:int(n)]]
    with Image.open(out / "sprite.png") as sprite:
        assert sprite.size == (math.ceil(math.sqrt(int(n))) * 8,) * 2
    config = (out / "projector_config.pbtxt").read_text()
    assert all(f'"{name}"' in config for name in ("tensors.tsv", "metadata.tsv", "sprite.png"))


def test_all_images_without_n_and_when_n_asks_for_more(digits_run, tmp_path, capsys):
    test_count = len(load_dataset("digits").test_images)
    assert main(["export-projector", str(digits_run), "--out", str(tmp_path / "a"), "--n", "100000"]) == 0
    assert f"holds only {test_count}" in capsys.readouterr().out
    assert len((tmp_path / "a" / "tensors.tsv").read_text().splitlines()) == test_count
    assert main(["export-projector", str(digits_run), "--out", str(tmp_path / "b")]) == 0
    assert len((tmp_path / "b" / "metadata.tsv").read_text().splitlines()) == test_count + 1


@pytest.mark.parametrize("n", ["0", "-3"])
def test_no_images_asked_for_is_refused(digits_run, tmp_path, capsys, n):
    assert "--n must be at least 1" in _one_line_exit_2(
        ["export-projector", str(digits_run), "--out", str(tmp_path / "p"), "--n", n], capsys)
    assert not (tmp_path / "p").exists()


def test_outputs_that_cannot_be_written_are_refused_in_one_line(digits_run, tmp_path, capsys):
    (tmp_path / "a-file").write_text("x")
    assert "is a file, not a folder" in _one_line_exit_2(
        ["export-projector", str(digits_run), "--out", str(tmp_path / "a-file")], capsys)
    assert (tmp_path / "a-file").read_text() == "x"
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        # root may write in a folder without write permission; a read-only file system refuses even root
        target = locked / "projector" if not os.access(locked, os.W_OK) else Path("/sys/projector")
        if not target.parent.is_dir():
            pytest.skip("no read-only folder to write into on this machine")
        assert "Cannot write" in _one_line_exit_2(["export-projector", str(digits_run), "--out", str(target)], capsys)
    finally:
        locked.chmod(0o755)


def test_a_missing_run_is_refused(tmp_path, capsys):
    assert "No run at" in _one_line_exit_2(["export-projector", str(tmp_path / "nothing"), "--out",
                                            str(tmp_path / "p")], capsys)


def test_a_gan_has_no_encoder_and_is_refused(build_tiny, tmp_path, capsys):
    run_dir = write_long_run(tmp_path / "gan", build_tiny("dcgan"), epochs=1)
    assert "has no encoder" in _one_line_exit_2(["export-projector", str(run_dir), "--out", str(tmp_path / "p")],
                                                capsys)
    assert not any((tmp_path / "p").iterdir())
