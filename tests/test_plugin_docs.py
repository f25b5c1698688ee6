"""docs/plugins.md says what a third-party author needs, where an outsider tripped."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
GUIDE = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
TEMPLATE = ROOT / "aggregator" / "scaffold" / "template"


def test_every_scaffold_test_file_the_guide_names_exists() -> None:
    for name in re.findall(r"`(tests/[\w/]+\.py)`", GUIDE):
        generated = TEMPLATE / (name + ".j2")
        assert generated.exists(), f"the guide names {name}, the scaffold does not write it"


def test_no_async_fixture_with_plain_pytest_fixture_in_examples() -> None:
    blocks = re.findall(r"```python\n(.*?)```", GUIDE, flags=re.S)
    for block in blocks:
        assert not re.search(r"@pytest\.fixture[^\n]*\n\s*async def", block), block[:200]


def test_the_guide_covers_what_an_outsider_missed() -> None:
    assert "confirm(session, challenge, answer) -> OperationResult |" in GUIDE
    assert "reference_provider.testing" in GUIDE and "serving(" in GUIDE
    assert "sys.executable" in GUIDE  # the printed install command, as it is printed
    assert "code_follows" in GUIDE
    assert "very `Session` object" in GUIDE  # how refreshed_session knows which session
