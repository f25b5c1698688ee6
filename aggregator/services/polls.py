"""Polling now ("refresh", ``aggregator poll``): the poller's own path, never a copy of it.

A poll asked for by a person runs exactly what the scheduler runs
(:class:`~aggregator.polling.runner.PollRunner`): the operator's breaker and concurrency limit,
the one silent re-login path, backoff on failure, the reading written with its alert episodes
and outbox e-mails. In a process that already polls (``aggregator serve``), the running
polling service is used; elsewhere (the CLI, a dashboard without an embedded scheduler) a
polling service without a scheduler is opened for the round and closed after it. Nothing is
swallowed: each account's outcome says how its poll ended, and an error outside the polls
(the database, the schema) propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..storage.models import AccountStatus

if TYPE_CHECKING:
    from ..polling.models import PollOutcome
    from ..polling.service import PollingService
    from ..runtime import Runtime
    from ..settings import Settings

__all__ = ["failed", "poll_accounts", "poll_now"]

_GOOD = frozenset({AccountStatus.OK.value, AccountStatus.NEW.value})


def failed(outcomes: Sequence[PollOutcome]) -> list[PollOutcome]:
    """The outcomes of accounts whose poll did not bring a balance."""
    return [o for o in outcomes if o.status not in _GOOD or o.error_key]


async def poll_accounts(
    service: PollingService,
    ids: Sequence[int] | None,
    progress: Callable[[int, int], None] | None = None,
) -> list[PollOutcome]:
    """Poll ``ids`` (every account when None) now with a running polling service."""
    return await service.runner.poll_accounts(list(ids) if ids is not None else None, progress)


async def poll_now(
    settings: Settings,
    account_id: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    runtime: Runtime | None = None,
    send_mail: bool = False,
) -> list[PollOutcome]:
    """Poll ``account_id`` (every account when None) in this process, due or not.

    Alerts the round opens are queued in the outbox and sent by the running aggregator;
    ``send_mail=True`` sends them before returning. An unknown ``account_id`` gives ``[]``.
    """
    from ..polling.commands import poll_now as poll_round

    return await poll_round(settings, account_id, progress, runtime=runtime, send_mail=send_mail)
