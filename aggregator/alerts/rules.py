"""Alert rules and the decision they make on each poll: open, keep or close an episode.

Six kinds, each a rule per account or a household default (``AlertRule.account_id`` NULL);
an account rule replaces the default of its kind. Without any row the built-in defaults of
:data:`DEFAULTS` apply, so a first run alerts sensibly.

- ``low_balance``: the balance fell below ``threshold``. Hysteresis: the episode closes (the
  rule re-arms) only when the balance rises above ``threshold + margin``, so a balance that
  wobbles around the threshold sends nothing more.
- ``runs_out``: the forecast (:mod:`.forecast`) says the money lasts ``days`` days or fewer.
  Closes when the forecast grows past ``days + max(2, days // 2)`` or disappears.
- ``needs_login``: polling stopped because only a person can log in again. Closes when the
  account polls fine again.
- ``suspension_ends``: a voluntary block ends within ``days`` days. Closes when the end date
  passes or changes (a new block opens its own episode).
- ``low_data`` / ``low_minutes``: the package traffic (bytes) or minutes (seconds) left, summed
  over the account's limited packages of that unit, fell below ``threshold_units``. Off unless
  the household or the account sets a threshold; an unlimited package of the unit, or a poll
  that did not read the remainders, decides nothing. Closes when the rest rises above
  ``threshold_units`` again (the package renewed, more was bought).
- ``trusted_payment_due``: a trusted payment falls due within ``days`` days (the debt will be
  taken from the balance). Closes when the debt is gone or its due date changes.
- ``chat_reply``, ``suspension_approved``, ``maintenance``: notices the operator reported (a
  support reply while away, a block approved, maintenance or news). Each notice is one
  message, sent once by its id (:mod:`.episodes`); the rule only turns the kind on or off.

:func:`evaluate` is pure: facts and open episodes in, a :class:`Decision` out. The episode
(and its one notification) is written by :mod:`.episodes` in the reading's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from ..core.models import Notice
from ..storage.models import AccountStatus
from .remainders import UnitLeft

__all__ = [
    "DEFAULTS",
    "NOTICE_KINDS",
    "REMAINDER_KINDS",
    "AccountFacts",
    "AlertKind",
    "Decision",
    "EffectiveRule",
    "OpenEpisode",
    "RuleRow",
    "evaluate",
    "resolve_rules",
    "runs_out_rearm_days",
]


class AlertKind(StrEnum):
    LOW_BALANCE = "low_balance"
    RUNS_OUT = "runs_out"
    NEEDS_LOGIN = "needs_login"
    SUSPENSION_ENDS = "suspension_ends"
    LOW_DATA = "low_data"
    LOW_MINUTES = "low_minutes"
    TRUSTED_PAYMENT_DUE = "trusted_payment_due"
    CHAT_REPLY = "chat_reply"
    SUSPENSION_APPROVED = "suspension_approved"
    MAINTENANCE = "maintenance"


#: The remainder kinds and the contract unit (UsageUnit value) each watches.
REMAINDER_KINDS: Mapping[AlertKind, str] = {
    AlertKind.LOW_DATA: "bytes",
    AlertKind.LOW_MINUTES: "seconds",
}


#: Kinds that come from the operator's notices (:class:`~aggregator.core.models.Notice`).
NOTICE_KINDS: frozenset[AlertKind] = frozenset(
    {AlertKind.CHAT_REPLY, AlertKind.SUSPENSION_APPROVED, AlertKind.MAINTENANCE}
)


@dataclass(frozen=True)
class EffectiveRule:
    """The rule that applies to one account for one kind (defaults filled in)."""

    kind: AlertKind
    enabled: bool = True
    threshold_minor: int | None = None
    margin_minor: int | None = None
    days: int | None = None
    reminder_interval_s: int | None = None
    recipients: tuple[str, ...] = ()
    lang: str | None = None
    rule_id: int | None = None
    threshold_units: int | None = None  # remainder kinds: bytes or seconds
    # The channels (notifier ids) of this kind, chosen by the household; None: every channel
    # the household has set up.
    channels: tuple[str, ...] | None = None


DEFAULTS: Mapping[AlertKind, EffectiveRule] = {
    AlertKind.LOW_BALANCE: EffectiveRule(
        AlertKind.LOW_BALANCE, threshold_minor=100_00, margin_minor=20_00
    ),
    AlertKind.RUNS_OUT: EffectiveRule(AlertKind.RUNS_OUT, days=3),
    AlertKind.NEEDS_LOGIN: EffectiveRule(AlertKind.NEEDS_LOGIN),
    AlertKind.SUSPENSION_ENDS: EffectiveRule(AlertKind.SUSPENSION_ENDS, days=3),
    # Off until a threshold is chosen: packages differ too much for one built-in number.
    AlertKind.LOW_DATA: EffectiveRule(AlertKind.LOW_DATA, enabled=False),
    AlertKind.LOW_MINUTES: EffectiveRule(AlertKind.LOW_MINUTES, enabled=False),
    AlertKind.TRUSTED_PAYMENT_DUE: EffectiveRule(AlertKind.TRUSTED_PAYMENT_DUE, days=1),
    AlertKind.CHAT_REPLY: EffectiveRule(AlertKind.CHAT_REPLY),
    AlertKind.SUSPENSION_APPROVED: EffectiveRule(AlertKind.SUSPENSION_APPROVED),
    AlertKind.MAINTENANCE: EffectiveRule(AlertKind.MAINTENANCE),
}
"""Built-in household defaults, used for a kind that has no row at all."""


@dataclass(frozen=True)
class RuleRow:
    """The columns of an ``alert_rules`` row that matter here."""

    id: int | None
    household_id: int
    account_id: int | None
    kind: str
    enabled: bool = True
    threshold_minor: int | None = None
    margin_minor: int | None = None
    days: int | None = None
    reminder_interval_s: int | None = None
    recipients: tuple[str, ...] = ()
    lang: str | None = None
    channels: tuple[str, ...] | None = None
    threshold_units: int | None = None

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> RuleRow:
        return cls(
            id=row.get("id"),
            household_id=int(row["household_id"]),
            account_id=row.get("account_id"),
            kind=str(row["kind"]),
            enabled=bool(row.get("enabled", True)),
            threshold_minor=row.get("threshold_minor"),
            margin_minor=row.get("margin_minor"),
            days=row.get("days"),
            reminder_interval_s=row.get("reminder_interval_s"),
            recipients=tuple(row.get("recipients") or ()),
            lang=row.get("lang"),
            channels=tuple(row["channels"]) if row.get("channels") is not None else None,
            threshold_units=row.get("threshold_units"),
        )


def _effective(kind: AlertKind, row: RuleRow) -> EffectiveRule:
    default = DEFAULTS[kind]
    return EffectiveRule(
        kind=kind,
        enabled=row.enabled,
        threshold_minor=row.threshold_minor
        if row.threshold_minor is not None
        else default.threshold_minor,
        margin_minor=row.margin_minor if row.margin_minor is not None else default.margin_minor,
        days=row.days if row.days is not None else default.days,
        reminder_interval_s=row.reminder_interval_s,
        recipients=row.recipients,
        lang=row.lang,
        rule_id=row.id,
        threshold_units=row.threshold_units
        if row.threshold_units is not None
        else default.threshold_units,
    )


def resolve_rules(rows: Iterable[RuleRow], account_id: int) -> dict[AlertKind, EffectiveRule]:
    """The rule per kind for ``account_id``: its own row, else the household's, else built-in."""
    household: dict[str, RuleRow] = {}
    own: dict[str, RuleRow] = {}
    for row in rows:
        if row.account_id is None:
            household[row.kind] = row
        elif row.account_id == account_id:
            own[row.kind] = row
    rules: dict[AlertKind, EffectiveRule] = {}
    for kind in AlertKind:
        mine, shared = own.get(kind.value), household.get(kind.value)
        chosen = _over(mine, shared) if mine is not None and shared is not None else mine or shared
        rule = _effective(kind, chosen) if chosen is not None else DEFAULTS[kind]
        # The channels are the household's choice per kind, whatever an account's rule says.
        if shared is not None and shared.channels is not None:
            rule = replace(rule, channels=shared.channels)
        rules[kind] = rule
    return rules


