"""Spending by month: what each month cost, from the operator's payment and charge history
and the stored balance readings.

A month's spending is, in order of trust:

1. ``charges``: the sum of the charges the operator lists for the month (``Payment`` of kind
   CHARGE), when its history lists charges at all;
2. ``balances``: from the readings, the balance at the month's start, plus the payments that
   came in, minus the balance at its end (the operator lists payments only);
3. ``drops``: without a payment history, the sum of the balance's falls between readings (a
   rise is a top-up, not negative spending).

Top-ups per month come from the payment history when there is one, else from the rises. The
months of the period with nothing known are still listed (``spent_minor`` None), so a table
and a chart show gaps as gaps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from ..core.models import Payment, PaymentKind
from ..core.money import to_minor
from ..core.provider import Capability
from ..storage.models import LinkedAccount
from .dashboard import account_readings
from .operations import AccountOperations, check_period

__all__ = ["MonthSpending", "Spending", "account_spending", "month_starts", "monthly"]

Source = Literal["charges", "balances", "drops"]


@dataclass(frozen=True, slots=True)
class MonthSpending:
    month: dt.date  # the first day
    spent_minor: int | None  # None: nothing known about this month
    paid_in_minor: int
    end_balance_minor: int | None  # the month's last reading
    source: Source | None


@dataclass(frozen=True, slots=True)
class Spending:
    start: dt.date
    end: dt.date
    months: list[MonthSpending]
    payments: list[Payment]  # the operator's history of the period, newest first
    currency: str = "RUB"

    @property
    def total_spent_minor(self) -> int:
        return sum(m.spent_minor or 0 for m in self.months)

    @property
    def total_paid_in_minor(self) -> int:
        return sum(m.paid_in_minor for m in self.months)


def month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    """The first days of the months from ``start``'s to ``end``'s, in order."""
    out, month = [], start.replace(day=1)
    while month <= end:
        out.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return out


def _month(at: dt.datetime | dt.date, tz: dt.tzinfo) -> dt.date:
    day = at.astimezone(tz).date() if isinstance(at, dt.datetime) else at
    return day.replace(day=1)


def monthly(
    start: dt.date,
    end: dt.date,
    payments: Iterable[Payment] | None,
    readings: Sequence[tuple[dt.datetime, int]],
    tz: dt.tzinfo = dt.UTC,
) -> list[MonthSpending]:
    """Each month of ``start``..``end`` (see the module docstring). ``payments`` None: the
    operator has no payment history; ``readings``: (time, minor units), oldest first, also
    from before ``start`` (the balance a month starts with)."""
    months = month_starts(start, end)
    history = list(payments) if payments is not None else None
    has_charges = history is not None and any(p.kind is PaymentKind.CHARGE for p in history)
    paid: dict[dt.date, int] = {}
    charged: dict[dt.date, int] = {}
    for p in history or []:
        key = _month(p.at, tz)
        amount = abs(to_minor(p.amount.amount, p.amount.currency))
        target = charged if p.kind is PaymentKind.CHARGE else paid
        target[key] = target.get(key, 0) + amount

    by_month: dict[dt.date, list[tuple[dt.datetime, int]]] = {}
    before: dict[dt.date, tuple[dt.datetime, int]] = {}
    for at, amount in readings:
        key = _month(at, tz)
        by_month.setdefault(key, []).append((at, amount))
    for month in months:
        earlier = [r for m, rs in by_month.items() if m < month for r in rs]
        if earlier:
            before[month] = max(earlier)

    out: list[MonthSpending] = []
    for month in months:
        inside = by_month.get(month, [])
        end_balance = inside[-1][1] if inside else None
        spent: int | None = None
        source: Source | None = None
        rises = 0
        if has_charges:
            spent, source = charged.get(month, 0), "charges"
        elif inside:
            points = ([before[month]] if month in before else []) + inside
            if history is not None and len(points) >= 2:
                first, last = points[0], points[-1]
                came_in = sum(
                    abs(to_minor(p.amount.amount, p.amount.currency))
                    for p in history
                    if p.kind is PaymentKind.PAYMENT and first[0] < p.at <= last[0]
                )
                spent, source = first[1] + came_in - last[1], "balances"
            elif history is None:
                drops = [a - b for (_, a), (_, b) in pairwise(points)]
                spent, source = sum(d for d in drops if d > 0), "drops"
                rises = -sum(d for d in drops if d < 0)
        paid_in = paid.get(month, 0) if history is not None else rises
        out.append(MonthSpending(month, spent, paid_in, end_balance, source))
    return out


async def account_spending(
    db: AsyncSession,
    ops: AccountOperations,
    account: LinkedAccount,
    start: dt.date,
    end: dt.date,
    tz: dt.tzinfo = dt.UTC,
) -> Spending:
    """Spending by month of one account over ``start``..``end`` (at most the period the
    operator's history allows, see ``check_period``): its payment history read live when the
    operator has one, the readings from storage."""
    check_period(start, end)
    payments: list[Payment] | None = None
    if Capability.PAYMENTS.value in ops.capabilities(account.provider_id):
        payments = await ops.payments(db, account, start, end)
    since = dt.datetime.combine(start.replace(day=1), dt.time(), tz) - dt.timedelta(days=31)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz)
    readings = await account_readings(db, account.id, since, until)
    months = monthly(start, end, payments, readings, tz)
    currency = payments[0].amount.currency if payments else "RUB"
    ordered = sorted(payments or [], key=lambda p: p.at, reverse=True)
    return Spending(start, end, months, ordered, currency)
