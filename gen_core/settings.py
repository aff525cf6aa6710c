"""Settings that describe themselves: type, range, default, label, help and choices, written once.

A model config declares each setting as a dataclass field whose metadata is a ``Setting``
(``latent_dim: int = LATENT_DIM.field(32)``); a dataset lists its loader's options as Settings in
the registry. The command line's flags (``gen_core.cli``) and the Train page's widgets
(``ui/train_widgets.py``) are generated from these descriptions, and ``check_settings`` validates
a config against them, so adding a setting is one line.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass, field
from typing import Any

from gen_core.errors import ModelConfigError

_KINDS = {"int": int, "float": float, "str": str, "bool": bool}


@dataclass(frozen=True)
class Setting:
    """How one setting reads, what values it takes, and how the CLI and the widgets show it.

    ``kind`` is int, float, str, bool or tuple (a tuple of whole numbers, typed "512, 128").
    ``below`` is an exclusive upper bound (fractions such as dropout); ``only_when`` names another
    setting and the value it must have for this one to matter (``hidden`` only for ``arch="mlp"``).
    ``aliases`` are named values the command line also accepts (``--hidden mlp5``).
    """

    label: str
    help: str = ""
    kind: type | None = None  # filled in from the field's annotation when used in a config
    name: str = ""  # filled in from the field's name when used in a config
    default: Any = None
    choices: tuple = ()
    choice_labels: dict = field(default_factory=dict)
    minimum: float | None = None
    maximum: float | None = None
    below: float | None = None
    step: float | None = None
    only_when: tuple[str, Any] | None = None
    aliases: dict = field(default_factory=dict)
    flag: str = ""  # the command-line flag; "--" + name with dashes when empty
    widget_key: str = ""  # suffix of the widget's session key; the name when empty
    widget: str = ""  # "radio" for a horizontal radio; "images" for a folder-or-zip source
    needs_network: bool = False  # only shown when the data is not on this machine yet
    in_app: bool = True  # False: a command-line option only (e.g. a server folder)
    required: bool = False  # the loader cannot do without it (a folder of one's own images)

    def field(self, default):
        """A dataclass field holding this setting with ``default``: ``beta: float = BETA.field(1.0)``."""
        return dataclasses.field(default=default, metadata={"setting": self})

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def dest(self) -> str:
        """The attribute argparse stores the flag's value under."""
        return self.cli_flag.lstrip("-").replace("-", "_")

    @property
    def key(self) -> str:
        return self.widget_key or self.name

    def parse(self, text: str):
        """A command-line string as this setting's value (argparse ``type=``)."""
        if text in self.aliases:
            return self.aliases[text]
        if self.kind is tuple:
            return tuple(int(part) for part in text.replace(",", " ").split())
        if self.kind is bool:
            if text.lower() not in ("true", "false", "yes", "no", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "yes", "1")
        return self.kind(text)

    def check(self, value, error: type[Exception] = ModelConfigError):
        """``value`` normalised (tuples from text or lists) and checked against the description."""
        name = self.name
        if self.kind is tuple:
            return int_tuple(name, value, error)
        if self.choices:
            if value not in self.choices:
                raise error(f"{name} must be one of {', '.join(map(str, self.choices))}; got {value!r}")
            return value
        number = {int: numbers.Integral, float: numbers.Real}.get(self.kind)
        if number is not None and (isinstance(value, bool) or not isinstance(value, number)):
            what = "a whole number" if self.kind is int else "a number"
            raise error(f"{name} must be {what}{' of' + self._range_text() if self._range_text() else ''}, "
                        f"got {value!r}")
        if not self._in_range(value):
            raise error(f"{name} must be{self._range_text()}, got {value!r}")
        if self.kind is bool and not isinstance(value, bool):
            raise error(f"{name} must be true or false, got {value!r}")
        return value

    def _in_range(self, value) -> bool:
        if self.kind not in (int, float):
            return True
        return ((self.minimum is None or value >= self.minimum) and (self.maximum is None or value <= self.maximum)
                and (self.below is None or value < self.below))

    def _range_text(self) -> str:
        parts = []
        if self.minimum is not None:
            parts.append(f"at least {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"at most {self.maximum:g}")
        if self.below is not None:
            parts.append(f"below {self.below:g}")
        return " " + " and ".join(parts) if parts else ""


def int_tuple(name: str, values, error: type[Exception] = ModelConfigError) -> tuple[int, ...]:
    """Whole numbers from a tuple, a list or text such as "512, 128" (empty: ())."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [part for part in values.replace(",", " ").split() if part]
    try:
        sizes = tuple(int(part) for part in values)
    except (TypeError, ValueError):
        raise error(f"{name}: layer sizes must be whole numbers, got {values!r}") from None
    if any(size < 1 for size in sizes):
        raise error(f"{name}: layer sizes must be at least 1, got {sizes}")
    return sizes


def settings_of(config_class) -> list[Setting]:
    """The described settings of a config dataclass, in field order, with name, kind and default."""
    found = []
    for config_field in dataclasses.fields(config_class):
        described = config_field.metadata.get("setting")
        if described is None:
            continue
        annotation = str(config_field.type)
        kind = tuple if annotation.startswith("tuple") else _KINDS.get(annotation, described.kind)
        found.append(dataclasses.replace(described, name=config_field.name, kind=kind, default=config_field.default))
    return found


def check_settings(config, error: type[Exception] = ModelConfigError) -> None:
    """Normalise and check every described field of ``config`` in place."""
    for setting in settings_of(type(config)):
        setattr(config, setting.name, setting.check(getattr(config, setting.name), error))
