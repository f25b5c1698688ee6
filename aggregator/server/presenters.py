"""What a dashboard card shows, computed in one Python loop.

A thousand cards rendered by Jinja calling ``t()``, ``money()`` and ``when()`` per card spends
most of its time in template call overhead; here each string is made once (and the same
strings, such as "5 дней", are made once per page), then the template only prints them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..alerts.remainders import UnitLeft
from ..i18n import format_points
from ..services.dashboard import AccountSummary, Dashboard

__all__ = [
    "Card",
    "RemainderLine",
    "cards",
    "remainder_amount",
    "remainder_lines",
    "remainder_totals",
]

#: The order remainders are shown in, and their names' keys.
REMAINDER_UNITS = ("bytes", "seconds", "sms", "mms")

BADGES = (
    "ok",
    "new",
    "top_up",
    "below_threshold",
    "blocked",
    "needs_login",
    "secret_unreadable",
    "plugin_error",
    "operator_error",
    "stale",
    "suspended",
    "suspension_scheduled",
    "suspension_requested",
    "trusted_due",
)


@dataclass(slots=True)
class Card:
    id: int
    severity: str
    operator: str
    badge: str
    title: str
    number: str
    balance: str
    negative: bool
    spark: str
    spark_label: str
    days_left: str
    updated: str
    action: str | None  # "needs_login" | "top_up" | None
    stale: bool = False  # the balance is old: "updated" says how old
    note: str = ""  # a coming block's dates
    bonus: str = ""
    remainders: list[RemainderLine] = field(default_factory=list)
    trusted: str = ""  # "Доверительный платёж: 110,00 ₽ до 7 декабря" when one is owed
    shared: str = ""  # the balance is shared with another card (counted there)


@dataclass(slots=True, frozen=True)
class RemainderLine:
    """What is left of one unit, in words: ``Интернет``, ``осталось 3,2 ГБ из 10 ГБ``."""

    unit: str
    name: str
    text: str
    low: bool  # below the account's remainder alert threshold
    used_share: float | None


def remainder_amount(
    unit: str, value: int | Decimal, t: Callable[..., str], size: Callable[..., str]
) -> str:
    """One amount of a unit: ``3,2 ГБ``, ``25 минут``, ``40 SMS``."""
    if unit == "bytes":
        return size(value)
    if unit == "seconds":
        return t("unit.minutes", count=int(value) // 60)
    return t(f"unit.{unit}", count=int(value))


def remainder_lines(
    summary: AccountSummary, t: Callable[..., str], size: Callable[..., str]
) -> list[RemainderLine]:
    """The account's remainders per unit (the latest reading's), in a fixed order."""
    out: list[RemainderLine] = []
    for unit in REMAINDER_UNITS:
        left: UnitLeft | None = summary.left.get(unit)
        if left is None:
            continue
        if left.unlimited:
            text = t("remainder.unlimited")
        else:
            text = t("usage.left", rest=remainder_amount(unit, left.rest, t, size))
            if left.size is not None:
                text += " " + t("usage.of", total=remainder_amount(unit, left.size, t, size))
        out.append(
            RemainderLine(
                unit, t(f"remainder.unit.{unit}"), text, summary.running_low(unit), left.used_share
            )
        )
    return out


def remainder_totals(
    summary: AccountSummary, t: Callable[..., str], size: Callable[..., str]
) -> dict[str, Any]:
    """The account page's per-unit totals above the package meters, only where they add
    something (``remainder_lines``): a unit with one package reads in full on its meter, so its
    total is not repeated and its "running low" mark goes on that meter (``low_units``)."""
    packages = Counter(r.unit.value for r in summary.remainders or ())
    lines = remainder_lines(summary, t, size)
    return {
        "remainder_lines": [line for line in lines if packages[line.unit] > 1],
        "low_units": {line.unit for line in lines if line.low and packages[line.unit] == 1},
    }


def _bonus_text(
    a: AccountSummary, money: Callable[..., str], bonus: Callable[..., str] | None
) -> str:
    """The card's bonus: points as points, money as money (:func:`i18n.format_bonus`)."""
    if a.bonus_minor is None:
        return ""
    if bonus is not None:
        return bonus(a.bonus_minor, a.bonus_unit, a.currency)
    if a.bonus_unit == "points":
        return format_points(Decimal(a.bonus_minor) / 100)
    return money(a.bonus_minor, a.bonus_unit or a.currency)


def cards(
    board: Dashboard,
    names: dict[str, str],
    t: Callable[..., str],
    money: Callable[..., str],
    when: Callable[..., str],
    day: Callable[..., str] | None = None,
    age: Callable[..., str] | None = None,
    size: Callable[..., str] | None = None,
    bonus: Callable[..., str] | None = None,
) -> list[Card]:
    badges = {key: t(f"badge.{key}") for key in BADGES}
    never = t("card.never")
    days: dict[int, str] = {}
    out: list[Card] = []
    for a in board.accounts:
        operator = names.get(a.provider_id, a.provider_id)
        title = a.label or a.number_masked or operator
        spark = a.sparkline()
        label = ""
        if spark:
            label = t(
                "card.spark",
                first=money(a.history[0][1], a.currency),
                last=money(a.history[-1][1], a.currency),
            )
        if a.days_left is None:
            left = "—"
        else:
            left = days.get(a.days_left) or days.setdefault(
                a.days_left, t("unit.days", count=a.days_left)
            )
        trusted = ""
        if a.trusted_debt is not None and a.trusted_due is not None:
            trusted = t(
                "card.trusted",
                debt=money(a.trusted_debt, a.currency),
                date=day(a.trusted_due) if day is not None else a.trusted_due.isoformat(),
            )
        action = a.badge if a.badge == "needs_login" else None
        if a.badge in ("top_up", "blocked", "trusted_due"):
            action = "top_up"
        # When we last read it (our clock), not the operator's own timestamp: a demo's fast
        # billing calendar, or an operator's stale "as of", is not when the page refreshed.
        updated = when(a.last_success_at or a.balance_at, short=True) or never
        if a.stale_since is not None and age is not None:
            updated = t("card.stale_age", age=age(a.stale_since))
        note = ""
        if a.badge.startswith("suspension_") and day is not None and a.suspension_start:
            note = t(
                "card.suspension_period",
                start=day(a.suspension_start),
                end=day(a.suspension_planned_end) if a.suspension_planned_end else "…",
            )
        out.append(
            Card(
                id=a.id,
                severity=a.severity,
                operator=operator,
                badge=badges.get(a.badge, a.badge),
                title=title,
                number=a.number_masked if a.label else "",
                balance=money(a.balance_minor, a.currency),
                negative=a.balance_minor is not None and a.balance_minor < 0,
                spark=spark,
                spark_label=label,
                days_left=left,
                updated=updated,
                action=action,
                stale=a.stale_since is not None,
                note=note,
                bonus=_bonus_text(a, money, bonus),
                remainders=remainder_lines(a, t, size) if size is not None and a.left else [],
                trusted=trusted,
                shared=t("card.shared") if a.shares_balance_with is not None else "",
            )
        )
    return out
