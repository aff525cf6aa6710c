"""Text that visitors and files supply stays text on every page.

A run trained on a folder whose class folders are named like links and HTML, a run whose recorded
dataset name and status are links, and a link whose values are links: every page is rendered and
no Markdown element or chart holds that markup unescaped (the escaped form, ``\\[Exam...``, is the
only way it may appear).
"""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

from gen_core.run.start import prepare_training
from gen_core.training import TrainConfig

from .conftest import open_page

LINK = "[Exam answers](https://evil.example/answers)"
CLASS_LINK = "[Exam answers](mailto:me@evil.example)"  # a folder name cannot hold "/"
BOLD = "<b>BOLD<b>"
PAGES = ("models", "samples", "latent_map", "class_sampler", "interpolate", "latent_sliders", "evaluate", "train")
MARKDOWN_KINDS = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success")


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, runs_root):
    data = tmp_path_factory.mktemp("hostile-data")
    for label, name in enumerate((CLASS_LINK, BOLD)):
        folder = data / "set" / name
        folder.mkdir(parents=True)
        for index in range(12):
            Image.new("L", (16, 16), 20 * index + 100 * label).save(folder / f"{index}.png")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GEN_CORE_DATA_DIRS", str(data))
        run = prepare_training("vae", {"hidden": (32,), "latent_dim": 2}, "folder",
                               TrainConfig(epochs=1, batch_size=8, device="cpu", sample_count=4), root=runs_root,
                               name="hostile-classes", dataset_options={"path": str(data / "set"), "size": 16,
                                                                        "channels": 1})
        run.fit()
    lying = runs_root / "hostile-record"
    shutil.copytree(run.run_dir, lying)
    config = json.loads((lying / "config.json").read_text())
    config["data"]["name"] = LINK
    (lying / "config.json").write_text(json.dumps(config))
    history = json.loads((lying / "history.json").read_text())
    history["status"] = "[click](https://x.y)"[:40]
    (lying / "history.json").write_text(json.dumps(history))
    return {"run": run.run_dir, "data": data}


def _rendered(at) -> list[str]:
    texts = [str(element.value) for kind in MARKDOWN_KINDS for element in getattr(at, kind)]
    texts += [str(getattr(element, "label", "")) for element in at.radio] + [str(e.label) for e in at.button]
    return texts


def _chart_strings(at) -> list[str]:
    """Every string in the figures' data and layout (trace names, tick labels, hover text...)."""
    found = []

    def walk(value):
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for element in at.get("plotly_chart"):
        walk(json.loads(element.proto.spec))
    return found


@pytest.mark.parametrize("page", PAGES)
def test_no_visitor_markup_is_rendered_on_any_page(hostile_run, page, monkeypatch):
    monkeypatch.setenv("GEN_CORE_DATA_DIRS", str(hostile_run["data"]))
    at = open_page(page, hostile_run["run"], query={"seed": LINK, "n": BOLD}, timeout=120)
    assert not at.exception, [e.value for e in at.exception]
    for text in _rendered(at):
        for raw in ("[Exam answers](", "<b>", "[click]("):
            assert raw not in text, f"{page}: {raw!r} rendered as markup in {text[:200]!r}"
    for text in _chart_strings(at):
        assert "<b>" not in text and "<a" not in text, f"{page}: chart text {text[:100]!r} renders HTML"
    shown = "\n".join(_rendered(at) + _chart_strings(at))
    expected = {"models": "Exam answers", "latent_map": "BOLD", "class_sampler": "Exam answers"}.get(page)
    assert expected is None or expected in shown, "the hostile names are shown, as text"


def test_class_direction_sliders_show_hostile_class_names_as_text(hostile_run, monkeypatch):
    monkeypatch.setenv("GEN_CORE_DATA_DIRS", str(hostile_run["data"]))
    at = open_page("latent_sliders", hostile_run["run"], query={"axes": "dir"}, timeout=120)
    assert not at.exception, [e.value for e in at.exception]
    labels = [slider.label for slider in at.slider if slider.key and slider.key.startswith("sliders_dir_")]
    assert len(labels) == 1 and "Exam answers" in labels[0] and "BOLD" in labels[0]
    assert "[Exam answers](" not in labels[0] and "<b>" not in labels[0]
