"""The engine's import graph: modules, import arrows, cycles and imports hidden inside functions.

    python bench/import_graph.py [CHECKOUT]      # default: this checkout

Run it on two checkouts (``git worktree add /tmp/old <commit>``) to compare layouts. The tests
(tests/test_architecture.py) hold gen_core to no cycle and no import inside a function.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file of every module of ``root``/gen_core."""
    found = {}
    for path in (Path(root) / "gen_core").rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported(module: str, path: Path, known: dict) -> set[str]:
    """The gen_core modules ``module`` imports (``from pkg import sub`` counts as ``pkg.sub``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            targets |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names}
    resolved = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != module:
            resolved.add(target)
    return resolved


def import_graph(root: Path) -> dict[str, set[str]]:
    known = modules(root)
    return {name: _imported(name, path, known) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, groups, counter = {}, {}, [], set(), [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return groups


def imports_inside_functions(root: Path) -> list[str]:
    """``module.function`` for every gen_core import made inside a function."""
    hidden = []
    for name, path in modules(root).items():
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("gen_core")):
                    hidden.append(f"{name}.{function.name}")
                elif isinstance(node, ast.Import) and any(alias.name.startswith("gen_core") for alias in node.names):
                    hidden.append(f"{name}.{function.name}")
    return hidden


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
    graph = import_graph(root)
    top = [name for name, path in modules(root).items()
           if name.count(".") == 1 and path.name not in ("__init__.py", "__main__.py")]
    found = cycles(graph)
    print(f"modules {len(graph)}, top-level modules {len(top)}, import arrows {sum(map(len, graph.values()))}, "
          f"import cycles {len(found)}, gen_core imports inside functions {len(imports_inside_functions(root))}")
    for group in found:
        print("  cycle:", ", ".join(group))


if __name__ == "__main__":
    main()
