"""When the money runs out: the average daily spend over recent weeks, and the next charge.

The poller keeps a small :class:`SpendHistory` per account (in ``LinkedAccount.spend_history``,
updated in the same transaction as each reading): the money spent per day over the last
:data:`WINDOW_DAYS` days, the last amount seen and when tracking began. A rise of the balance
is a top-up, not negative spending. The same numbers can be rebuilt from the readings
(:meth:`SpendHistory.from_readings`), which is what the dashboard does for its chart.

Days are the operator's days: readings carry the operator's ``as_of`` time, so a simulated
billing clock that runs faster than real time gives the right forecast too.

:func:`days_left` walks the balance forward day by day, as the money really leaves:

- every day the average daily spend (the running costs: calls, traffic, per-day fees);
- on the operator's charge date (when the plugin reports it), the monthly fee at once, and
  again on the same day of each following month. A charge day whose fee the balance cannot
  cover is the day the service stops, whatever is left.

The first day the money does not last is the answer. When the charge is known, days whose
spending included a fee of that size count without it in the average, so the fee is not
counted twice. :func:`projection` gives the same walk as points (a line that steps down on
charge dates), for the account's chart. With neither a spend nor a charge there is no
forecast (``None``).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..core.money import quantize, to_minor

__all__ = [
    "HORIZON_DAYS",
    "MIN_OBSERVATION",
    "WINDOW_DAYS",
    "Forecast",
    "SpendHistory",
    "charge_dates",
    "days_left",
    "forecast",
    "projection",
]

WINDOW_DAYS = 28
"""How far back the average daily spend looks: four weeks."""
MIN_OBSERVATION = dt.timedelta(days=1)
"""No average before the balance was watched for at least a day."""
HORIZON_DAYS = 3 * 366
"""The walk stops here: money lasting longer has no forecast worth a number."""


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
    def average_daily_minor(self, charge_minor: int | None = None) -> Decimal | None:
        """The average spend per day over the window, or None before a day of watching.

        ``charge_minor`` (the operator's monthly fee, when known) is taken out of every day
        that spent at least that much: the walk adds the fee on its own date.
        """
        if self.first_at is None or self.last_at is None:
            return None
        window_start = self.last_at - dt.timedelta(days=WINDOW_DAYS)
        start = max(self.first_at, window_start)
        observed = self.last_at - start
        if observed < MIN_OBSERVATION:
            return None
        first_day = start.date().isoformat()
        spent = 0
        for key, value in self.days.items():
            if key < first_day:
                continue
            if charge_minor and value >= charge_minor:
                value -= charge_minor
            spent += value
        return Decimal(spent) / Decimal(observed.total_seconds() / 86400)


@dataclass(frozen=True)
class Forecast:
    days_left: int | None
    daily_spend: Decimal | None  # in currency units, two places
    runs_out_on: dt.date | None


def charge_dates(first: dt.date, until: dt.date) -> list[dt.date]:
    """``first`` and the same day of each following month (the 31st becomes the month's last
    day) up to ``until``."""
    dates: list[dt.date] = []
    index = 0
    while True:
        month = first.month - 1 + index
        year, month = first.year + month // 12, month % 12 + 1
        last_day = calendar.monthrange(year, month)[1]
        day = dt.date(year, month, min(first.day, last_day))
        if day > until:
            return dates
        dates.append(day)
        index += 1


def _walk(
    amount: Decimal,
    daily_spend: Decimal | None,
    today: dt.date,
    next_charge_date: dt.date | None,
    next_charge_amount: Decimal | None,
) -> tuple[int | None, list[tuple[int, Decimal, Decimal]]]:
    """The day the money stops lasting (None past the horizon or with nothing known) and the
    charge steps on the way: ``(day, balance before the fee, balance after it)``."""
    if amount <= 0:
        return 0, []
    rate = daily_spend if daily_spend is not None and daily_spend > 0 else Decimal(0)
    fee = next_charge_amount if next_charge_amount is not None else Decimal(0)
    charges: list[dt.date] = []
    if next_charge_date is not None and fee > 0 and next_charge_date >= today:
        charges = charge_dates(next_charge_date, today + dt.timedelta(days=HORIZON_DAYS))
    if not rate and not charges:
        return None, []
    balance, day, steps = amount, 0, []
    for charge in charges:
        until = (charge - today).days
        if rate and balance - rate * (until - day) < 0:
            break  # the running costs empty it before this fee
        balance -= rate * (until - day)
        day = until
        if balance < fee:  # the fee cannot be taken: the service stops on its day
            steps.append((day, balance, balance))
            return day, steps
        steps.append((day, balance, balance - fee))
        balance -= fee
    if not rate:
        return None, steps  # every fee within the horizon is covered
    left = day + int(balance / rate)
    return (left if left <= HORIZON_DAYS else None), steps


def days_left(
    amount: Decimal,
    daily_spend: Decimal | None,
    today: dt.date,
    next_charge_date: dt.date | None = None,
    next_charge_amount: Decimal | None = None,
) -> int | None:
    """Whole days the money lasts (0 when it is gone), or None when nothing is known."""
    return _walk(amount, daily_spend, today, next_charge_date, next_charge_amount)[0]


def projection(
    amount: Decimal,
    daily_spend: Decimal | None,
    today: dt.date,
    next_charge_date: dt.date | None = None,
    next_charge_amount: Decimal | None = None,
    *,
    days: int = 30,
) -> list[tuple[float, Decimal]]:
    """The forecast line as ``(day, balance)`` points over the next ``days`` days: straight
    while the running costs drain it, a step down on each charge date (two points, a moment
    apart), ending at zero on the day the money runs out or at the value it has on ``days``."""
    left, steps = _walk(amount, daily_spend, today, next_charge_date, next_charge_amount)
    if amount <= 0:
        return []
    rate = daily_spend if daily_spend is not None and daily_spend > 0 else Decimal(0)
    end = days if left is None else min(left, days)
    points: list[tuple[float, Decimal]] = [(0.0, amount)]
    for day, before, after in steps:
        if day > end:
            break
        if day > 0:
            points.append((day - 0.01, before))
        if left == day:  # the fee cannot be taken: the service stops here
            points.append((float(day), Decimal(0)))
            return points
        points.append((float(day), after))
    last_day, last_balance = points[-1]
    if left is not None and left <= days:
        points.append((float(left), Decimal(0)))
    elif end > last_day:
        points.append((float(end), max(last_balance - rate * Decimal(end - last_day), Decimal(0))))
    return points


def forecast(
    history: SpendHistory,
    amount: Decimal,
    today: dt.date,
    next_charge_date: dt.date | None = None,
    next_charge_amount: Decimal | None = None,
) -> Forecast:
    """The forecast for an account whose balance is ``amount`` on ``today``."""
    charge_minor = (
        to_minor(next_charge_amount)
        if next_charge_date is not None and next_charge_amount is not None
        else None
    )
    daily_minor = history.average_daily_minor(charge_minor)
    exact_daily = daily_minor.scaleb(-2) if daily_minor is not None else None
    daily = quantize(exact_daily) if exact_daily is not None else None
    left = days_left(amount, exact_daily, today, next_charge_date, next_charge_amount)
    runs_out_on = today + dt.timedelta(days=left) if left is not None else None
    return Forecast(days_left=left, daily_spend=daily, runs_out_on=runs_out_on)
