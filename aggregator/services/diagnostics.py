"""Diagnostics of one linked account: the workflow behind ``aggregator accounts diagnose`` and
the account page's "Скачать диагностику / Download diagnostics" button.

It opens the account's sealed credentials and session, runs one poll (after a login when asked,
or when no session is stored) through a recording transport, and returns the redacted HAR
(:mod:`aggregator.diagnostics`). Nothing is written to the database: the session a login opens
lives only for this run, and the account's status does not change. An audit record says that
diagnostics were taken (not what they hold).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..accounts import open_credentials, open_session
from ..core.flows import Challenge, ChallengeAnswer, Session
from ..core.login import Credentials
from ..diagnostics import Diagnostics, record_diagnostics
from ..storage.models import AuditLog
from ..vault import VaultError
from .accounts import get_account

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ..runtime import Runtime
    from ..vault import Vault

__all__ = ["diagnose_account"]

log = logging.getLogger(__name__)


async def diagnose_account(
    db: AsyncSession,
    household_id: int | None,
    account_id: int,
    *,
    runtime: Runtime,
    vault: Vault,
    login: bool = False,
    user_id: int | None = None,
    answer: Callable[[Challenge], Awaitable[ChallengeAnswer | None]] | None = None,
) -> Diagnostics:
    """A redacted HAR of one poll of ``account_id`` (and a login first when ``login``).

    :class:`~aggregator.services.errors.NotFound` for an account of another household; an
    operator's refusal or a plugin's failure is *in* the file, not raised. ``answer`` answers
    a login's challenges (a person at a terminal). Commits the audit record.
    """
    account = await get_account(db, household_id, account_id)
    credentials: Credentials | None
    try:
        credentials = open_credentials(vault, account)
    except (LookupError, VaultError):
        credentials = None
    session: Session | None
    try:
        session = open_session(vault, account)
    except VaultError:
        session = None
    personal = [(account.label, "name"), (account.subaccount_id, "account")]
    result = await record_diagnostics(
        runtime,
        account.provider_id,
        subaccount_id=account.subaccount_id,
        credentials=credentials,
        session=session,
        personal=personal,
        login=login,
        name=str(account.id),
        answer=answer,
    )
    db.add(
        AuditLog(
            household_id=account.household_id,
            user_id=user_id,
            account_id=account.id,
            action="account.diagnostics",
            details={"login": login, "outcome": result.outcome},
        )
    )
    await db.commit()
    log.info("account %s: diagnostics taken (%s)", account.id, result.outcome)
    return result