def _over(own: RuleRow, household: RuleRow) -> RuleRow:
    """An account's own rule over the household's: what the account leaves empty (a threshold,
    the recipients, the language) comes from the household, not from the built-in defaults."""
    return replace(
        own,
        threshold_minor=own.threshold_minor
        if own.threshold_minor is not None
        else household.threshold_minor,
        margin_minor=own.margin_minor if own.margin_minor is not None else household.margin_minor,
        days=own.days if own.days is not None else household.days,
        reminder_interval_s=own.reminder_interval_s
        if own.reminder_interval_s is not None
        else household.reminder_interval_s,
        recipients=own.recipients or household.recipients,
        lang=own.lang or household.lang,
        threshold_units=own.threshold_units
        if own.threshold_units is not None
        else household.threshold_units,
    )


@dataclass(frozen=True)
class OpenEpisode:
    id: int
    kind: str
    opened_at: dt.datetime
    last_notified_at: dt.datetime | None = None
    reminders_sent: int = 0
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AccountFacts:
    """What one poll established about an account."""

    account_id: int
    status: str
    today: dt.date
    amount_minor: int | None = None  # None: no new reading in this poll
    currency: str = "RUB"
    days_left: int | None = None
    daily_spend_minor: int | None = None
    runs_out_on: dt.date | None = None
    suspension_end: dt.date | None = None
    next_charge_date: dt.date | None = None
    next_charge_minor: int | None = None
    # What is left per contract unit (see .remainders.left_by_unit); None: not read this poll.
    left: Mapping[str, UnitLeft] | None = None
    trusted_debt_minor: int | None = None  # a trusted payment owed (None: nothing owed)
    trusted_due: dt.date | None = None
    # The operator's calendar day of the reading (its due dates are Moscow days).
    operator_today: dt.date | None = None
    notices: tuple[Notice, ...] = ()


