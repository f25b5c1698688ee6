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

from ..accounts import link_accounts, login_key_for, seal_credentials, seal_session
from ..core.errors import AggregatorError
from ..core.provider import Capability
from ..storage.models import (
    AccountStatus,
    AuditLog,
    BalanceReading,
    Household,
    LinkedAccount,
    utcnow,
)
from .errors import NotFound
from .households import household

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from ..core.flows import Session
    from ..core.login import Credentials
    from ..core.models import Subaccount
    from ..core.provider import Provider
    from ..vault import Vault

__all__ = [
    "MAX_LABEL",
    "found_subaccounts",
    "get_account",
    "households",
    "identities",
    "link",
    "linked_subaccount_ids",
    "operator_today",
    "relogin_done",
    "remove_account",
    "set_label",
    "the_household",
    "zone",
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
        return await household(db, household_id)
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


async def households(db: AsyncSession, household_id: int | None) -> list[Household]:
    """The household ``household_id`` (:class:`NotFound`), or every household when None."""
    if household_id is not None:
        found = await db.get(Household, household_id)
        if found is None:
            raise NotFound("household", household_id)
        return [found]
    return list((await db.scalars(select(Household).order_by(Household.id))).all())


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


def zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("Europe/Moscow")


async def operator_today(db: AsyncSession, account_id: int, timezone: str) -> dt.date:
    """Today at the operator: the household's today, or later when the operator's clock runs
    ahead (its newest reading is dated by the operator's clock)."""
    tz = zone(timezone)
    today = dt.datetime.now(tz).date()
    newest = await db.scalar(
        select(func.max(BalanceReading.at)).where(BalanceReading.account_id == account_id)
    )
    if newest is not None:
        today = max(today, newest.astimezone(tz).date())
    return today


# -- linking -------------------------------------------------------------------------------


async def linked_subaccount_ids(db: AsyncSession, household_id: int, provider_id: str) -> set[str]:
    """The numbers of this operator the household has already linked (a login's choice step
    marks them)."""
    return set(
        await db.scalars(
            select(LinkedAccount.subaccount_id).where(
                LinkedAccount.household_id == household_id,
                LinkedAccount.provider_id == provider_id,
            )
        )
    )


async def found_subaccounts(provider: Provider, session: Session) -> list[Subaccount]:
    """The numbers a fresh login holds (none when the operator has no such notion)."""
    if not provider.has(Capability.SUBACCOUNTS):
        return []
    return await provider.subaccounts(session)


async def identities(
    provider: Provider, session: Session, chosen: Sequence[Subaccount]
) -> dict[str, str]:
    """The operator's own identity of each chosen account: the subaccount's id, or for a
    login without subaccounts the account number (or phone) of the operator's profile.

    Two logins reaching one account (a login and an account number, or SSO) give the same
    identity, so the account is linked once. Unknown when the operator says nothing.
    """
    found = {sub.id: sub.id for sub in chosen if sub.id}
    if not chosen and provider.has(Capability.PROFILE):
        try:
            profile = await provider.profile(session, "")
        except AggregatorError:
            return found
        number = profile.account_number or profile.phone
        if number:
            found[""] = number
    return found


async def link(
    db: AsyncSession,
    vault: Vault,
    provider: Provider,
    *,
    household_id: int,
    credentials: Credentials,
    session: Session,
    chosen: Sequence[Subaccount],
    label: str = "",
    user_id: int | None = None,
) -> list[LinkedAccount]:
    """Link the chosen accounts of a fresh login (or the login itself); commits.

    An account this household already has, by this login or by another one reaching the
    same operator account, is updated in place (``account.relinked``), never doubled.
    """
    linked = await link_accounts(
        db,
        vault,
        household_id=household_id,
        provider=type(provider),
        credentials=credentials,
        session=session,
        subaccounts=chosen,
        label=label.strip()[:MAX_LABEL],
        user_id=user_id,
        identities=await identities(provider, session, chosen),
    )
    await db.commit()
    return linked


async def relogin_done(
    db: AsyncSession,
    vault: Vault,
    account: LinkedAccount,
    *,
    credentials: Credentials,
    session: Session,
    user_id: int | None = None,
) -> list[LinkedAccount]:
    """A person logged ``account`` in again: every account of the same login gets the new
    credentials and session, is unpaused and due now (``account.relogin``); commits."""
    key = login_key_for(vault, account.provider_id, credentials.identifier)
    siblings = list(
        await db.scalars(
            select(LinkedAccount).where(
                LinkedAccount.household_id == account.household_id,
                LinkedAccount.provider_id == account.provider_id,
                LinkedAccount.login_key == account.login_key,
            )
        )
    )
    now = utcnow()
    rows = siblings or [account]
    for row in rows:
        row.login_key = key
        row.login_scheme = credentials.scheme
        seal_credentials(vault, row, credentials)
        seal_session(vault, row, session)
        row.status = AccountStatus.NEW.value
        row.last_error_key = None
        row.last_error = None
        row.consecutive_failures = 0
        row.next_due_at = now
        db.add(
            AuditLog(
                household_id=row.household_id,
                user_id=user_id,
                account_id=row.id,
                action="account.relogin",
                details={"provider": row.provider_id},
            )
        )
    await db.commit()
    return rows
