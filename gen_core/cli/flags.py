"""What every command shares: the parser that fails in one line, flags generated from described
settings (model, dataset and sampler settings are each described once), and naming a run by its
name or its path."""

from __future__ import annotations

import argparse
from pathlib import Path

from gen_core.errors import CheckpointError, GenCoreError
from gen_core.places import default_root
from gen_core.run.layout import CONFIG_FILE
from gen_core.sampling import SAMPLER_NAMES, SAMPLER_SETTINGS, sampler_settings

EXIT_BAD_INPUT = 2


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2, like argparse but without the usage dump
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _flag_type(setting):
    """argparse ``type=`` for a described setting, with a one-line message for a bad value."""
    def parse(text: str):
        try:
            return setting.parse(text)
        except (TypeError, ValueError):
            kind = {tuple: "whole numbers like 512,128", int: "a whole number", float: "a number"}.get(
                setting.kind, "a value")
            named = f", or one of {', '.join(setting.aliases)}" if setting.aliases else ""
            raise argparse.ArgumentTypeError(f"{setting.cli_flag} takes {kind}{named}; got {text!r}") from None
    parse.__name__ = setting.name
    return parse


def add_setting_flags(group, settings, defaults: bool = False) -> None:
    """One flag per described setting; a flag several families or datasets share is added once.

    A shared flag takes the choices of all of them (``--loss gaussian`` is a VAE's only) and the
    description of the one with the most; each family's config then refuses a value it lacks.
    Every default is None unless ``defaults``, so only the flags given override a preset's or a
    loader's defaults.
    """
    sharing: dict[str, list] = {}
    for setting in settings:
        sharing.setdefault(setting.cli_flag, []).append(setting)
    for same_flag in sharing.values():
        setting = max(same_flag, key=lambda described: len(described.choices))
        choices = tuple(dict.fromkeys(choice for described in same_flag for choice in described.choices))
        described = f"{setting.label}: {setting.help}" if setting.help else setting.label
        options = {"dest": setting.dest, "default": setting.default if defaults else None, "help": described}
        if setting.kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["type"] = _flag_type(setting)
            if choices:
                options["choices"] = choices
        group.add_argument(setting.cli_flag, **options)


def given_settings(args, settings) -> dict:
    """{name: value} of the described settings whose flags were given."""
    return {setting.name: getattr(args, setting.dest) for setting in settings
            if getattr(args, setting.dest, None) is not None}


def add_sampler_flags(parser: argparse.ArgumentParser, default: str = "prior") -> None:
    """--sampler and the settings of the fitted samplers, from their own descriptions."""
    parser.add_argument("--sampler", choices=SAMPLER_NAMES, default=default,
                        help="where codes come from: the model's prior, or a latent sampler fitted to the encoded "
                             "training set (gmm: a Gaussian mixture per class)")
    add_setting_flags(parser.add_argument_group("sampler settings"), SAMPLER_SETTINGS, defaults=True)


def sampler_params(args) -> dict:
    """The chosen sampler's settings from the flags (a sampler takes only its own)."""
    return sampler_settings(args.sampler, given_settings(args, SAMPLER_SETTINGS))


def run_path(name_or_path) -> Path:
    """A run folder from a path, or from a run's name in the runs folder."""
    path = Path(name_or_path)
    for candidate in (path, default_root() / path):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    raise CheckpointError(f"No run at {path} (nor a run called {str(name_or_path)!r} in {default_root()}).")


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


__all__ = ["EXIT_BAD_INPUT", "GenCoreError", "Parser", "add_sampler_flags", "add_setting_flags", "given_settings",
           "one_line", "run_path", "sampler_params"]
