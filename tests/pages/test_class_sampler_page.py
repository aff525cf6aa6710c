"""Class sampler page: fitted samplers draw a row per class next to their nearest training images."""

from __future__ import annotations

from .conftest import open_page, page_text

CLASS_LABELS = [f"**{label}**" for label in range(10)]


def _row_labels(at) -> list[str]:
    return [str(block.value).split(" ")[0] for block in at.markdown if str(block.value).split(" ")[0] in CLASS_LABELS]


def _distance_captions(at) -> list[str]:
    return [str(caption.value).split("Distance to each: ")[1] for caption in at.caption
            if "Distance to each: " in str(caption.value)]


def _nearest_classes(at) -> list[list[str]]:
    return [str(caption.value).split("their classes: ")[1].split("  \n")[0].split(" · ") for caption in at.caption
            if "their classes: " in str(caption.value)]


def _fit_mixture(at, components: int, covariance: str):
    at.number_input(key="class_sampler_components").set_value(components)
    at.selectbox(key="class_sampler_covariance").set_value(covariance)
    return at.button(key="class_sampler_fit").click().run()  # the settings sit in a form


def test_small_mixture_draws_a_labelled_row_per_class_with_nearest_images(trained_runs):
    at = _fit_mixture(open_page("class_sampler", trained_runs["ae"]), 3, "diag")
    assert not at.exception and not at.error
    assert "Fitted a 3-component diag mixture per class to 4,500 encoded training images" in page_text(at)
    assert _row_labels(at) == CLASS_LABELS
    assert len(at.image) == 10  # one block per class: samples, nearest training images, reconstructions
    captions = _distance_captions(at)
    assert len(captions) == 10 and all(caption.count("·") == 7 for caption in captions)  # 8 per row
    nearest = _nearest_classes(at)
    assert len(nearest) == 10 and all(len(row) == 8 for row in nearest)
    assert all(name in [str(label) for label in range(10)] for row in nearest for name in row)
    assert "Largest K for this data: full 50" in page_text(at)  # 450 codes per class, 8-d: 450 // 9
    assert len(at.metric) == 2 and all(float(metric.value) > 0 for metric in at.metric)
    assert "class_sampler_download" in {button.key for button in at.get("download_button")}
    at.toggle(key="class_sampler_compare").set_value(False).run()
    assert len(at.image) == 10 and not _distance_captions(at) and not at.metric


def test_too_large_k_explains_itself_and_offers_the_suggested_k(trained_runs):
    at = _fit_mixture(open_page("class_sampler", trained_runs["ae"]), 200, "full")
    assert not at.exception
    assert len(at.error) == 1 and "try K = 50" in at.error[0].value
    assert not at.image
    at.button(key="class_sampler_use_suggested").click().run()
    assert not at.exception and not at.error
    assert at.number_input(key="class_sampler_components").value == 50
    assert "Fitted a 50-component full mixture per class" in page_text(at)
    assert _row_labels(at) == CLASS_LABELS


def test_single_gaussian_and_perturbed_codes_draw_one_chosen_class(trained_runs):
    at = open_page("class_sampler", trained_runs["vae8"])
    at.segmented_control(key="class_sampler_kind").set_value("gaussian").run()
    assert not at.exception
    at.slider(key="class_sampler_covariance_scale").set_value(0.2).run()
    assert _row_labels(at) == CLASS_LABELS and len(at.image) == 10
    at.radio(key="class_sampler_layout").set_value("one").run()
    at.selectbox(key="class_sampler_class").set_value(7).run()
    at.slider(key="class_sampler_total").set_value(25).run()
    assert not at.exception
    assert _row_labels(at) == ["**7**"] and len(at.image) == 3  # 25 samples in rows of 10
    assert [caption.count("·") + 1 for caption in _distance_captions(at)] == [10, 10, 5]
    at.segmented_control(key="class_sampler_kind").set_value("perturb").run()
    at.slider(key="class_sampler_noise").set_value(1.0).run()
    assert not at.exception and not at.error
    assert _row_labels(at) == ["**7**"] and len(at.image) == 3


def test_prior_has_no_classes_and_a_gan_is_turned_away(trained_runs):
    at = open_page("class_sampler", trained_runs["vae2"])
    at.segmented_control(key="class_sampler_kind").set_value("prior").run()
    assert not at.exception
    assert not _row_labels(at) and len(at.image) == 3  # 30 prior samples in rows of 10
    gan = open_page("class_sampler", trained_runs["dcgan"])
    assert not gan.exception and "has no encoder" in page_text(gan) and not gan.image


def test_a_row_of_samples_that_look_like_another_class_is_flagged(trained_runs, monkeypatch):
    import ui.model_notes
    from gen_core.metrics.verdicts import ClassMismatch

    monkeypatch.setattr(ui.model_notes, "class_mismatches",
                        lambda predictions: [ClassMismatch(3, 0.25, 5, 0.625)] if 3 in predictions else [])
    at = open_page("class_sampler", trained_runs["ae"])
    assert not at.exception
    flagged = [warning.value for warning in at.warning if "do not look like 3" in warning.value]
    assert len(flagged) == 1 and "calls 62% of them 5 and only 25% 3" in flagged[0]
    assert any("mostly show another class" in warning.value for warning in at.warning)
    assert "**3** :orange[:material/warning:]" in [str(block.value) for block in at.markdown]


