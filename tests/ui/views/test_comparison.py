"""The Evaluate page's table logic on hand-made reports: columns, best marks, n/a reasons, notes, charts."""

from __future__ import annotations

import io
import json
import math
from types import SimpleNamespace

import pandas as pd
import pytest

from gen_core.atomic import write_json_atomic
from gen_core.run import layout
from ui.views.comparison import (BEST_MARK, EvaluatedColumn, charted_metrics, column_summary, comparison_table,
                                 gather_columns, metric_bar_figure, mismatched_settings, planned_evaluations,
                                 reading_notes, reports_json, sampler_unavailable_reason)


def _entry(epochs=2, n_samples=50, **metrics) -> dict:
    unavailable = {name: "Not in this test." for name in ("recon_mse",) if name not in metrics}
    return {"metrics": metrics, "unavailable": unavailable, "epochs_trained": epochs,
            "settings": {"n_samples": n_samples, "iwae_k": 4, "sampler_params": {}},
            "details": {"classes_in_data": 10}, "seconds": 1.25}


def _column(name, sampler="prior", family="vae", epochs_now=2, **entry) -> EvaluatedColumn:
    return EvaluatedColumn(name, f"/runs/{name}", family, sampler, epochs_now, _entry(**entry))


def _run(tmp_path, name, family, epochs, stored=None):
    path = tmp_path / name
    path.mkdir()
    write_json_atomic(path / layout.HISTORY_FILE,
                                  {"epochs": [{}] * epochs, **({"metrics": stored} if stored else {})})
    return SimpleNamespace(name=name, path=path, family=family, epochs_done=epochs)


def test_best_follows_each_metrics_direction():
    columns = [_column("a", recon_mse=0.02, ssim=0.7, sharpness_ratio=0.6, kl=5.0),
               _column("b", recon_mse=0.03, ssim=0.9, sharpness_ratio=1.1, kl=9.0)]
    table = comparison_table(columns)
    assert table.row("recon_mse").best == [True, False]       # lower
    assert table.row("ssim").best == [False, True]            # higher
    assert table.row("sharpness_ratio").best == [False, True]  # nearest 1
    assert table.row("kl").best == [False, False]             # descriptive: no mark


def test_no_mark_without_something_to_beat():
    table = comparison_table([_column("a", recon_mse=0.02, ssim=0.5), _column("b", recon_mse=0.02),
                              _column("c")])
    assert table.row("recon_mse").best == [False, False, False]  # a tie
    assert table.row("ssim").best == [False, False, False]       # only one number
    assert table.row("ssim").values == [0.5, None, None]


def test_a_gan_has_no_mixture_column_and_says_why(tmp_path):
    gan = _run(tmp_path, "gan", "dcgan", 3, {"prior": _entry(epochs=3, mmd_pixel=0.1)})
    vae = _run(tmp_path, "vae", "vae", 5, {"prior": _entry(epochs=2, mmd_pixel=0.2)})
    assert sampler_unavailable_reason("dcgan", "gmm") and sampler_unavailable_reason("vae", "gmm") is None
    assert [(run.name, sampler) for run, sampler in planned_evaluations([gan, vae], ["prior", "gmm"])] == \
        [("gan", "prior"), ("vae", "prior"), ("vae", "gmm")]
    shown, missing = gather_columns([gan, vae], ["prior", "gmm"])
    assert [column.label for column in shown] == ["gan · prior", "gan · GMM", "vae · prior ⚠"]
    assert [(column.run_name, column.sampler) for column in missing] == [("vae", "gmm")]
    assert shown[1].entry is None and "no encoder" in shown[1].why_missing("mmd_pixel")
    assert shown[2].stale and not shown[0].stale and shown[2].epochs_scored == 2


def test_fresh_reports_win_over_stored_ones(tmp_path):
    vae = _run(tmp_path, "vae", "vae", 2, {"prior": _entry(mmd_pixel=0.2)})
    fresh = {(str(vae.path), "prior"): _entry(mmd_pixel=0.05), (str(vae.path), "gmm"): _entry(mmd_pixel=0.07)}
    shown, missing = gather_columns([vae], ["prior", "gmm"], fresh)
    assert [column.value("mmd_pixel") for column in shown] == [0.05, 0.07] and not missing


def test_frames_styles_and_csv():
    table = comparison_table([_column("a", mmd_pixel=0.125, frechet_feature=3.0),
                              _column("b", mmd_pixel=0.5)])
    frame = table.frame("distribution")
    assert list(frame.columns) == ["Unit", "Better", "a · prior", "b · prior"]
    assert frame.loc["MMD^2, pixels", "Better"] == "lower ↓"
    assert math.isnan(frame.loc["Fréchet distance, classifier features", "b · prior"])
    html = table.styled("distribution").to_html()
    assert f"0.125 {BEST_MARK}" in html and "n/a" in html and "font-weight: bold" in html
    csv = pd.read_csv(io.BytesIO(table.csv()))
    assert list(csv.columns[:3]) == ["Group", "Key", "Metric"]
    assert csv.set_index("Key").loc["mmd_pixel", "b · prior"] == 0.5
    assert set(csv["Key"]) == {"recon_mse", "mmd_pixel", "frechet_feature"}  # only what some report holds


