"""A GAN's two players in its history: at grid epochs, the classifier's share of each class among the
fixed-noise samples and histograms of D(x) and D(G(z)); recorded only where they mean something."""

from __future__ import annotations

import pytest
import torch

from gen_core.data import ImageDataset
from gen_core.metrics.classes import digit_share_scorer
from gen_core.models.dcgan import D_HISTOGRAM_BINS
from gen_core.run.record import check_history
from gen_core.training import TrainConfig, Trainer


@pytest.fixture(scope="module")
def digit_shares(tmp_path_factory, mnist_small):
    """The digit classifier's shares, trained once for the module into a folder of its own."""
    return digit_share_scorer(mnist_small, tmp_path_factory.mktemp("feature-nets"))


@pytest.mark.parametrize("case", ["dcgan", "vaegan"])
def test_a_gan_records_class_shares_and_d_histograms_at_its_grid_epochs(case, build_tiny, mnist_small, digit_shares):
    trainer = Trainer(build_tiny(case), mnist_small, TrainConfig(epochs=2, batch_size=64, device="cpu",
                                                                 sample_count=16, sample_epochs=(2,)))
    trainer.class_shares = digit_shares
    history = trainer.fit()
    first, second = history["epochs"]
    assert "class_shares" not in first and "d_histogram" not in first, "epoch 1 drew no grid"
    shares = second["class_shares"]
    assert len(shares) == 10 and all(0 <= share <= 1 for share in shares) and sum(shares) == pytest.approx(1)
    assert all(share * 16 == round(share * 16) for share in shares), "shares of the 16 fixed-noise samples"
    histogram = second["d_histogram"]
    assert len(histogram["real"]) == len(histogram["fake"]) == D_HISTOGRAM_BINS
    assert sum(histogram["real"]) == 16 and sum(histogram["fake"]) == 16, "every scored image is counted once"
    assert check_history(history)["epochs"][1]["d_histogram"] == histogram, "the saved schema takes them"


def test_models_that_are_not_gans_and_data_that_are_not_digits_record_neither(build_tiny, mnist_small,
                                                                              digit_shares):
    trainer = Trainer(build_tiny("vae-mlp"), mnist_small, TrainConfig(epochs=1, batch_size=128, device="cpu",
                                                                       sample_count=16))
    trainer.class_shares = digit_shares
    entry = trainer.fit()["epochs"][0]
    assert "class_shares" not in entry and "d_histogram" not in entry
    images = torch.rand(20, 1, 8, 8)
    letters = ImageDataset("letters", images, images[:5], torch.zeros(20, dtype=torch.long),
                           torch.zeros(5, dtype=torch.long), ["a", "b"])
    unlabelled = ImageDataset("photos", images, images[:5], None, None, [])
    assert digit_share_scorer(letters) is None and digit_share_scorer(unlabelled) is None


def test_without_a_classifier_a_gan_still_records_its_d_histograms(build_tiny, mnist_small):
    trainer = Trainer(build_tiny("dcgan"), mnist_small, TrainConfig(epochs=1, batch_size=128, device="cpu",
                                                                    sample_count=9))
    entry = trainer.fit()["epochs"][0]
    assert "class_shares" not in entry and sum(entry["d_histogram"]["fake"]) == 9
