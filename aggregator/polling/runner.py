"""Polls claimed accounts in this process and reports each as a :class:`~.models.PollOutcome`.

Used by the scheduler's poll jobs (:mod:`.service`), by ``aggregator poll`` (:mod:`.commands`)
and by the dashboard's "refresh" button (:meth:`~.service.PollingService.poll_account`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from typing import cast

import anyio
from sqlalchemy import Table, select

from ..storage.models import AccountStatus, BalanceReading, LinkedAccount
from ..storage.transactions import transaction
from .metrics import PollMetrics
from .models import ClaimedAccount, PollOutcome, PollRecord
from .options import PollingOptions
from .poller import Poller
from .store import GroupCommitter, ResultStore, WriteResult

__all__ = ["BUSY_KEY", "PollRunner"]

log = logging.getLogger(__name__)

BUSY_KEY = "poll.busy"
"""``aggregator poll``: another poller was polling the account at that moment."""

accounts_t = cast(Table, LinkedAccount.__table__)
readings_t = cast(Table, BalanceReading.__table__)

Progress = Callable[[int, int], None]


class PollRunner:
    def __init__(
        self,
        poller: Poller,
        store: ResultStore,
        committer: GroupCommitter,
        options: PollingOptions,
        tag: str,
        metrics: PollMetrics | None = None,
    ) -> None:
        self.poller = poller
        self.metrics = metrics
        self.store = store
        self.committer = committer
        self.options = options
        self.tag = tag  # claim tokens of this process start with it
        self.polls = 0  # polls completed by this process (metrics, tests)
        # At most options.max_polls polls at once in this process (worker --concurrency).
        self._room = asyncio.Semaphore(options.max_polls) if options.max_polls is not None else None

    def new_token(self) -> str:
        return f"{self.tag}.{secrets.token_hex(8)}"

    async def poll_claimed(
        self, ids: Sequence[int], token: str, progress: Progress | None = None
    ) -> list[PollOutcome]:
        """Poll the accounts among ``ids`` still claimed by ``token``; store each result."""
        accounts = await self.store.load(ids, token)
        done = 0
        total = len(accounts)
        submitted: set[int] = set()

        async def one(account: ClaimedAccount) -> PollOutcome:
            nonlocal done
            if account.status == AccountStatus.NEW.value:
                self.poller.guard.forget(account)
            started = time.monotonic()
            if self._room is None:
                record = await self.poller.poll(account)
            else:
                async with self._room:
                    record = await self.poller.poll(account)
            if self.metrics is not None:
                self.metrics.record_poll(
                    account.provider_id,
                    "skipped" if record.skipped else record.status,
                    time.monotonic() - started,
                    login=record.login_attempted,
                )
            submitted.add(account.id)  # from here on the writer stores it, whatever happens
            result = await self.committer.submit(record)
            self.polls += 1
            done += 1
            if progress is not None:
                progress(done, total)
            return _outcome(record, result)

        # A few workers per operator, not one task per account: a batch of hundreds waits as a
        # list, not as hundreds of suspended polls (memory stays flat at 10,000 accounts).
        gates = self.poller.gates
        width = min(
            len(accounts),
            sum(2 * gates.concurrency(op) for op in {a.provider_id for a in accounts}),
        )
        pending = iter(accounts)
        outcomes: dict[int, PollOutcome] = {}

        async def worker() -> None:
            for account in pending:
                outcomes[account.id] = await one(account)

        try:
            await asyncio.gather(*(worker() for _ in range(width)))
            return [outcomes[a.id] for a in accounts]
        except asyncio.CancelledError:
            # Stopped mid-job (shutdown): the polls that did not finish are due again at once.
            unfinished = [a.id for a in accounts if a.id not in submitted]
            with anyio.move_on_after(10, shield=True):
                await self.store.release(token, ids=unfinished)
            raise

    async def poll_accounts(
        self,
        ids: Sequence[int] | None,
        progress: Progress | None = None,
        *,
        wait_busy_s: float = 10.0,
    ) -> list[PollOutcome]:
        """Poll these accounts now (every account when ``ids`` is None), due or not.

        An account paused in ``needs_login`` is not contacted (its outcome says so); one that
        another poller holds is waited for up to ``wait_busy_s``, then reported as busy.
        """
        async with transaction(self.store.engine) as conn:
            query = select(
                accounts_t.c.id,
                accounts_t.c.provider_id,
                accounts_t.c.label,
                accounts_t.c.number_masked,
                accounts_t.c.status,
                accounts_t.c.last_error_key,
            ).order_by(accounts_t.c.id)
            if ids is not None:
                query = query.where(accounts_t.c.id.in_(list(ids)))
            rows = {row.id: row for row in await conn.execute(query)}
        wanted = [row.id for row in rows.values()]
        paused = [i for i in wanted if rows[i].status == AccountStatus.NEEDS_LOGIN.value]
        pollable = [i for i in wanted if i not in set(paused)]
        token = self.new_token()
        total = len(wanted)
        finished = 0

        def step(_done: int, _total: int) -> None:
            nonlocal finished
            finished += 1
            if progress is not None:
                progress(finished, total)

        outcomes: dict[int, PollOutcome] = {}
        for account_id in paused:
            row = rows[account_id]
            outcomes[account_id] = PollOutcome(
                account_id=row.id,
                provider_id=row.provider_id,
                label=row.label,
                status=row.status,
                balance=None,
                error_key=row.last_error_key,
                number_masked=row.number_masked,
            )
            step(0, 0)
        remaining = list(pollable)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_busy_s
        while remaining:
            claimed = await self.store.claim_ids(remaining, token, self.options.lease_s)
            if claimed:
                for outcome in await self.poll_claimed(claimed, token, step):
                    outcomes[outcome.account_id] = outcome
            remaining = [i for i in remaining if i not in set(claimed) and i not in outcomes]
            if not remaining or loop.time() >= deadline:
                break
            await asyncio.sleep(0.2)
        for account_id in remaining:
            row = rows[account_id]
            outcomes[account_id] = PollOutcome(
                account_id=row.id,
                provider_id=row.provider_id,
                label=row.label,
                status=row.status,
                balance=None,
                error_key=BUSY_KEY,
                number_masked=row.number_masked,
            )
            step(0, 0)
        return [outcomes[i] for i in wanted if i in outcomes]


def _outcome(record: PollRecord, result: WriteResult) -> PollOutcome:
    account = record.account
    balance = record.result.balance if record.result is not None else None
    return PollOutcome(
        account_id=account.id,
        provider_id=account.provider_id,
        label=account.label,
        status=record.status if result.stored else account.status,
        balance=balance.amount.amount if balance is not None and result.stored else None,
        error_key=record.error_key if result.stored else BUSY_KEY,
        currency=balance.amount.currency if balance is not None else "RUB",
        as_of=balance.as_of if balance is not None else None,
        number_masked=account.number_masked,
    )
