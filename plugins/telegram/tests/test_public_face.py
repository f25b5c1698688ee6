"""The notifier hook is proven by this plugin alone: it imports nothing but the public face
``aggregator``, and nothing under aggregator/ names Telegram."""

from __future__ import annotations

import ast
from pathlib import Path

import aggregator_telegram

from aggregator.plugins import load_plugins

PACKAGE = Path(aggregator_telegram.__file__).parent
CORE = Path(__file__).resolve().parents[3] / "aggregator"


def test_the_plugin_imports_only_the_public_face() -> None:
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                assert not node.module.startswith("aggregator."), (path.name, node.module)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("aggregator."), (path.name, alias.name)


def test_nothing_under_aggregator_names_telegram() -> None:
    assert CORE.is_dir()
    named = [
        str(path.relative_to(CORE))
        for path in CORE.rglob("*")
        if path.is_file()
        and path.suffix in {".py", ".j2", ".html", ".json", ".md", ".txt"}
        and "telegram" in path.read_text(encoding="utf-8", errors="replace").lower()
    ]
    assert named == []


def test_the_entry_point_registers_the_notifier() -> None:
    registry = load_plugins(allow=["telegram"])
    assert registry.failures == []
    plugin = registry.plugins["telegram"]
    assert plugin.distribution == "aggregator-telegram" and plugin.notifiers == ["telegram"]
    cls = registry.notifiers["telegram"]
    assert cls.links_recipients and [f.name for f in cls.fields] == ["bot_token"]
    assert cls.fields[0].secret
