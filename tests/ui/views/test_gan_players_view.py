"""A GAN's two players drawn from its history: classes among the samples per grid epoch, and the
discriminator's beliefs on real and generated images at a chosen epoch."""

from ui.views.gan_players import class_shares_figure, d_histogram_figure, histogram_epochs

EPOCHS = [{"epoch": 1, "train_loss": 1.0},
          {"epoch": 2, "class_shares": [0.5, 0.5, 0.0], "d_histogram": {"real": [0, 2, 6], "fake": [5, 3, 0]}},
          {"epoch": 4, "class_shares": [0.0, 0.125, 0.875], "d_histogram": {"real": [0, 4, 4], "fake": [1, 6, 1]}}]


def test_the_class_shares_figure_stacks_each_class_over_the_grid_epochs():
    figure = class_shares_figure(EPOCHS, class_names=["zero", "one"])
    assert [trace.name for trace in figure.data] == ["zero", "one", "2"]
    assert all(list(trace.x) == [2, 4] and trace.stackgroup == "shares" for trace in figure.data)
    assert [list(trace.y) for trace in figure.data] == [[0.5, 0.0], [0.5, 0.125], [0.0, 0.875]]


def test_the_histogram_figure_shows_both_players_at_the_chosen_epoch():
    assert histogram_epochs(EPOCHS) == [2, 4]
    figure = d_histogram_figure(EPOCHS, 4)
    real, fake = figure.data
    assert list(real.y) == [0, 4, 4] and list(fake.y) == [1, 6, 1]
    assert [round(x, 3) for x in real.x] == [0.167, 0.5, 0.833] and "epoch 4" in figure.layout.title.text
    assert d_histogram_figure(EPOCHS, 1) is None, "epoch 1 drew no grid"


def test_a_history_without_them_or_with_bad_values_draws_nothing():
    assert class_shares_figure([{"epoch": 1, "train_loss": 1.0}]) is None and histogram_epochs([]) == []
    edited = [{"epoch": 1, "class_shares": [0.9, 0.9], "d_histogram": {"real": [1], "fake": ["x"]}},
              {"epoch": "2", "class_shares": [1.0]}, "not an entry"]
    assert class_shares_figure(edited) is None and histogram_epochs(edited) == []
    assert d_histogram_figure(edited, 1) is None
