"""The one conversion of money to and from integer minor units (kopecks, cents).

Storage keeps amounts as integers of minor units; the contract (:class:`~aggregator.models.Money`)
keeps an exact ``Decimal``. Every crossing between the two goes through :func:`to_minor` and
:func:`from_minor` (storage, JSON API, alerts, forecasts, plugins reading kopecks), so rounding
is decided once: **half up** to the currency's minor unit, as Russian billing and the cabinets
round (1,005 ₽ -> 1,01 ₽; -1,005 ₽ -> -1,01 ₽).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

__all__ = ["ROUNDING", "from_minor", "minor_exponent", "quantize", "to_minor"]

ROUNDING = ROUND_HALF_UP
"""How every amount is rounded to its minor unit."""

# ISO 4217 minor-unit exponents that differ from the usual two.
_EXPONENTS = {"JPY": 0, "KRW": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3, "TND": 3}


def minor_exponent(currency: str = "RUB") -> int:
    """Decimal places of ``currency``'s minor unit: 2 for RUB (kopecks), USD, EUR."""
    return _EXPONENTS.get(currency.upper(), 2)


def _unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_exponent(currency))


def quantize(amount: Decimal | int | str, currency: str = "RUB") -> Decimal:
    """``amount`` rounded half up to ``currency``'s minor unit (``Decimal('1.005')`` -> ``1.01``).

    Floats are refused: an amount must come exact (a string, an int or a Decimal).
    """
    if isinstance(amount, float | bool):
        raise TypeError("money must not be a float or a bool")
    value = Decimal(amount)
    if not value.is_finite():
        raise ValueError("an amount of money must be finite")
    return value.quantize(_unit(currency), rounding=ROUNDING)


def to_minor(amount: Decimal | int | str, currency: str = "RUB") -> int:
    """Roubles to integer kopecks (``Decimal('1234.567')`` -> ``123457``), rounding half up."""
    return int(quantize(amount, currency).scaleb(minor_exponent(currency)))


def from_minor(minor: int, currency: str = "RUB") -> Decimal:
    """Integer kopecks to exact roubles (``123457`` -> ``Decimal('1234.57')``)."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError("minor units must be an int")
    return Decimal(minor).scaleb(-minor_exponent(currency)).quantize(_unit(currency))
