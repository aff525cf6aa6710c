"""The app against hostile input: bad run zips and run folders, bad links, paths outside the data folders,
and an unexpected error. Every page must still render, with a clear message, no traceback and no server path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hostile_inputs import BAD_RUN_CONTENTS, BAD_RUN_ZIPS, run_files, write_folder, zip_of
from streamlit.testing.v1 import AppTest

from gen_core.run import checkpoint
from ui.boundary import PAGE_FAILED

from .conftest import APP, page_text

PAGES = ("train", "models", "samples", "latent_sliders", "interpolate", "latent_map", "class_sampler", "evaluate",
         "tiles", "room_quiz")
SLOW_TO_BUILD = {"history 40 MB"}  # covered by tests/test_run_record.py and bench/attack_inputs.py


@pytest.fixture
def own_root(trained_runs, tmp_path, monkeypatch) -> Path:
    root = tmp_path / "checkpoints"
    shutil.copytree(trained_runs["vae2"], root / trained_runs["vae2"].name)
    monkeypatch.setenv("GEN_CORE_CHECKPOINTS", str(root))
    return root


def _open(page: str, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(query or {})
    at.switch_page(f"app_pages/{page}.py")
    return at.run()


def _every_text(at: AppTest) -> str:
    """Everything a visitor can read, menus and exception boxes included."""
    texts = [page_text(at)]
    texts += [f"{box.message} {' '.join(box.stack_trace)}" for box in at.exception]
    texts += [str(option) for select in at.selectbox for option in select.options]
    return "\n".join(texts)


def _every_page_renders(server_paths: list[Path], query: dict | None = None) -> None:
    for page in PAGES:
        at = _open(page, query)
        assert not at.exception, f"{page}: {at.exception[0].message}"
        text = _every_text(at)
        for path in server_paths:
            assert str(path) not in text, f"{page} shows the server path {path}"
        assert "Traceback" not in text


def test_a_zip_of_each_bad_kind_is_refused_clearly_and_every_page_still_renders(own_root, tmp_path):
    good = run_files(own_root / "tiny-vae2")
    zips = {name: zip_of(make(good)) for name, make in BAD_RUN_CONTENTS.items() if name not in SLOW_TO_BUILD}
    zips.update({name: make(good) for name, make in BAD_RUN_ZIPS.items()})
    at = _open("models")
    outcomes = {}
    for index, (name, data) in enumerate(zips.items()):
        at.file_uploader(key="models_upload").set_value((f"bad-{index}.zip", data, "application/zip")).run()
        assert not at.exception, f"{name}: {at.exception[0].message}"
        messages = [e.value for e in at.error if f"bad-{index}.zip" in e.value] + \
                   [s.value for s in at.success if f"bad-{index}.zip" in s.value]
        assert len(messages) == 1, name
        outcomes[name] = messages[0]
        assert str(own_root) not in messages[0] and "Traceback" not in messages[0]
    imported = sorted(name for name, message in outcomes.items() if message.startswith("Imported"))
    # Only a run whose files are all sound comes in; its dataset path is checked when it is used.
    assert imported == ["config data path outside"], imported
    assert all("Could not import" in outcomes[name] for name in outcomes if name not in imported)
    _every_page_renders([own_root, tmp_path])


def test_bad_run_folders_on_disk_are_listed_unreadable_and_break_no_page(own_root, tmp_path):
    good = run_files(own_root / "tiny-vae2")
    for index, (name, make) in enumerate(BAD_RUN_CONTENTS.items()):
        if name not in SLOW_TO_BUILD:
            write_folder(make(good), own_root / f"bad-{index}")
    at = _open("models")
    unreadable = [e.value for e in at.error if "cannot be read" in e.value]
    assert len(unreadable) >= len(BAD_RUN_CONTENTS) - 5  # the rest load, and fail only where they are used
    assert not at.exception
    _every_page_renders([own_root, tmp_path])
    # a run folder whose settings point at a private folder is refused when its data is needed
    _every_page_renders([own_root, tmp_path], query={"run": f"bad-{list(BAD_RUN_CONTENTS).index('config data path outside')}"})


def test_an_unreadable_run_can_still_be_deleted_from_the_models_page(own_root):
    write_folder(BAD_RUN_CONTENTS["config training is a list"](run_files(own_root / "tiny-vae2")), own_root / "broken")
    at = _open("models")
    at.checkbox(key="models_delete_sure_broken").check().run()
    at.button(key="models_delete_broken").click().run()
    assert not (own_root / "broken").exists() and not at.exception


@pytest.mark.parametrize("link", ["{outside}", "../outside/evil", "tiny-vae2/../../outside/evil", "x" * 3000,
                                  "broken", "nothing-here"])
def test_a_bad_run_link_is_ignored_with_a_note_and_never_leaves_the_runs_folder(link, own_root, tmp_path):
    outside = Path(shutil.copytree(own_root / "tiny-vae2", tmp_path / "outside" / "evil"))
    write_folder(BAD_RUN_CONTENTS["history odd epoch entries"](run_files(own_root / "tiny-vae2")), own_root / "broken")
    link = link.format(outside=outside)
    at = _open("samples", {"run": link})
    assert not at.exception
    notes = [w.value for w in at.warning] + [c.value for c in at.caption]
    assert any("not on this server" in note or "Ignored in the link" in note for note in notes), notes
    assert Path(at.session_state["active_run"]).parent == own_root.resolve()
    if link == str(outside):  # every page, once (each reads the link the same way, through ui.state)
        _every_page_renders([own_root, tmp_path], query={"run": link})


@pytest.mark.parametrize("dataset, typed", [("folder", "{private}"), ("folder", "/etc"), ("folder", "../../{name}"),
                                             ("tiles", "{private}")])
def test_a_path_outside_the_data_folders_is_refused_without_listing_anything(dataset, typed, own_root, tmp_path,
                                                                             monkeypatch):
    private = tmp_path / "private"
    private.mkdir()
    for index in range(3):
        (private / f"secret_{index}.png").write_bytes(b"not really a png")
    monkeypatch.setenv("GEN_CORE_DATA_DIRS", str(tmp_path / "data"))
    typed = typed.format(private=private, name=private.name)
    at = _open("train")
    at.selectbox(key="train_dataset").set_value(dataset).run()
    at.radio(key=f"train_{dataset}_source").set_value("Folder or zip path").run()
    at.text_input(key=f"train_{dataset}_path").set_value(typed).run()
    errors = [e.value for e in at.error]
    assert any("outside the data folders" in message for message in errors), errors
    text = _every_text(at)
    assert "secret_" not in text and str(tmp_path / "data") not in text and not at.exception
    assert at.button(key="train_start").disabled
    assert sorted(p.name for p in own_root.iterdir()) == ["tiny-vae2"]


def test_tiles_that_would_not_fit_in_memory_are_refused_on_the_page(own_root):
    at = _open("train")
    at.selectbox(key="train_dataset").set_value("tiles").run()
    at.number_input(key="train_tiles_size").set_value(256).run()
    at.number_input(key="train_tiles_count").set_value(200_000).run()
    at.radio(key="train_tiles_channels").set_value(3).run()
    assert any("the limit is 2 GB" in e.value for e in at.error)
    assert at.button(key="train_start").disabled and not at.exception


def test_an_unexpected_error_shows_one_short_sentence_and_logs_the_rest(own_root, monkeypatch, caplog):
    def broken_load(*args, **kwargs):
        raise RuntimeError(f"disk on fire at {own_root}/tiny-vae2/model.safetensors")

    monkeypatch.setattr(checkpoint, "load_run", broken_load)
    at = _open("samples")
    assert [box.message for box in at.exception] == [PAGE_FAILED]
    assert str(own_root) not in _every_text(at) and "disk on fire" not in _every_text(at)
    assert "disk on fire" in caplog.text  # the details are in the server log
