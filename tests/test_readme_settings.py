"""README.md documents every setting: its environment variable and its default.

The Configuration table of README.md is generated from :class:`aggregator.settings.Settings`
(``python -m tests.test_readme_settings`` prints it); this test fails when a setting is
missing, or its row's default is no longer the code's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aggregator.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def env_name(field: str) -> str:
    return f"AGGREGATOR_{field.upper()}"


def default_text(field: str) -> str:
    info = Settings.model_fields[field]
    factory = info.default_factory
    value = factory() if factory is not None else info.default  # type: ignore[call-arg]
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def settings_table() -> str:
    """The Markdown table README.md carries (regenerate it after adding a setting)."""
    lines = [
        "| Environment variable | Default | Meaning |",
        "|---|---|---|",
    ]
    for name, info in Settings.model_fields.items():
        description = (info.description or "").replace("|", "\\|")
        lines.append(f"| `{env_name(name)}` | `{default_text(name)}` | {description} |")
    return "\n".join(lines)


def readme_rows() -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*`(AGGREGATOR_[A-Z0-9_]+)`\s*\|\s*`([^`]*)`\s*\|", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


@pytest.mark.parametrize("field", list(Settings.model_fields))
def test_every_setting_is_in_the_readme_with_its_default(field: str) -> None:
    rows = readme_rows()
    name = env_name(field)
    assert name in rows, f"README.md lacks {name}: paste the output of settings_table()"
    assert rows[name] == default_text(field), f"README.md shows an old default for {name}"


def test_the_readme_lists_no_setting_that_does_not_exist() -> None:
    known = {env_name(f) for f in Settings.model_fields}
    assert set(readme_rows()) <= known


def test_settings_read_the_environment_variable_the_readme_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGGREGATOR_PORT", "8123")
    monkeypatch.setenv("AGGREGATOR_PROVIDER_URLS", '{"beeline": "http://127.0.0.1:1/b"}')
    settings = Settings()
    assert settings.port == 8123
    assert settings.provider_urls == {"beeline": "http://127.0.0.1:1/b"}


if __name__ == "__main__":  # pragma: no cover
    print(settings_table())
