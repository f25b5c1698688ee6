"""Russian plural rules, month names and digit grouping come from Babel (CLDR), never by hand.

The source of the aggregator and of every plugin is read as text: no plural table (``n % 10 ==
1``, ``11 <= n % 100 <= 14``), no list of month names, no ``f"{n:,}"`` grouping with a space
swapped in. What Babel gives is checked through the shared helpers (:mod:`aggregator.i18n`),
which the plugins reach through the public face.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from aggregator import format_days, format_number
from aggregator.i18n import NBSP, format_month

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "aggregator", *sorted(ROOT.glob("plugins/*/aggregator_*"))]

PLURAL_TABLE = re.compile(r"%\s*10\s*(==|in|<|>)|%\s*100\s*(<|>|in)|11\s*<=\s*\w+\s*%\s*100")
GROUPING_BY_HAND = re.compile(r":,(\.\d+f|d)?}\"\)?\.replace\(")
MONTHS = (
    "январ",
    "феврал",
    "март",
    "апрел",
    "июн",
    "июл",
    "август",
    "сентябр",
    "октябр",
    "ноябр",
    "декабр",
)


def _files() -> list[Path]:
    return [p for root in SOURCES for p in sorted(root.rglob("*.py")) if "tests" not in p.parts]


def test_no_plural_table_or_grouping_by_hand() -> None:
    found = []
    for file in _files():
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if PLURAL_TABLE.search(line) or GROUPING_BY_HAND.search(line):
                found.append(f"{file.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "hand-made locale rules (use aggregator.i18n / Babel):\n" + "\n".join(found)


def test_no_list_of_month_names() -> None:
    found = []
    for file in _files():
        lowered = file.read_text(encoding="utf-8").lower()
        named = [m for m in MONTHS if re.search(rf"[\"']{m}", lowered)]
        if len(named) >= 3:
            found.append(f"{file.relative_to(ROOT)}: {named}")
    assert not found, "month names by hand (use aggregator.i18n.format_month):\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("days", "ru", "en"),
    [
        (1, "1 день", "1 day"),
        (2, "2 дня", "2 days"),
        (5, "5 дней", "5 days"),
        (11, "11 дней", "11 days"),
        (14, "14 дней", "14 days"),
        (21, "21 день", "21 days"),
        (22, "22 дня", "22 days"),
        (111, "111 дней", "111 days"),
    ],
)
def test_days_follow_cldr(days: int, ru: str, en: str) -> None:
    assert format_days(days, "ru") == ru.replace(" ", NBSP)
    assert format_days(days, "en") == en.replace(" ", NBSP)


def test_numbers_grouped_by_cldr() -> None:
    assert format_number(10_000_000) == "10 000 000".replace(" ", NBSP)
    assert format_number(10_000_000, "en") == "10,000,000"
    assert format_number(Decimal("1234.5")) == "1 234,5".replace(" ", NBSP)


def test_month_names_from_cldr() -> None:
    import datetime as dt

    assert format_month(dt.date(2025, 5, 1)) == "май 2025".replace(" ", NBSP)
    assert format_month(dt.date(2025, 5, 1), "en") == "May 2025".replace(" ", NBSP)


def test_telegram_days_come_from_the_shared_helper() -> None:
    pytest.importorskip("aggregator_telegram")
    from aggregator_telegram.bot import balance_text

    from aggregator import AccountLine

    line = AccountLine(
        account_id=1,
        title="Дом",
        balance="100,00 ₽",
        status="ok",
        status_text="",
        attention=False,
        days_left=21,
    )
    assert f"21{NBSP}день" in balance_text([line], "ru")
