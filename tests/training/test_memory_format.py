"""Convolutional models train in channels-last on a CPU: the layout is chosen per model and device,
recorded in the history, changes the speed and not the result, and survives a resume."""

from __future__ import annotations

import pytest
import torch

from gen_core.run import checkpoint
from gen_core.run.start import TrainingRun
from gen_core.training import TrainConfig, Trainer
from gen_core.training.speed import choose_memory_format, in_layout, keep_kernels


def _config(**overrides) -> TrainConfig:
    settings = {"epochs": 1, "batch_size": 64, "lr": 2e-3, "device": "cpu", "sample_count": 16, "sample_epochs": (0,)}
    return TrainConfig(**{**settings, **overrides})


@pytest.mark.parametrize(("case", "expected"), [("dcgan", torch.channels_last), ("vaegan", torch.channels_last),
                                                ("vae-conv-beta", torch.channels_last),
                                                ("vae-mlp", torch.contiguous_format), ("ae-mlp", torch.contiguous_format)])
def test_convolutional_models_take_channels_last_on_a_cpu_and_mlps_keep_the_default(case, expected, build_tiny):
    model = build_tiny(case)
    assert choose_memory_format(model, torch.device("cpu")) == expected
    assert choose_memory_format(model, torch.device("cuda")) == torch.contiguous_format  # not measured there


def test_a_batch_is_put_in_the_layout_without_changing_its_values():
    images = torch.rand(4, 3, 8, 8)
    laid_out = in_layout(images, torch.channels_last)
    assert laid_out.is_contiguous(memory_format=torch.channels_last) and not images.is_contiguous(
        memory_format=torch.channels_last)
    assert torch.equal(laid_out, images)
    assert in_layout(images, torch.contiguous_format) is images


def test_a_conv_run_records_its_layout_and_ends_in_the_layout_a_loaded_copy_has(build_tiny, mnist_small, tmp_runs):
    run_dir = tmp_runs / "dcgan"
    trainer = Trainer(build_tiny("dcgan"), mnist_small, _config())
    history = TrainingRun(trainer, run_dir).fit()
    assert history["status"] == "completed" and history["compute"][0]["layout"] == "channels-last"
    loaded = checkpoint.load_run(run_dir).model
    assert all(p.is_contiguous() for p in loaded.parameters())
    # after training the model is back in the default layout: it decodes exactly as its loaded copy
    assert all(p.is_contiguous() for p in trainer.model.parameters())
    z = torch.randn(4, loaded.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(trainer.model.eval().decode(z), loaded.eval().decode(z))
    mlp = TrainingRun(Trainer(build_tiny("vae-mlp"), mnist_small, _config()), tmp_runs / "mlp").fit()
    assert mlp["compute"][0]["layout"] == "contiguous"


@pytest.mark.parametrize("case", ["dcgan", "vaegan", "vae-conv-beta"])
def test_a_channels_last_step_computes_what_the_default_layout_does(case, build_tiny, mnist_small):
    images = mnist_small.train_images[:32]
    results = {}
    for memory_format in (torch.contiguous_format, torch.channels_last):
        model = build_tiny(case).to(memory_format=memory_format).train()
        optimizers = model.make_optimizers(1e-3)
        torch.manual_seed(1)  # the same noise and dropout draws in both layouts
        terms = model.train_step(in_layout(images, memory_format), optimizers)
        results[memory_format] = ({name: float(value) for name, value in terms.items()},
                                  {name: value.clone() for name, value in model.state_dict().items()})
    (terms, weights), (terms_cl, weights_cl) = results.values()
    assert terms.keys() == terms_cl.keys()
    for name in terms:
        assert terms_cl[name] == pytest.approx(terms[name], rel=1e-4, abs=1e-5), name
    # The same sums in another order: equal to float32 rounding, except where a gradient is so near
    # zero that rounding flips its sign, which Adam's first step (lr * g / |g|) turns into up to 2 lr.
    differences = torch.cat([(weights_cl[name].float() - weights[name].float()).abs().flatten() for name in weights])
    assert differences.max() <= 2 * 1e-3 + 1e-5
    assert (differences <= 1e-5).float().mean() >= 0.99


def test_a_resumed_optimiser_keeps_its_moments_in_the_weights_layout(build_tiny):
    model = build_tiny("dcgan").to(memory_format=torch.channels_last)
    optimizers = model.make_optimizers(1e-3)
    model.train_step(torch.rand(8, 1, 28, 28), optimizers)
    saved = {name: optimizer.state_dict() for name, optimizer in optimizers.items()}
    for state in saved.values():  # as a checkpoint holds them: contiguous
        for entry in state["state"].values():
            for key, value in entry.items():
                if torch.is_tensor(value):
                    entry[key] = value.contiguous()
    fresh = build_tiny("dcgan").to(memory_format=torch.channels_last)
    resumed = fresh.make_optimizers(1e-3)
    for name, optimizer in resumed.items():
        keep_kernels(optimizer, saved[name])
    conv_moments = 0
    for name, optimizer in resumed.items():
        for index, parameter in enumerate(optimizer.param_groups[0]["params"]):
            for key in ("exp_avg", "exp_avg_sq"):
                moment = optimizer.state[parameter][key]
                assert moment.stride() == parameter.stride(), (name, key)
                assert torch.equal(moment, saved[name]["state"][index][key])  # the same values, laid out anew
                conv_moments += parameter.dim() == 4
    assert conv_moments > 0