def test_missing_reasons_name_each_column_and_cell():
    gan_mixture = EvaluatedColumn("gan", "/runs/gan", "dcgan", "gmm", 2, None, "No encoder here.")
    columns = [_column("a", mmd_pixel=0.1), _column("b", mmd_pixel=0.2), gan_mixture]
    columns[1].entry["unavailable"]["fid_inception"] = "Not requested (inception=False)."
    reasons = comparison_table(columns).missing_reasons()
    assert (["Reconstruction MSE"], ["a · prior", "b · prior"], "Not in this test.") in reasons  # one line for both
    assert (["All rows"], ["gan · GMM"], "No encoder here.") in reasons
    assert any("under More settings" in reason and columns == ["b · prior"] for _rows, columns, reason in reasons)
    assert any("older version" in reason and columns == ["a · prior"] for _rows, columns, reason in reasons)
    assert len(reasons) == 4


def test_reading_notes_on_blur_and_collapse():
    table = comparison_table([_column("blurry", sharpness_ratio=0.5, modes_covered=10),
                              _column("collapsed", sharpness_ratio=1.0, modes_covered=4)])
    blurry, collapsed = reading_notes(table)
    assert "blurrier" in blurry and "50% of real" in blurry and "all 10 classes drawn" in blurry
    assert "about as sharp" in collapsed and "only 4 of 10 classes" in collapsed and "modes are missing" in collapsed


def test_bar_chart_marks_the_best_and_labels_the_missing():
    table = comparison_table([_column("a", sharpness_ratio=0.5), _column("b", sharpness_ratio=0.9),
                              EvaluatedColumn("gan", "/runs/gan", "dcgan", "gmm", 2, None, "No encoder.")])
    assert charted_metrics(table) == ["sharpness_ratio"]
    figure = metric_bar_figure(table, "sharpness_ratio")
    prior, mixture = figure.data
    assert list(prior.x) == ["a · prior", "b · prior"] and list(prior.marker.line.width) == [0, 4]
    assert list(mixture.text) == ["n/a"]
    assert any(shape.y0 == 1.0 for shape in figure.layout.shapes)  # the "real images" line


def test_settings_summary_mismatch_and_json():
    columns = [_column("a", n_samples=50, mmd_pixel=0.1), _column("b", n_samples=500, mmd_pixel=0.2)]
    assert mismatched_settings(columns) == ["samples"]
    assert mismatched_settings(columns[:1]) == []
    summary = column_summary(columns)
    assert list(summary["Samples"]) == [50, 500] and list(summary["Seconds"]) == [1.2, 1.2]
    reports = json.loads(reports_json(columns))
    assert reports["b · prior"]["metrics"]["mmd_pixel"] == 0.2 and reports["b · prior"]["stale"] is False


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "0.3", None])
def test_non_numbers_are_not_values(value):
    assert _column("a", mmd_pixel=value).value("mmd_pixel") is None


def test_headline_lines_label_each_number_and_its_sampler():
    from ui.views.comparison import headline_lines

    stored = {"prior": {"metrics": {"ssim": 0.8123456, "recon_mse": 0.02, "not_a_headline": 1.0}},
              "gmm": {"metrics": {"ssim": 0.8123456, "frechet_feature": 79.21}}}
    lines = dict(headline_lines(stored))
    # the same SSIM under both samplers (it scores reconstructions, not samples) is given once
    assert lines == {"Reconstruction MSE": "0.02 (prior)", "SSIM of reconstructions": "0.8123",
                     "Fréchet distance, classifier features": "79.21 (GMM)"}
    assert headline_lines({}) == [] and headline_lines({"prior": "garbage"}) == []
    stored["gmm"]["metrics"]["frechet_feature"], stored["prior"]["metrics"]["frechet_feature"] = 79.21, 398.1
    autoencoder = dict(headline_lines(stored, family="ae"))  # an autoencoder has no prior: its own name
    assert autoencoder["Fréchet distance, classifier features"] == "398.1 (code Gaussian) · 79.21 (GMM)"


def _with_intervals(column: EvaluatedColumn, **intervals) -> EvaluatedColumn:
    column.entry["intervals"] = {name: list(pair) for name, pair in intervals.items()}
    return column


def test_best_is_marked_only_beyond_the_uncertainty_and_each_cell_shows_it():
    close = [_with_intervals(_column("a", recon_mse=0.020), recon_mse=(0.018, 0.022)),
             _with_intervals(_column("b", recon_mse=0.021), recon_mse=(0.019, 0.023))]
    assert comparison_table(close).row("recon_mse").best == [False, False]
    apart = [_with_intervals(_column("a", recon_mse=0.020), recon_mse=(0.019, 0.021)),
             _with_intervals(_column("b", recon_mse=0.030), recon_mse=(0.028, 0.032))]
    table = comparison_table(apart)
    assert table.row("recon_mse").best == [True, False]
    cells = table.styled("reconstruction").to_html()
    assert "0.02 ± 0.001 " + BEST_MARK in cells and "0.03 ± 0.002" in cells


def test_the_page_says_when_a_one_mode_models_frechet_verdict_is_better_than_its_mode_verdict():
    one_mode = _column("one-mode", frechet_feature=20.0, modes_covered=1.0)
    notes = reading_notes(comparison_table([one_mode, _column("fine", frechet_feature=30.0, modes_covered=10.0)]))
    said = [note for note in notes if "one-mode" in note]
    assert said and "Fréchet distance looks good" in said[0] and "only 1 of 10 classes" in said[0]
    assert not any("Fréchet distance looks" in note for note in notes if "fine" in note)
