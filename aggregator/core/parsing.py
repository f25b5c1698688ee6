"""The parsing kit: read an operator's reply the way a scraper that must live for years does.

One style for every plugin. Describe the part of a reply you need as a :class:`Wire` model,
with the kit's tolerant field types, and validate it with :func:`parse_reply`::

    from aggregator import DateTime, Kopecks, Roubles, Text, Wire, parse_reply

    class BalanceReply(Wire):
        balance: Roubles                # 12, "12.5", "1 234,56 ₽", 1234.567 -> 1 234,57 ₽
        bonus: Kopecks | None = None    # 123456 or "123456" -> 1 234,56 ₽; null or "" -> None
        as_of: DateTime                 # ISO, "+0300", "Z", "01.06.2024 12:30"; naive = Moscow
        tariff: Text = ""               # "Мой" or 42 -> "42"

    reply = parse_reply(BalanceReply, payload, what="balance")

The rules (see docs/plugins.md, "The parsing kit"):

- unknown fields are ignored (operators add fields all the time);
- a field with a default is optional: missing, ``null`` or a blank string gives the default;
- numbers may come as JSON numbers or as text (``"12"``, ``" 1 234 "``, ``"12,5"``);
- money in roubles comes as a number or Russian text and is rounded half up to kopecks (one
  rule, :mod:`aggregator.core.money`); money in kopecks must be whole;
- timestamps without an offset are Moscow time (:data:`MOSCOW_TZ`);
- anything else is a :class:`~aggregator.ParseError` naming the fields at fault, with the reply
  attached **redacted** (never the values themselves in the message).

For pages and replies that are not models (HTML, bare values), the ``parse_*`` helpers apply the
same rules to one value, and :func:`reading` turns any slip inside a block into a ParseError.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from .errors import ParseError
from .models import Money
from .money import quantize

__all__ = [
    "MOSCOW_TZ",
    "Date",
    "DateTime",
    "Flag",
    "Int",
    "Kopecks",
    "Number",
    "Roubles",
    "Text",
    "Wire",
    "parse_amount",
    "parse_date",
    "parse_datetime",
    "parse_flag",
    "parse_int",
    "parse_kopecks",
    "parse_number",
    "parse_reply",
    "parse_roubles",
    "reading",
]

MOSCOW_TZ = dt.timezone(dt.timedelta(hours=3), "MSK")
"""Moscow time (UTC+3 all year since 2014): what a cabinet means by a time without an offset."""

_W = TypeVar("_W", bound=BaseModel)
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009\u2007]+")
_PLAIN = re.compile(r"\d+(?:[.,]\d+)?")
_GROUPED = re.compile(
    r"(?P<whole>\d{1,3}(?P<sep>[ '.,])\d{3}(?:(?P=sep)\d{3})*)(?:(?P<dec>[.,])(?P<frac>\d+))?"
)
_CURRENCY = re.compile(r"(?:₽|руб(?:лей|ля|ль)?\.?|р\.|р|rub|rur)$", re.I)
_MINUS = str.maketrans({"−": "-", "–": "-", "—": "-"})


class _Slip(ValueError):
    """A value the kit cannot read; becomes a ParseError (or a pydantic error in a model)."""


# -- values ---------------------------------------------------------------------------------
def _number_text(value: Any) -> str:
    """A JSON number or number-like text as plain decimal text (``"-1234.5"``).

    Text may carry a sign (``-``, ``−``), thousands grouped by spaces, NBSP, ``'``, ``.`` or
    ``,`` in threes, a decimal comma or point, and a currency (``₽``, ``руб.``). One lone ``.``
    or ``,`` is always the decimal point (``"1,234"`` is 1.234).
    """
    if isinstance(value, bool) or value is None:
        raise _Slip("not a number")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        number = Decimal(repr(value)) if isinstance(value, float) else value
        if not number.is_finite():
            raise _Slip("not a finite number")
        return format(number, "f")  # the float's shortest text: 0.1 -> "0.1", 1e-05 -> "0.00001"
    if not isinstance(value, str):
        raise _Slip("not a number")
    text = _SPACES.sub(" ", value.translate(_MINUS)).strip()
    text = _CURRENCY.sub("", text).strip()
    sign = ""
    if text[:1] in "+-" and text:
        sign, text = ("-" if text[0] == "-" else ""), text[1:].lstrip()
    if _PLAIN.fullmatch(text):
        return sign + text.replace(",", ".")
    grouped = _GROUPED.fullmatch(text)
    if grouped is None or grouped["sep"] == grouped["dec"]:
        raise _Slip("not a number")
    whole = grouped["whole"].replace(grouped["sep"], "")
    return sign + whole + (f".{grouped['frac']}" if grouped["frac"] else "")


def _number(value: Any) -> Decimal:
    try:
        number = Decimal(_number_text(value))
    except InvalidOperation:  # pragma: no cover - the pattern admits digits only
        raise _Slip("not a number") from None
    return number


def _int(value: Any) -> int:
    number = _number(value)
    if number != number.to_integral_value():
        raise _Slip("not a whole number")
    return int(number)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool) or value is None:
        raise _Slip("not text")
    if isinstance(value, int | float | Decimal):
        return _number_text(value)
    raise _Slip("not text")


_TRUE = {"true", "1", "y", "yes", "on", "да", "t"}
_FALSE = {"false", "0", "n", "no", "off", "нет", "f", ""}


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise _Slip("not a yes/no value")


def _roubles(value: Any, currency: str = "RUB") -> Money:
    if isinstance(value, Money):
        return value
    return Money(amount=quantize(_number(value), currency), currency=currency)


def _kopecks(value: Any, currency: str = "RUB") -> Money:
    if isinstance(value, Money):
        return value
    return Money.from_minor(_int(value), currency)


_RU_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_OFFSET = re.compile(r"([+-]\d\d):?(\d\d)$")


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise _Slip("not a date")
    text = value.strip()
    match = _RU_DATE.match(text)
    try:
        if match:
            return dt.date(int(match[3]), int(match[2]), int(match[1]))
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise _Slip("not a date") from None


def _datetime(value: Any, tz: dt.tzinfo = MOSCOW_TZ) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) > 10**11 else value  # epoch milliseconds
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    elif isinstance(value, str):
        text = value.strip()
        match = _RU_DATE.match(text)
        if match:  # "01.06.2024 12:30[:45]"
            text = f"{match[3]}-{int(match[2]):02d}-{int(match[1]):02d}{text[match.end() :]}"
            text = text.replace(" ", "T", 1) if len(text) > 10 else text
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        text = _OFFSET.sub(r"\1:\2", text) if "T" in text or " " in text else text
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise _Slip("not a date-time") from None
    else:
        raise _Slip("not a date-time")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


# -- field types for Wire models ---------------------------------------------------------------
Text = Annotated[str, BeforeValidator(_text)]
"""Text, stripped; a number is accepted as its text (``42`` -> ``"42"``)."""
Int = Annotated[int, BeforeValidator(_int)]
"""A whole number from ``12``, ``12.0``, ``"12"``, ``" 1 234 "``."""
Number = Annotated[Decimal, BeforeValidator(_number)]
"""An exact decimal from a JSON number or text (``"12,5"``, ``"1 234.5"``)."""
Flag = Annotated[bool, BeforeValidator(_flag)]
"""Yes/no from ``true``/``false``, ``1``/``0``, ``"Y"``/``"N"``, ``"да"``/``"нет"``."""
Roubles = Annotated[Money, BeforeValidator(_roubles)]
"""Money in roubles from a number or text (``"1 234,56 ₽"``, ``"-45,20 руб."``), half up."""
Kopecks = Annotated[Money, BeforeValidator(_kopecks)]
"""Money in kopecks (minor units), a whole number as a JSON number or text."""
Date = Annotated[dt.date, BeforeValidator(_date)]
"""A date from ``"2024-06-01"``, ``"01.06.2024"`` or the date part of a timestamp."""
DateTime = Annotated[dt.datetime, BeforeValidator(_datetime)]
"""An aware timestamp: ISO with ``Z``, ``+03:00`` or ``+0300``, ``"01.06.2024 12:30"``, epoch
seconds or milliseconds; without an offset it is Moscow time."""


class Wire(BaseModel):
    """Base of a reply's shape: unknown fields ignored, known ones read tolerantly.

    A field with a default is optional: when it is missing, ``null`` or a blank string, the
    default is used. Fields may be named by the operator's spelling (``nextBillingDate``) or
    by a Python name with ``Field(alias=...)``.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _defaults_for_blanks(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        keys = _OPTIONAL_KEYS.get(cls)
        if keys is None:  # once per model: the keys of its optional fields
            keys = _OPTIONAL_KEYS[cls] = tuple(
                key
                for name, info in cls.model_fields.items()
                if not info.is_required()
                for key in {name, info.alias or name}
            )
        cleaned: dict[Any, Any] | None = None
        for key in keys:
            value = data.get(key, ...)
            if value is None or (isinstance(value, str) and not value.strip()):
                if cleaned is None:
                    cleaned = dict(data)
                cleaned.pop(key, None)
        if cleaned is None:
            return data if isinstance(data, dict) else dict(data)
        return cleaned


_OPTIONAL_KEYS: dict[type[Wire], tuple[str, ...]] = {}


# -- validation -----------------------------------------------------------------------------
def _decode(payload: Any) -> Any:
    if isinstance(payload, bytes | str):
        return json.loads(payload)
    return payload


def parse_reply(
    model: type[_W], payload: Any, *, what: str = "reply", secrets: Iterable[str] = ()
) -> _W:
    """Validate ``payload`` (decoded JSON, or JSON text/bytes) into ``model``.

    Raises :class:`~aggregator.ParseError` saying which fields were at fault, with the payload
    attached redacted (``secrets``: values to remove besides the usual ones, e.g. a token).
    """
    try:
        return model.model_validate(_decode(payload))
    except ValueError as exc:  # ValidationError and JSONDecodeError are both ValueErrors
        if isinstance(exc, ValidationError):
            where = sorted({".".join(str(p) for p in e["loc"]) or "<root>" for e in exc.errors()})
            detail = ", ".join(where[:8]) + (" …" if len(where) > 8 else "")
        else:
            detail = "not JSON"
        raise ParseError(
            f"unexpected {what} reply ({detail})", payload=payload, secrets=secrets
        ) from None


@contextmanager
def reading(payload: Any, what: str, secrets: Iterable[str] = ()) -> Iterator[None]:
    """Inside the block, any slip (a missing key, a wrong type, an unreadable value) becomes a
    ParseError about ``what`` with ``payload`` redacted. Contract errors pass through."""
    try:
        yield
    except ParseError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise ParseError(
            f"unexpected {what} reply ({type(exc).__name__})", payload=payload, secrets=secrets
        ) from None


def _one(reader: Any, value: Any, what: str, payload: Any, secrets: Iterable[str]) -> Any:
    try:
        return reader(value)
    except (_Slip, ValueError, TypeError, ArithmeticError):
        raise ParseError(
            f"not {what}", payload=value if payload is None else payload, secrets=secrets
        ) from None


def parse_number(value: Any, *, payload: Any = None, secrets: Iterable[str] = ()) -> Decimal:
    """``"1 234,5"`` -> ``Decimal('1234.5')`` (as :data:`Number`); ParseError otherwise."""
    result: Decimal = _one(_number, value, "a number", payload, secrets)
    return result


def parse_int(value: Any, *, payload: Any = None, secrets: Iterable[str] = ()) -> int:
    """``"1 234"`` -> ``1234`` (as :data:`Int`); ParseError otherwise."""
    result: int = _one(_int, value, "a whole number", payload, secrets)
    return result


def parse_flag(value: Any, *, payload: Any = None, secrets: Iterable[str] = ()) -> bool:
    """``"Y"`` -> ``True`` (as :data:`Flag`); ParseError otherwise."""
    result: bool = _one(_flag, value, "a yes/no value", payload, secrets)
    return result


def parse_amount(
    value: Any, *, currency: str = "RUB", payload: Any = None, secrets: Iterable[str] = ()
) -> Decimal:
    """Roubles as an exact Decimal, half up: ``"-1 234,567 ₽"`` -> ``Decimal("-1234.57")``."""
    return parse_roubles(value, currency=currency, payload=payload, secrets=secrets).amount


def parse_roubles(
    value: Any, *, currency: str = "RUB", payload: Any = None, secrets: Iterable[str] = ()
) -> Money:
    """Money from roubles as a number or text (as :data:`Roubles`); ParseError otherwise."""
    result: Money = _one(
        lambda v: _roubles(v, currency), value, "an amount of money", payload, secrets
    )
    return result


def parse_kopecks(
    value: Any, *, currency: str = "RUB", payload: Any = None, secrets: Iterable[str] = ()
) -> Money:
    """Money from whole minor units (as :data:`Kopecks`); ParseError otherwise."""
    result: Money = _one(
        lambda v: _kopecks(v, currency), value, "an amount in kopecks", payload, secrets
    )
    return result


def parse_date(value: Any, *, payload: Any = None, secrets: Iterable[str] = ()) -> dt.date:
    """A date (as :data:`Date`); ParseError otherwise."""
    result: dt.date = _one(_date, value, "a date", payload, secrets)
    return result


def parse_datetime(
    value: Any, *, tz: dt.tzinfo = MOSCOW_TZ, payload: Any = None, secrets: Iterable[str] = ()
) -> dt.datetime:
    """An aware timestamp (as :data:`DateTime`; naive ones are in ``tz``); ParseError otherwise."""
    result: dt.datetime = _one(lambda v: _datetime(v, tz), value, "a date-time", payload, secrets)
    return result
