"""Package remainders as stored with a reading, and what is left of each unit.

A poll's :class:`~aggregator.core.models.PackageRemainder` list is stored as JSON with its
balance reading (:func:`to_json`); :func:`left_by_unit` sums the packages of one unit (an
account may hold a tariff's traffic and a bought add-on), which is what the dashboard shows
and the ``low_data`` / ``low_minutes`` alerts compare with their threshold.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ..core.models import PackageRemainder

__all__ = ["UnitLeft", "from_json", "left_by_unit", "to_json"]

log = logging.getLogger(__name__)


def to_json(remainders: Sequence[PackageRemainder]) -> list[dict[str, Any]]:
    """The stored form: one object per package; numbers as integer strings where exact."""
    return [r.model_dump(mode="json", exclude_defaults=True) for r in remainders]


def from_json(stored: Iterable[Mapping[str, Any]] | None) -> list[PackageRemainder]:
    """Back from the stored form; an entry this version cannot read is skipped, not fatal."""
    out: list[PackageRemainder] = []
    for entry in stored or ():
        try:
            out.append(PackageRemainder.model_validate(dict(entry)))
        except ValueError:
            log.warning("a stored package remainder could not be read; skipped")
    return out


@dataclass(frozen=True, slots=True)
class UnitLeft:
    """What is left of one unit over an account's packages.

    ``rest`` and ``size`` are integers in the contract unit (bytes, seconds, messages);
    ``size`` is None when a package did not say its total. ``unlimited``: one of the packages
    has no limit. ``period_end``: the earliest end of the packages' periods.
    """

    unit: str
    rest: int
    size: int | None
    unlimited: bool = False
    period_end: dt.date | None = None
    packages: int = 1

    @property
    def used_share(self) -> float | None:
        """How much of the total is used, 0..1 (None without a total)."""
        if self.unlimited or not self.size:
            return None
        return max(0.0, min(1.0, 1 - self.rest / self.size))


def _whole(value: Decimal | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.to_integral_value())
    except (InvalidOperation, ValueError):
        return None


def left_by_unit(remainders: Iterable[PackageRemainder]) -> dict[str, UnitLeft]:
    """Sum the packages per unit; the UNKNOWN unit is not summed (its words differ)."""
    grouped: dict[str, list[PackageRemainder]] = {}
    for package in remainders:
        if package.unit.value == "unknown":
            continue
        grouped.setdefault(package.unit.value, []).append(package)
    out: dict[str, UnitLeft] = {}
    for unit, packages in grouped.items():
        limited = [p for p in packages if not p.unlimited]
        rest = sum((_whole(p.rest) or 0 for p in limited), 0)
        sizes = [_whole(p.size) for p in limited]
        size = None if not limited or any(s is None for s in sizes) else sum(s or 0 for s in sizes)
        ends = [p.period_end for p in packages if p.period_end is not None]
        out[unit] = UnitLeft(
            unit=unit,
            rest=max(rest, 0),
            size=size,
            unlimited=len(limited) < len(packages),
            period_end=min(ends) if ends else None,
            packages=len(packages),
        )
    return out
