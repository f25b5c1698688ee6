"""Alert rules: the household's defaults and an account's own thresholds, read and saved once.

The alert settings page, the account page, ``GET/PUT /api/v1/alerts`` and
``/api/v1/accounts/{id}/alerts`` read a form or a JSON body into :class:`HouseholdAlerts` or
:class:`AccountThresholds` and call :func:`save_household_alerts` or
:func:`save_account_thresholds`; the same rows, the same audit record, one commit.

A household default is a rule with no account (one per kind); an account's own rule overrides
it, and an account rule whose values are all empty is removed (the default applies again).
Money is kept in minor units (kopecks), package remainders in the contract's units (bytes,
seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select

from ..storage.models import AlertRule, AuditLog

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = [
    "ALERT_KINDS",
    "NOTICE_KINDS",
    "AccountThresholds",
    "HouseholdAlerts",
    "RemainderDefaults",
    "account_rules",
    "account_thresholds",
    "household_alerts",
    "household_rules",
    "save_account_thresholds",
    "save_household_alerts",
    "save_rule",
]

ALERT_KINDS = (
    "low_balance",
    "runs_out",
    "needs_login",
    "suspension_ends",
    "trusted_payment_due",
    "chat_reply",
    "suspension_approved",
    "maintenance",
    "low_data",
    "low_minutes",
)
# The operator's notices (a support reply, a block approved, maintenance): each sent once.
NOTICE_KINDS = ("chat_reply", "suspension_approved", "maintenance")


@dataclass(frozen=True)
class RemainderDefaults:
    """Package remainder alerts for every account with packages; None turns a kind off."""

    data_bytes: int | None = None
    minutes_seconds: int | None = None


@dataclass(frozen=True)
class HouseholdAlerts:
    """The household's alert settings: which kinds are on, their thresholds, who gets them."""

    low_balance_enabled: bool = True
    threshold_minor: int | None = None
    margin_minor: int | None = None
    runs_out_enabled: bool = True
    days: int | None = None
    needs_login_enabled: bool = True
    suspension_ends_enabled: bool = True
    suspension_days: int | None = None
    trusted_payment_due_enabled: bool = True
    trusted_days: int | None = None
    reminder_interval_s: int | None = None
    notices: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(NOTICE_KINDS, True))
    # None: leave the remainder defaults as they are (the API does not carry them).
    remainders: RemainderDefaults | None = None
    recipients: tuple[str, ...] = ()
    lang: str = "ru"


@dataclass(frozen=True)
class AccountThresholds:
    """An account's own thresholds over the household's defaults; None: the default."""

    threshold_minor: int | None = None
    days: int | None = None
    data_bytes: int | None = None
    minutes_seconds: int | None = None


async def _rules(db: AsyncSession, household_id: int, account_id: int | None) -> list[AlertRule]:
    where = (
        AlertRule.account_id.is_(None) if account_id is None else AlertRule.account_id == account_id
    )
    return list(
        await db.scalars(select(AlertRule).where(AlertRule.household_id == household_id, where))
    )


async def household_rules(db: AsyncSession, household_id: int) -> dict[str, AlertRule]:
    """The household's default rules by kind (a kind never saved is missing)."""
    return {rule.kind: rule for rule in await _rules(db, household_id, None)}


async def account_rules(
    db: AsyncSession, household_id: int, account_id: int
) -> dict[str, AlertRule]:
    """An account's own rules by kind."""
    return {rule.kind: rule for rule in await _rules(db, household_id, account_id)}


async def save_rule(
    db: AsyncSession,
    household_id: int,
    account_id: int | None,
    kind: str,
    **values: object,
) -> AlertRule | None:
    """Create or update one rule (flush is the caller's). For an account, empty values remove
    the override."""
    rule = next(iter(r for r in await _rules(db, household_id, account_id) if r.kind == kind), None)
    if account_id is not None and all(v is None for v in values.values()):
        if rule is not None:
            await db.delete(rule)
        return None
    if rule is None:
        rule = AlertRule(household_id=household_id, account_id=account_id, kind=kind)
        db.add(rule)
    for key, value in values.items():
        setattr(rule, key, value)
    return rule


def _enabled(rules: dict[str, AlertRule], kind: str) -> bool:
    rule = rules.get(kind)
    return rule.enabled if rule is not None else True


