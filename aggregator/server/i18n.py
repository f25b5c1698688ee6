"""The dashboard's one translation table and the formatting of money, dates and times.

Every string the UI shows comes from ``web/locales/{ru,en}.json`` (flat keys such as
``"nav.dashboard"``). A value is a string with ``{name}`` placeholders or, for counted things,
an object of CLDR plural forms (``one``/``few``/``many``/``other``) chosen by ``count``.
Russian is the default; English the second language. Error keys from the provider contract
(``auth.invalid_credentials``, ``temporary.rate_limited``, ...) have entries under ``error.``
with what the user should do under ``error_action.``.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_datetime as babel_format_datetime
from babel.dates import format_timedelta

from .. import i18n as shared_i18n

__all__ = [
    "DEFAULT_LANG",
    "LANGS",
    "Translator",
    "format_bytes",
    "format_date",
    "format_datetime",
    "format_money",
    "format_money_minor",
    "zone",
]

LANGS = ("ru", "en")
DEFAULT_LANG = "ru"


def plural_form(lang: str, count: int | float) -> str:
    """The CLDR plural category of ``count`` (Babel): one/few/many/other (Russian), one/other."""
    if isinstance(count, float) and count.is_integer():
        count = int(count)
    return shared_i18n.plural_category(count, lang)


class _SafeFormat(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Translator:
    """The translation table: ``translate(lang, key, **values)``."""

    def __init__(self, locales_dir: Path) -> None:
        self.tables: dict[str, dict[str, Any]] = {}
        for lang in LANGS:
            path = locales_dir / f"{lang}.json"
            self.tables[lang] = json.loads(path.read_text(encoding="utf-8"))

    def has(self, key: str, lang: str = DEFAULT_LANG) -> bool:
        return key in self.tables.get(lang, {})

    def translate(self, lang: str, key: str, /, **values: Any) -> str:
        table = self.tables.get(lang) or self.tables[DEFAULT_LANG]
        entry = table.get(key)
        if entry is None:
            entry = self.tables[DEFAULT_LANG].get(key, key)
        if isinstance(entry, Mapping):
            entry = (
                entry.get(plural_form(lang, values.get("count", 0))) or entry.get("other") or key
            )
        text = str(entry)
        if values and "{" in text:
            return text.format_map(_SafeFormat(values))
        return text

    def error(self, lang: str, key: str | None) -> tuple[str, str]:
        """The message and the advice for an error key, falling back to its parent key."""
        key = key or "error"
        probe = key
        while probe and not self.has(f"error.{probe}", lang):
            probe = probe.rpartition(".")[0]
        probe = probe or "error"
        message = self.translate(lang, f"error.{probe}")
        action_key = f"error_action.{probe}"
        action = self.translate(lang, action_key) if self.has(action_key, lang) else ""
        return message, action


@lru_cache(maxsize=64)
def zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("Europe/Moscow")


@lru_cache(maxsize=8192)
def format_money(amount: Decimal, currency: str = "RUB", lang: str = DEFAULT_LANG) -> str:
    """``1 234,56 ₽`` in Russian, ``₽1,234.56`` in English (the shared helper, cached)."""
    return shared_i18n.format_money(amount, currency, lang)


@lru_cache(maxsize=8192)
def format_money_minor(minor: int, currency: str = "RUB", lang: str = DEFAULT_LANG) -> str:
    return shared_i18n.format_money_minor(minor, currency, lang)


def format_datetime(value: dt.datetime | None, tz: str, lang: str, *, short: bool = False) -> str:
    if value is None:
        return ""
    return _format_datetime(value.replace(second=0, microsecond=0), tz, lang, short)


@lru_cache(maxsize=8192)
def _format_datetime(value: dt.datetime, tz: str, lang: str, short: bool) -> str:
    pattern = "d MMM, HH:mm" if short else "d MMM y, HH:mm"
    return babel_format_datetime(value, pattern, tzinfo=zone(tz), locale=lang)


def format_date(value: dt.date | None, lang: str) -> str:
    """``3 мая 2024`` / ``3 May 2024`` (the shared helper)."""
    if value is None:
        return ""
    return shared_i18n.format_date(value, lang)


def format_age(value: dt.timedelta, lang: str) -> str:
    """How old something is, in words: ``3 часа`` / ``3 hours`` (Babel, CLDR plurals)."""
    return str(format_timedelta(max(value, dt.timedelta(0)), threshold=1.5, locale=lang))


def format_bytes(value: int | Decimal, lang: str) -> str:
    """``1,5 ГБ`` / ``1.5 GB`` (the shared helper)."""
    return shared_i18n.format_bytes(value, lang)
