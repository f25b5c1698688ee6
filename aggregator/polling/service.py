"""The polling service: APScheduler 4, the poll jobs, the outbox sender, the mail sink.

One :class:`PollingService` per process that polls (``aggregator serve`` embedded, or each
``aggregator worker``)::

    async with Runtime(settings) as runtime:
        async with PollingService(runtime, settings=settings) as service:
            ...                                  # serve pages; polling runs in the background
            await service.poll_account(42)       # "refresh now" -> PollOutcome
            service.kick()                       # an account was linked: dispatch now

**Scheduling.** The source of truth is ``linked_accounts.next_due_at``. One APScheduler
schedule (``aggregator.poll-dispatch``, an interval trigger, replaced on every start so it is
never duplicated) runs the *dispatcher*: it counts due accounts per operator, *claims* them in
batches (:meth:`~.store.ResultStore.claim_due`: an atomic conditional update, ``SKIP LOCKED``
on PostgreSQL) and adds one *poll job* per batch, whose arguments are the account ids, the
operator id and the claim token, never a secret. Any process of the cluster runs poll jobs:
with PostgreSQL, ``aggregator worker`` processes share the data store and its psycopg event
broker, take jobs as they have room, and so split the polls; a claim makes a duplicate poll
impossible. At most ``jobs_per_operator`` jobs per operator are in flight, so a slow operator
holds its own jobs only.

**Crash safety.** A poller killed with ``kill -9`` leaves claimed accounts whose lease runs out
(``lease_s``), so they become due again; a restarted process with the same identity frees its
own claims and abandoned jobs at once. Readings are committed with their alert episodes and
outbox rows, so a committed reading is never lost and an opened alert is mailed once.
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
from collections.abc import Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
from apscheduler import (
    AsyncScheduler,
    CoalescePolicy,
    ConflictPolicy,
    JobReleased,
)
from apscheduler.abc import EventBroker
from apscheduler.datastores.sqlalchemy import SQLAlchemyDataStore
from apscheduler.eventbrokers.local import LocalEventBroker
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from ..alerts.episodes import AlertWriter
from ..alerts.outbox import OutboxSender
from ..core.notify import Notifier
from ..runtime import Runtime
from ..settings import Settings
from ..storage.keycheck import open_vault
from ..storage.models import utcnow
from ..vault import Vault
from .database import polling_engine, scheduler_sync_engine, transaction, url_of
from .models import PollOutcome
from .options import PollingOptions
from .poller import LoginGuard, Poller
from .runner import PollRunner
from .store import GroupCommitter, ResultStore, WriteResult

if TYPE_CHECKING:
    from ..alerts.sink import MailSink

__all__ = [
    "DISPATCH_SCHEDULE",
    "DISPATCH_TASK",
    "POLL_TASK",
    "SCHEDULER_SCHEMA",
    "PollingService",
    "default_identity",
]

log = logging.getLogger(__name__)

DISPATCH_TASK = "aggregator.poll_dispatch"
POLL_TASK = "aggregator.poll_batch"
DISPATCH_SCHEDULE = "aggregator.poll-dispatch"
SCHEDULER_SCHEMA = "apscheduler"
_DDL_LOCK = 0x61676772  # a PostgreSQL advisory lock id ("aggr") held while creating tables
"""On PostgreSQL APScheduler's tables live in their own schema; on SQLite beside ours."""


def default_identity(role: str = "embedded") -> str:
    """A process identity: stable for the embedded scheduler (one per data directory), so a
    restart frees what the previous life held at once; host + pid for extra workers."""
    if role == "embedded":
        return f"{platform.node()}-embedded"
    return f"{platform.node()}-{role}-{os.getpid()}"


def _tag(identity: str) -> str:
    return hashlib.sha256(identity.encode()).hexdigest()[:10]