async def household_alerts(db: AsyncSession, household_id: int, lang: str) -> HouseholdAlerts:
    """The household's alert settings as saved (a kind never saved is on, without a threshold);
    ``lang`` is the language when no rule names one."""
    rules = await household_rules(db, household_id)
    low, runs = rules.get("low_balance"), rules.get("runs_out")
    suspension, trusted = rules.get("suspension_ends"), rules.get("trusted_payment_due")
    data, minutes = rules.get("low_data"), rules.get("low_minutes")
    recipients: tuple[str, ...] = ()
    for rule in rules.values():
        recipients = recipients or tuple(rule.recipients or ())
        lang = rule.lang or lang
    return HouseholdAlerts(
        low_balance_enabled=_enabled(rules, "low_balance"),
        threshold_minor=low.threshold_minor if low else None,
        margin_minor=low.margin_minor if low else None,
        runs_out_enabled=_enabled(rules, "runs_out"),
        days=runs.days if runs else None,
        needs_login_enabled=_enabled(rules, "needs_login"),
        suspension_ends_enabled=_enabled(rules, "suspension_ends"),
        suspension_days=suspension.days if suspension else None,
        trusted_payment_due_enabled=_enabled(rules, "trusted_payment_due"),
        trusted_days=trusted.days if trusted else None,
        reminder_interval_s=(low.reminder_interval_s if low else None) or None,
        notices={kind: _enabled(rules, kind) for kind in NOTICE_KINDS},
        remainders=RemainderDefaults(
            data_bytes=data.threshold_units if data and data.enabled else None,
            minutes_seconds=minutes.threshold_units if minutes and minutes.enabled else None,
        ),
        recipients=recipients,
        lang=lang,
    )


async def save_household_alerts(
    db: AsyncSession, household_id: int, user_id: int | None, alerts: HouseholdAlerts
) -> None:
    """Save the household's alert settings, audit it (``alerts.updated``) and commit."""
    common: dict[str, object] = {
        "recipients": [address.strip().lower() for address in alerts.recipients],
        "lang": alerts.lang,
    }
    reminder = alerts.reminder_interval_s
    await save_rule(
        db,
        household_id,
        None,
        "low_balance",
        enabled=alerts.low_balance_enabled,
        threshold_minor=alerts.threshold_minor,
        margin_minor=alerts.margin_minor,
        reminder_interval_s=reminder,
        **common,
    )
    await save_rule(
        db,
        household_id,
        None,
        "runs_out",
        enabled=alerts.runs_out_enabled,
        days=alerts.days,
        reminder_interval_s=reminder,
        **common,
    )
    await save_rule(
        db, household_id, None, "needs_login", enabled=alerts.needs_login_enabled, **common
    )
    await save_rule(
        db,
        household_id,
        None,
        "suspension_ends",
        enabled=alerts.suspension_ends_enabled,
        days=alerts.suspension_days,
        **common,
    )
    await save_rule(
        db,
        household_id,
        None,
        "trusted_payment_due",
        enabled=alerts.trusted_payment_due_enabled,
        days=alerts.trusted_days,
        **common,
    )
    for kind in NOTICE_KINDS:
        enabled = alerts.notices.get(kind, True)
        await save_rule(db, household_id, None, kind, enabled=enabled, **common)
    if alerts.remainders is not None:
        # On for every account with packages once a threshold is given (an account's own
        # threshold goes over it); none turns the kind off.
        for kind, units in (
            ("low_data", alerts.remainders.data_bytes),
            ("low_minutes", alerts.remainders.minutes_seconds),
        ):
            await save_rule(
                db,
                household_id,
                None,
                kind,
                enabled=units is not None,
                threshold_units=units,
                **common,
            )
    db.add(AuditLog(household_id=household_id, user_id=user_id, action="alerts.updated"))
    await db.commit()


async def account_thresholds(
    db: AsyncSession, household_id: int, account_id: int
) -> AccountThresholds:
    """An account's own thresholds (None where the household default applies)."""
    rules = await account_rules(db, household_id, account_id)
    low, runs = rules.get("low_balance"), rules.get("runs_out")
    data, minutes = rules.get("low_data"), rules.get("low_minutes")
    return AccountThresholds(
        threshold_minor=low.threshold_minor if low else None,
        days=runs.days if runs else None,
        data_bytes=data.threshold_units if data else None,
        minutes_seconds=minutes.threshold_units if minutes else None,
    )


async def save_account_thresholds(
    db: AsyncSession, household_id: int, account_id: int, thresholds: AccountThresholds
) -> None:
    """Save an account's own thresholds (an empty one falls back to the default) and commit.
    The caller has checked that the account belongs to the household."""
    await save_rule(
        db, household_id, account_id, "low_balance", threshold_minor=thresholds.threshold_minor
    )
    await save_rule(db, household_id, account_id, "runs_out", days=thresholds.days)
    await save_rule(db, household_id, account_id, "low_data", threshold_units=thresholds.data_bytes)
    await save_rule(
        db, household_id, account_id, "low_minutes", threshold_units=thresholds.minutes_seconds
    )
    await db.commit()
