"""Evaluate page: compute two tiny runs with small settings, the side-by-side table with its marks and
n/a cells, the bar chart, metrics kept in history.json and shown again on a fresh load, stale notes.

The runs are copies of the session's tiny runs in a folder of this module's own, so the metrics
stored here never reach other page tests. The feature classifier is trained once, briefly (one
epoch, about 3 s instead of about 20 s for the full five), into that folder's cache, where
``evaluate_run`` finds and reuses it.
"""

from __future__ import annotations

import json
import shutil

import pytest

import gen_core.metrics
from gen_core.atomic import write_json_atomic
from gen_core.errors import SamplerError
from gen_core.metrics import METRICS, load_or_train_feature_net, stored_metrics
from gen_core.metrics.features import FeatureTraining
from gen_core.run import checkpoint, layout
from gen_core.run.start import dataset_for_run

from .conftest import open_page, page_text

VALUE_COLUMNS = ["tiny-vae2 · prior", "tiny-vae2 · GMM K=4", "tiny-dcgan · prior", "tiny-dcgan · GMM"]


@pytest.fixture(scope="module")
def evaluate_root(trained_runs, tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate-runs")
    copies = {key: shutil.copytree(trained_runs[key], root / trained_runs[key].name) for key in ("vae2", "dcgan")}
    dataset = dataset_for_run(checkpoint.read_config(copies["vae2"]))
    load_or_train_feature_net(dataset, root, "cpu", training=FeatureTraining(epochs=1, min_steps=0))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GEN_CORE_CHECKPOINTS", str(root))
        yield copies


def _choose_small_settings(at, runs) -> None:
    at.multiselect(key="evaluate_runs").set_value([str(runs["vae2"]), str(runs["dcgan"])])
    at.select_slider(key="evaluate_n_samples").set_value(50)
    at.select_slider(key="evaluate_iwae_k").set_value(4)
    at.number_input(key="evaluate_components").set_value(4)
    at.select_slider(key="evaluate_class_samples").set_value(10).run()


@pytest.fixture(scope="module")
def computed(evaluate_root):
    at = open_page("evaluate", evaluate_root["vae2"], timeout=120)
    _choose_small_settings(at, evaluate_root)
    at.button(key="evaluate_compute").click().run()
    return at


def _tables(at) -> dict[str, object]:
    """The comparison tables by metric group (found from their first row), not the settings table."""
    groups = {info.label: info.group for info in METRICS.values()}
    return {groups[table.value.index[0]]: table for table in at.dataframe if table.value.index.name == "Metric"}


def _shown_text(table) -> list[list[str]]:
    """The cells as the page shows them (the Styler's display values), row by row."""
    from streamlit import dataframe_util

    shown = dataframe_util.convert_arrow_bytes_to_pandas_df(table.proto.arrow_data.styler.display_values)
    return shown.astype(str).values.tolist()


def test_compute_shows_a_column_per_run_and_sampler_with_the_best_marked(computed):
    at = computed
    assert not at.exception and not at.error
    tables = _tables(at)
    assert list(tables) == ["reconstruction", "likelihood", "distribution", "classes", "sharpness", "novelty"]
    distribution = tables["distribution"].value
    assert list(distribution.columns) == ["Unit", "Better", *VALUE_COLUMNS]
    assert distribution[VALUE_COLUMNS[:3]].loc["Fréchet distance, classifier features"].notna().all()
    # the GAN's mixture column is empty in every table, and so are its reconstruction rows
    assert all(table.value[VALUE_COLUMNS[3]].isna().all() for table in tables.values())
    assert tables["reconstruction"].value[VALUE_COLUMNS[2]].isna().all()
    assert tables["reconstruction"].value[VALUE_COLUMNS[0]].notna().all()
    cells = [cell for table in tables.values() for row in _shown_text(table) for cell in row]
    assert "n/a" in cells and any(cell.endswith("✓") for cell in cells)
    frechet = distribution.loc["Fréchet distance, classifier features", VALUE_COLUMNS[:3]]
    frechet_row = _shown_text(tables["distribution"])[list(distribution.index).index(
        "Fréchet distance, classifier features")]
    best_column = 2 + list(frechet).index(frechet.min())  # lower is better
    assert frechet_row[best_column].endswith("✓")
    assert sum(cell.endswith("✓") for cell in frechet_row) == 1


def test_reasons_notes_chart_and_downloads(computed):
    at = computed
    text = page_text(at)
    assert "no encoder" in text and "nothing to reconstruct" in text  # why the GAN's cells are n/a
    assert "edge strength" in text and "classes drawn" in text         # what the numbers say
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert sum(len(trace["x"]) for trace in figure["data"]) == 4
    assert "Fréchet" in figure["layout"]["title"]["text"]
    at.selectbox(key="evaluate_metric").set_value("sharpness_ratio").run()
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert not at.exception and "Sharpness ratio" in figure["layout"]["title"]["text"]
    assert any(shape.get("y0") == 1.0 for shape in figure["layout"].get("shapes", []))  # the "real images" line
    assert {button.key for button in at.get("download_button")} >= {"evaluate_download_csv", "evaluate_download_json"}


def test_metrics_are_stored_and_shown_on_a_fresh_load_without_recomputing(computed, evaluate_root, monkeypatch):
    vae_stored, gan_stored = stored_metrics(evaluate_root["vae2"]), stored_metrics(evaluate_root["dcgan"])
    assert set(vae_stored) == {"prior", "gmm"} and set(gan_stored) == {"prior"}
    assert vae_stored["gmm"]["settings"]["n_samples"] == 50 and vae_stored["gmm"]["epochs_trained"] == 2

    monkeypatch.setattr(gen_core.metrics, "evaluate_run", _refuse)
    fresh = open_page("evaluate", evaluate_root["vae2"])
    assert not fresh.exception
    assert fresh.multiselect(key="evaluate_runs").value == [str(evaluate_root["vae2"]), str(evaluate_root["dcgan"])]
    likelihood = _tables(fresh)["likelihood"].value
    assert likelihood.loc["ELBO (beta = 1)", VALUE_COLUMNS[0]] == pytest.approx(vae_stored["prior"]["metrics"]["elbo"])
    assert "out of date" not in page_text(fresh) and "Not computed yet" not in page_text(fresh)


def test_the_lecture_view_shows_a_card_per_column_where_the_table_would_not_fit(computed, evaluate_root, monkeypatch):
    """Four columns need about 1,190 px side by side, more than a 1024-wide projector's page: the
    lecture view shows each run and sampler as a card holding the same cells as the table."""
    monkeypatch.setattr(gen_core.metrics, "evaluate_run", _refuse)
    laptop = open_page("evaluate", evaluate_root["vae2"])
    lecture = open_page("evaluate", evaluate_root["vae2"], query={"present": "1"})
    assert not lecture.exception
    assert _tables(laptop) and not _tables(lecture)
    cards = [block.value for block in lecture.markdown]
    for label in VALUE_COLUMNS:
        assert f"**{label}**" in cards
    frechet = _tables(laptop)["distribution"]
    shown = dict(zip(frechet.value.index, _shown_text(frechet)))["Fréchet distance, classifier features"]
    for text in shown[2:5]:  # each scored column's cell, as the table shows it (value ± uncertainty, ✓)
        assert any("Fréchet distance, classifier features: " in card and text in card for card in cards)


def _refuse(*args, **kwargs):
    # an AssertionError, not pytest.fail: the page script catches Exceptions and shows them
    # (at.exception), while pytest.fail's BaseException would escape the script unreported
    raise AssertionError("the page recomputed metrics instead of reusing them")


def test_computing_the_same_again_comes_from_the_cache(computed, monkeypatch):
    monkeypatch.setattr(gen_core.metrics, "evaluate_run", _refuse)
    at = computed.button(key="evaluate_compute").click().run()
    assert not at.exception and not at.error
    assert len(_tables(at)) == 6 and not at.get("progress")  # the replayed progress bar is gone again


@pytest.fixture
def resumed_copy(evaluate_root):
    """A copy of the computed run in the module's runs folder, removed again whatever the test does."""
    resumed = shutil.copytree(evaluate_root["vae2"], evaluate_root["vae2"].parent / "tiny-vae2-resumed")
    yield resumed
    shutil.rmtree(resumed)


def test_a_run_trained_further_gets_a_stale_note(computed, resumed_copy):
    resumed = resumed_copy
    history = checkpoint.read_json(resumed / layout.HISTORY_FILE)
    history["epochs"].append(dict(history["epochs"][-1], epoch=3))
    write_json_atomic(resumed / layout.HISTORY_FILE, history)
    at = open_page("evaluate", resumed)
    at.multiselect(key="evaluate_runs").set_value([str(resumed)]).run()
    assert not at.exception
    assert "out of date" in page_text(at) and "(2 of 3 epochs)" in page_text(at)
    assert "tiny-vae2-resumed · prior ⚠" in _tables(at)["distribution"].value.columns


def test_an_engine_error_is_a_message_not_a_traceback(computed, evaluate_root, monkeypatch):
    def fail(*args, **kwargs):
        raise SamplerError("The mixture could not be fitted.")

    monkeypatch.setattr(gen_core.metrics, "evaluate_run", fail)
    at = open_page("evaluate", evaluate_root["vae2"])
    at.multiselect(key="evaluate_runs").set_value([str(evaluate_root["vae2"])])
    at.select_slider(key="evaluate_n_samples").set_value(100).run()  # settings not in the cache yet
    at.button(key="evaluate_compute").click().run()
    assert not at.exception
    assert any("The mixture could not be fitted." in error.value for error in at.error)


def test_a_gan_with_only_the_mixture_sampler_explains_itself(computed, evaluate_root):
    at = open_page("evaluate", evaluate_root["dcgan"])
    at.multiselect(key="evaluate_runs").set_value([str(evaluate_root["dcgan"])])
    at.multiselect(key="evaluate_samplers").set_value(["gmm"]).run()
    at.button(key="evaluate_compute").click().run()
    assert not at.exception
    assert "Nothing to compute" in page_text(at) and not _tables(at)


def test_no_runs_yet(monkeypatch, tmp_path):
    monkeypatch.setenv("GEN_CORE_CHECKPOINTS", str(tmp_path))
    at = open_page("evaluate")
    assert not at.exception
    assert "No trained model yet" in page_text(at) and not at.get("button")