def _event_broker(engine: AsyncEngine) -> EventBroker:
    if engine.dialect.name != "postgresql":
        return LocalEventBroker()
    from apscheduler.eventbrokers.psycopg import PsycopgEventBroker

    url = make_url(url_of(engine)).set(drivername="postgresql")
    return PsycopgEventBroker(url.render_as_string(hide_password=False))


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
        self._job_released = asyncio.Event()
        self._stopping = asyncio.Event()
        self._jobs_idle = asyncio.Event()
        self._active_jobs = 0
        self.sink: MailSink | None = None  # the embedded SMTP sink, when it runs here
        self.scheduler: AsyncScheduler | None = None
        self.engine: AsyncEngine
        self.store: ResultStore
        self.runner: PollRunner
        self.sender: OutboxSender | None = None

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
            guard=LoginGuard(refused_in_db=self.store.refused_login),
        )
        self.runner = PollRunner(poller, self.store, committer, self.options, self.tag)
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
            self.sender = OutboxSender(
                self.engine,
                notifier_instances(self.runtime, settings),
                batch=self.options.outbox_batch,
                lease_s=self.options.outbox_lease_s,
                mail_from=settings.smtp_from,
            )
            self._spawn(self._outbox_loop(), "outbox-sender")

        if self.schedule:
            await self._start_scheduler()

    async def _start_scheduler(self) -> None:
        options = self.options
        if self.engine.dialect.name == "postgresql":
            data_store = SQLAlchemyDataStore(self.engine, schema=SCHEDULER_SCHEMA)
        else:
            sync_engine = scheduler_sync_engine(self.engine)
            self._stack.callback(sync_engine.dispose)
            data_store = SQLAlchemyDataStore(sync_engine)
        scheduler = AsyncScheduler(
            data_store,
            _event_broker(self.engine),
            identity=self.identity,
            max_concurrent_jobs=options.max_concurrent_jobs,
            cleanup_interval=dt.timedelta(seconds=options.scheduler_cleanup_s),
            lease_duration=dt.timedelta(seconds=options.scheduler_lease_s),
            logger=logging.getLogger("aggregator.polling.scheduler"),
        )
        if self.engine.dialect.name == "postgresql":
            # Workers starting together would race to create the schema and tables
            # (PostgreSQL's IF NOT EXISTS is not safe against a concurrent CREATE).
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _DDL_LOCK})
                try:
                    await self._stack.enter_async_context(scheduler)
                finally:
                    await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _DDL_LOCK})
                    await conn.commit()
        else:
            await self._stack.enter_async_context(scheduler)
        self.scheduler = scheduler
        await scheduler.configure_task(
            POLL_TASK, func=self._poll_job, max_running_jobs=None, misfire_grace_time=None
        )
        await scheduler.configure_task(
            DISPATCH_TASK, func=self._dispatch_job, max_running_jobs=1, misfire_grace_time=None
        )
        await scheduler.add_schedule(
            DISPATCH_TASK,
            IntervalTrigger(seconds=options.dispatch_interval_s),
            id=DISPATCH_SCHEDULE,
            coalesce=CoalescePolicy.latest,
            misfire_grace_time=max(options.dispatch_interval_s, 1.0),
            conflict_policy=ConflictPolicy.replace,
        )
        scheduler.subscribe(self._on_job_released, JobReleased)
        await scheduler.start_in_background()
        log.info("polling scheduler %s started", self.identity)

    def _on_job_released(self, event: Any) -> None:
        if getattr(event, "task_id", None) == POLL_TASK:
            self._job_released.set()

    def _spawn(self, coroutine: Any, name: str) -> None:
        self._tasks = [task for task in self._tasks if not task.done()]
        self._tasks.append(asyncio.create_task(coroutine, name=name))

    async def aclose(self) -> None:
        """Stop gently: no new dispatch, running poll jobs finish (up to ``stop_timeout_s``),
        the outbox sender stops between two messages; then the scheduler and the rest."""
        self._stopping.set()
        self._mail_wakeup.set()
        self._job_released.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.options.stop_timeout_s):
                while self._active_jobs:
                    await self._jobs_idle.wait()
                    self._jobs_idle.clear()
        tasks, self._tasks = self._tasks, []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.options.stop_timeout_s):
                await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        try:
            await self._stack.aclose()
        finally:
            self.scheduler = None

    # -- public API -----------------------------------------------------------------------
    def kick(self) -> None:
        """Look for due accounts now (after linking one) instead of at the next tick."""
        scheduler = self.scheduler
        if scheduler is not None:
            self._spawn(scheduler.add_job(DISPATCH_TASK), "dispatch-kick")

    def wake_mail(self) -> None:
        """Look at the outbox now."""
        self._mail_wakeup.set()

    async def poll_account(self, account_id: int) -> PollOutcome | None:
        """Poll one account now (the dashboard's refresh): its outcome, None when unknown."""
        outcomes = await self.runner.poll_accounts([account_id])
        return outcomes[0] if outcomes else None

    async def poll_accounts(self, ids: Sequence[int] | None = None) -> list[PollOutcome]:
        return await self.runner.poll_accounts(ids)

    # -- jobs -----------------------------------------------------------------------------
    async def _poll_job(self, account_ids: list[int], claim: str, provider_id: str = "") -> int:
        self._active_jobs += 1
        try:
            if self._stopping.is_set():  # stopping: the next run polls them
                with anyio.move_on_after(10, shield=True):
                    await self.store.release(claim)
                return 0
            outcomes = await self.runner.poll_claimed(account_ids, claim)
            return len(outcomes)
        finally:
            self._active_jobs -= 1
            if not self._active_jobs:
                self._jobs_idle.set()

    async def _inflight(self) -> dict[str, int]:
        """Poll batches in flight per operator (cluster-wide): the live claims."""
        return await self.store.live_claims()

    async def _dispatch_job(self) -> int:
        """Claim due accounts and queue poll jobs for them, until none is due (or budget)."""
        self._active_jobs += 1
        try:
            if self._stopping.is_set():
                return 0
            return await self._dispatch()
        finally:
            self._active_jobs -= 1
            if not self._active_jobs:
                self._jobs_idle.set()

    async def _dispatch(self) -> int:
        assert self.scheduler is not None
        options = self.options
        deadline = time.monotonic() + options.dispatch_budget_s
        queued = 0
        while not self._stopping.is_set():
            due = await self.store.count_due()
            if not due:
                break
            inflight = await self._inflight()
            added = 0
            for provider_id, count in sorted(due.items()):
                if self._stopping.is_set():
                    break
                free = options.jobs_per_operator - inflight.get(provider_id, 0)
                if free <= 0:
                    continue
                batch = max(
                    1, min(options.max_batch, math.ceil(count / (2 * options.jobs_per_operator)))
                )
                for _ in range(free):
                    token = self.runner.new_token()
                    ids = await self.store.claim_due(provider_id, batch, token, options.lease_s)
                    if not ids:
                        break
                    await self.scheduler.add_job(
                        POLL_TASK,
                        kwargs={"account_ids": ids, "claim": token, "provider_id": provider_id},
                    )
                    added += len(ids)
            queued += added
            if time.monotonic() >= deadline:
                break
            self._job_released.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._job_released.wait(), 0.5 if added == 0 else 2.0)
        return queued

    # -- mail -----------------------------------------------------------------------------
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
