"""An autoencoder's samples come from one stated distribution (its recorded code statistics), so the
command line, the Samples page and the metrics draw the same images for one seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gen_core.sampling
from gen_core.cli import main as cli_main
from gen_core.metrics import report

from .conftest import open_page

SEED, COUNT = 4242, 16  # a seed no other page test uses, so the page's cache cannot answer for it


class _Stop(Exception):
    """Ends the evaluation once its samples are drawn; scoring them is not what is tested."""


def test_autoencoder_samples_are_the_same_through_cli_samples_page_and_metrics(trained_runs, tmp_path, monkeypatch):
    run = trained_runs["ae"]
    assert cli_main(["sample", str(run), "--n", str(COUNT), "--seed", str(SEED), "--out", str(tmp_path / "cli.npy")]) == 0
    from_cli = torch.from_numpy(np.load(tmp_path / "cli.npy"))

    drawn_for_page = []
    real_draw_images = gen_core.sampling.draw_images

    def spy(model, n, seed=0, *args, **kwargs):
        images = real_draw_images(model, n, seed, *args, **kwargs)
        drawn_for_page.append(images)
        return images

    monkeypatch.setattr(gen_core.sampling, "draw_images", spy)
    at = open_page("samples", run, samples_seed=SEED, samples_count=COUNT)
    assert not at.exception
    assert any(image.captions and image.captions[0] == f"{COUNT} samples, seed {SEED}" for image in at.image)
    assert len(drawn_for_page) == 1
    monkeypatch.undo()

    scored = []

    def capture(samples, *args, **kwargs):
        scored.append(samples)
        raise _Stop

    monkeypatch.setattr(report, "pixel_scores", capture)
    with pytest.raises(_Stop):
        report.evaluate_run(run, n_samples=COUNT, seed=SEED, device="cpu", inception=False)

    assert from_cli.shape == (COUNT, 1, 28, 28)
    torch.testing.assert_close(drawn_for_page[0], from_cli, atol=1e-6, rtol=0)
    torch.testing.assert_close(scored[0], from_cli, atol=1e-6, rtol=0)
    # ...and they are the running code statistics' draws, not standard normal noise decoded
    assert from_cli.std(dim=0).mean() > 0.01
