"""What the dashboard reads, scoped to one household, in a fixed number of queries.

The dashboard of a household with a thousand accounts and years of readings costs four
queries, whatever the size: the accounts; the latest reading of each (an index seek per
account on ``(account_id, at)``); a downsampled history (one average per day over the last
30 days, the sparkline and the forecast's input); and the alert rules. No query per account.

Every lookup of one object takes the household id: another household's account is simply
not found (404), never forbidden, so ids reveal nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..alerts.forecast import SpendHistory, forecast, projection
from ..alerts.remainders import UnitLeft, from_json, left_by_unit
from ..alerts.rules import REMAINDER_KINDS, AlertKind, RuleRow, resolve_rules
from ..core.models import PackageRemainder
from ..core.parsing import MOSCOW_TZ
from ..storage.models import (
    AccountStatus,
    AlertRule,
    BalanceReading,
    LinkedAccount,
    from_minor,
    utcnow,
)
from .accounts import get_account

__all__ = [
    "SPARK_DAYS",
    "STALE_AFTER",
    "AccountSummary",
    "Dashboard",
    "account_readings",
    "alert_rules_for",
    "daily_history",
    "days_left",
    "get_account",
    "household_dashboard",
    "remainder_history",
]

SPARK_DAYS = 30
# Severity of a card, most urgent first: the dashboard sorts accounts needing action on top.
_SEVERITY = {"danger": 0, "warning": 1, "info": 2, "ok": 3}


@dataclass(slots=True)
class AccountSummary:
    id: int
    provider_id: str
    label: str
    number_masked: str
    kind: str
    status: str
    last_error_key: str | None
    tariff_name: str | None
    operator_state: str | None
    suspension_end: dt.date | None
    last_success_at: dt.datetime | None
    spend_history: dict[str, Any] | None = None
    suspension_state: str | None = None  # "requested" / "scheduled" / "suspended" (ours)
    suspension_start: dt.date | None = None
    suspension_planned_end: dt.date | None = None
    trusted_payment: dict[str, Any] | None = None  # the contract's TrustedPayment as JSON
    balance_key: str | None = None
    balance_minor: int | None = None
    currency: str = "RUB"
    balance_at: dt.datetime | None = None
    credit_limit_minor: int | None = None
    bonus_minor: int | None = None  # the bonus balance: hundredths of a point, or minor units
    bonus_unit: str | None = None  # "points", or the currency of a money bonus (None: currency)
    next_charge_date: dt.date | None = None
    next_charge_minor: int | None = None
    history: list[tuple[dt.date, int]] = field(default_factory=list)
    threshold_minor: int | None = None
    forecast_days: int | None = None
    days_left: int | None = None
    badge: str = "ok"  # a key under "badge." in the translation table
    severity: str = "ok"
    # When the balance shown is old (the last polls failed, or none succeeded for a day):
    # the time of the last good poll, on our clock; None while the balance is fresh.
    stale_since: dt.datetime | None = None
    spend: SpendHistory | None = None  # the forecast's input (see forecast_line)
    today: dt.date | None = None  # the operator's day of the balance

    def forecast_line(self, days: int) -> list[tuple[float, Decimal]]:
        """The forecast as ``(day, roubles)`` points: the same walk as ``days_left``, a
        step down on each charge date (see :func:`aggregator.alerts.forecast.projection`)."""
        if self.balance_minor is None or self.spend is None or self.today is None:
            return []
        charge = self.next_charge_minor
        daily = self.spend.average_daily_minor(charge if self.next_charge_date else None)
        return projection(
            from_minor(self.balance_minor),
            daily.scaleb(-2) if daily is not None else None,
            self.today,
            self.next_charge_date,
            from_minor(charge) if charge is not None else None,
            days=days,
        )

    # The package remainders of the latest reading (None: that poll did not read them), what
    # is left per unit, and the remainder alerts' thresholds per unit (bytes, seconds).
    remainders: list[PackageRemainder] | None = None
    left: dict[str, UnitLeft] = field(default_factory=dict)
    remainder_thresholds: dict[str, int] = field(default_factory=dict)

    def running_low(self, unit: str) -> bool:
        """Below the remainder alert's threshold for ``unit`` (bytes, seconds)."""
        left, threshold = self.left.get(unit), self.remainder_thresholds.get(unit)
        return (
            left is not None and not left.unlimited and threshold is not None
            and left.rest < threshold
        )  # fmt: skip

    trusted_due_days: int | None = None  # the due alert's days (None: that alert is off)
    # Another account of the household shows the same shared balance (counted there).
    shares_balance_with: int | None = None

    @property
    def trusted_debt(self) -> Decimal | None:
        """What a trusted payment left owing (None: nothing owed)."""
        debt = (self.trusted_payment or {}).get("debt")
        if not isinstance(debt, dict):
            return None
        try:
            amount = Decimal(str(debt.get("amount")))
        except ArithmeticError:
            return None
        return amount if amount.is_finite() and amount > 0 else None

    @property
    def trusted_due(self) -> dt.date | None:
        if self.trusted_debt is None:
            return None
        due = (self.trusted_payment or {}).get("due_date")
        try:
            return dt.date.fromisoformat(due) if isinstance(due, str) else None
        except ValueError:
            return None

    @property
    def balance(self) -> Decimal | None:
        return None if self.balance_minor is None else from_minor(self.balance_minor)

    def sparkline(self, width: int = 120, height: int = 32) -> str:
        """SVG polyline points for the history, scaled into ``width`` x ``height``."""
        values = [v for _, v in self.history]
        count = len(values)
        if count < 2:
            return ""
        low = min(values)
        span = (max(values) - low) or 1
        usable = height - 4
        top = 2 + usable
        xs = _x_positions(count, width)
        return " ".join(map(_POINT, xs, [top - (v - low) * usable // span for v in values]))


_POINT = "{},{}".format
_XS: dict[tuple[int, int], list[int]] = {}


def _x_positions(count: int, width: int) -> list[int]:
    """The x coordinates of ``count`` evenly spaced points (cached: pages reuse them)."""
    found = _XS.get((count, width))
    if found is None:
        found = _XS[(count, width)] = [round(i * width / (count - 1)) for i in range(count)]
    return found


@dataclass(slots=True)
class Dashboard:
    accounts: list[AccountSummary]
    totals: dict[str, int]  # currency -> minor units, net (the API's "totals")
    money: dict[str, int] = field(default_factory=dict)  # what the accounts hold (>= 0)
    debts: dict[str, int] = field(default_factory=dict)  # what they owe, as a positive sum

    @property
    def needing_action(self) -> int:
        return sum(1 for a in self.accounts if a.severity in ("danger", "warning"))


def days_left(
    history: SpendHistory,
    balance_minor: int | None,
    today: dt.date,
    next_charge_date: dt.date | None = None,
    next_charge_minor: int | None = None,
) -> int | None:
    """Days until the money runs out: the alerts' own forecast (see aggregator.alerts.forecast),
    so the dashboard and the "runs out" e-mail always agree."""
    if balance_minor is None:
        return None
    return forecast(
        history,
        from_minor(balance_minor),
        today,
        next_charge_date,
        from_minor(next_charge_minor) if next_charge_minor is not None else None,
    ).days_left


RUNS_OUT_SOON_DAYS = 3
"""With the household's run-out alert off, a forecast this short still asks for a top-up."""
STALE_AFTER = dt.timedelta(days=1)
"""A balance with no good poll for this long is old, whatever the account's status."""
STALE_FAILING_AFTER = dt.timedelta(minutes=15)
"""A balance whose polls now fail is called old once it is this old (not seconds after)."""
_FAILING = frozenset(
    {
        AccountStatus.NEEDS_LOGIN.value,
        AccountStatus.SECRET_UNREADABLE.value,
        AccountStatus.PLUGIN_ERROR.value,
        AccountStatus.OPERATOR_ERROR.value,
        AccountStatus.STALE.value,
    }
)


def _stale_since(summary: AccountSummary, now: dt.datetime) -> dt.datetime | None:
    """The last good poll when the balance shown is no longer current, else None."""
    last = summary.last_success_at
    if last is None or summary.balance_minor is None:
        return None
    if last.tzinfo is None:
        last = last.replace(tzinfo=dt.UTC)
    age = now - last
    if (summary.status in _FAILING and age > STALE_FAILING_AFTER) or age > STALE_AFTER:
        return last
    return None


def _planned_suspension(summary: AccountSummary, today: dt.date) -> str | None:
    """ "suspended", "scheduled" or "requested" while the block we asked for is still ahead
    of us or running; None once it has ended or when there is none."""
    state = summary.suspension_state
    if state not in ("requested", "scheduled", "suspended"):
        return None
    end = summary.suspension_planned_end
    if end is not None and today > end:
        return None
    start = summary.suspension_start
    if state == "scheduled" and start is not None and today >= start:
        return "suspended"  # its day has come; the next poll confirms it
    return state


def _judge(summary: AccountSummary, today: dt.date | None = None) -> None:
    """Choose the badge: what the household should do about this account, if anything."""
    status = summary.status
    planned = _planned_suspension(summary, today) if today is not None else None
    below = (
        summary.balance_minor is not None
        and summary.threshold_minor is not None
        and summary.balance_minor < summary.threshold_minor
    )
    horizon = summary.forecast_days if summary.forecast_days is not None else RUNS_OUT_SOON_DAYS
    soon = summary.days_left is not None and summary.days_left <= horizon
    if status == AccountStatus.NEEDS_LOGIN.value:
        summary.badge, summary.severity = "needs_login", "danger"
    elif status == AccountStatus.SECRET_UNREADABLE.value:
        summary.badge, summary.severity = "secret_unreadable", "danger"
    elif status == AccountStatus.PLUGIN_ERROR.value:
        summary.badge, summary.severity = "plugin_error", "danger"
    elif status == AccountStatus.OPERATOR_ERROR.value:
        summary.badge, summary.severity = "operator_error", "warning"
    elif summary.balance_minor is not None and (
        summary.balance_minor < 0 or summary.operator_state == "blocked"
    ):
        summary.badge, summary.severity = "blocked", "danger"
    elif (due := summary.trusted_due) is not None and (
        summary.trusted_due_days is not None
        and (due - (summary.balance_at or utcnow()).astimezone(MOSCOW_TZ).date()).days
        <= summary.trusted_due_days
    ):
        summary.badge, summary.severity = "trusted_due", "warning"
    elif summary.balance_minor is not None and (soon or (below and summary.days_left is None)):
        summary.badge, summary.severity = "top_up", "warning"
    elif below:
        # Under the household's threshold but the forecast says weeks: "top up" next to "enough
        # for 28 days" would contradict itself; the badge says what is true.
        summary.badge, summary.severity = "below_threshold", "warning"
    elif status == AccountStatus.STALE.value:
        summary.badge, summary.severity = "stale", "info"
    elif summary.operator_state == "suspended" or planned == "suspended":
        summary.badge, summary.severity = "suspended", "info"
    elif planned in ("scheduled", "requested"):
        # A block is coming: not "all is well", and not yet "suspended".
        summary.badge, summary.severity = f"suspension_{planned}", "info"
    elif status == AccountStatus.NEW.value and summary.balance_minor is None:
        summary.badge, summary.severity = "new", "info"
    else:
        summary.badge, summary.severity = "ok", "ok"


async def _rule_rows(db: AsyncSession, household_id: int) -> list[RuleRow]:
    rules = await db.scalars(select(AlertRule).where(AlertRule.household_id == household_id))
    return [
        RuleRow(
            id=r.id,
            household_id=r.household_id,
            account_id=r.account_id,
            kind=r.kind,
            enabled=r.enabled,
            threshold_minor=r.threshold_minor,
            margin_minor=r.margin_minor,
            days=r.days,
            reminder_interval_s=r.reminder_interval_s,
            recipients=tuple(r.recipients or ()),
            lang=r.lang,
            threshold_units=r.threshold_units,
        )
        for r in rules
    ]


async def alert_rules_for(
    db: AsyncSession, household_id: int
) -> dict[tuple[int | None, str], AlertRule]:
    rules = await db.scalars(select(AlertRule).where(AlertRule.household_id == household_id))
    return {(rule.account_id, rule.kind): rule for rule in rules}


async def household_dashboard(
    db: AsyncSession,
    household_id: int,
    *,
    now: dt.datetime | None = None,
    account_id: int | None = None,
) -> Dashboard:
    """Every account of the household (or just ``account_id``) with balance, history, badge."""
    now = now or utcnow()
    scope = [LinkedAccount.household_id == household_id]
    if account_id is not None:
        scope.append(LinkedAccount.id == account_id)
    accounts = (
        await db.execute(
            select(
                LinkedAccount.id,
                LinkedAccount.provider_id,
                LinkedAccount.label,
                LinkedAccount.number_masked,
                LinkedAccount.kind,
                LinkedAccount.status,
                LinkedAccount.last_error_key,
                LinkedAccount.tariff_name,
                LinkedAccount.operator_state,
                LinkedAccount.suspension_end,
                LinkedAccount.last_success_at,
                LinkedAccount.spend_history,
                LinkedAccount.suspension_state,
                LinkedAccount.suspension_start,
                LinkedAccount.suspension_planned_end,
                LinkedAccount.trusted_payment,
                LinkedAccount.balance_key,
            )
            .where(*scope)
            .order_by(LinkedAccount.id)
        )
    ).all()
    summaries = {row.id: AccountSummary(*row) for row in accounts}
    if not summaries:
        return Dashboard([], {})

    household_ids = select(LinkedAccount.id).where(*scope)
    latest_id = (
        select(BalanceReading.id)
        .where(BalanceReading.account_id == LinkedAccount.id)
        .order_by(BalanceReading.at.desc(), BalanceReading.id.desc())
        .limit(1)
        .correlate(LinkedAccount)
        .scalar_subquery()
    )
    latest_ids = select(latest_id.label("rid")).select_from(LinkedAccount).where(*scope).subquery()
    latest = await db.execute(
        select(
            BalanceReading.account_id,
            BalanceReading.amount_minor,
            BalanceReading.currency,
            BalanceReading.at,
            BalanceReading.credit_limit_minor,
            BalanceReading.bonus_minor,
            BalanceReading.bonus_unit,
            BalanceReading.next_charge_date,
            BalanceReading.next_charge_minor,
            BalanceReading.remainders,
        ).join(latest_ids, BalanceReading.id == latest_ids.c.rid)
    )
    for row in latest:
        summary = summaries[row.account_id]
        summary.balance_minor = row.amount_minor
        summary.currency = row.currency
        summary.balance_at = row.at
        summary.credit_limit_minor = row.credit_limit_minor
        summary.bonus_minor = row.bonus_minor
        summary.bonus_unit = row.bonus_unit
        summary.next_charge_date = row.next_charge_date
        summary.next_charge_minor = row.next_charge_minor
        if row.remainders is not None:
            summary.remainders = from_json(row.remainders)
            summary.left = left_by_unit(summary.remainders)

    # The window ends at the newest reading: an operator's clock may run ahead of ours or
    # behind it (the demo's calendar starts a month back and runs fast).
    newest = max((s.balance_at for s in summaries.values() if s.balance_at), default=None)
    cutoff = (newest or now) - dt.timedelta(days=SPARK_DAYS)
    day = func.date(BalanceReading.at)
    history = await db.execute(
        select(BalanceReading.account_id, day.label("day"), func.avg(BalanceReading.amount_minor))
        .where(
            BalanceReading.account_id.in_(household_ids),
            BalanceReading.at >= cutoff,
        )
        .group_by(BalanceReading.account_id, day)
        .order_by(BalanceReading.account_id, day)
    )
    for account_id, day_value, average in history:
        when = dt.date.fromisoformat(day_value) if isinstance(day_value, str) else day_value
        summaries[account_id].history.append((when, round(average)))

    rule_rows = await _rule_rows(db, household_id)
    for summary in summaries.values():
        rules = resolve_rules(rule_rows, summary.id)
        low, runs = rules[AlertKind.LOW_BALANCE], rules[AlertKind.RUNS_OUT]
        summary.threshold_minor = low.threshold_minor if low.enabled else None
        summary.forecast_days = runs.days if runs.enabled else None
        for kind, unit in REMAINDER_KINDS.items():
            rule = rules[kind]
            if rule.enabled and rule.threshold_units is not None:
                summary.remainder_thresholds[unit] = rule.threshold_units
        due = rules[AlertKind.TRUSTED_PAYMENT_DUE]
        summary.trusted_due_days = due.days if due.enabled else None
        if summary.spend_history:
            spend = SpendHistory.from_json(summary.spend_history)
        else:  # not polled by this version yet: rebuild from the daily history
            spend = SpendHistory.from_readings(
                (dt.datetime.combine(d, dt.time(12), dt.UTC), v) for d, v in summary.history
            )
        # Days are the operator's days: its clock may run ahead of ours (the demo's does).
        today = summary.balance_at.date() if summary.balance_at else now.date()
        summary.spend, summary.today = spend, today
        summary.days_left = days_left(
            spend,
            summary.balance_minor,
            today,
            summary.next_charge_date,
            summary.next_charge_minor,
        )
        summary.stale_since = _stale_since(summary, now)
        _judge(summary, today)
    totals: dict[str, int] = {}
    money: dict[str, int] = {}
    debts: dict[str, int] = {}
    counted: dict[str, int] = {}  # a shared balance -> the account it is counted on
    for summary in summaries.values():
        value, cur = summary.balance_minor, summary.currency
        if summary.balance_key is not None and value is not None:
            # Numbers sharing one balance show it each, but the household has it once.
            first = counted.setdefault(summary.balance_key, summary.id)
            if first != summary.id:
                summary.shares_balance_with = first
                continue
        if value is not None:
            totals[cur] = totals.get(cur, 0) + value
            # A debt on one account is not money on another: shown apart, never netted.
            if value < 0:
                debts[cur] = debts.get(cur, 0) - value
            else:
                money[cur] = money.get(cur, 0) + value
    ordered = sorted(
        summaries.values(),
        key=lambda s: (
            _SEVERITY[s.severity],
            s.days_left if s.days_left is not None else 10**6,
            s.id,
        ),
    )
    return Dashboard(ordered, totals, money, debts)


async def daily_history(
    db: AsyncSession, account_id: int, days: int, *, now: dt.datetime | None = None
) -> list[tuple[dt.date, int]]:
    """One average balance per day over the ``days`` days before the newest reading."""
    newest = await db.scalar(
        select(func.max(BalanceReading.at)).where(BalanceReading.account_id == account_id)
    )
    now = newest or now or utcnow()  # the operator's clock, ahead of ours or behind it
    day = func.date(BalanceReading.at)
    rows = await db.execute(
        select(day.label("day"), func.avg(BalanceReading.amount_minor))
        .where(
            BalanceReading.account_id == account_id,
            BalanceReading.at >= now - dt.timedelta(days=days),
        )
        .group_by(day)
        .order_by(day)
    )
    return [(dt.date.fromisoformat(d) if isinstance(d, str) else d, round(v)) for d, v in rows]


async def account_readings(
    db: AsyncSession, account_id: int, since: dt.datetime, until: dt.datetime | None = None
) -> list[tuple[dt.datetime, int]]:
    """The readings of one account (already scoped by the caller) between two times."""
    query = select(BalanceReading.at, BalanceReading.amount_minor).where(
        BalanceReading.account_id == account_id, BalanceReading.at >= since
    )
    if until is not None:
        query = query.where(BalanceReading.at <= until)
    rows = await db.execute(query.order_by(BalanceReading.at))
    return [(at, amount) for at, amount in rows]


async def remainder_history(
    db: AsyncSession, account_id: int, days: int, *, now: dt.datetime | None = None
) -> dict[str, list[tuple[dt.date, int]]]:
    """What was left per unit (bytes, seconds, sms, mms) at the last reading of each day over
    the ``days`` days before the newest reading; unlimited units are left out."""
    newest = await db.scalar(
        select(func.max(BalanceReading.at)).where(BalanceReading.account_id == account_id)
    )
    now = max(now or utcnow(), newest or utcnow())
    rows = await db.execute(
        select(BalanceReading.at, BalanceReading.remainders)
        .where(
            BalanceReading.account_id == account_id,
            BalanceReading.at >= now - dt.timedelta(days=days),
            BalanceReading.remainders.is_not(None),
        )
        .order_by(BalanceReading.at, BalanceReading.id)
    )
    per_day: dict[dt.date, dict[str, UnitLeft]] = {}
    for at, stored in rows:
        per_day[at.date()] = left_by_unit(from_json(stored))  # the day's last reading wins
    out: dict[str, list[tuple[dt.date, int]]] = {}
    for day, left in per_day.items():
        for unit, value in left.items():
            if not value.unlimited:
                out.setdefault(unit, []).append((day, value.rest))
    return out
