"""Datasets are read only inside the data folders: typed paths, recorded paths and torchvision roots."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from gen_core.data import access, load_dataset
from gen_core.data.access import DataAccessError, resolve_data_path
from gen_core.errors import DatasetError
from gen_core.run.start import dataset_for_run


@pytest.fixture
def folders(tmp_path, monkeypatch) -> dict[str, Path]:
    """A data folder with a small image set, a private folder beside it, and the app's cwd."""
    data, private, app = tmp_path / "data", tmp_path / "private", tmp_path / "app"
    for folder in (data / "faces", private / "photos", app):
        folder.mkdir(parents=True)
    for index in range(4):
        Image.new("L", (32, 32), 50 * index).save(data / "faces" / f"face_{index}.png")
        Image.new("L", (32, 32), 50 * index).save(private / "photos" / f"secret_{index}.png")
    monkeypatch.setenv("GEN_CORE_DATA_DIRS", str(data))
    monkeypatch.setenv("GEN_CORE_CHECKPOINTS", str(tmp_path / "runs"))
    monkeypatch.chdir(app)
    return {"data": data, "private": private, "app": app}


def test_paths_inside_a_data_folder_resolve_by_name_or_path(folders):
    faces = (folders["data"] / "faces").resolve()
    assert resolve_data_path("faces") == faces
    assert resolve_data_path(str(faces)) == faces
    assert resolve_data_path("../data/faces") == faces  # relative to the app's folder, still inside


@pytest.mark.parametrize("typed", ["private/photos", "../private/photos", "/etc", "faces/../../private/photos"])
def test_paths_outside_are_refused_without_revealing_or_listing_anything(folders, typed):
    if typed == "private/photos":
        typed = str(folders["private"] / "photos")
    with pytest.raises(DataAccessError, match="outside the data folders") as refused:
        resolve_data_path(typed)
    message = str(refused.value)
    assert "secret_" not in message and str(folders["data"]) not in message
    assert str(folders["private"]) not in message and ".." not in message  # not even what was typed
    assert message.startswith(f"'{Path(typed).name}' is outside")  # its last part names what was meant


def test_a_link_inside_a_data_folder_cannot_lead_out(folders):
    (folders["data"] / "shortcut").symlink_to(folders["private"] / "photos", target_is_directory=True)
    with pytest.raises(DataAccessError):
        resolve_data_path("shortcut")


def test_registry_loaders_read_only_inside_the_data_folders(folders):
    assert len(load_dataset("folder", path="faces", size=16).train_images) >= 3
    for name, options in (("folder", {"size": 16}), ("tiles", {"tile_size": 8})):
        with pytest.raises(DataAccessError):
            load_dataset(name, path=str(folders["private"] / "photos"), **options)


def test_a_run_record_cannot_point_the_app_at_a_private_folder(folders):
    config = {"data": {"name": "folder", "path": str(folders["private"] / "photos"), "size": 16}}
    with pytest.raises(DataAccessError):
        dataset_for_run(config)
    with pytest.raises(DataAccessError, match="dataset folder"):  # torchvision's root (CIFAR files are pickles)
        dataset_for_run({"data": {"name": "cifar10", "root": str(folders["private"]), "download": False}})


def test_uploads_are_always_allowed_and_kept_by_content(folders):
    saved = access.save_upload("my photos.zip", b"PK\x05\x06" + b"\0" * 18)
    assert saved.parent == access.uploads_folder() and saved.name.startswith("my-photos-")
    assert access.save_upload("again.zip", b"PK\x05\x06" + b"\0" * 18).name.endswith(saved.name[-16:])
    assert resolve_data_path(saved) == saved.resolve()
    assert access.shown_path(saved) == "an upload"


def test_missing_paths_inside_say_so_by_the_typed_name(folders):
    with pytest.raises(DatasetError, match="no folder or .zip file called 'nothing-here'") as missing:
        resolve_data_path("nothing-here")
    assert str(folders["data"]) not in str(missing.value)