@dataclass
class Decision:
    opens: list[tuple[AlertKind, dict[str, Any]]] = field(default_factory=list)
    closes: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.opens or self.closes)


def runs_out_rearm_days(days: int) -> int:
    return days + max(2, days // 2)


def _money_details(facts: AccountFacts) -> dict[str, Any]:
    details: dict[str, Any] = {"currency": facts.currency}
    if facts.amount_minor is not None:
        details["amount_minor"] = facts.amount_minor
    if facts.days_left is not None:
        details["days_left"] = facts.days_left
    if facts.daily_spend_minor is not None:
        details["daily_spend_minor"] = facts.daily_spend_minor
    if facts.runs_out_on is not None:
        details["runs_out_on"] = facts.runs_out_on.isoformat()
    if facts.next_charge_date is not None:
        details["next_charge_date"] = facts.next_charge_date.isoformat()
    if facts.next_charge_minor is not None:
        details["next_charge_minor"] = facts.next_charge_minor
    return details


def evaluate(
    facts: AccountFacts,
    rules: Mapping[AlertKind, EffectiveRule],
    open_episodes: Mapping[str, OpenEpisode],
) -> Decision:
    """Which episodes this poll opens and closes. A kind is opened at most once at a time."""
    decision = Decision()

    def close(kind: AlertKind) -> None:
        episode = open_episodes.get(kind.value)
        if episode is not None:
            decision.closes.append(episode.id)

    # needs_login follows the status, whatever the rules of money say.
    rule = rules[AlertKind.NEEDS_LOGIN]
    needs_login = facts.status == AccountStatus.NEEDS_LOGIN.value
    if needs_login and rule.enabled:
        if AlertKind.NEEDS_LOGIN.value not in open_episodes:
            decision.opens.append((AlertKind.NEEDS_LOGIN, {}))
    elif not needs_login or not rule.enabled:
        close(AlertKind.NEEDS_LOGIN)

    if facts.amount_minor is not None:
        amount = facts.amount_minor
        rule = rules[AlertKind.LOW_BALANCE]
        is_open = AlertKind.LOW_BALANCE.value in open_episodes
        if not rule.enabled or rule.threshold_minor is None:
            close(AlertKind.LOW_BALANCE)
        elif is_open:
            if amount > rule.threshold_minor + (rule.margin_minor or 0):
                close(AlertKind.LOW_BALANCE)
        elif amount < rule.threshold_minor:
            details = _money_details(facts) | {"threshold_minor": rule.threshold_minor}
            decision.opens.append((AlertKind.LOW_BALANCE, details))

        rule = rules[AlertKind.RUNS_OUT]
        is_open = AlertKind.RUNS_OUT.value in open_episodes
        if not rule.enabled or rule.days is None:
            close(AlertKind.RUNS_OUT)
        elif is_open:
            if facts.days_left is None or facts.days_left > runs_out_rearm_days(rule.days):
                close(AlertKind.RUNS_OUT)
        elif facts.days_left is not None and facts.days_left <= rule.days:
            decision.opens.append((AlertKind.RUNS_OUT, _money_details(facts) | {"days": rule.days}))

        rule = rules[AlertKind.SUSPENSION_ENDS]
        episode = open_episodes.get(AlertKind.SUSPENSION_ENDS.value)
        end = facts.suspension_end
        until = (end - facts.today).days if end is not None else None
        if episode is not None:
            if (
                not rule.enabled
                or end is None
                or episode.details.get("end") != end.isoformat()
                or (until is not None and until < 0)
            ):
                close(AlertKind.SUSPENSION_ENDS)
        elif (
            rule.enabled
            and rule.days is not None
            and end is not None
            and until is not None
            and 0 <= until <= rule.days
        ):
            decision.opens.append(
                (AlertKind.SUSPENSION_ENDS, {"end": end.isoformat(), "days_left": until})
            )

        _trusted_payment_due(facts, rules[AlertKind.TRUSTED_PAYMENT_DUE], open_episodes, decision)

    if facts.left is not None:
        for kind, unit in REMAINDER_KINDS.items():
            _remainder(decision, kind, facts.left.get(unit), rules[kind], open_episodes, close)
    return decision


def _remainder(
    decision: Decision,
    kind: AlertKind,
    left: UnitLeft | None,
    rule: EffectiveRule,
    open_episodes: Mapping[str, OpenEpisode],
    close: Callable[[AlertKind], None],
) -> None:
    """One remainder kind: opens below the threshold, closes above it (or when the package is
    gone or became unlimited: nothing is running low then)."""
    threshold = rule.threshold_units
    if not rule.enabled or threshold is None or left is None or left.unlimited:
        close(kind)
        return
    if kind.value in open_episodes:
        if left.rest > threshold:
            close(kind)
    elif left.rest < threshold:
        details: dict[str, Any] = {
            "unit": left.unit,
            "rest": left.rest,
            "threshold": threshold,
        }
        if left.size is not None:
            details["size"] = left.size
        if left.period_end is not None:
            details["period_end"] = left.period_end.isoformat()
        decision.opens.append((kind, details))


def _trusted_payment_due(
    facts: AccountFacts,
    rule: EffectiveRule,
    open_episodes: Mapping[str, OpenEpisode],
    decision: Decision,
) -> None:
    """Open once when a trusted payment falls due within ``days``; close when it is repaid,
    its due date changes or passes."""
    episode = open_episodes.get(AlertKind.TRUSTED_PAYMENT_DUE.value)
    due = facts.trusted_due if facts.trusted_debt_minor else None
    today = facts.operator_today or facts.today
    until = (due - today).days if due is not None else None
    if episode is not None:
        if (
            not rule.enabled
            or due is None
            or episode.details.get("due") != due.isoformat()
            or (until is not None and until < 0)
        ):
            decision.closes.append(episode.id)
    elif (
        rule.enabled
        and rule.days is not None
        and due is not None
        and until is not None
        and 0 <= until <= rule.days
    ):
        decision.opens.append(
            (
                AlertKind.TRUSTED_PAYMENT_DUE,
                {
                    "due": due.isoformat(),
                    "days_left": until,
                    "debt_minor": facts.trusted_debt_minor,
                    "currency": facts.currency,
                    "amount_minor": facts.amount_minor,
                },
            )
        )
