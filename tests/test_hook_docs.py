"""Every hook spec has a section in docs/plugins.md and a test of its own under tests/.

The section is a level-2 heading named exactly like the hook (``## register_providers``); the
test is a function named ``test_hook_<hookname>...`` anywhere under tests/ (found by parsing
the files, not by importing them).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from aggregator.core import hookspecs

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"


def hook_names() -> list[str]:
    return sorted(
        name
        for name in dir(hookspecs)
        if callable(getattr(hookspecs, name))
        and hasattr(getattr(hookspecs, name), "aggregator_spec")
    )


def test_the_hookspecs_are_found() -> None:
    assert hook_names() == ["register_notifiers", "register_providers"]


def _test_function_names() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
    return names


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_has_a_section_in_the_plugin_guide(hook: str) -> None:
    headings = re.findall(r"^## (\S+)\s*$", GUIDE.read_text(encoding="utf-8"), flags=re.M)
    assert hook in headings, f"docs/plugins.md needs a section '## {hook}'"


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_has_a_test_of_its_own(hook: str) -> None:
    tests = [n for n in _test_function_names() if n.startswith(f"test_hook_{hook}")]
    assert tests, f"write a test named test_hook_{hook}_... under tests/"


def test_the_guide_section_shows_the_hook_signature() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for hook in hook_names():
        section = text.split(f"## {hook}", 1)[1].split("\n## ", 1)[0]
        assert f"def {hook}(register" in section, f"the {hook} section shows no example"
