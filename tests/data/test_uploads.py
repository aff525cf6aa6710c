"""Uploads belong to their owner and runs record no server path."""

from __future__ import annotations

import io
import os
import time
import zipfile

import pytest
from PIL import Image

from gen_core.data import access, load_dataset
from gen_core.data.access import DataAccessError, resolve_data_path
from gen_core.data.folders import survey_image_folder
from gen_core.errors import DatasetError
from gen_core.limits import MAX_CLASSES


def _zip(count=4, classes=("a",), side=8) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(count):
            image = io.BytesIO()
            Image.new("L", (side, side), 40 * (index % 6)).save(image, "PNG")
            archive.writestr(f"set/{classes[index % len(classes)]}/{index}.png", image.getvalue())
    return buffer.getvalue()


@pytest.fixture
def runs(tmp_path, monkeypatch):
    (tmp_path / "data" / "faces").mkdir(parents=True)
    for index in range(4):
        Image.new("L", (16, 16), 60 * index).save(tmp_path / "data" / "faces" / f"{index}.png")
    monkeypatch.setenv("GEN_CORE_DATA_DIRS", str(tmp_path / "data"))
    monkeypatch.setenv("GEN_CORE_CHECKPOINTS", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "runs"


def test_a_run_records_its_dataset_relative_to_its_data_folder(runs, tmp_path):
    faces = load_dataset("folder", path=str(tmp_path / "data" / "faces"), size=8, channels=1)
    assert faces.source["path"] == "faces"
    upload = access.save_upload("mine.zip", _zip(), access.student_uploads("ada"))
    recorded = access.recorded_path(upload)
    assert recorded.startswith("_uploads/") and str(tmp_path) not in recorded
    assert resolve_data_path(recorded) == upload.resolve()  # and it still finds the file


def test_another_students_upload_can_be_neither_named_nor_read(runs):
    bobs = access.save_upload("bobs.zip", _zip(), access.student_uploads("bob"))
    with access.uploads_scope(access.student_uploads("ada")):
        for typed in (str(bobs), access.recorded_path(bobs), f"runs/_uploads/students/bob/{bobs.name}"):
            with pytest.raises(DatasetError):
                resolve_data_path(typed)
        with pytest.raises(DataAccessError):
            load_dataset("folder", path=str(bobs), size=8, channels=1)
    with access.uploads_scope(access.student_uploads("bob")):
        assert resolve_data_path(access.recorded_path(bobs)) == bobs.resolve()
    assert access.scope_for_run(runs / "students" / "bob" / "run") == access.student_uploads("bob")
    assert access.scope_for_run(runs / "lecture-run") is None


def test_uploads_are_held_to_a_quota_and_removed_when_no_run_uses_them(runs):
    folder = access.student_uploads("ada")
    first = _zip(4)
    kept = access.save_upload("kept.zip", first, folder, quota_bytes=len(first) + 100)
    with pytest.raises(DatasetError, match="each student may keep"):
        access.save_upload("more.zip", _zip(6), folder, quota_bytes=len(first) + 100)
    unused = access.save_upload("unused.zip", _zip(5), folder)
    old = time.time() - 3600
    for path in (kept, unused):
        os.utime(path, (old, old))
    assert access.prune_uploads(folder, [access.recorded_path(kept)]) == [unused]
    assert kept.exists() and not unused.exists()


def test_a_datasets_size_and_classes_are_read_from_its_listing_before_decoding(runs):
    upload = access.save_upload("big.zip", _zip(40, classes=("a", "b")))
    survey = survey_image_folder(str(upload), size=16, channels=1)
    assert (survey.files, survey.classes, survey.decoded_bytes) == (40, 2, 40 * 16 * 16 * 4)
    with pytest.raises(DatasetError, match="would take"):
        survey_image_folder(str(upload), size=256, channels=3, most_bytes=1_000_000)
    many = access.save_upload("many.zip", _zip(MAX_CLASSES + 1, classes=[f"c{i}" for i in range(MAX_CLASSES + 1)]))
    with pytest.raises(DatasetError, match="classes"):
        load_dataset("folder", path=str(many), size=8, channels=1)
