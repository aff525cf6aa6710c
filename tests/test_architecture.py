"""The engine's layout is its architecture: no import cycle, no import hidden inside a function, a
short top level, and the run folder's format named in one module only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import gen_core

PACKAGE = Path(gen_core.__file__).resolve().parent
REPO = PACKAGE.parent
sys.path.insert(0, str(REPO / "bench"))
from import_graph import cycles, import_graph, imports_inside_functions  # noqa: E402
RUN_FILE_NAMES = ("config.json", "history.json", "model.safetensors", "optimizer.safetensors", "optimizer.json",
                  "progress.json", "stop.request", ".commit.json", "epoch_")


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_gen_core_has_no_import_cycle():
    assert cycles(import_graph(REPO)) == []


def test_no_gen_core_import_is_made_inside_a_function():
    assert imports_inside_functions(REPO) == []


def test_the_top_level_is_a_few_ground_modules_and_packages():
    top = sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem not in ("__init__", "__main__"))
    assert len(top) <= 8, top
    packages = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    assert {"run", "training", "serve", "cli", "models", "data", "metrics", "sampling"} <= packages


def _string_literals(path: Path) -> list[str]:
    """String constants of a module, docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def test_every_run_folder_file_name_is_written_in_one_module():
    sources = [*PACKAGE.rglob("*.py"), *(REPO / "ui").rglob("*.py"), *(REPO / "app_pages").glob("*.py")]
    for name in RUN_FILE_NAMES:
        holders = sorted({str(path.relative_to(REPO)) for path in sources
                          if any(name in literal for literal in _string_literals(path))})
        assert holders == ["gen_core/run/layout.py"], (name, holders)
