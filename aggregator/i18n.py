"""Formatting shared by the e-mails, the dashboard and the CLI: money, day counts, dates.

Russian first, English second. Money is shown as ``1 234,56 ₽`` in Russian (a no-break space,
U+00A0, groups the digits and separates the symbol, so a line never breaks inside an amount)
and as ``₽1,234.56`` in English. Negative amounts take a true minus sign (U+2212).

The rules come from CLDR through Babel, not from hand-written tables: plural categories
(:func:`plural_category`: 1 день, 2 дня, 5 дней, 11 дней, 21 день), month names in the
genitive (``3 мая 2024``) and digit grouping.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.numbers import format_decimal

from .core.money import from_minor, quantize

__all__ = [
    "DEFAULT_LANG",
    "LANGS",
    "NBSP",
    "format_bonus",
    "format_bytes",
    "format_date",
    "format_days",
    "format_minutes",
    "format_money",
    "format_money_minor",
    "format_month",
    "format_number",
    "format_points",
    "normalise_lang",
    "plural_category",
    "plural_ru",
]

LANGS = ("ru", "en")
DEFAULT_LANG = "ru"
NBSP = "\u00a0"
MINUS = "\u2212"

_SYMBOLS = {"RUB": "₽", "USD": "$", "EUR": "€"}


def normalise_lang(lang: str | None) -> str:
    """``"ru"`` or ``"en"``: a region suffix is dropped, anything else falls back to Russian."""
    base = (lang or "").strip().lower().replace("_", "-").split("-")[0]
    return base if base in LANGS else DEFAULT_LANG


@lru_cache(maxsize=4)
def _locale(lang: str) -> Locale:
    return Locale.parse(normalise_lang(lang))


def format_money(amount: Decimal | int | str, currency: str = "RUB", lang: str = "ru") -> str:
    """``1 234,56 ₽`` (ru) or ``₽1,234.56`` (en); two decimals, half-up rounding.

    >>> format_money(Decimal("1234.56"))
    '1\\xa0234,56\\xa0₽'
    >>> format_money(Decimal("-45.2"), lang="en")
    '−₽45.20'
    """
    value = quantize(amount, currency)
    sign = MINUS if value < 0 else ""
    symbol = _SYMBOLS.get(currency.upper(), currency.upper())
    lang = normalise_lang(lang)
    digits = format_decimal(abs(value), "#,##0.00", locale=_locale(lang))
    if lang == "en":
        return f"{sign}{symbol}{digits}"
    for space in (" ", "\u202f"):  # CLDR's Russian group separator is a no-break space
        digits = digits.replace(space, NBSP)
    return f"{sign}{digits}{NBSP}{symbol}"


def format_number(value: int | Decimal, lang: str = "ru") -> str:
    """Digits grouped as CLDR says: ``10 000 000`` (ru, no-break spaces) or ``10,000,000`` (en);
    decimals as given (``1 234,5``)."""
    text = format_decimal(value, "#,##0.###", locale=_locale(lang))
    return text.replace(" ", NBSP).replace("\u202f", NBSP)


def format_money_minor(minor: int, currency: str = "RUB", lang: str = "ru") -> str:
    """:func:`format_money` for an integer amount of kopecks (cents)."""
    return format_money(from_minor(minor, currency), currency, lang)


def format_points(points: Decimal | int, lang: str = "ru") -> str:
    """A bonus in points: ``1 250 баллов``, ``21 балл``, ``1,5 балла`` (ru; CLDR plurals via
    Babel, a fraction takes the genitive singular) or ``1,250 points`` / ``1 point`` (en)."""
    value = Decimal(points)
    lang = normalise_lang(lang)
    number = format_decimal(value, "#,##0.##", locale=_locale(lang))
    for space in (" ", "\u202f"):
        number = number.replace(space, NBSP)
    category = plural_category(value, lang)
    if lang == "en":
        return f"{number}{NBSP}{'point' if category == 'one' else 'points'}"
    word = {"one": "балл", "few": "балла", "many": "баллов"}.get(category, "балла")
    return f"{number}{NBSP}{word}"


def format_bonus(minor: int, unit: str | None, currency: str = "RUB", lang: str = "ru") -> str:
    """A stored bonus (``bonus_minor`` and ``bonus_unit``): points as :func:`format_points`,
    money only when the operator said money (its currency, else ``currency``)."""
    if unit == "points":
        return format_points(Decimal(minor) / 100, lang)
    return format_money_minor(minor, unit or currency, lang)


def plural_category(n: int | float | Decimal, lang: str = "ru") -> str:
    """The CLDR plural category of ``n`` in ``lang``: ``one``/``few``/``many``/``other`` in
    Russian (1, 2, 5, 1.5), ``one``/``other`` in English."""
    number: float | Decimal = -n if n < 0 else n
    return str(_locale(lang).plural_form(number))


def plural_ru(n: int, one: str, few: str, many: str) -> str:
    """The Russian plural form for ``n``: 1 день, 2 дня, 5 дней, 11 дней, 21 день."""
    category = plural_category(n, "ru")
    return one if category == "one" else few if category == "few" else many


def format_days(days: int, lang: str = "ru") -> str:
    """``2 дня`` / ``5 дней`` (ru) or ``1 day`` / ``2 days`` (en), with a no-break space."""
    if normalise_lang(lang) == "en":
        return f"{days}{NBSP}{'day' if plural_category(days, 'en') == 'one' else 'days'}"
    return f"{days}{NBSP}{plural_ru(days, 'день', 'дня', 'дней')}"


def format_date(value: dt.date, lang: str = "ru") -> str:
    """``3 мая 2024`` (ru) or ``3 May 2024`` (en)."""
    if isinstance(value, dt.datetime):
        value = value.date()
    # "d MMMM y": the day, the month's name in its genitive (format) form, the year.
    text = babel_format_date(value, "d MMMM y", locale=_locale(lang))
    return text.replace(" ", NBSP, 1)


def format_bytes(value: int | Decimal, lang: str = "ru") -> str:
    """``1,5 ГБ`` (ru) or ``1.5 GB`` (en): binary multiples, one decimal at most."""
    lang = normalise_lang(lang)
    size = float(value)
    units = ["Б", "КБ", "МБ", "ГБ", "ТБ"] if lang == "ru" else ["B", "KB", "MB", "GB", "TB"]
    unit = 0
    while size >= 1024 and unit < len(units) - 1:
        size /= 1024
        unit += 1
    number = format_decimal(round(size, 1), "#,##0.#", locale=_locale(lang))
    return f"{number.replace(chr(0x202F), NBSP)}{NBSP}{units[unit]}"


def format_minutes(seconds: int | Decimal, lang: str = "ru") -> str:
    """Whole minutes of ``seconds`` (rounded down): ``21 минута`` / ``5 minutes``."""
    minutes = int(seconds) // 60
    number = format_decimal(minutes, "#,##0", locale=_locale(lang)).replace(chr(0x202F), NBSP)
    if normalise_lang(lang) == "en":
        return f"{number}{NBSP}{'minute' if plural_category(minutes, 'en') == 'one' else 'minutes'}"
    return f"{number}{NBSP}{plural_ru(minutes, 'минута', 'минуты', 'минут')}"


def format_month(value: dt.date, lang: str = "ru", *, short: bool = False) -> str:
    """A month on its own: ``январь 2025`` / ``January 2025``; short ``янв.`` / ``Jan``."""
    text = babel_format_date(value, "LLL" if short else "LLLL y", locale=_locale(lang))
    return text.replace(" ", NBSP)
