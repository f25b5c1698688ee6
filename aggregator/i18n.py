"""Formatting shared by the e-mails and the dashboard: money, day counts, dates.

Russian first, English second. Money is shown as ``1 234,56 ₽`` in Russian (a no-break space,
U+00A0, groups the digits and separates the symbol, so a line never breaks inside an amount)
and as ``₽1,234.56`` in English. Negative amounts take a true minus sign (U+2212).

Pure functions with no I/O and no locale data to load, so the poller can render an alert
without importing Babel.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from .core.money import from_minor, quantize

__all__ = [
    "DEFAULT_LANG",
    "LANGS",
    "NBSP",
    "format_date",
    "format_days",
    "format_money",
    "format_money_minor",
    "normalise_lang",
    "plural_ru",
]

LANGS = ("ru", "en")
DEFAULT_LANG = "ru"
NBSP = "\u00a0"
MINUS = "\u2212"

_SYMBOLS = {"RUB": "₽", "USD": "$", "EUR": "€"}

_MONTHS_RU = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)
_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def normalise_lang(lang: str | None) -> str:
    """``"ru"`` or ``"en"``: a region suffix is dropped, anything else falls back to Russian."""
    base = (lang or "").strip().lower().replace("_", "-").split("-")[0]
    return base if base in LANGS else DEFAULT_LANG


def _group(digits: str, separator: str) -> str:
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return separator.join(parts)


def format_money(amount: Decimal | int | str, currency: str = "RUB", lang: str = "ru") -> str:
    """``1 234,56 ₽`` (ru) or ``₽1,234.56`` (en); two decimals, half-up rounding.

    >>> format_money(Decimal("1234.56"))
    '1\\xa0234,56\\xa0₽'
    >>> format_money(Decimal("-45.2"), lang="en")
    '−₽45.20'
    """
    value = quantize(amount, currency)
    sign = MINUS if value < 0 else ""
    whole, _, cents = f"{abs(value):f}".partition(".")
    symbol = _SYMBOLS.get(currency.upper(), currency.upper())
    if normalise_lang(lang) == "en":
        return f"{sign}{symbol}{_group(whole, ',')}.{cents}"
    return f"{sign}{_group(whole, NBSP)},{cents}{NBSP}{symbol}"


def format_money_minor(minor: int, currency: str = "RUB", lang: str = "ru") -> str:
    """:func:`format_money` for an integer amount of kopecks (cents)."""
    return format_money(from_minor(minor, currency), currency, lang)


def plural_ru(n: int, one: str, few: str, many: str) -> str:
    """The Russian plural form for ``n``: 1 день, 2 дня, 5 дней, 11 дней, 21 день."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def format_days(days: int, lang: str = "ru") -> str:
    """``2 дня`` / ``5 дней`` (ru) or ``1 day`` / ``2 days`` (en), with a no-break space."""
    if normalise_lang(lang) == "en":
        return f"{days}{NBSP}{'day' if abs(days) == 1 else 'days'}"
    return f"{days}{NBSP}{plural_ru(days, 'день', 'дня', 'дней')}"


def format_date(value: dt.date, lang: str = "ru") -> str:
    """``3 мая 2024`` (ru) or ``3 May 2024`` (en)."""
    if isinstance(value, dt.datetime):
        value = value.date()
    months = _MONTHS_EN if normalise_lang(lang) == "en" else _MONTHS_RU
    return f"{value.day}{NBSP}{months[value.month - 1]} {value.year}"
