"""Step-through training in the Trainer, with a control source the test scripts: pause, step a batch or an
epoch, one GAN player at a time, a D:G ratio, a new learning rate or beta taking effect at the next step."""

from __future__ import annotations

import pytest
import torch

from gen_core.run.record import check_history
from gen_core.training import TrainConfig, Trainer
from gen_core.training.events import Control
from gen_core.training.stepping import ControlError, Controls, check_controls

BATCHES_PER_EPOCH = 6  # 384 images in batches of 64


def _config(**overrides) -> TrainConfig:
    settings = {"epochs": 2, "batch_size": 64, "lr": 2e-3, "device": "cpu", "sample_count": 16,
                "sample_epochs": (0,), "log_every": 2}
    return TrainConfig(**{**settings, **overrides})


class ScriptedControls:
    """The Trainer's control source: hands out queued answers one per call, then None (no change)."""

    def __init__(self, *answers) -> None:
        self.queue = list(answers)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return self.queue.pop(0) if self.queue else None


def _count_steps(model) -> list[tuple[str, ...]]:
    """Wraps ``model.train_step``; the list grows by the optimiser names of each step taken."""
    taken, original = [], model.train_step

    def train_step(batch, optimizers):
        taken.append(tuple(sorted(optimizers)))
        return original(batch, optimizers)
    model.train_step = train_step
    return taken


def test_a_paused_run_waits_until_stepped_and_a_step_is_one_batch_or_the_rest_of_the_epoch(build_tiny, mnist_small):
    model = build_tiny("vae-mlp")
    taken = _count_steps(model)
    controls = ScriptedControls(Controls(paused=True))  # read after the first batch
    pauses = []

    def on_event(event):
        if isinstance(event, Control) and event.grid is not None:  # the run has come to a pause
            pauses.append((len(taken), event.state["steps_taken"], event.grid.size))
            script = {1: [None, None, None, Controls(paused=True, step_id=1)],  # three looks, then a batch
                      2: [Controls(paused=True, step_id=2, step_unit="epoch")],
                      3: [Controls(paused=False, step_id=2)]}[len(pauses)]
            controls.queue.extend(script)

    history = Trainer(model, mnist_small, _config()).fit(on_event, control=controls)
    assert [(batches, steps) for batches, steps, _ in pauses] == [(1, 0), (2, 1), (BATCHES_PER_EPOCH, 2)], \
        "paused after batch 1, one batch per step, the epoch step ends at the epoch's end"
    assert all(size[0] > 0 for *_, size in pauses), "every pause shows the fixed noise decoded"
    assert len(taken) == 2 * BATCHES_PER_EPOCH and history["status"] == "completed"
    assert "controls" not in history, "pausing and stepping change no setting"


def test_a_stop_ends_a_paused_run(build_tiny, mnist_small):
    model = build_tiny("ae-mlp")
    taken = _count_steps(model)
    stop = {"now": False}

    def on_event(event):
        if isinstance(event, Control) and event.grid is not None:
            stop["now"] = True
    history = Trainer(model, mnist_small, _config()).fit(on_event, should_stop=lambda: stop["now"],
                                                           control=ScriptedControls(Controls(paused=True)))
    assert history["status"] == "stopped" and len(taken) == 1


def test_without_any_request_training_is_bit_identical(build_tiny, mnist_small):
    plain, controlled = build_tiny("dcgan"), build_tiny("dcgan")
    torch.manual_seed(1)
    Trainer(plain, mnist_small, _config(epochs=1)).fit()
    torch.manual_seed(1)
    Trainer(controlled, mnist_small, _config(epochs=1)).fit(control=ScriptedControls(Controls()))
    for (name, first), second in zip(plain.state_dict().items(), controlled.state_dict().values()):
        assert torch.equal(first, second), name


def test_a_new_learning_rate_takes_effect_at_the_next_step_and_is_recorded(build_tiny, mnist_small):
    model = build_tiny("vae-mlp")
    rates = []
    original = model.train_step

    def train_step(batch, optimizers):
        rates.append(optimizers["model"].param_groups[0]["lr"])
        return original(batch, optimizers)
    model.train_step = train_step
    history = Trainer(model, mnist_small, _config(epochs=1)).fit(control=ScriptedControls(Controls(lr=5e-4)))
    assert rates == [2e-3] + [5e-4] * (BATCHES_PER_EPOCH - 1)
    assert history["controls"] == [{"step": 1, "epoch": 1, "lr": 5e-4}]
    assert check_history(history)["controls"] == history["controls"], "the saved schema takes them"


