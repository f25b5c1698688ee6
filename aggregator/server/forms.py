"""Form fields checked in place: a wrong field is named, says what it expects, loses nothing.

A parser raises :class:`FieldInvalid` (``field``, a translation ``key`` and its ``values``). A page
collects every problem of a form with :class:`FormCheck` and renders the form again with the
typed values and a message at each field; the JSON API (and a page that does not catch it)
answers 422 naming the field.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from litestar.exceptions import ValidationException

from ..core.money import from_minor, to_minor
from ..i18n import format_number
from ..services.errors import BadInput

__all__ = [
    "GIB",
    "FieldInvalid",
    "FormCheck",
    "gigabytes_text",
    "parse_date",
    "parse_gigabytes",
    "parse_int",
    "parse_roubles",
    "roubles_text",
]

GIB = 1 << 30  # a "ГБ" as operators count traffic (binary, as the dashboard shows it)

T = TypeVar("T")


class FieldInvalid(ValidationException):
    """One field of a form or request is wrong."""

    status_code = 422

    def __init__(self, field: str, key: str, **values: Any) -> None:
        super().__init__(
            detail=f"{field}: {key}", extra=[{"field": field, "key": key, "values": values}]
        )
        self.field = field
        self.key = key
        self.values = values


class FormCheck:
    """Runs parsers, keeping the first problem of each field instead of stopping at one."""

    def __init__(self) -> None:
        self.problems: dict[str, tuple[str, dict[str, Any]]] = {}

    def __call__(self, parse: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return parse(*args, **kwargs)
        except (FieldInvalid, BadInput) as exc:
            self.catch(exc)
            return None

    def add(self, field: str, key: str, **values: Any) -> None:
        self.problems.setdefault(field, (key, values))

    def catch(self, exc: FieldInvalid | BadInput) -> None:
        """Keep the problem an application-layer check (:class:`BadInput`) or parser found."""
        if isinstance(exc, BadInput) and exc.key is None:  # no message key: its own words
            self.problems.setdefault(exc.field, ("", {"message": exc.message}))
        else:
            self.add(exc.field, exc.key or "", **exc.values)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def messages(self, translate: Any) -> dict[str, str]:
        """Field -> the message in the page's language (``translate(key, **values)``)."""
        return {
            field: translate(key, **values) if key else str(values.get("message", ""))
            for field, (key, values) in self.problems.items()
        }


_CURRENCY = ("₽", "руб.", "руб", "р.", "rub", "rur")


def parse_roubles(
    value: str | None, field: str, *, low: Decimal = Decimal(0), high: Decimal = Decimal(10**7)
) -> int | None:
    """Roubles as a person types them ("150", "150,50", "1 234,56 ₽", "1234.5") as kopecks.

    Empty means none. Anything else ("сто рублей", "1,2,3", more than two decimals) is a
    FieldInvalid naming the field and the expected form.
    """
    text = (value or "").strip().lower()
    for mark in _CURRENCY:
        text = text.removesuffix(mark).strip()
    text = text.replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace("'", "")
    if not text:
        return None
    if text.count(",") + text.count(".") > 1:
        raise FieldInvalid(field, "form.expect_money")
    text = text.replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise FieldInvalid(field, "form.expect_money") from None
    if not amount.is_finite() or -amount.as_tuple().exponent > 2:  # type: ignore[operator]
        raise FieldInvalid(field, "form.expect_money")
    if not low <= amount <= high:
        raise FieldInvalid(field, "form.expect_money_range", low=_rub(low), high=_rub(high))
    return to_minor(amount)


def _rub(value: Decimal) -> str:
    return format_number(int(value))


def parse_gigabytes(value: str | None, field: str, high: int = 10_000) -> int | None:
    """Gigabytes as a person types them ("1", "0,5", "1.5 ГБ") as bytes; empty means none."""
    text = (value or "").strip().lower()
    for mark in ("гб", "gb", "г", "g"):
        text = text.removesuffix(mark).strip()
    text = text.replace("\u00a0", "").replace(" ", "").replace(",", ".")
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise FieldInvalid(field, "form.expect_gigabytes", high=high) from None
    if not amount.is_finite() or not 0 < amount <= high or text.count(".") > 1:
        raise FieldInvalid(field, "form.expect_gigabytes", high=high)
    return int(amount * GIB)


def gigabytes_text(value: int | None) -> str:
    """Bytes as the gigabytes a person types ("1", "0,5"); empty for none."""
    if value is None:
        return ""
    return f"{Decimal(value) / GIB:.2f}".rstrip("0").rstrip(".").replace(".", ",")


def parse_int(value: str | None, field: str, low: int, high: int) -> int | None:
    """A whole number in [low, high] ("15", " 15 "); empty means none."""
    text = (value or "").strip().replace("\u00a0", "").replace(" ", "")
    if not text:
        return None
    if not text.isdigit() or not low <= int(text) <= high:
        raise FieldInvalid(field, "form.expect_int", low=low, high=high)
    return int(text)


def parse_date(value: str | None, field: str) -> dt.date:
    """A date as a browser sends it (2026-12-31) or as a person types it (31.12.2026)."""
    text = (value or "").strip()
    for shape in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(text, shape).date()
        except ValueError:
            continue
    raise FieldInvalid(field, "form.expect_date")


def roubles_text(minor: int | None, lang: str) -> str:
    """Kopecks as a form field shows them: "1234,50" in Russian, "1234.50" in English."""
    if minor is None:
        return ""
    text = f"{from_minor(minor):.2f}"
    return text.replace(".", ",") if lang == "ru" else text
