"""Every built-in plugin reads its operator's replies through the aggregator's parsing kit.

The kit (``aggregator``: ``Wire``, ``parse_reply``, ``Roubles``, ``Kopecks``, ``Number``,
``DateTime``, ``MOSCOW_TZ``, ``to_minor``/``from_minor``, ``parse_*``) decides once how a reply
is validated, how money is rounded and which offset is Moscow's. The plugins' source is read as
text for the variants that crept in before: a model of their own base, the Moscow offset by
hand, money rounded or turned into kopecks by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p for p in ROOT.glob("plugins/*/aggregator_*") if p.is_dir())

VARIANTS = {
    "a reply model not built on the kit's Wire": re.compile(r"\bBaseModel\b|\bTypeAdapter\b"),
    "the Moscow offset by hand (use MOSCOW_TZ)": re.compile(
        r"hours\s*=\s*3\b|ZoneInfo\(\s*[\"']Europe/Moscow"
    ),
    "money rounded by hand (use Roubles / parse_roubles)": re.compile(
        r"quantize\(\s*Decimal\(\s*[\"']0\.01[\"']"
    ),
    "kopecks by hand (use to_minor / from_minor / Kopecks)": re.compile(
        r"(amount|sum|rub\w*|money)\w*\s*[*/]\s*100\b|\b100\s*\*\s*(amount|sum|rub)"
    ),
}


def _sources() -> list[Path]:
    return [f for plugin in PLUGINS for f in sorted(plugin.rglob("*.py"))]


def test_every_operator_plugin_is_read() -> None:
    names = {p.name for p in PLUGINS}
    assert {"aggregator_bashtel", "aggregator_beeline", "aggregator_rostelecom"} <= names
    assert {"aggregator_netbynet", "aggregator_reference"} <= names


@pytest.mark.parametrize("what", sorted(VARIANTS))
def test_no_plugin_keeps_its_own_variant(what: str) -> None:
    pattern = VARIANTS[what]
    found = [
        f"{file.relative_to(ROOT)}:{number}: {line.strip()}"
        for file in _sources()
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line) and not line.lstrip().startswith("#")
    ]
    assert not found, f"{what}:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "plugin", [p for p in PLUGINS if p.name != "aggregator_telegram"], ids=lambda p: p.name
)
def test_every_operator_plugin_parses_with_the_kit(plugin: Path) -> None:
    text = "\n".join(f.read_text(encoding="utf-8") for f in plugin.rglob("*.py"))
    assert re.search(r"\bparse_reply\b|\bparse_roubles\b|\bparse_amount\b", text), plugin.name


def test_the_patterns_catch_what_they_name() -> None:
    samples = {
        "a reply model not built on the kit's Wire": "class _Reply(BaseModel):",
        "the Moscow offset by hand (use MOSCOW_TZ)": "dt.timezone(dt.timedelta(hours=3))",
        "money rounded by hand (use Roubles / parse_roubles)": 'x.quantize(Decimal("0.01"))',
        "kopecks by hand (use to_minor / from_minor / Kopecks)": "kopecks = amount * 100",
    }
    for what, sample in samples.items():
        assert VARIANTS[what].search(sample), what
