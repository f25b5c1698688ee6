"""Linked accounts: find, link (or relink), label and remove, with their audit records.

One operator account is one row: linking a login (or a subaccount of it) that this household
already has updates that row (:func:`aggregator.accounts.link_accounts`), and the row's audit
record says ``account.linked`` or ``account.relinked``. Removing an account deletes its
readings, episodes and chat with it (the foreign keys cascade) and leaves an
``account.removed`` audit record that names the operator and the masked number only.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select

from ..storage.models import AuditLog, BalanceReading, Household, LinkedAccount
from .errors import NotFound

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = [
    "MAX_LABEL",
    "get_account",
    "operator_today",
    "remove_account",
    "set_label",
    "the_household",
]

MAX_LABEL = 200


async def get_account(db: AsyncSession, household_id: int | None, account_id: int) -> LinkedAccount:
    """The account ``account_id`` of this household (of any household when ``None``: the CLI
    run by the machine's administrator); :class:`NotFound` otherwise."""
    query = select(LinkedAccount).where(LinkedAccount.id == account_id)
    if household_id is not None:
        query = query.where(LinkedAccount.household_id == household_id)
    account = await db.scalar(query)
    if account is None:
        raise NotFound("account", account_id)
    return account


async def the_household(db: AsyncSession, household_id: int | None) -> Household:
    """The household ``household_id``, or the only one when ``None`` (the CLI's default).

    ``ValueError`` when there is none yet or several (the message says what to give).
    """
    if household_id is not None:
        found = await db.get(Household, household_id)
        if found is None:
            raise NotFound("household", household_id)
        return found
    households = list((await db.scalars(select(Household).order_by(Household.id))).all())
    if not households:
        raise ValueError(
            "нет ни одной семьи; создайте её / no household yet; create one: "
            "aggregator users create --email you@example.com"
        )
    if len(households) > 1:
        ids = ", ".join(str(h.id) for h in households)
        raise ValueError(
            f"несколько семей ({ids}): укажите --household / several households: give --household"
        )
    return households[0]


async def set_label(
    db: AsyncSession,
    household_id: int | None,
    account_id: int,
    label: str,
    *,
    user_id: int | None = None,
) -> LinkedAccount:
    """Rename an account (trimmed, at most :data:`MAX_LABEL` characters); commits."""
    account = await get_account(db, household_id, account_id)
    new = label.strip()[:MAX_LABEL]
    if new != account.label:
        db.add(
            AuditLog(
                household_id=account.household_id,
                user_id=user_id,
                account_id=account.id,
                action="account.labelled",
                details={"label": new},
            )
        )
        account.label = new
    await db.commit()
    return account


async def remove_account(
    db: AsyncSession,
    household_id: int | None,
    account_id: int,
    *,
    user_id: int | None = None,
) -> LinkedAccount:
    """Unlink an account with its whole history; one ``account.removed`` record; commits."""
    account = await get_account(db, household_id, account_id)
    db.add(
        AuditLog(
            household_id=account.household_id,
            user_id=user_id,
            action="account.removed",
            details={
                "account": account.id,
                "provider": account.provider_id,
                "number": account.number_masked,
            },
        )
    )
    await db.execute(delete(LinkedAccount).where(LinkedAccount.id == account.id))
    await db.commit()
    return account


def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("Europe/Moscow")


async def operator_today(db: AsyncSession, account_id: int, timezone: str) -> dt.date:
    """Today at the operator: the household's today, or later when the operator's clock runs
    ahead (its newest reading is dated by the operator's clock)."""
    zone = _zone(timezone)
    today = dt.datetime.now(zone).date()
    newest = await db.scalar(
        select(func.max(BalanceReading.at)).where(BalanceReading.account_id == account_id)
    )
    if newest is not None:
        today = max(today, newest.astimezone(zone).date())
    return today
