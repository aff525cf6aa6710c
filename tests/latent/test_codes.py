"""Codes in and images out, and codes for given images, on tiny real models (AE, VAE, DCGAN)."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from gen_core.errors import LatentError, ModelConfigError
from gen_core.images import png_bytes, to_pil
from gen_core.latent import (FOUND_BY_ENCODER, FOUND_BY_OPTIMISATION, decode_latents, decode_to_pil, find_latents,
                             reconstructions, summarise_latents)

SHAPE = (1, 16, 16)


def test_decode_to_pil_matches_batch_decode_and_restores_mode(small_vae):
    latent = torch.randn(small_vae.latent_dim)
    small_vae.train()
    picture = decode_to_pil(small_vae, latent, upscale=5)
    assert small_vae.training
    small_vae.eval()
    assert picture.size == (SHAPE[2] * 5, SHAPE[1] * 5)
    expected = to_pil(decode_latents(small_vae, latent.unsqueeze(0))[0], upscale=5)
    assert png_bytes(picture) == png_bytes(expected)
    assert png_bytes(decode_to_pil(small_vae, latent.unsqueeze(0), 5)) == png_bytes(picture)


def test_decode_to_pil_refuses_a_code_of_the_wrong_length(small_vae):
    with pytest.raises(LatentError, match="4-d codes"):
        decode_to_pil(small_vae, torch.zeros(5))


def test_decoded_pil_is_a_real_png(small_vae):
    picture = decode_to_pil(small_vae, torch.zeros(4), upscale=2)
    assert Image.open(io.BytesIO(png_bytes(picture))).size == (32, 32)


def test_decode_to_pil_leaves_the_callers_thread_setting_alone(small_vae):
    before = torch.get_num_threads()
    torch.set_num_threads(max(2, before))
    try:
        decode_to_pil(small_vae, torch.zeros(4))
        assert torch.get_num_threads() == max(2, before)
    finally:
        torch.set_num_threads(before)


def test_a_gan_cannot_reconstruct(small_gan, small_images):
    with pytest.raises(ModelConfigError, match="no encoder"):
        reconstructions(small_gan, small_images[:2])


def test_find_latents_encodes_when_it_can(small_vae, small_images):
    found = find_latents(small_vae, small_images[:3])
    assert found.found_by == FOUND_BY_ENCODER and not found.by_optimisation
    assert found.latents.shape == (3, 4) and found.reconstructions.shape == (3, *SHAPE)
    assert torch.allclose(found.errors, (found.reconstructions - small_images[:3]).pow(2).flatten(1).mean(1))


def test_find_latents_optimises_for_a_gan_and_more_steps_fit_better(small_gan):
    targets = decode_latents(small_gan, torch.randn(2, small_gan.latent_dim, generator=torch.Generator().manual_seed(2)))
    reports = []
    rough = find_latents(small_gan, targets, steps=1, restarts=1)
    close = find_latents(small_gan, targets, steps=60, restarts=1, progress=lambda fraction, text: reports.append(fraction))
    assert close.found_by == FOUND_BY_OPTIMISATION and close.by_optimisation
    assert float(close.errors.sum()) < float(rough.errors.sum())
    assert reports and reports[-1] == pytest.approx(1.0)


def test_summarise_latents_keeps_the_codes_and_their_spread(small_ae, small_images):
    summary = summarise_latents(small_ae, small_images)
    assert summary.latents.shape == (40, 4)
    assert torch.allclose(summary.mean, summary.latents.mean(0)) and (summary.std > 0).all()
    with pytest.raises(LatentError, match="two test images"):
        summarise_latents(small_ae, small_images[:1])
