"""The command line, ``python -m gen_core COMMAND``: one module per command, ``main`` in ``main``."""

from gen_core.cli.main import main

__all__ = ["main"]
