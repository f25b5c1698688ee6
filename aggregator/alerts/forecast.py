"""When the money runs out: the average daily spend over recent weeks, and the next charge.

The poller keeps a small :class:`SpendHistory` per account (in ``LinkedAccount.spend_history``,
updated in the same transaction as each reading): the money spent per day over the last
:data:`WINDOW_DAYS` days, the last amount seen and when tracking began. A rise of the balance
is a top-up, not negative spending. The same numbers can be rebuilt from the readings
(:meth:`SpendHistory.from_readings`), which is what the dashboard does for its chart.

Days are the operator's days: readings carry the operator's ``as_of`` time, so a simulated
billing clock that runs faster than real time gives the right forecast too.

:func:`days_left` combines the two things we know:

- the balance divided by the average daily spend (whole days, rounded down);
- the operator's next charge (date and amount) when the plugin reports it: when the balance,
  less the daily spend until that date, does not cover the charge, the money runs out that day.

The smaller of the two wins; with neither there is no forecast (``None``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..core.money import quantize

__all__ = [
    "MIN_OBSERVATION",
    "WINDOW_DAYS",
    "Forecast",
    "SpendHistory",
    "days_left",
    "forecast",
]

WINDOW_DAYS = 28
"""How far back the average daily spend looks: four weeks."""
MIN_OBSERVATION = dt.timedelta(days=1)
"""No average before the balance was watched for at least a day."""


@dataclass
class SpendHistory:
    """Money spent per day (minor units) over the last weeks, as the poller tracks it."""

    first_at: dt.datetime | None = None
    last_at: dt.datetime | None = None
    last_minor: int | None = None
    days: dict[str, int] = field(default_factory=dict)  # ISO date -> minor units spent

    # -- storage -------------------------------------------------------------------------
    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> SpendHistory:
        if not data:
            return cls()
        try:
            first = data.get("first_at")
            last = data.get("last_at")
            return cls(
                first_at=dt.datetime.fromisoformat(first) if first else None,
                last_at=dt.datetime.fromisoformat(last) if last else None,
                last_minor=int(data["last"]) if data.get("last") is not None else None,
                days={str(k): int(v) for k, v in dict(data.get("days") or {}).items()},
            )
        except (TypeError, ValueError, KeyError):
            return cls()  # a damaged cache is rebuilt from the next readings

    def to_json(self) -> dict[str, Any]:
        return {
            "first_at": self.first_at.isoformat() if self.first_at else None,
            "last_at": self.last_at.isoformat() if self.last_at else None,
            "last": self.last_minor,
            "days": dict(sorted(self.days.items())),
        }

    @classmethod
    def from_readings(cls, readings: Iterable[tuple[dt.datetime, int]]) -> SpendHistory:
        """Rebuild from ``(at, amount_minor)`` pairs (any order)."""
        history = cls()
        for at, minor in sorted(readings, key=lambda r: r[0]):
            history.add(at, minor)
        return history

    # -- updates -------------------------------------------------------------------------
    def add(self, at: dt.datetime, amount_minor: int) -> None:
        """Take a new reading into account (readings older than the last one are ignored)."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        if self.last_at is not None and at < self.last_at:
            return
        if self.first_at is None:
            self.first_at = at
        if self.last_minor is not None and amount_minor < self.last_minor:
            key = at.date().isoformat()
            self.days[key] = self.days.get(key, 0) + (self.last_minor - amount_minor)
        self.last_minor = amount_minor
        self.last_at = at
        horizon = (at.date() - dt.timedelta(days=WINDOW_DAYS + 1)).isoformat()
        for key in [k for k in self.days if k < horizon]:
            del self.days[key]

    # -- the average -----------------------------------------------------------------------
    def average_daily_minor(self) -> Decimal | None:
        """The average spend per day over the window, or None before a day of watching."""
        if self.first_at is None or self.last_at is None:
            return None
        window_start = self.last_at - dt.timedelta(days=WINDOW_DAYS)
        start = max(self.first_at, window_start)
        observed = self.last_at - start
        if observed < MIN_OBSERVATION:
            return None
        first_day = start.date().isoformat()
        spent = sum(v for k, v in self.days.items() if k >= first_day)
        return Decimal(spent) / Decimal(observed.total_seconds() / 86400)


@dataclass(frozen=True)
class Forecast:
    days_left: int | None
    daily_spend: Decimal | None  # in currency units, two places
    runs_out_on: dt.date | None


def days_left(
    amount: Decimal,
    daily_spend: Decimal | None,
    today: dt.date,
    next_charge_date: dt.date | None = None,
    next_charge_amount: Decimal | None = None,
) -> int | None:
    """Whole days the money lasts (0 when it is gone), or None when nothing is known."""
    candidates: list[int] = []
    if amount <= 0:
        return 0
    if daily_spend is not None and daily_spend > 0:
        candidates.append(int(amount / daily_spend))
    if next_charge_date is not None and next_charge_amount is not None and next_charge_amount > 0:
        until = (next_charge_date - today).days
        if until >= 0:
            spent_before = (daily_spend or Decimal(0)) * until
            if amount - spent_before < next_charge_amount:
                candidates.append(until)
    return min(candidates) if candidates else None


def forecast(
    history: SpendHistory,
    amount: Decimal,
    today: dt.date,
    next_charge_date: dt.date | None = None,
    next_charge_amount: Decimal | None = None,
) -> Forecast:
    """The forecast for an account whose balance is ``amount`` on ``today``."""
    daily_minor = history.average_daily_minor()
    exact_daily = daily_minor.scaleb(-2) if daily_minor is not None else None
    daily = quantize(exact_daily) if exact_daily is not None else None
    left = days_left(amount, exact_daily, today, next_charge_date, next_charge_amount)
    runs_out_on = today + dt.timedelta(days=left) if left is not None else None
    return Forecast(days_left=left, daily_spend=daily, runs_out_on=runs_out_on)