def test_a_link_sets_the_sampler_and_the_samples(trained_runs):
    at = open_page("class_sampler", trained_runs["vae8"],
                   query={"sampler": "gaussian", "show": "one", "class": "7", "total": "20", "seed": "4"})
    assert not at.exception
    assert at.segmented_control(key="class_sampler_kind").value == "gaussian"
    assert _row_labels(at) == ["**7**"] and len(at.image) == 2
    assert at.query_params["class"] == "7" and at.query_params["sampler"] == "gaussian"


def _charts(at) -> dict[int, dict]:
    """The page's Plotly figures in page order: the BIC/AIC curve, then the component weights."""
    import json
    return {index: json.loads(chart.proto.spec) for index, chart in enumerate(at.get("plotly_chart"))}


def _trace(figure: dict, name: str) -> dict:
    return next(trace for trace in figure["data"] if str(trace.get("name", "")).startswith(name))


INSPECTOR_LINK = {"k": "3", "cov": "diag", "inspect": "1", "mixture_class": "3", "kmax": "6"}


def test_the_mixture_inspector_marks_the_lowest_bic_and_shows_each_component(trained_runs):
    at = open_page("class_sampler", trained_runs["ae"], query=INSPECTOR_LINK)
    assert not at.exception and not at.error
    criteria, weights = _charts(at).values()
    bic = _trace(criteria, "BIC")
    assert list(bic["x"]) == [1, 2, 3, 4, 5, 6] and len(_trace(criteria, "AIC")["y"]) == 6
    marked = _trace(criteria, "best K")
    assert marked["y"][0] == min(bic["y"]) and bic["y"][bic["x"].index(marked["x"][0])] == marked["y"][0]
    assert f"Lowest BIC at **K = {marked['x'][0]}**; the mixtures above use K = 3." in page_text(at)
    bars = weights["data"][0]
    assert list(bars["x"]) == [0, 1, 2] and abs(sum(bars["y"]) - 1) < 1e-6
    assert "**Each component's mean, decoded** (components 0 to 2, left to right)" in page_text(at)
    assert "**10 samples from component 0 only**" in page_text(at)


def test_picking_a_component_draws_from_that_component_only(trained_runs, monkeypatch):
    import gen_core.sampling

    used = []
    original = gen_core.sampling.draw_class_rows

    def spy(model, sampler, n_per_row, class_labels, seed=0):
        used.append((sampler, list(class_labels)))
        return original(model, sampler, n_per_row, class_labels, seed=seed)

    monkeypatch.setattr(gen_core.sampling, "draw_class_rows", spy)
    at = open_page("class_sampler", trained_runs["ae"], query=INSPECTOR_LINK)
    used.clear()
    at.selectbox(key="class_sampler_component").set_value(2).run()
    assert not at.exception and not at.error
    assert "**10 samples from component 2 only**" in page_text(at)
    one = [sampler for sampler, classes in used if getattr(sampler, "component", None) is not None]
    assert len(one) == 1 and one[0].component == 2 and [3] in [classes for _, classes in used]
    mixture = one[0].mixture_of(3)
    codes, _ = one[0].sample(200, class_label=3, seed=0)
    assert (mixture.predict(codes.double().numpy()) == 2).mean() > 0.8, "the codes come from component 2"
    weights = _charts(at)[1]["data"][0]
    assert weights["marker"]["color"][2] != weights["marker"]["color"][0], "the chosen bar stands out"


def test_a_hostile_component_in_the_link_is_refused_clearly(trained_runs):
    at = open_page("class_sampler", trained_runs["ae"], query={**INSPECTOR_LINK, "component": "7"})
    assert not at.exception
    assert [error.value for error in at.error] == [
        "There is no component 7: with K = 3 they are numbered 0 to 2. Showing component 0 instead."]
    assert at.selectbox(key="class_sampler_component").value == 0
    assert "**10 samples from component 0 only**" in page_text(at)
    for hostile, reason in (("999", "outside 0 to 249"), ("-1", "outside 0 to 249"), ("x'", "not a whole number")):
        at = open_page("class_sampler", trained_runs["ae"], query={**INSPECTOR_LINK, "component": hostile})
        assert not at.exception and not at.error
        assert f"component={hostile!r} ({reason})" in page_text(at).replace("\\", "")  # link values are escaped
        assert at.selectbox(key="class_sampler_component").value == 0
    at = open_page("class_sampler", trained_runs["ae"], query={**INSPECTOR_LINK, "kmax": "250"})
    assert "kmax='250' (outside 1 to 50)" in page_text(at).replace("\\", "")
    assert at.number_input(key="class_sampler_largest_k").value == 20, "the default curve, not 250 fits"


def test_the_curve_stops_at_the_largest_k_the_class_supports(trained_runs, monkeypatch):
    import gen_core.sampling

    monkeypatch.setattr(gen_core.sampling, "max_components", lambda count, dim, covariance: 4)
    at = open_page("class_sampler", trained_runs["ae"], query=INSPECTOR_LINK)
    assert not at.exception and not at.error
    assert "Class 3 has 450 codes in 8 dimensions: with diag covariances that supports at most K = 4, so the " \
           "curve stops there." in page_text(at)
    assert list(_trace(_charts(at)[0], "BIC")["x"]) == [1, 2, 3, 4]


def test_the_lecture_view_folds_the_inspector_settings(trained_runs):
    at = open_page("class_sampler", trained_runs["ae"], query={**INSPECTOR_LINK, "present": "1"})
    assert not at.exception and not at.error
    labels = [expander.label for expander in at.expander]
    assert "Mixture inspector settings" in labels and "Component" in labels
    assert len(at.get("plotly_chart")) == 2
