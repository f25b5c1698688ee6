"""The polling service: the scheduler tick, poll batches, the outbox sender, the mail sink.

One :class:`PollingService` per process that polls (``aggregator serve`` embedded, or each
``aggregator worker``)::

    async with Runtime(settings) as runtime:
        async with PollingService(runtime, settings=settings) as service:
            ...                                  # serve pages; polling runs in the background
            await service.poll_account(42)       # "refresh now" -> PollOutcome
            service.kick()                       # an account was linked: look for due ones now

**Scheduling.** The source of truth is ``linked_accounts.next_due_at``. Each process runs its
own APScheduler 3 ``AsyncIOScheduler`` (in-memory job store) with one interval job, the *tick*
(``aggregator.poll-tick``). A tick counts due accounts per operator, *claims* them in batches
(:meth:`~.store.ResultStore.claim_due`: ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP
LOCKED)`` on PostgreSQL, an immediate transaction on SQLite) and polls each batch in a task of
this process. A finished batch asks for the next tick at once, so a long backlog drains without
waiting for the interval. At most ``jobs_per_operator`` batches per operator run in one process,
so a slow operator holds its own batches only. The scheduler keeps nothing in the database:
several ``aggregator worker`` processes on one PostgreSQL split the polls through the claim
alone, which makes a duplicate poll impossible.

**Crash safety.** A claim is a lease: ``next_due_at`` moves ``lease_s`` ahead, so accounts
claimed by a poller killed with ``kill -9`` become due again when it runs out; a restarted
process with the same identity frees its own claims at once. Readings are committed with their
alert episodes and outbox rows, so a committed reading is never lost and an opened alert is
mailed once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import math
import os
import platform
import time
from collections import defaultdict
from collections.abc import Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from ..alerts.episodes import AlertWriter
from ..alerts.outbox import OutboxSender
from ..core.notify import Notifier
from ..runtime import Runtime
from ..settings import Settings
from ..storage.keycheck import open_vault
from ..storage.models import utcnow
from ..storage.transactions import polling_engine, transaction, url_of
from ..vault import Vault
from .cluster import ClusterLedger, operator_states
from .login_lease import LoginLeases
from .metrics import PollMetrics
from .models import PollOutcome
from .options import PollingOptions
from .poller import LoginGuard, Poller
from .runner import PollRunner
from .store import GroupCommitter, ResultStore, WriteResult

if TYPE_CHECKING:
    from ..alerts.channels import ChannelStore
    from ..alerts.sink import MailSink

__all__ = ["TICK_JOB", "PollingService", "default_identity"]

log = logging.getLogger(__name__)

TICK_JOB = "aggregator.poll-tick"
"""The id of the one APScheduler job of a process (in memory, never in the database)."""


def default_identity(role: str = "embedded") -> str:
    """A process identity: stable for the embedded scheduler (one per data directory), so a
    restart frees what the previous life held at once; host + pid for extra workers."""
    if role == "embedded":
        return f"{platform.node()}-embedded"
    return f"{platform.node()}-{role}-{os.getpid()}"


def _tag(identity: str) -> str:
    return hashlib.sha256(identity.encode()).hexdigest()[:10]


def notifier_instances(runtime: Runtime, settings: Settings) -> dict[str, Notifier]:
    config = settings.model_dump()
    out: dict[str, Notifier] = {}
    for notifier_id, cls in runtime.registry.notifiers.items():
        try:
            out[notifier_id] = cls(config)
        except Exception:
            log.exception("notifier %s cannot start", notifier_id)
    return out


class PollingService:
    """Scheduler, poll jobs, result writer, outbox sender and mail sink of one process."""

    def __init__(
        self,
        runtime: Runtime,
        engine: AsyncEngine | None = None,
        settings: Settings | None = None,
        *,
        options: PollingOptions | None = None,
        vault: Vault | None = None,
        identity: str | None = None,
        schedule: bool = True,
    ) -> None:
        self.runtime = runtime
        self.settings = settings or runtime.settings
        self.options = options or PollingOptions()
        self._given_engine = engine
        self._given_vault = vault
        self.identity = identity or default_identity()
        self.tag = _tag(self.identity)
        self.schedule = schedule
        self._stack = AsyncExitStack()
        self._tasks: list[asyncio.Task[Any]] = []
        self._mail_wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tick_task: asyncio.Task[None] | None = None
        self._tick_again = False
        # Poll batches running in this process, per operator.
        self._batches: dict[str, set[asyncio.Task[None]]] = defaultdict(set)
        self.sink: MailSink | None = None  # the embedded SMTP sink, when it runs here
        self.metrics = PollMetrics()
        self.ledger: ClusterLedger | None = None  # the operators' limits, shared
        self.scheduler: AsyncIOScheduler | None = None
        self.engine: AsyncEngine
        self.store: ResultStore
        self.runner: PollRunner
        self.sender: OutboxSender | None = None
        self.channels: ChannelStore | None = None
        self._channel_tasks: list[asyncio.Task[None]] = []

    # -- life cycle -----------------------------------------------------------------------
    async def __aenter__(self) -> PollingService:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _start(self) -> None:
        settings = self.settings
        source = self._given_engine or settings.resolved_database_url
        if make_url(url_of(source)).get_backend_name() == "sqlite":
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = polling_engine(source)
        self._stack.push_async_callback(self.engine.dispose)
        vault = self._given_vault or await open_vault(settings, self.engine)
        alerts = AlertWriter(settings, self.runtime.registry)
        self.store = ResultStore(self.engine, vault, alerts)
        self.store.on_queued = lambda _n: self._mail_wakeup.set()
        committer = GroupCommitter(self.store, self.options.write_batch)
        committer.on_committed.append(_log_transitions)
        committer.start()
        self._stack.push_async_callback(committer.stop)
        poller = Poller(
            self.runtime,
            vault,
            settings,
            self.options,
            guard=LoginGuard(
                refused_in_db=self.store.refused_login,
                cluster=LoginLeases(self.engine, vault, self.identity),
            ),
        )
        self.runner = PollRunner(
            poller, self.store, committer, self.options, self.tag, metrics=self.metrics
        )
        self.metrics.operators = lambda: operator_states(self.runtime)
        self.metrics.browser = lambda: self.runtime.browser_if_started
        if not self.runtime.politeness.shared:  # one ledger per runtime
            self.ledger = ClusterLedger(
                self.engine,
                self.runtime.politeness,
                poller.gates,
                self.identity,
                interval_s=self.options.ledger_interval_s,
                lease_s=self.options.ledger_lease_s,
            )
            await self._stack.enter_async_context(self.ledger)
        freed = await self.store.release(prefix=f"{self.tag}.")
        if freed:
            log.info("freed %d accounts claimed by a previous run of %s", freed, self.identity)

        if self.options.send_mail:
            if settings.smtp_host is None and self.options.start_sink:
                from ..alerts.sink import MailSink

                self.sink = MailSink.for_settings(settings)
                try:
                    self.sink.start()
                except Exception as exc:  # the port is taken: another aggregator has it
                    log.warning(
                        "mail sink not started on port %s: %s", settings.mail_sink_port, exc
                    )
                    self.sink = None
                else:
                    self._stack.callback(self.sink.stop)
            from ..alerts.channels import ChannelStore

            self.channels = ChannelStore(
                self.engine, vault, self.runtime.registry, settings.dashboard_url
            )
            notifiers = notifier_instances(self.runtime, settings)
            self.sender = OutboxSender(
                self.engine,
                notifiers,
                batch=self.options.outbox_batch,
                lease_s=self.options.outbox_lease_s,
                mail_from=settings.smtp_from,
                channels=self.channels,
            )
            self._spawn(self._outbox_loop(), "outbox-sender")
            for notifier_id, notifier in sorted(notifiers.items()):
                if type(notifier).run is not Notifier.run:
                    self._channel_tasks.append(
                        asyncio.create_task(
                            self._channel_loop(notifier, self.channels),
                            name=f"channel-{notifier_id}",
                        )
                    )

        if self.schedule:
            await self._start_scheduler()

    async def _start_scheduler(self) -> None:
        scheduler = AsyncIOScheduler(timezone=dt.UTC)
        scheduler.add_job(
            self._on_tick,
            IntervalTrigger(seconds=self.options.tick_interval_s, timezone=dt.UTC),
            id=TICK_JOB,
            name="look for due accounts and poll them",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        scheduler.start()
        self.scheduler = scheduler
        self._stack.callback(self._stop_scheduler)
        self._request_tick()  # the first look at once, not after one interval
        log.info("polling scheduler %s started", self.identity)

    def _stop_scheduler(self) -> None:
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)

    def _spawn(self, coroutine: Any, name: str) -> None:
        self._tasks = [task for task in self._tasks if not task.done()]
        self._tasks.append(asyncio.create_task(coroutine, name=name))

    async def aclose(self) -> None:
        """Stop gently: no new tick, running poll batches finish (up to ``stop_timeout_s``;
        what is left then is cancelled and its claims given back), the outbox sender stops
        between two messages; then the rest."""
        self._stopping.set()
        self._mail_wakeup.set()
        channel_tasks, self._channel_tasks = self._channel_tasks, []
        for task in channel_tasks:  # a chat loop waits on long polls: stop it at once
            task.cancel()
        for task in channel_tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._stop_scheduler()
        tick = self._tick_task
        if tick is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await tick
        batches = self._running_batches()
        if batches:
            await asyncio.wait(batches, timeout=self.options.stop_timeout_s)
            for task in batches:
                task.cancel()
            await asyncio.gather(*batches, return_exceptions=True)
        tasks, self._tasks = self._tasks, []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.options.stop_timeout_s):
                await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._stack.aclose()

    # -- public API -----------------------------------------------------------------------
    def kick(self) -> None:
        """Look for due accounts now (after linking one) instead of at the next tick."""
        if self.scheduler is not None:
            self.store.forget_operators()
            self._request_tick()

    def wake_mail(self) -> None:
        """Look at the outbox now."""
        self._mail_wakeup.set()

    async def poll_account(self, account_id: int) -> PollOutcome | None:
        """Poll one account now (the dashboard's refresh): its outcome, None when unknown."""
        outcomes = await self.runner.poll_accounts([account_id])
        return outcomes[0] if outcomes else None

    async def poll_accounts(self, ids: Sequence[int] | None = None) -> list[PollOutcome]:
        return await self.runner.poll_accounts(ids)

    @property
    def running_batches(self) -> dict[str, int]:
        """Poll batches running in this process now, per operator."""
        return {op: len(tasks) for op, tasks in self._batches.items() if tasks}

    # -- the tick -------------------------------------------------------------------------
    async def _on_tick(self) -> None:
        """The scheduler's interval job: returns at once, the tick runs as a task of its own
        (so the job never overlaps itself and a kick between two intervals is never lost)."""
        self._request_tick()

    def _request_tick(self) -> None:
        if self._stopping.is_set():
            return
        if self._tick_task is not None and not self._tick_task.done():
            self._tick_again = True  # one more round when the running one ends
            return
        self._tick_task = asyncio.create_task(self._tick(), name="poll-tick")

    async def _tick(self) -> None:
        while not self._stopping.is_set():
            self._tick_again = False
            try:
                await self._claim_and_start()
                self.metrics.tick_done()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("looking for due accounts failed; the next tick tries again")
            if not self._tick_again:
                return

    def _running_batches(self) -> list[asyncio.Task[None]]:
        return [task for tasks in self._batches.values() for task in tasks]

    async def _claim_and_start(self) -> int:
        """Claim due accounts, as many batches per operator as this process has room for,
        and start polling each batch. The number of accounts claimed."""
        options = self.options
        # Counted up to what sizes the batches (a backlog of 100,000 costs no more to look at).
        due = await self.store.count_due(cap=2 * options.jobs_per_operator * options.max_batch)
        claimed = 0
        for provider_id, count in sorted(due.items()):
            running = self._batches[provider_id]
            size = max(
                1, min(options.max_batch, math.ceil(count / (2 * options.jobs_per_operator)))
            )
            while len(running) < options.jobs_per_operator and not self._stopping.is_set():
                token = self.runner.new_token()
                ids = await self.store.claim_due(provider_id, size, token, options.lease_s)
                if not ids:
                    break
                if self._stopping.is_set():  # stopped while claiming: the next run polls them
                    await self.store.release(token)
                    break
                task = asyncio.create_task(
                    self._poll_batch(provider_id, ids, token), name=f"poll-{provider_id}"
                )
                running.add(task)
                claimed += len(ids)
        return claimed

    async def _poll_batch(self, provider_id: str, ids: list[int], token: str) -> None:
        try:
            await self.runner.poll_claimed(ids, token)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("a poll batch of %s failed; its accounts are due again", provider_id)
            with contextlib.suppress(Exception):
                await self.store.release(token)
        finally:
            task = asyncio.current_task()
            if task is not None:
                self._batches[provider_id].discard(task)
            self._request_tick()  # room for the next batch: look for more now

    # -- mail and channels -------------------------------------------------------------------
    async def _channel_loop(self, notifier: Notifier, hub: ChannelStore) -> None:
        """A channel's own loop (chat commands); started again after a crash."""
        while not self._stopping.is_set():
            try:
                await notifier.run(hub)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the %s channel's loop failed; starting it again", notifier.id)
            if self._stopping.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.options.outbox_interval_s)

    async def _outbox_loop(self) -> None:
        assert self.sender is not None
        options = self.options
        next_reminders = 0.0
        while not self._stopping.is_set():
            try:
                if time.monotonic() >= next_reminders:
                    next_reminders = time.monotonic() + options.reminders_interval_s
                    async with transaction(self.engine) as conn:
                        queued = await self.store.alerts.queue_reminders(conn, utcnow())
                    if queued:
                        log.info("queued %d reminders", queued)
                await self.sender.send_due(stop=self._stopping)
                wait = options.outbox_interval_s
                due = await self.sender.next_due()
                if due is not None:
                    wait = max(0.05, min(wait, (due - utcnow()).total_seconds()))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the outbox sender failed; trying again shortly")
                wait = options.outbox_interval_s
            if self._stopping.is_set():
                break
            self._mail_wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._mail_wakeup.wait(), wait)


def _log_transitions(records: Sequence[Any], results: Sequence[WriteResult]) -> None:
    for record, result in zip(records, results, strict=True):
        if not result.stored or result.old_status == result.new_status:
            continue
        level = logging.INFO if result.new_status == "ok" else logging.WARNING
        log.log(
            level,
            "account %s (%s): %s -> %s%s",
            record.account.id,
            record.account.provider_id,
            result.old_status,
            result.new_status,
            f" ({record.error_key})" if record.error_key else "",
        )
