"""Each metric on cases whose answer is known: distances, SSIM, sharpness, likelihood bounds,
the feature classifier and the class scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torchvision.transforms.functional import gaussian_blur

from gen_core.data import load_dataset
from gen_core.errors import DatasetError, ModelConfigError
from gen_core.metrics import (better_value, class_accuracy, extract_features, frechet_distance, gradient_magnitude,
                              laplacian_variance, likelihood_scores, load_or_train_feature_net, mean_pairwise_mse,
                              median_heuristic_bandwidth, mmd_squared, mode_coverage, nearest_neighbour_mse,
                              per_image_bce, per_image_mse, predict_classes, reconstruction_scores, ssim_per_image)
from gen_core.metrics.features import FEATURE_NET_INFO_FILE, FEATURE_NET_WEIGHTS_FILE, FeatureTraining, feature_net_dir
from gen_core.models import build_model
from gen_core.training import TrainConfig, Trainer


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def feature_net(digits, tmp_path_factory):
    return load_or_train_feature_net(digits, root=tmp_path_factory.mktemp("feature-nets"))


@pytest.fixture(scope="module")
def trained_vae(mnist_small):
    """A small MLP VAE after 3 epochs on 384 MNIST digits: its posterior is far from exact, so the
    IWAE bound has room to tighten (about 12 nats from k = 1 to k = 64)."""
    torch.manual_seed(0)
    model = build_model("vae", image_shape=mnist_small.image_shape, hidden=(64,), latent_dim=4)
    Trainer(model, mnist_small, TrainConfig(epochs=3, batch_size=32, lr=2e-3, device="cpu")).fit()
    return model.eval()


def _gaussian_cloud(n: int, dim: int = 8, shift: float = 0.0, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed)) + shift


# -- MMD -----------------------------------------------------------------------------------------
def test_mmd_of_a_set_with_itself_is_about_zero_and_grows_with_a_shift():
    base = _gaussian_cloud(300)
    assert abs(mmd_squared(base, base)) < 0.01
    values = [mmd_squared(base, _gaussian_cloud(300, shift=shift, seed=1)) for shift in (0.0, 0.25, 0.5, 1.0)]
    assert abs(values[0]) < 0.01  # a second draw from the same distribution
    assert values[0] < values[1] < values[2] < values[3]
    assert values[3] > 20 * max(abs(values[0]), 1e-3)


def test_mmd_matches_the_closed_form_for_two_point_masses():
    # X = {a, a}, Y = {b, b}: MMD_u^2 = k(a,a) + k(b,b) - 2 k(a,b) = 2 - 2 exp(-d^2 / (2 sigma^2)).
    x = torch.zeros(2, 3)
    y = torch.tensor([[3.0, 4.0, 0.0]] * 2)  # distance 5
    assert mmd_squared(x, y, bandwidth=5.0) == pytest.approx(2 - 2 * math.exp(-0.5), rel=1e-9)


def test_median_heuristic_is_the_median_pairwise_distance():
    points = torch.tensor([[0.0], [1.0], [3.0]])  # distances 1, 3, 2
    assert median_heuristic_bandwidth(points[:2], points[2:]) == pytest.approx(2.0)


def test_mmd_refuses_sets_too_small_or_of_different_sizes():
    with pytest.raises(DatasetError):
        mmd_squared(torch.zeros(1, 3), torch.zeros(5, 3))
    with pytest.raises(DatasetError):
        mmd_squared(torch.zeros(4, 3), torch.zeros(4, 2))


# -- Fréchet -------------------------------------------------------------------------------------
def test_frechet_distance_of_shifted_gaussians_is_the_squared_shift():
    x = _gaussian_cloud(4000, dim=4, seed=0)
    y = _gaussian_cloud(4000, dim=4, shift=2.0, seed=1)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(x, y) == pytest.approx(4 * 2.0 ** 2, rel=0.05)


def test_frechet_distance_of_two_halves_of_the_data_is_far_below_that_against_noise(digits, feature_net):
    images = digits.train_images
    first, second = images[:600], images[600:1200]
    noise = torch.rand(600, *digits.image_shape, generator=torch.Generator().manual_seed(0))
    net = feature_net.net
    same = frechet_distance(extract_features(net, first), extract_features(net, second))
    against_noise = frechet_distance(extract_features(net, first), extract_features(net, noise))
    assert same < against_noise / 20
    pixel_same = mmd_squared(first, second)
    assert pixel_same < mmd_squared(first, noise) / 20


def test_feature_frechet_distance_is_zero_for_the_same_images_and_grows_with_a_shift(digits, feature_net):
    """The FID recipe on the project's own classifier features: d(x, x) = 0, and brightening the
    same digits by more moves their features further."""
    net = feature_net.net
    images = digits.test_images[:300]
    features = extract_features(net, images)
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)
    shifted = [frechet_distance(features, extract_features(net, (images + shift).clamp(0, 1)))
               for shift in (0.1, 0.2, 0.4)]
    assert 0 < shifted[0] < shifted[1] < shifted[2]
    other_draw = frechet_distance(features, extract_features(net, digits.train_images[:300]))
    assert shifted[2] > 5 * other_draw  # well beyond the gap between two draws of real digits


# -- the feature classifier ----------------------------------------------------------------------
def test_feature_classifier_is_accurate_on_real_test_images_and_cached(digits, feature_net, tmp_path):
    assert feature_net.test_accuracy > 0.9
    predictions = predict_classes(feature_net.net, digits.test_images)
    assert float((predictions == digits.test_labels).float().mean()) == pytest.approx(feature_net.test_accuracy)
    reused = load_or_train_feature_net(digits, root=feature_net.path.parents[1])
    assert reused.reused and not feature_net.reused
    for name, tensor in feature_net.net.state_dict().items():
        assert torch.equal(tensor, reused.net.state_dict()[name])
    assert extract_features(feature_net.net, digits.test_images[:5]).shape == (5, 128)


def test_a_damaged_cache_entry_is_replaced_and_unlabelled_data_refused(digits, tmp_path):
    small = load_dataset("digits")
    small.train_images, small.train_labels = small.train_images[:200], small.train_labels[:200]
    folder = feature_net_dir(small, tmp_path)
    assert folder != feature_net_dir(digits, tmp_path)  # another training set, another classifier
    folder.mkdir(parents=True)
    (folder / FEATURE_NET_WEIGHTS_FILE).write_bytes(b"not safetensors")
    (folder / FEATURE_NET_INFO_FILE).write_text("{}")
    fresh = load_or_train_feature_net(small, root=tmp_path, training=FeatureTraining(epochs=1, min_steps=1))
    assert not fresh.reused and (folder / FEATURE_NET_WEIGHTS_FILE).stat().st_size > 1000
    assert load_or_train_feature_net(small, root=tmp_path).reused
    unlabelled = load_dataset("lfw_faces")
    with pytest.raises(DatasetError, match="no class labels"):
        load_or_train_feature_net(unlabelled, root=tmp_path)


# -- SSIM, reconstruction, sharpness -------------------------------------------------------------
@pytest.mark.parametrize("size", [8, 28])
def test_ssim_of_an_image_with_itself_is_one(size):
    images = torch.rand(4, 1, size, size, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ssim_per_image(images, images), torch.ones(4), atol=1e-5)
    noise = torch.rand(4, 1, size, size, generator=torch.Generator().manual_seed(1))
    assert (ssim_per_image(images, noise) < 0.3).all()


def test_per_image_errors_have_their_closed_forms():
    target = torch.tensor([[[[0.0, 1.0], [1.0, 0.0]]]]).repeat(1, 1, 2, 2)  # 16 binary pixels
    assert per_image_mse(target, target).item() == 0.0
    assert per_image_mse(torch.full_like(target, 0.5), target).item() == pytest.approx(0.25)
    logits = torch.zeros_like(target)  # sigmoid = 0.5 everywhere: BCE = 16 ln 2 nats
    assert per_image_bce(logits, target).item() == pytest.approx(16 * math.log(2), rel=1e-6)


def test_reconstruction_scores_of_a_trained_model_beat_an_untrained_one(digits, mnist_small, trained_vae):
    torch.manual_seed(0)
    untrained = build_model("vae", image_shape=mnist_small.image_shape, hidden=(64,), latent_dim=4)
    trained = reconstruction_scores(trained_vae, mnist_small.test_images)
    fresh = reconstruction_scores(untrained, mnist_small.test_images)
    assert trained["mse"].shape == (len(mnist_small.test_images),)
    assert trained["mse"].mean() < fresh["mse"].mean() and trained["ssim"].mean() > fresh["ssim"].mean()
    gan = build_model("dcgan", image_shape=digits.image_shape, latent_dim=4, gen_channels=(8, 4), disc_channels=(4,))
    with pytest.raises(ModelConfigError, match="no encoder"):
        reconstruction_scores(gan, digits.test_images)


def test_blurred_images_score_lower_on_both_sharpness_measures(digits):
    images = load_dataset("mnist5k").test_images[:50]
    blurred = gaussian_blur(images, kernel_size=5, sigma=1.5)
    assert gradient_magnitude(blurred).mean() < 0.7 * gradient_magnitude(images).mean()
    assert laplacian_variance(blurred).mean() < 0.3 * laplacian_variance(images).mean()
    flat = torch.full((3, 1, 8, 8), 0.4)
    assert torch.allclose(gradient_magnitude(flat), torch.zeros(3))
    assert torch.allclose(laplacian_variance(flat), torch.zeros(3), atol=1e-10)


# -- likelihood ----------------------------------------------------------------------------------
def test_iwae_is_at_least_the_elbo_and_tightens_with_k(mnist_small, trained_vae):
    bounds = {k: likelihood_scores(trained_vae, mnist_small.test_images, k=k, seed=0) for k in (1, 8, 64)}
    means = {k: {name: float(values.mean()) for name, values in scores.items()} for k, scores in bounds.items()}
    # k = 1 is the ELBO itself, up to the noise of a one-draw KL against the closed form
    assert means[1]["log_likelihood"] == pytest.approx(means[1]["elbo"], abs=2.0)
    elbo = means[64]["elbo"]
    assert elbo + 3 < means[8]["log_likelihood"] < means[64]["log_likelihood"] - 1
    assert (bounds[64]["log_likelihood"] > bounds[64]["elbo"]).float().mean() > 0.95
    assert (bounds[64]["kl"] >= 0).all() and means[64]["kl"] > 1


def test_likelihood_is_refused_where_the_model_defines_none(digits):
    mse_vae = build_model("vae", image_shape=digits.image_shape, hidden=(16,), latent_dim=2, loss="mse")
    autoencoder = build_model("ae", image_shape=digits.image_shape, hidden=(16,), latent_dim=2)
    for model in (mse_vae, autoencoder):
        with pytest.raises(ModelConfigError):
            likelihood_scores(model, digits.test_images[:4])


# -- novelty and class scores --------------------------------------------------------------------
def test_training_images_are_at_distance_zero_from_the_training_set(digits):
    train = digits.train_images[:300]
    assert torch.allclose(nearest_neighbour_mse(train[:20], train), torch.zeros(20), atol=1e-6)
    assert (nearest_neighbour_mse(digits.test_images[:20], train) > 1e-4).all()
    assert mean_pairwise_mse(train[:1].repeat(5, 1, 1, 1)) == pytest.approx(0.0, abs=1e-12)


def test_mode_coverage_sees_collapse_and_a_matching_mix():
    real = torch.arange(10).repeat(50)
    matching = mode_coverage(torch.arange(10).repeat(40), real, 10)
    collapsed = mode_coverage(torch.full((400,), 3), real, 10)
    assert matching["covered"] == 10 and matching["kl"] < 0.01
    assert collapsed["covered"] == 1 and collapsed["kl"] > 2.0
    assert np.isclose(sum(collapsed["sample_share"]), 1.0) and collapsed["sample_share"][3] == 1.0
    assert class_accuracy(torch.tensor([7, 7, 7, 1]), 7) == 0.75


def test_the_better_value_follows_each_metrics_direction():
    assert better_value("mmd_pixel", [0.3, 0.1, None]) == 0.1
    assert better_value("ssim", [0.3, 0.9]) == 0.9
    assert better_value("novelty_ratio", [0.5, 1.9]) == 1.9  # |log 1.9| < |log 0.5|
    assert better_value("kl", [1.0, 2.0]) is None  # descriptive: no better side
