"""Settings described once: a config field's Setting gives its check, its CLI flag and its widget."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gen_core.cli.flags import add_setting_flags, given_settings
from gen_core.cli.main import build_parser
from gen_core.cli.train import _dataset_options
from gen_core.data import dataset_names, dataset_options
from gen_core.errors import GenCoreError, ModelConfigError
from gen_core.models import FAMILIES, make_config
from gen_core.settings import Setting, check_settings, settings_of


@dataclass
class _TwoSettings:
    """A config as a family writes one: each setting is one line."""

    width: int = Setting("Width", "How wide.", minimum=1, maximum=64).field(8)
    momentum: float = Setting("Momentum", "How much is kept.", minimum=0.0, below=1.0).field(0.9)

    def __post_init__(self) -> None:
        check_settings(self)


def test_one_line_gives_the_check_the_flag_and_the_description():
    described = settings_of(_TwoSettings)
    assert [(s.name, s.kind, s.default) for s in described] == [("width", int, 8), ("momentum", float, 0.9)]
    with pytest.raises(ModelConfigError, match="width must be at least 1 and at most 64, got 0"):
        _TwoSettings(width=0)
    with pytest.raises(ModelConfigError, match="momentum must be at least 0 and below 1"):
        _TwoSettings(momentum=1.0)
    import argparse
    parser = argparse.ArgumentParser()
    add_setting_flags(parser, described)
    args = parser.parse_args(["--width", "12"])
    assert given_settings(args, described) == {"width": 12}  # momentum not given: the default stays


def _train_help(capsys) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    return capsys.readouterr().out


def test_every_model_setting_has_a_train_flag_that_reaches_the_config(capsys):
    train_help = _train_help(capsys)
    for config_class, _model in FAMILIES.values():
        for setting in settings_of(config_class):
            assert setting.cli_flag in train_help
    parser = build_parser()
    args = parser.parse_args(["train", "--model", "dcgan", "--dropout", "0.25", "--label-smoothing", "0.1",
                              "--gen-channels", "64,32", "--hidden", "mlp9"])
    described = [s for config_class, _ in FAMILIES.values() for s in settings_of(config_class)]
    given = given_settings(args, described)
    assert given["hidden"] == (512, 256, 128, 64)  # a named value the description lists
    config = make_config("dcgan", **{k: v for k, v in given.items() if k != "hidden"})
    assert (config.dropout, config.label_smoothing, config.gen_channels) == (0.25, 0.1, (64, 32))


def test_dataset_flags_come_from_the_registry_and_stray_ones_are_refused(capsys):
    train_help = _train_help(capsys)
    for name in dataset_names():
        for setting in dataset_options(name):
            assert setting.cli_flag in train_help
    parser = build_parser()
    args = parser.parse_args(["train", "--dataset", "tiles", "--tiles-from", "big/", "--tile-size", "16"])
    assert _dataset_options(args) == {"path": "big/", "tile_size": 16}
    args = parser.parse_args(["train", "--dataset", "folder", "--path", "mine/", "--root", "x"])
    with pytest.raises(GenCoreError, match="--root does not apply to the 'folder' dataset"):
        _dataset_options(args)
    assert _dataset_options(parser.parse_args(["train", "--dataset", "mnist", "--no-download"])) == {"download": False}
