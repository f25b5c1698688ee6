"""Each distribution declares what its package imports: nothing unused, nothing undeclared.

For the aggregator, every plugin under ``plugins/`` and the reference provider, the imports of
its shipped package are read with :mod:`ast` (nothing is imported; a function-local import and
one under ``if TYPE_CHECKING:`` count too) and mapped to the distributions that provide them;
that set must equal the ``dependencies`` and ``optional-dependencies`` of its ``pyproject.toml``.
A dependency loaded by name rather than imported (a SQLAlchemy driver named in a database URL)
is listed in :data:`LOADED_BY_NAME` with the text that loads it, which must stand in the source.
No module of a dependency whose name starts with an underscore is imported (a private vendored
copy, such as Typer's ``typer._click``, changes without notice).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Distribution:
    name: str
    pyproject: Path
    package: Path

    @property
    def import_name(self) -> str:
        return self.package.name


def _distributions() -> list[Distribution]:
    found = [Distribution("aggregator", ROOT / "pyproject.toml", ROOT / "aggregator")]
    for pyproject in sorted(ROOT.glob("plugins/*/pyproject.toml")):
        name = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["name"]
        (package,) = pyproject.parent.glob("aggregator_*/__init__.py")
        found.append(Distribution(name, pyproject, package.parent))
    found.append(
        Distribution(
            "reference-provider",
            ROOT / "reference_provider" / "pyproject.toml",
            ROOT / "reference_provider" / "reference_provider",
        )
    )
    return found


DISTRIBUTIONS = _distributions()
WORKSPACE = {d.import_name: d.name for d in DISTRIBUTIONS}

# A dependency no module imports: the distribution loads it by name. The text must be in the
# package's source (else the dependency is unused after all).
LOADED_BY_NAME: dict[str, dict[str, str]] = {
    "aggregator": {
        "aiosqlite": "sqlite+aiosqlite",  # SQLAlchemy's SQLite driver, from the default URL
        "psycopg": "postgresql+psycopg",  # SQLAlchemy's PostgreSQL driver (the postgres extra)
    },
}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def _providers() -> dict[str, list[str]]:
    return packages_distributions()


def _files(dist: Distribution) -> list[Path]:
    return sorted(p for p in dist.package.rglob("*.py") if "template" not in p.parts)


@cache
def imported_modules(dist: Distribution) -> dict[str, set[str]]:
    """Absolute imports of third-party and workspace modules: full module name -> files."""
    out: dict[str, set[str]] = {}
    for file in _files(dist):
        tree = ast.parse(file.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for module in names:
                top = module.partition(".")[0]
                if top in sys.stdlib_module_names or top == dist.import_name:
                    continue
                out.setdefault(module, set()).add(str(file.relative_to(ROOT)))
    return out


def distribution_of(module: str) -> str:
    top = module.partition(".")[0]
    if top in WORKSPACE:
        return WORKSPACE[top]
    providers = _providers().get(top)
    assert providers, f"no installed distribution provides {top!r}"
    return normalize(providers[0])


@cache
def imported_distributions(dist: Distribution) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for module, files in imported_modules(dist).items():
        out.setdefault(distribution_of(module), set()).update(files)
    return out


def declared(dist: Distribution) -> set[str]:
    project = tomllib.loads(dist.pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {normalize(Requirement(r).name) for r in requirements}


def source_text(dist: Distribution) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in _files(dist))


IDS = [d.name for d in DISTRIBUTIONS]


def test_every_distribution_is_checked() -> None:
    names = set(IDS)
    assert {"aggregator", "reference-provider", "aggregator-bashtel"} <= names
    assert len(names) == len(list(ROOT.glob("plugins/*/pyproject.toml"))) + 2


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=IDS)
def test_nothing_imported_is_undeclared(dist: Distribution) -> None:
    missing = {
        name: sorted(files)[:3]
        for name, files in imported_distributions(dist).items()
        if name not in declared(dist)
    }
    assert not missing, f"{dist.name} imports distributions it does not declare: {missing}"


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=IDS)
def test_nothing_declared_is_unused(dist: Distribution) -> None:
    by_name = LOADED_BY_NAME.get(dist.name, {})
    source = source_text(dist)
    for name, text in by_name.items():
        assert text in source, f"{dist.name}: {name} is loaded by {text!r}, which is gone"
    unused = declared(dist) - set(imported_distributions(dist)) - set(by_name)
    assert not unused, f"{dist.name} declares distributions it never imports: {sorted(unused)}"


@pytest.mark.parametrize("heavy", ["playwright", "selectolax"])
def test_heavy_dependencies_only_where_imported(heavy: str) -> None:
    declaring = {d.name for d in DISTRIBUTIONS if heavy in declared(d)}
    importing = {d.name for d in DISTRIBUTIONS if heavy in imported_distributions(d)}
    assert declaring == importing


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=IDS)
def test_no_private_module_of_a_dependency(dist: Distribution) -> None:
    private = {
        module: sorted(files)
        for module, files in imported_modules(dist).items()
        if module.partition(".")[0] not in WORKSPACE
        and any(part.startswith("_") and not part.startswith("__") for part in module.split("."))
    }
    assert not private, f"{dist.name} imports private modules of its dependencies: {private}"


def test_the_checks_see_what_they_should() -> None:
    """The readers themselves: the aggregator imports litestar, Typer's public face, and loads
    its SQLite driver by URL; Bashtel imports selectolax."""
    (aggregator,) = (d for d in DISTRIBUTIONS if d.name == "aggregator")
    (bashtel,) = (d for d in DISTRIBUTIONS if d.name == "aggregator-bashtel")
    assert {"litestar", "typer", "sqlalchemy"} <= set(imported_distributions(aggregator))
    assert "selectolax" in imported_distributions(bashtel)
    assert "aiosqlite" in declared(aggregator)
    assert not any(m.startswith("typer._") for m in imported_modules(aggregator))
