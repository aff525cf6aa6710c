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
