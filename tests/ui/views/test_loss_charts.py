"""Loss-curve figures: which terms get a panel, where batch losses sit on the epoch axis."""

import math

import pytest

from gen_core.models import DCGAN, VAE
from ui.views.loss_charts import (estimate_steps_per_epoch, kl_schedule_figure, loss_curves_figure, loss_terms,
                                  loss_thumbnail_figure, step_positions)

# 20 batches per epoch, a step logged every 5: steps 5, 10, 15, 20 in epoch 1, 25..40 in epoch 2
VAE_STEPS = [{"step": s, "epoch": 1 + (s - 1) // 20, "loss": 200.0 - s, "reconstruction": 190.0 - s, "kl": 10.0}
             for s in range(5, 41, 5)]
VAE_EPOCHS = [{"epoch": e, "train_loss": 190.0 - 10 * e, "train_reconstruction": 180.0 - 10 * e, "train_kl": 10.0,
               "test_loss": 195.0 - 10 * e, "test_reconstruction": 185.0 - 10 * e, "test_kl": 10.0,
               "images_per_sec": 1000.0, "elapsed": 1.0 * e} for e in (1, 2)]


def test_loss_comes_first_and_bookkeeping_keys_are_not_terms():
    assert loss_terms(VAE_STEPS, VAE_EPOCHS) == ["loss", "reconstruction", "kl"]


def test_a_term_identical_to_the_loss_gets_no_panel():
    steps = [{"step": 10, "epoch": 1, "loss": 3.0, "reconstruction": 3.0}]
    epochs = [{"epoch": 1, "train_loss": 2.0, "train_reconstruction": 2.0,
               "test_loss": 2.5, "test_reconstruction": 2.5}]
    assert loss_terms(steps, epochs) == ["loss"]
    epochs[0]["test_reconstruction"] = 2.4  # differs once: keep it
    assert loss_terms(steps, epochs) == ["loss", "reconstruction"]


def test_steps_per_epoch_estimate_is_exact_when_the_last_batch_is_logged():
    assert estimate_steps_per_epoch(VAE_STEPS) == pytest.approx(20.0)
    assert estimate_steps_per_epoch([]) is None


def test_step_positions_put_the_end_of_epoch_e_at_e():
    positions = step_positions(VAE_STEPS)
    assert positions[3] == pytest.approx(1.0) and positions[-1] == pytest.approx(2.0)
    assert positions[0] == pytest.approx(0.25)
    # a known batch count wins over the estimate (during epoch 1 the estimate cannot know it)
    assert step_positions(VAE_STEPS[:2], steps_per_epoch=20) == pytest.approx([0.25, 0.5])
    assert step_positions(VAE_STEPS[:2]) == pytest.approx([0.5, 1.0])


def test_curves_figure_has_a_panel_per_term_with_train_and_test():
    figure = loss_curves_figure(VAE_STEPS, VAE_EPOCHS, steps_per_epoch=20, titles=VAE.loss_titles)
    titles = [annotation.text for annotation in figure.layout.annotations]
    assert titles == ["Total loss", "Reconstruction", "KL divergence"]
    names = [trace.name for trace in figure.data]
    assert names.count("test (epoch mean)") == 3 and names.count("train (batches)") == 3
    test_loss = next(t for t in figure.data if t.name == "test (epoch mean)")
    assert list(test_loss.y) == [185.0, 175.0] and list(test_loss.x) == [1, 2]
    assert sum(trace.showlegend is not False for trace in figure.data) == 3  # one legend entry per kind


def test_curves_figure_without_history_is_an_empty_panel_not_an_error():
    figure = loss_curves_figure([], [])
    assert len(figure.data) == 0 and figure.layout.annotations[0].text == "Total loss"


def test_many_steps_are_thinned_and_nan_is_kept_as_a_gap():
    steps = [{"step": s, "epoch": 1 + (s - 1) // 1000, "loss": 1.0} for s in range(1, 5001)]
    steps[10]["loss"] = math.nan  # step 11, at x = 0.011
    steps[4000]["loss"] = math.inf  # step 4001, at x = 4.001
    figure = loss_curves_figure(steps, [], steps_per_epoch=1000)
    xs, ys = list(figure.data[0].x), list(figure.data[0].y)
    assert 1000 <= len(xs) <= 1500 and xs == sorted(xs)
    gaps = [x for x, y in zip(xs, ys) if y is None]
    assert len(gaps) == 2 and all(y == 1.0 for y in ys if y is not None)
    # each gap sits where its step was, to within the thinning stride (every 4th step is kept)
    assert gaps[0] == pytest.approx(0.011, abs=0.004) and gaps[1] == pytest.approx(4.001, abs=0.004)
    # Plotly breaks a line at a None: the figure's JSON carries null there, not a bridged point
    assert figure.to_plotly_json()["data"][0]["y"].count(None) == 2


def test_a_nan_among_few_steps_is_a_gap_too():
    steps = [{"step": s, "epoch": 1, "loss": 2.0} for s in range(1, 11)]
    steps[4]["loss"] = math.nan
    ys = list(loss_curves_figure(steps, [], steps_per_epoch=10).data[0].y)
    assert ys == [2.0] * 4 + [None] + [2.0] * 5


def test_thumbnail_falls_back_to_the_first_term_for_gans():
    epochs = [{"epoch": 1, "train_generator": 2.0, "test_generator": 2.1, "train_discriminator": 1.0}]
    figure = loss_thumbnail_figure(epochs, titles=DCGAN.loss_titles)
    assert "Generator" in figure.layout.title.text
    assert [trace.name for trace in figure.data] == ["train", "test"] and figure.layout.height == 150


def test_the_kl_schedule_panel_holds_the_history_active_units_and_beta():
    epochs = [{**entry, "active_units": units, "beta": beta}
              for entry, units, beta in zip(VAE_EPOCHS, (7, 5), (0.0, 0.5))]
    figure = kl_schedule_figure(epochs, latent_dim=8)
    assert [annotation.text for annotation in figure.layout.annotations] == [
        "Active latent units", "Beta (weight of the KL term)"]
    units, beta = figure.data
    assert list(units.x) == [1, 2] and list(units.y) == [7, 5] and list(beta.y) == [0.0, 0.5]
    assert list(figure.layout.yaxis.range) == [-0.5, 8.5], "the axis spans the whole latent"
    assert loss_terms([], epochs) == ["loss", "reconstruction", "kl"], "neither becomes a loss panel"


def test_no_kl_schedule_panel_without_the_numbers_and_active_units_alone_for_a_vae_gan():
    assert kl_schedule_figure(VAE_EPOCHS) is None, "an older run's history records neither"
    assert kl_schedule_figure([{"epoch": 1, "train_loss": 1.0, "test_loss": 1.0}]) is None, "an autoencoder"
    assert kl_schedule_figure([]) is None
    assert kl_schedule_figure([{"epoch": 1, "beta": float("nan")}]) is None
    figure = kl_schedule_figure([{"epoch": 1, "active_units": 3}, {"epoch": 2, "active_units": 4}])
    assert [annotation.text for annotation in figure.layout.annotations] == ["Active latent units"]
    assert list(figure.data[0].y) == [3, 4] and len(figure.data) == 1


def test_changes_made_while_training_are_dotted_lines_on_every_panel_labelled_once():
    controls = [{"step": 10, "epoch": 1, "lr": 1e-4}, {"step": 30, "epoch": 2, "beta": 4.0},
                {"step": 30, "epoch": 2, "d_steps": 3, "g_steps": 1}]
    figure = loss_curves_figure(VAE_STEPS, VAE_EPOCHS, steps_per_epoch=20, controls=controls)
    lines = [(shape.x0, shape.line.dash) for shape in figure.layout.shapes]
    assert lines == [(0.5, "dot")] * 3 + [(1.5, "dot")] * 6, "three panels, one line each per change"
    labels = [annotation.text for annotation in figure.layout.annotations][3:]
    assert labels == ["lr 0.0001", "beta 4", "D:G 3:1"]
    assert not loss_curves_figure(VAE_STEPS, VAE_EPOCHS, steps_per_epoch=20).layout.shapes


def test_rows_of_panels_leave_room_for_lecture_sized_text():
    """An axis title and the next row's panel title must not meet: at 20 px text (the lecture view's)
    the gap between rows is at least six lines of it, in pixels of the plotting area."""
    terms = {f"term{index}": 1.0 for index in range(5)}
    steps = [{"step": step, **terms} for step in range(1, 30)]
    for font_px in (13, 20):
        figure = loss_curves_figure(steps, [], steps_per_epoch=10, columns=2, font_px=font_px)
        plot_px = figure.layout.height - figure.layout.margin.t - figure.layout.margin.b
        first_row, second_row = figure.layout.yaxis.domain, figure.layout.yaxis3.domain
        assert (first_row[0] - second_row[1]) * plot_px >= 5 * font_px + 30 - 1
