"""Latent map's training timeline: one animation frame per stored epoch on fixed axes, the epoch slider,
the class filter, and hand-edited or missing code files."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np

from gen_core.run import layout

from .conftest import open_page, page_text
from .test_latent_map_page import _values


def _timeline_figure(at) -> dict:
    figures = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    animated = [figure for figure in figures if figure.get("frames")]
    assert len(animated) == 1
    return animated[0]


def _xy(traces) -> np.ndarray:
    return np.concatenate([np.stack([_values(t["x"]), _values(t["y"])], axis=1) for t in traces])


def test_the_timeline_animates_every_stored_epoch_on_fixed_axes(trained_runs):
    at = open_page("latent_map", trained_runs["ae"])
    assert not at.exception and "How the map formed during training" in page_text(at)
    figure = _timeline_figure(at)
    stored = [str(epoch) for epoch, _ in layout.timeline_files(trained_runs["ae"])]
    assert stored == ["1", "2"]  # a 2-epoch run draws a grid at both
    assert [frame["name"] for frame in figure["frames"]] == stored
    assert [step["label"] for step in figure["layout"]["sliders"][0]["steps"]] == stored
    assert [frame["layout"]["title"]["text"] for frame in figure["frames"]] == ["after epoch 1", "after epoch 2"]
    assert [button["label"] for button in figure["layout"]["updatemenus"][0]["buttons"]] == ["▶ Play", "❚❚ Pause"]
    assert [trace["name"] for trace in figure["data"]] == [str(label) for label in range(10)]
    x_axis, y_axis = figure["layout"]["xaxis"], figure["layout"]["yaxis"]
    assert x_axis["autorange"] is False and y_axis["autorange"] is False
    for frame in figure["frames"]:  # every epoch inside the one pair of ranges
        points = _xy(frame["data"])
        assert len(points) == 500
        assert x_axis["range"][0] <= points[:, 0].min() and points[:, 0].max() <= x_axis["range"][1]
        assert y_axis["range"][0] <= points[:, 1].min() and points[:, 1].max() <= y_axis["range"][1]
    assert not np.allclose(_xy(figure["frames"][0]["data"]), _xy(figure["frames"][1]["data"]))
    # at rest on the last epoch; the slider moves it to the first
    assert np.allclose(_xy(figure["data"]), _xy(figure["frames"][-1]["data"]))
    assert figure["layout"]["sliders"][0]["active"] == 1
    at.select_slider(key="latent_map_timeline_epoch").set_value(1).run()
    moved = _timeline_figure(at)
    assert np.allclose(_xy(moved["data"]), _xy(moved["frames"][0]["data"]))
    assert moved["layout"]["sliders"][0]["active"] == 0 and moved["layout"]["xaxis"]["range"] == x_axis["range"]
    # coloured and filtered by class as the map above
    at.multiselect(key="latent_map_classes").set_value([4, 9]).run()
    assert [trace["name"] for trace in _timeline_figure(at)["data"]] == ["4", "9"]


def test_a_2d_code_keeps_its_own_axes_and_the_lecture_view_enlarges_the_text(trained_runs):
    at = open_page("latent_map", trained_runs["vae2"], query={"present": "1"})
    figure = _timeline_figure(at)
    assert not at.exception
    assert (figure["layout"]["xaxis"]["title"]["text"], figure["layout"]["yaxis"]["title"]["text"]) == ("z1", "z2")
    assert figure["layout"]["font"]["size"] == 20 and figure["layout"]["xaxis"]["title"]["font"]["size"] == 20
    assert at.select_slider(key="latent_map_timeline_epoch").value == 2  # in the lecture view's settings box


def test_a_hostile_code_file_is_left_out_and_a_run_without_codes_says_so(trained_runs, runs_root):
    edited = runs_root / "tiny-ae-timeline-edited"
    shutil.copytree(trained_runs["ae"], edited)
    layout.codes_path(edited, 5).write_bytes(pickle.dumps({"not": "codes"}))
    at = open_page("latent_map", edited)
    assert not at.exception
    warnings = [str(warning.value).replace("\\", "") for warning in at.warning]  # shown as plain text
    assert any(text.startswith("Left out of the timeline: codes/epoch_005.npy is not a timeline file")
               for text in warnings)
    assert str(runs_root) not in "\n".join(warnings)
    assert [frame["name"] for frame in _timeline_figure(at)["frames"]] == ["1", "2"]  # the others still play

    shutil.rmtree(edited / layout.CODES_DIR)  # a run trained before codes were stored
    at = open_page("latent_map", edited)
    assert not at.exception and not [figure for figure in at.get("plotly_chart")
                                     if json.loads(figure.proto.spec).get("frames")]
    assert "the timeline starts with runs trained from now on" in page_text(at)
    assert "Decoded standard basis vectors" in page_text(at)  # the rest of the page is there
