"""How long work reports how far it has come: ``progress(fraction, message)``, fraction in [0, 1]."""

from __future__ import annotations

from typing import Callable

ProgressCallback = Callable[[float, str], None]
