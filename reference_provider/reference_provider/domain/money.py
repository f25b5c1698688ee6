"""Money inside the domain is an ``int`` of kopecks: exact and fast. Dialects convert."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from .errors import InvalidInput

__all__ = ["format_rub", "kop", "rub"]


def kop(value: Decimal | int | str | float) -> int:
    """Kopecks from roubles (Decimal, int, or a decimal string such as ``"12,50"``)."""
    try:
        amount = Decimal(str(value).replace(",", ".").replace(" ", ""))
    except (InvalidOperation, ValueError):
        raise InvalidInput("Некорректная сумма") from None
    if not amount.is_finite():
        raise InvalidInput("Некорректная сумма")
    return int((amount * 100).to_integral_value())


def rub(kopecks: int) -> Decimal:
    """Roubles as a two-place Decimal."""
    return (Decimal(kopecks) / 100).quantize(Decimal("0.01"))


def format_rub(kopecks: int) -> str:
    """``1 234,56 ₽`` (non-breaking spaces as Russians print money)."""
    sign = "-" if kopecks < 0 else ""
    whole, frac = divmod(abs(kopecks), 100)
    groups = f"{whole:,}".replace(",", "\u00a0")
    return f"{sign}{groups},{frac:02d}\u00a0₽"
