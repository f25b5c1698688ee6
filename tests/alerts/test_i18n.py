"""Money, day counts and dates as the e-mails and the dashboard show them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from aggregator.i18n import (
    format_date,
    format_days,
    format_money,
    format_money_minor,
    normalise_lang,
    plural_category,
    plural_ru,
)

NB = "\u00a0"


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("1234.56", f"1{NB}234,56{NB}₽"),
        ("45.2", f"45,20{NB}₽"),
        ("0", f"0,00{NB}₽"),
        ("1234567.891", f"1{NB}234{NB}567,89{NB}₽"),
        ("-75", f"−75,00{NB}₽"),
        ("999.995", f"1{NB}000,00{NB}₽"),
    ],
)
def test_money_in_russian_groups_with_no_break_spaces(amount: str, expected: str) -> None:
    assert format_money(Decimal(amount)) == expected


def test_money_in_english_and_other_currencies() -> None:
    assert format_money(Decimal("1234.5"), lang="en") == "₽1,234.50"
    assert format_money(Decimal("-45.2"), lang="en") == "−₽45.20"
    assert format_money(Decimal("10"), "USD", "en") == "$10.00"
    assert format_money(Decimal("10"), "KZT", "ru") == f"10,00{NB}KZT"
    assert format_money_minor(4520) == f"45,20{NB}₽"


def test_money_matches_the_spec_when_spaces_are_normalised() -> None:
    assert format_money(Decimal("1234.56")).replace(NB, " ") == "1 234,56 ₽"


@pytest.mark.parametrize(
    ("n", "word"),
    [
        (1, "день"),
        (2, "дня"),
        (4, "дня"),
        (5, "дней"),
        (11, "дней"),
        (12, "дней"),
        (14, "дней"),
        (21, "день"),
        (22, "дня"),
        (25, "дней"),
        (101, "день"),
        (111, "дней"),
    ],
)
def test_russian_plurals(n: int, word: str) -> None:
    assert plural_ru(n, "день", "дня", "дней") == word
    assert format_days(n) == f"{n}{NB}{word}"


def test_plural_categories_are_cldrs() -> None:
    assert [plural_category(n) for n in (1, 3, 7, 0)] == ["one", "few", "many", "many"]
    assert plural_category(Decimal("1.5")) == "other"  # a fraction: "1,5 дня"
    assert plural_category(-21) == "one"
    assert [plural_category(n, "en") for n in (1, 2, 0)] == ["one", "other", "other"]


def test_every_month_in_the_genitive() -> None:
    months = [format_date(dt.date(2024, m, 1)).split(NB)[1].split()[0] for m in range(1, 13)]
    assert months[0] == "января" and months[2] == "марта" and months[4] == "мая"
    assert months[11] == "декабря"
    assert format_date(dt.datetime(2024, 12, 31, 23, 0)) == f"31{NB}декабря 2024"


def test_days_and_dates_in_english() -> None:
    assert format_days(1, "en") == f"1{NB}day"
    assert format_days(2, "en") == f"2{NB}days"
    assert format_date(dt.date(2024, 5, 3), "en") == f"3{NB}May 2024"
    assert format_date(dt.date(2024, 5, 3)) == f"3{NB}мая 2024"


def test_language_falls_back_to_russian() -> None:
    assert normalise_lang("en-GB") == "en"
    assert normalise_lang("EN") == "en"
    assert normalise_lang("de") == "ru"
    assert normalise_lang(None) == "ru"