def test_a_new_beta_changes_the_vae_objective_from_the_next_step(build_tiny, mnist_small):
    model = build_tiny("vae-mlp")
    history = Trainer(model, mnist_small, _config(epochs=1)).fit(control=ScriptedControls(Controls(beta=4.0)))
    assert model.config.beta == 4.0 and model.kl_weight == 4.0
    assert history["controls"] == [{"step": 1, "epoch": 1, "beta": 4.0}] and history["epochs"][0]["beta"] == 4.0


def test_a_d_to_g_ratio_gives_the_discriminator_that_many_steps_per_generator_step(build_tiny, mnist_small):
    model = build_tiny("dcgan")
    taken = _count_steps(model)
    history = Trainer(model, mnist_small, _config(epochs=1)).fit(
        control=ScriptedControls(Controls(d_steps=3, g_steps=1)))
    both, alone = ("discriminator", "generator"), ("discriminator",)
    assert taken == [both, alone, alone, both, alone, alone]
    assert history["controls"] == [{"step": 1, "epoch": 1, "d_steps": 3, "g_steps": 1}]


def _parameters(module) -> list[torch.Tensor]:
    return [parameter.detach().clone() for parameter in module.parameters()]


def _same(before, module) -> bool:
    return all(torch.equal(old, new) for old, new in zip(before, module.parameters()))


@pytest.mark.parametrize("case", ["dcgan", "vaegan"])
@pytest.mark.parametrize("player", ["discriminator", "generator"])
def test_stepping_one_player_leaves_the_other_players_weights_unchanged(case, player, build_tiny, mnist_small):
    model = build_tiny(case)
    generator = model.generator if case == "dcgan" else torch.nn.ModuleList([model.encoder_features, model.to_mu,
                                                                              model.to_logvar, model.decoder])
    trained, kept = (model.discriminator, generator) if player == "discriminator" else (generator, model.discriminator)
    taken = _count_steps(model)
    snapshots = []

    def on_event(event):
        if isinstance(event, Control) and event.grid is not None:
            snapshots.append((_parameters(trained), _parameters(kept)))
            if len(snapshots) == 1:
                controls.queue.append(Controls(paused=True, step_id=1, step_count=2, step_player=player))
            else:
                controls.queue.append(Controls())
    controls = ScriptedControls(Controls(paused=True))
    Trainer(model, mnist_small, _config(epochs=1)).fit(on_event, control=controls)
    assert taken[1:3] == [tuple(sorted(model.players[player]))] * 2, "two batches for that player alone"
    (trained_before, kept_before), (trained_after, kept_after) = snapshots[:2]
    assert all(torch.equal(old, new) for old, new in zip(kept_before, kept_after)), "the other player did not move"
    assert not all(torch.equal(old, new) for old, new in zip(trained_before, trained_after)), "this player learned"


@pytest.mark.parametrize("hostile, why", [
    ([], "must be an object"), ({"paused": "yes"}, "paused"), ({"lr": 0}, "lr"), ({"lr": 2.0}, "lr"),
    ({"lr": float("nan")}, "lr"), ({"lr": True}, "lr"), ({"d_steps": 11}, "d_steps"), ({"g_steps": 0}, "g_steps"),
    ({"step_count": 1001}, "step_count"), ({"step_unit": "week"}, "step_unit"), ({"step_player": "ref"}, "step_player"),
    ({"beta": -1}, "beta"), ({"rm": "-rf"}, "unknown entries: rm"), ({"step_id": -1}, "step_id")])
def test_invalid_controls_are_refused_with_the_entry_named(hostile, why):
    with pytest.raises(ControlError, match=why):
        check_controls(hostile)


def test_a_run_ignores_an_invalid_request_says_why_and_keeps_training(build_tiny, mnist_small):
    def broken():
        raise ControlError("lr must be a number above 0 and at most 1")
    messages = []
    history = Trainer(build_tiny("ae-mlp"), mnist_small, _config(epochs=1)).fit(
        lambda event: messages.append(event.state["message"]) if isinstance(event, Control) else None, control=broken)
    assert history["status"] == "completed" and "controls" not in history
    assert messages[0] == "Control request ignored: lr must be a number above 0 and at most 1."


def test_a_resumed_run_keeps_only_the_changes_its_saved_weights_saw(build_tiny, mnist_small):
    model = build_tiny("vae-mlp")
    history = Trainer(model, mnist_small, _config(epochs=1)).fit(control=ScriptedControls(Controls(lr=5e-4)))
    history["controls"].append({"step": BATCHES_PER_EPOCH + 3, "epoch": 2, "lr": 1e-4})  # logged, never saved
    resumed = Trainer(model, mnist_small, _config(epochs=2), history=history).fit()
    assert resumed["controls"] == [{"step": 1, "epoch": 1, "lr": 5e-4}]
