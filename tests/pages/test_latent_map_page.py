"""Latent map page: the PCA scatter and its class filter, the spectrum, decoded landmarks, the GAN note,
the nearest training images, a drawing marked on the map."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import numpy as np

from gen_core.data import load_dataset
from gen_core.latent import build_latent_map, encode_dataset, project_to_map
from gen_core.run.checkpoint import load_run

from .conftest import open_page, page_text


def _figures(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _values(field) -> np.ndarray:
    """A Plotly array, which Plotly 6+ writes as base64 typed data ({"dtype", "bdata"})."""
    if isinstance(field, dict) and "bdata" in field:
        return np.frombuffer(base64.b64decode(field["bdata"]), dtype=np.dtype(field["dtype"]))
    return np.asarray(field)


def _spectrum(at) -> dict:
    return next(figure for figure in _figures(at) if figure["data"][0].get("name") == "eigenvalue")


def _scatter_classes(at) -> list[str]:
    return [trace["name"] for trace in _figures(at)[0]["data"] if not trace["name"].startswith("image #")]


def test_scatter_has_a_trace_per_class_and_the_filter_narrows_it(trained_runs):
    at = open_page("latent_map", trained_runs["ae"])
    assert not at.exception
    assert _scatter_classes(at) == [str(label) for label in range(10)]
    points = sum(len(_values(trace["x"])) for trace in _figures(at)[0]["data"] if trace["name"] in _scatter_classes(at))
    assert points == 500  # every test image of the MNIST sample
    at.multiselect(key="latent_map_classes").set_value([0, 1]).run()
    assert not at.exception
    assert _scatter_classes(at) == ["0", "1"]
    at.button(key="latent_map_preset_4_vs_9").click().run()
    assert _scatter_classes(at) == ["4", "9"]
    assert at.multiselect(key="latent_map_classes").value == [4, 9]
    at.button(key="latent_map_preset_all").click().run()
    assert len(_scatter_classes(at)) == 10


def test_spectrum_point_view_and_landmarks(trained_runs):
    at = open_page("latent_map", trained_runs["ae"])
    bars, cumulative = _spectrum(at)["data"]
    assert bars["type"] == "bar" and len(_values(bars["x"])) == 8  # one eigenvalue per latent dimension
    assert abs(_values(cumulative["y"])[-1] - 100) < 1e-6
    at.number_input(key="latent_map_index").set_value(42).run()
    assert not at.exception
    assert any(image.captions[0].startswith("Test image #42, class ") for image in at.image if image.captions)
    text = page_text(at)
    assert "Decoded standard basis vectors" in text and "Decoded mean code of each class" in text
    at.selectbox(key="latent_map_mean_from").set_value(0).run()
    assert "mean(0)" in page_text(at)
    assert {button.key for button in at.get("download_button")} >= {"latent_map_basis_download",
                                                                    "latent_map_path_download"}


def test_the_projector_zip_holds_the_whole_test_set(trained_runs, deferred_downloads):
    at = open_page("latent_map", trained_runs["ae"])
    assert "latent_map_projector_download" in {button.key for button in at.get("download_button")}
    with zipfile.ZipFile(io.BytesIO(deferred_downloads["tiny-ae-projector.zip"]())) as archive:
        assert sorted(archive.namelist()) == [f"tiny-ae-projector/{name}" for name in
                                              ("metadata.tsv", "projector_config.pbtxt", "sprite.png", "tensors.tsv")]
        tensors = archive.read("tiny-ae-projector/tensors.tsv").decode().splitlines()
        metadata = archive.read("tiny-ae-projector/metadata.tsv").decode().splitlines()
    assert len(tensors) == 500 and len(metadata) == 501 and len(tensors[0].split("\t")) == 8


def test_a_vae_shows_its_encoder_as_a_distribution(trained_runs):
    at = open_page("latent_map", trained_runs["vae8"], query={"img": "12"})
    assert not at.exception
    names = [trace["name"] for trace in _figures(at)[0]["data"]]
    assert {"image #12: 1σ", "image #12: 2σ", "image #12: posterior mean"} <= set(names)
    assert "The encoder as a distribution: test image #12" in page_text(at)
    bars = next(figure for figure in _figures(at) if figure["data"][0].get("name") == "this image")
    assert [trace["name"] for trace in bars["data"]] == ["this image", "test-set average"]
    assert len(bars["data"][0]["x"]) == 8 and "bars sum to its KL term" in page_text(at)
    assert "Eight codes drawn from the encoder's distribution" in page_text(at)
    plain_ae = open_page("latent_map", trained_runs["ae"])
    assert "The encoder as a distribution" not in page_text(plain_ae)
    assert not any(name.endswith("σ") for name in (t["name"] for t in _figures(plain_ae)[0]["data"]))


def test_manifold_grid_only_for_a_two_dimensional_latent(trained_runs):
    two_d = open_page("latent_map", trained_runs["vae2"])
    assert not two_d.exception
    assert "Manifold of the 2-D latent space" in page_text(two_d)
    two_d.slider(key="latent_map_manifold_size").set_value(6).run()
    assert not two_d.exception and "latent_map_manifold_download" in {b.key for b in two_d.get("download_button")}
    eight_d = open_page("latent_map", trained_runs["vae8"])
    assert not eight_d.exception
    assert "Manifold of the 2-D latent space" not in page_text(eight_d)
    assert "needs a 2-d latent space" in page_text(eight_d)


def test_gan_gets_a_clear_message(trained_runs):
    at = open_page("latent_map", trained_runs["dcgan"])
    assert not at.exception
    assert "has no encoder" in page_text(at)
    assert not at.get("plotly_chart")


def test_the_chosen_point_is_ringed_and_a_click_fades_nothing(trained_runs):
    at = open_page("latent_map", trained_runs["ae"])
    at.number_input(key="latent_map_index").set_value(42).run()
    traces = _figures(at)[0]["data"]
    ring = [trace for trace in traces if trace["name"] == "image #42"]
    assert len(ring) == 1 and ring[0]["marker"]["symbol"] == "circle-open"
    classes = [trace for trace in traces if trace["name"] != "image #42"]
    assert all(trace["unselected"]["marker"]["opacity"] == trace["marker"]["opacity"] for trace in classes)
    assert len({trace["marker"]["color"] for trace in classes}) == 10  # one colour per class
    assert len({trace["marker"]["symbol"] for trace in classes}) == 10  # and one shape per class
    assert all(trace["marker"]["size"] >= 8 for trace in classes)


def test_a_link_shows_the_classes_and_the_image_it_names(trained_runs):
    at = open_page("latent_map", trained_runs["ae"], query={"classes": "4,9", "img": "17", "from": "4", "to": "9"})
    assert not at.exception
    assert _scatter_classes(at) == ["4", "9"] and at.number_input(key="latent_map_index").value == 17
    assert "mean(4)" in page_text(at) and "mean(9)" in page_text(at)
    assert at.query_params["classes"] == "4,9" and at.query_params["img"] == "17"


def _map_figures(at) -> list[dict]:
    """The scatter maps: the figures whose legend is titled "class" (the training timeline's animation left out)."""
    return [figure for figure in _figures(at)
            if figure["layout"].get("legend", {}).get("title", {}).get("text") == "class" and not figure.get("frames")]


def _points(figure) -> int:
    return sum(len(_values(trace["x"])) for trace in figure["data"] if not trace["name"].startswith("image #"))


def test_a_second_model_gets_a_map_of_the_same_test_images_beside_the_first(trained_runs):
    at = open_page("latent_map", trained_runs["ae"], query={"img": "12"})
    assert len(_map_figures(at)) == 1
    at.selectbox(key="compare_run").set_value("tiny-vae8").run()
    assert not at.exception
    first, second = _map_figures(at)
    assert _points(first) == _points(second) == 500  # the same test images, encoded by each model
    assert first["layout"]["height"] == second["layout"]["height"]
    assert "image #12: 1σ" in [trace["name"] for trace in second["data"]]  # the VAE's ellipses, on its own map
    assert "image #12: 1σ" not in [trace["name"] for trace in first["data"]]
    titles = [str(element.value).split(" · ")[0] for element in at.markdown if " · " in str(element.value)]
    assert titles == ["**tiny-ae**", "**tiny-vae8**"]  # each map labelled with its run's name, as text
    assert [image.captions[0] for image in at.image if image.captions and "Reconstructed by" in image.captions[0]] \
        == ["Reconstructed by tiny-ae", "Reconstructed by tiny-vae8"]
    assert at.query_params["vs"] == "tiny-vae8"
    at.multiselect(key="latent_map_classes").set_value([4, 9]).run()
    assert [_points(figure) for figure in _map_figures(at)] == [_points(_map_figures(at)[0])] * 2
    assert "tiny-dcgan" not in str(at.selectbox(key="compare_run").options)  # no encoder, no map
    lecture = open_page("latent_map", trained_runs["ae"], query={"vs": "tiny-vae8", "present": "1"})
    assert not lecture.exception
    assert [figure["layout"]["height"] for figure in _map_figures(lecture)] == [420, 420]


def test_a_link_to_a_second_model_that_is_not_here_or_cannot_encode_these_images_is_said_so(trained_runs, tile_run):
    other_size = open_page("latent_map", trained_runs["ae"], query={"vs": tile_run.name})
    assert not other_size.exception and len(_map_figures(other_size)) == 1
    assert "draws 1x16x16 images, not 1x28x28 like these test images" in page_text(other_size)
    at = open_page("latent_map", trained_runs["ae"], query={"vs": "no-such-run"})
    assert not at.exception
    assert len(_map_figures(at)) == 1 and "not among the models" in page_text(at)
    hostile = open_page("latent_map", trained_runs["ae"], query={"vs": "../tiny-vae8"})
    assert not hostile.exception and len(_map_figures(hostile)) == 1 and "Ignored in the link" in page_text(hostile)


def _arithmetic_captions(at) -> list[str]:
    return [image.captions[0] for image in at.image if image.captions and image.captions[0].startswith("A (test")]


def test_latent_arithmetic_moves_the_chosen_image_from_its_class_towards_another(trained_runs):
    from gen_core.data import load_dataset

    four = int((load_dataset("mnist5k").test_labels == 4).nonzero()[0])
    at = open_page("latent_map", trained_runs["ae"], query={"img": str(four)})
    assert not at.exception
    assert _arithmetic_captions(at) == [f"A (test image #{four}, class 4), then decode(A + s · (mean(9) − mean(4))) "
                                        "for s = 0, 0.5, 1, 1.5"]
    assert at.query_params["afrom"] == "4" and at.query_params["ato"] == "9"
    at.selectbox(key="latent_map_add_to").set_value(7).run()
    assert "mean(7) − mean(4)" in _arithmetic_captions(at)[0] and at.query_params["ato"] == "7"
    at.selectbox(key="latent_map_add_to").set_value(4).run()
    assert not at.exception and not _arithmetic_captions(at)
    assert "Choose two different classes" in page_text(at)


def test_a_hostile_arithmetic_link_is_ignored_and_an_unlabelled_set_says_why(trained_runs, tile_run):
    at = open_page("latent_map", trained_runs["ae"], query={"img": "3", "afrom": "12", "ato": "<b>9</b>"})
    assert not at.exception
    assert "Ignored in the link" in page_text(at) and "afrom" in page_text(at) and "ato" in page_text(at)
    assert len(_arithmetic_captions(at)) == 1  # the defaults instead: the image's own class, towards another
    linked = open_page("latent_map", trained_runs["ae"], query={"img": "3", "afrom": "1", "ato": "8"})
    assert "mean(8) − mean(1)" in _arithmetic_captions(linked)[0]
    tiles = open_page("latent_map", tile_run)
    assert not tiles.exception and not _arithmetic_captions(tiles)
    assert "no class labels" in page_text(tiles) and "latent arithmetic" in page_text(tiles)
def _captions_starting(at, prefix: str) -> list[str]:
    return [caption for image in at.image for caption in (image.captions or []) if caption.startswith(prefix)]


def test_the_chosen_test_image_has_its_nearest_training_images_in_both_spaces(trained_runs):
    at = open_page("latent_map", trained_runs["ae"], query={"img": "42"})
    assert not at.exception
    text = page_text(at)
    assert "Nearest training images to test image #42" in text
    assert "Nearest in latent space" in text and "Nearest in pixel space" in text
    euclidean = _captions_starting(at, "\\#")
    assert len(euclidean) == 16 and all(" · class " in caption and " · d = " in caption for caption in euclidean)
    at.radio(key="latent_map_neighbours_metric").set_value("cosine").run()
    at.select_slider(key="latent_map_neighbours_count").set_value(4).run()
    cosine = _captions_starting(at, "\\#")
    assert len(cosine) == 8 and cosine != euclidean[:4] + euclidean[8:12]
    assert all(0 <= float(caption.split("d = ")[1]) <= 2 for caption in cosine)  # 1 - cos lies in [0, 2]


def test_a_drawing_is_marked_as_a_star_and_shown_with_its_reconstruction_and_neighbours(trained_runs):
    train = load_dataset("mnist5k").train_images
    drawn = (train[7, 0].numpy() * 255).round().astype(np.uint8)  # a training digit, drawn to the pixel
    empty = open_page("latent_map", trained_runs["ae"])
    assert "Draw a digit in the box" in page_text(empty)
    assert "your drawing" not in [trace["name"] for trace in _figures(empty)[0]["data"]]
    at = open_page("latent_map", trained_runs["ae"], latent_map_draw_pixels=drawn)
    assert not at.exception
    star = [trace for trace in _figures(at)[0]["data"] if trace["name"] == "your drawing"]
    assert len(star) == 1 and star[0]["marker"]["symbol"] == "star"
    model = load_run(trained_runs["ae"]).model
    latent_map = build_latent_map(model, load_dataset("mnist5k").test_images)
    expected = project_to_map(encode_dataset(model, train[7:8]), latent_map)[0]
    assert np.allclose([_values(star[0]["x"])[0], _values(star[0]["y"])[0]], expected, atol=1e-4)
    assert "Your drawing as the model takes it" in page_text(at)
    assert "Nearest training images to your drawing" in page_text(at)
    neighbours = _captions_starting(at, "\\#")  # the test image's 8 + 8, then the drawing's
    assert len(neighbours) == 32
    for nearest in (neighbours[16], neighbours[24]):  # first in latent space, first in pixel space: itself
        assert nearest.startswith("\\#7 · ") and float(nearest.split("d = ")[1]) < 1e-4


def test_a_refused_drawing_says_why_in_one_line_and_marks_nothing(trained_runs):
    for hostile, reason in ((np.broadcast_to(np.zeros(1, dtype=np.uint8), (5000, 5000)), "above the limit"),
                            (np.full((28, 28), np.nan), "not numbers"), ("<b>7</b>", "not a str")):
        at = open_page("latent_map", trained_runs["ae"], latent_map_draw_pixels=hostile)
        assert not at.exception
        errors = [error.value for error in at.error]
        assert any(error.startswith("The drawing could not be used") and reason in error for error in errors)
        assert "your drawing" not in [trace["name"] for trace in _figures(at)[0]["data"]]
    blank = open_page("latent_map", trained_runs["ae"], latent_map_draw_pixels=np.zeros((280, 280, 4), np.uint8))
    assert "Draw a digit in the box" in page_text(blank) and not blank.error  # a blank pad asks, nothing more
def _class_points(at) -> int:
    traces = _figures(at)[0]["data"]
    return sum(len(_values(trace["x"])) for trace in traces if trace["name"] in _scatter_classes(at))


def test_choosing_t_sne_maps_every_test_image_and_the_link_keeps_it(trained_runs):
    at = open_page("latent_map", trained_runs["vae8"], query={"img": "12"})
    pca_x = np.sort(np.concatenate([_values(t["x"]) for t in _figures(at)[0]["data"] if t["name"].isdigit()]))
    at.radio(key="latent_map_projection").set_value("tsne").run()
    assert not at.exception and not at.error
    assert _class_points(at) == 500  # one point per test image of the MNIST sample
    figure = _figures(at)[0]
    t_sne_x = np.sort(np.concatenate([_values(t["x"]) for t in figure["data"] if t["name"].isdigit()]))
    assert not np.allclose(t_sne_x, pca_x) and figure["layout"]["xaxis"]["title"]["text"] == "t-SNE 1"
    assert "The test set in a 2-D t-SNE of its 8-d codes" in page_text(at)
    assert not any(t["name"].endswith("σ") for t in figure["data"])  # the ellipses belong to the PCA plane
    assert "ellipses are drawn on the 2-D PCA map only" in page_text(at)
    assert any(t["name"] == "image #12" for t in figure["data"])  # the chosen image is still ringed
    at.slider(key="latent_map_perplexity").set_value(12).run()
    assert not at.exception and _class_points(at) == 500
    assert at.query_params["proj"] == "tsne" and at.query_params["perp"] == "12"
    linked = open_page("latent_map", trained_runs["vae8"], query={"proj": "tsne", "perp": "12"})
    assert not linked.exception and linked.radio(key="latent_map_projection").value == "tsne"
    assert linked.slider(key="latent_map_perplexity").value == 12 and _class_points(linked) == 500
    np.testing.assert_allclose(  # the same picture from the link (a fixed seed)
        np.sort(np.concatenate([_values(t["x"]) for t in _figures(linked)[0]["data"] if t["name"].isdigit()])),
        np.sort(np.concatenate([_values(t["x"]) for t in _figures(at)[0]["data"] if t["name"].isdigit()])))
    assert "The encoder as a distribution: test image #12" in page_text(at)  # the PCA-side parts stay
    assert _spectrum(at)["data"][0]["type"] == "bar"


def test_a_3d_pca_and_hostile_projection_links(trained_runs):
    at = open_page("latent_map", trained_runs["ae"], query={"proj": "pca", "3d": "1"})
    assert not at.exception
    traces = _figures(at)[0]["data"]
    assert {trace["type"] for trace in traces} == {"scatter3d"} and _class_points(at) == 500
    assert "These three principal directions hold" in page_text(at)
    flat = open_page("latent_map", trained_runs["vae2"], query={"proj": "pca", "3d": "1"})
    assert not flat.exception and flat.toggle(key="latent_map_3d").value is False  # a 2-d code has no third axis
    hostile = open_page("latent_map", trained_runs["ae"], query={"proj": "isomap", "perp": "5000", "nn": "-1",
                                                                 "mind": "nan", "3d": "maybe"})
    assert not hostile.exception and not hostile.error
    notice = "\n".join(caption.value for caption in hostile.caption)
    for name in ("proj", "perp", "nn", "mind", "3d"):
        assert f"{name}=" in notice
    assert hostile.radio(key="latent_map_projection").value == "pca"


def test_a_umap_link_draws_a_3d_map_of_every_test_image_with_its_settings(trained_runs):
    at = open_page("latent_map", trained_runs["ae"], timeout=180,  # the first UMAP in a process compiles it
                   query={"proj": "umap", "nn": "10", "mind": "0.3", "3d": "1", "img": "7"})
    assert not at.exception and not at.error
    assert at.slider(key="latent_map_umap_neighbours").value == 10 and at.slider(key="latent_map_min_dist").value == 0.3
    figure = _figures(at)[0]
    assert {trace["type"] for trace in figure["data"]} == {"scatter3d"} and _class_points(at) == 500
    assert figure["layout"]["scene"]["zaxis"]["title"]["text"] == "UMAP 3"
    assert "a 3-D view takes no clicks" in page_text(at) and "UMAP keeps each code's neighbours" in page_text(at)
    assert (at.query_params["proj"], at.query_params["nn"], at.query_params["3d"]) == ("umap", "10", "1")


def test_a_perplexity_beyond_a_smaller_test_set_is_brought_back_into_range(trained_runs, monkeypatch):
    from ui import projection_widgets

    monkeypatch.setattr(projection_widgets, "MAX_PROJECTION_POINTS", 40)  # as if the test set held 40 images
    at = open_page("latent_map", trained_runs["ae"], latent_map_projection="tsne", latent_map_perplexity=90)
    assert not at.exception and not at.error
    assert at.slider(key="latent_map_perplexity").value == 30 and at.slider(key="latent_map_perplexity").max == 39


def test_a_second_model_a_t_sne_map_and_a_drawing_together(trained_runs):
    """Both maps in the same projection; the drawing keeps its reconstruction and neighbours, and says
    why it has no star on a t-SNE map."""
    drawn = (load_dataset("mnist5k").train_images[7, 0].numpy() * 255).round().astype(np.uint8)
    at = open_page("latent_map", trained_runs["ae"], query={"vs": "tiny-vae8", "proj": "tsne", "perp": "10"},
                   latent_map_draw_pixels=drawn)
    assert not at.exception
    maps = _map_figures(at)
    assert len(maps) == 2 and _points(maps[0]) == _points(maps[1]) == 500
    assert all("your drawing" not in [trace["name"] for trace in figure["data"]] for figure in maps)
    text = page_text(at)
    assert "PCA map only" in text and "Your drawing as the model takes it" in text
    assert "Nearest training images to your drawing" in text
