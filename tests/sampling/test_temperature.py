"""The prior at a temperature s: codes from N(0, s^2 I), the same seed scaling the same noise."""

from __future__ import annotations

import math

import pytest
import torch

from gen_core.errors import SamplerError
from gen_core.latent import decode_latents
from gen_core.sampling import ClassGaussianSampler, draw_codes, draw_images


def test_temperature_zero_draws_the_decoded_zero_code_for_every_sample(build_small):
    model = build_small("vae", latent_dim=4)
    images = draw_images(model, 9, seed=3, temperature=0.0)
    zero_code_image = decode_latents(model, torch.zeros(1, 4))
    assert images.shape == (9, *model.image_shape)
    torch.testing.assert_close(images, zero_code_image.expand_as(images), atol=1e-6, rtol=0)
    assert not torch.allclose(draw_images(model, 9, seed=3), zero_code_image.expand(9, -1, -1, -1), atol=1e-3)


@pytest.mark.parametrize("temperature", [0.25, 0.5, 1.5])
def test_temperature_scales_the_codes_standard_deviation(build_small, temperature):
    model = build_small("vae", latent_dim=4)
    at_one = draw_codes(model, 4000, seed=7)
    scaled = draw_codes(model, 4000, seed=7, temperature=temperature)
    torch.testing.assert_close(scaled, temperature * at_one)  # the same seed, the same noise, scaled
    # 16,000 values: the sample std of N(0, s^2) has a standard error of s / sqrt(2 * 16000) < 0.6% of s,
    # so 3% is over five standard errors.
    assert scaled.std().item() == pytest.approx(temperature, rel=0.03)


def test_an_autoencoder_scales_its_code_spread_around_its_mean_code(build_small):
    model = build_small("ae", latent_dim=3)
    model.code_mean.copy_(torch.tensor([1.0, -2.0, 0.5]))
    model.code_std.copy_(torch.tensor([2.0, 0.5, 1.0]))
    torch.testing.assert_close(draw_codes(model, 5, seed=1, temperature=0.0), model.code_mean.expand(5, -1))
    half = draw_codes(model, 5, seed=1, temperature=0.5) - model.code_mean
    torch.testing.assert_close(half, 0.5 * (draw_codes(model, 5, seed=1) - model.code_mean))


@pytest.mark.parametrize("temperature", [-0.1, 1.6, math.nan, math.inf])
def test_a_temperature_out_of_range_is_refused(build_small, temperature):
    with pytest.raises(SamplerError, match="from 0 to 1.5"):
        draw_codes(build_small("vae"), 3, temperature=temperature)


def test_a_fitted_sampler_takes_no_temperature(build_small):
    latents, labels = torch.randn(40, 4), torch.arange(40) % 2
    sampler = ClassGaussianSampler().fit(latents, labels)
    assert draw_codes(build_small("vae"), 3, sampler=sampler).shape == (3, 4)
    with pytest.raises(SamplerError, match="scales the prior"):
        draw_codes(build_small("vae"), 3, sampler=sampler, temperature=0.5)
