"""Polling now ("refresh", "refresh all", ``aggregator poll``): the poller's own path.

A poll asked for by a person runs exactly what the scheduler runs
(:class:`~aggregator.polling.runner.PollRunner`): the operator's breaker and concurrency limit,
the one silent re-login path (:mod:`.sessions`), backoff on failure, the reading written with
its alert episodes and outbox e-mails. In a process that already polls (``aggregator serve``
with its embedded scheduler) the running polling service is used; elsewhere (the CLI, a
dashboard whose polls run in workers) a polling service without a scheduler is opened for the
round and closed after it. Nothing is swallowed: each account's outcome says how its poll
ended, and an error outside the polls (the database, the schema) propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select

from ..storage.models import AccountStatus, LinkedAccount

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from ..polling.models import PollOutcome
    from ..polling.service import PollingService
    from ..runtime import Runtime
    from ..settings import Settings
    from ..vault import Vault

__all__ = ["failed", "household_account_ids", "poll_accounts", "poll_now"]

Progress = Callable[[int, int], None]
_GOOD = frozenset({AccountStatus.OK.value, AccountStatus.NEW.value})


def failed(outcomes: Sequence[PollOutcome]) -> list[PollOutcome]:
    """The outcomes of accounts whose poll did not bring a balance."""
    return [o for o in outcomes if o.status not in _GOOD or o.error_key]


async def household_account_ids(db: AsyncSession, household_id: int) -> list[int]:
    """Every account of a household ("refresh all")."""
    return list(
        await db.scalars(
            select(LinkedAccount.id)
            .where(LinkedAccount.household_id == household_id)
            .order_by(LinkedAccount.id)
        )
    )


async def poll_accounts(
    settings: Settings,
    runtime: Runtime,
    ids: Sequence[int] | None,
    progress: Progress | None = None,
    *,
    service: PollingService | None = None,
    engine: AsyncEngine | None = None,
    vault: Vault | None = None,
    send_mail: bool = False,
) -> list[PollOutcome]:
    """Poll ``ids`` (every account when None) now, due or not: one outcome per account.

    With ``service`` (a running polling service of this process) its runner polls them;
    otherwise one without a scheduler is opened for this round. Alerts the round opens are
    queued in the outbox (``send_mail=True`` also sends them before returning). Accounts
    waiting for a person (``needs_login``) are reported without contacting the operator;
    unknown ids are left out.
    """
    wanted = list(ids) if ids is not None else None
    if service is not None:
        return await service.runner.poll_accounts(wanted, progress)
    from ..polling.options import PollingOptions
    from ..polling.service import PollingService, default_identity

    options = PollingOptions(send_mail=send_mail, start_sink=False)
    async with PollingService(
        runtime,
        engine,
        settings,
        options=options,
        vault=vault,
        identity=default_identity("cli"),
        schedule=False,
    ) as round_service:
        outcomes = await round_service.runner.poll_accounts(wanted, progress)
        if send_mail and round_service.sender is not None:
            await round_service.sender.send_due()
        return outcomes


async def poll_now(
    settings: Settings,
    account_id: int | None = None,
    progress: Progress | None = None,
    *,
    send_mail: bool = False,
) -> list[PollOutcome]:
    """``aggregator poll``: ``account_id`` (every account when None) in a runtime of its own.

    An unknown ``account_id`` gives ``[]``.
    """
    from ..runtime import Runtime

    async with Runtime(settings) as runtime:
        return await poll_accounts(
            settings,
            runtime,
            [account_id] if account_id is not None else None,
            progress,
            send_mail=send_mail,
        )
