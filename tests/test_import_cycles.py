"""No import circle in ``aggregator/`` or ``reference_provider/``.

The graph is read from the source with :mod:`ast` (nothing is imported): an edge for every
``import`` and ``from ... import`` of a module of the same package, at any depth in the file
(a function-local import is still a dependency, and so is one under ``if TYPE_CHECKING:``: a
circle of types is a circle of design all the same). ``from package import name`` counts an
edge to ``package.name`` when that is a module, else to the package's ``__init__``. A circle is
a strongly connected component of more than one module (Tarjan).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "aggregator": ROOT / "aggregator",
    "reference_provider": ROOT / "reference_provider" / "reference_provider",
}


def modules(package: str, path: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for file in sorted(path.rglob("*.py")):
        parts = list(file.relative_to(path).with_suffix("").parts)
        if "migrations" in parts or "template" in parts:
            continue  # run by Alembic / copied by the scaffold, never imported as modules
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join([package, *parts])] = file
    return out


def imports(name: str, file: Path, known: set[str]) -> set[str]:
    is_package = file.name == "__init__.py"
    here = name if is_package else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                child = f"{module}.{alias.name}"
                targets.append(child if child in known else module)
        for target in targets:
            while target and target not in known:  # "aggregator.x.y" of a name inside x
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def graph_of(package: str) -> dict[str, set[str]]:
    files = modules(package, PACKAGES[package])
    known = set(files)
    return {name: imports(name, file, known) for name, file in files.items()}


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_circles(package: str) -> None:
    graph = graph_of(package)
    assert len(graph) > 10
    found = cycles(graph)
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)
