"""Health and metrics of a deployment: what ``/healthz`` and ``/metrics`` answer.

``readiness`` checks what this process needs to do its work: the database answers, its schema
is at the revision this code needs, and (where the process schedules polls) the scheduler has
looked for due accounts recently. Each check is cheap (one short query, or a clock).

``exposition`` is the Prometheus text of the whole cluster as the database sees it (accounts by
operator and status, due and claimed accounts, how far polling lags, the newest poll per
operator, the outbox by channel and status and its oldest pending message), followed by this
process's own numbers (:class:`~aggregator.polling.metrics.PollMetrics`: polls by status, poll
latency, breakers, requests in flight, the shared browser) when it polls. Several
``aggregator worker`` processes all write to one database, so the server's ``/metrics``
shows the cluster; each worker's own latency and breakers are on its ``--metrics-port``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Table, func, or_, select, text

from .. import __version__
from ..polling.breaker import BreakerState
from ..polling.options import PollingOptions
from ..polling.status import POLLABLE_STATUSES
from ..storage.models import (
    LinkedAccount,
    OperatorNode,
    OperatorSlot,
    OperatorState,
    OutboxMessage,
    utcnow,
)
from ..storage.schema import current_revision, head_revision

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from ..polling.metrics import PollMetrics

__all__ = ["CONTENT_TYPE", "Check", "Health", "cluster_families", "exposition", "readiness"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

accounts_t = cast(Table, LinkedAccount.__table__)
outbox_t = cast(Table, OutboxMessage.__table__)
slots_t = cast(Table, OperatorSlot.__table__)
nodes_t = cast(Table, OperatorNode.__table__)
state_t = cast(Table, OperatorState.__table__)

#: A process whose heartbeat for an operator is older than this no longer counts as using it.
NODE_FRESH_S = 60.0

#: A check that takes longer than this counts as failed (a database that hangs is not ready).
CHECK_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Health:
    checks: dict[str, Check]

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ready else "unavailable",
            "version": __version__,
            "checks": {
                name: {"ok": check.ok, **check.detail} for name, check in self.checks.items()
            },
        }


@functools.cache
def _head() -> str:
    return head_revision()


def tick_limit_s(options: PollingOptions) -> float:
    """How old the last scheduler tick may be before the process counts as not ready."""
    if options.tick_stale_s is not None:
        return options.tick_stale_s
    return max(60.0, 3 * options.tick_interval_s)


async def readiness(
    engine: AsyncEngine | None,
    metrics: PollMetrics | None = None,
    options: PollingOptions | None = None,
) -> Health:
    """Database reachable, schema at head, scheduler tick recent (when this process polls)."""
    checks: dict[str, Check] = {}
    revision: str | None = None
    if engine is None:
        checks["database"] = Check(False, {"error": "not open"})
    else:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                revision = await current_revision(engine)
        except Exception as exc:
            checks["database"] = Check(False, {"error": type(exc).__name__})
        else:
            elapsed = round((time.perf_counter() - started) * 1000, 1)
            checks["database"] = Check(True, {"ms": elapsed})
    if checks["database"].ok:
        head = _head()
        checks["schema"] = Check(revision == head, {"revision": revision, "head": head})
    if metrics is not None:
        age = metrics.tick_age()
        limit = tick_limit_s(options or PollingOptions())
        checks["scheduler"] = Check(
            age is not None and age <= limit,
            {"tick_age_s": None if age is None else round(age, 1), "limit_s": limit},
        )
    return Health(checks)


async def cluster_families(engine: AsyncEngine) -> list[Metric]:
    """The cluster's numbers, read from the tables every process writes to."""
    now = utcnow()
    due = or_(accounts_t.c.next_due_at.is_(None), accounts_t.c.next_due_at <= now)
    async with engine.connect() as conn:
        by_status = (
            await conn.execute(
                select(accounts_t.c.provider_id, accounts_t.c.status, func.count()).group_by(
                    accounts_t.c.provider_id, accounts_t.c.status
                )
            )
        ).all()
        due_rows = (
            await conn.execute(
                select(
                    accounts_t.c.provider_id,
                    func.count(),
                    func.min(accounts_t.c.next_due_at),
                )
                .where(accounts_t.c.status.in_(POLLABLE_STATUSES), due)
                .group_by(accounts_t.c.provider_id)
            )
        ).all()
        per_operator = (
            await conn.execute(
                select(
                    accounts_t.c.provider_id,
                    func.count(accounts_t.c.poll_claim),
                    func.max(accounts_t.c.last_polled_at),
                    func.max(accounts_t.c.last_success_at),
                ).group_by(accounts_t.c.provider_id)
            )
        ).all()
        outbox_rows = (
            await conn.execute(
                select(outbox_t.c.notifier, outbox_t.c.status, func.count()).group_by(
                    outbox_t.c.notifier, outbox_t.c.status
                )
            )
        ).all()
        oldest_pending = await conn.scalar(
            select(func.min(outbox_t.c.created_at)).where(outbox_t.c.status == "pending")
        )
        epoch = now.timestamp()
        breakers = (
            await conn.execute(
                select(
                    state_t.c.operator, state_t.c.breaker_opened_at, state_t.c.breaker_cooldown_s
                )
            )
        ).all()
        held = (
            await conn.execute(
                select(slots_t.c.operator, func.count())
                .where(slots_t.c.holder.is_not(None), slots_t.c.expires_at > epoch)
                .group_by(slots_t.c.operator)
            )
        ).all()
        nodes = (
            await conn.execute(
                select(nodes_t.c.operator, func.count())
                .where(nodes_t.c.seen_at > epoch - NODE_FRESH_S)
                .group_by(nodes_t.c.operator)
            )
        ).all()

    accounts = GaugeMetricFamily(
        "aggregator_accounts",
        "Linked accounts by operator and status (the outcome of each one's last poll), "
        "across every process.",
        labels=["operator", "status"],
    )
    for operator, status, count in sorted(by_status):
        accounts.add_metric([operator, status], count)

    due_family = GaugeMetricFamily(
        "aggregator_accounts_due",
        "Accounts due for a poll and not yet claimed by any process, by operator "
        "(a backlog that keeps growing means too few workers or a stuck scheduler).",
        labels=["operator"],
    )
    lag = GaugeMetricFamily(
        "aggregator_poll_lag_seconds",
        "How long the most overdue account of each operator has waited past its due time.",
        labels=["operator"],
    )
    for operator, count, oldest in sorted(due_rows, key=lambda row: row[0]):
        due_family.add_metric([operator], count)
        lag.add_metric([operator], _age(now, oldest))

    claimed = GaugeMetricFamily(
        "aggregator_accounts_claimed",
        "Accounts claimed by a poller right now (being polled, or held by a lease), "
        "by operator, across every process.",
        labels=["operator"],
    )
    last_poll = GaugeMetricFamily(
        "aggregator_last_poll_timestamp_seconds",
        "When an account of each operator was last polled (Unix time).",
        labels=["operator"],
    )
    last_ok = GaugeMetricFamily(
        "aggregator_last_success_timestamp_seconds",
        "When an account of each operator was last polled successfully (Unix time).",
        labels=["operator"],
    )
    for operator, claims, polled_at, success_at in sorted(per_operator, key=lambda r: r[0]):
        claimed.add_metric([operator], claims)
        if polled_at is not None:
            last_poll.add_metric([operator], _aware(polled_at).timestamp())
        if success_at is not None:
            last_ok.add_metric([operator], _aware(success_at).timestamp())

    outbox = GaugeMetricFamily(
        "aggregator_outbox_messages",
        "Outbox messages by channel and status: pending (waiting or being retried), "
        "sent, failed (given up).",
        labels=["notifier", "status"],
    )
    for notifier, status, count in sorted(outbox_rows):
        outbox.add_metric([notifier, status], count)
    outbox_age = GaugeMetricFamily(
        "aggregator_outbox_oldest_pending_age_seconds",
        "Age of the oldest message still waiting to be sent (0 when none waits).",
    )
    outbox_age.add_metric([], _age(now, oldest_pending) if oldest_pending is not None else 0.0)

    breaker = GaugeMetricFamily(
        "aggregator_cluster_breaker_state",
        "Each operator's circuit breaker as every process shares it (the database): 1 for "
        "its current state.",
        labels=["operator", "state"],
    )
    # An operator whose breaker no process has touched yet (no row) is closed.
    known = {str(row[0]): (row[1], row[2]) for row in breakers}
    for row in by_status:
        known.setdefault(str(row[0]), (None, None))
    for operator, (opened_at, cooldown) in sorted(known.items()):
        if opened_at is None:
            current = BreakerState.CLOSED
        elif epoch < opened_at + (cooldown or 0.0):
            current = BreakerState.OPEN
        else:
            current = BreakerState.HALF_OPEN
        for state in BreakerState:
            breaker.add_metric([operator, state.value], 1.0 if state is current else 0.0)
    slots = GaugeMetricFamily(
        "aggregator_cluster_slots_held",
        "Of each operator's limit of requests at once, the slots leased by some process now.",
        labels=["operator"],
    )
    for operator, count in sorted(held):
        slots.add_metric([operator], count)
    processes = GaugeMetricFamily(
        "aggregator_cluster_processes",
        "Processes that talked to each operator within the last minute.",
        labels=["operator"],
    )
    for operator, count in sorted(nodes):
        processes.add_metric([operator], count)

    info = InfoMetricFamily("aggregator_build", "The aggregator's version.")
    info.add_metric([], {"version": __version__})
    return [
        info,
        accounts,
        due_family,
        lag,
        claimed,
        last_poll,
        last_ok,
        outbox,
        outbox_age,
        breaker,
        slots,
        processes,
    ]


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _age(now: dt.datetime, then: dt.datetime | None) -> float:
    if then is None:
        return 0.0
    return max(0.0, (now - _aware(then)).total_seconds())


class _Families(Collector):
    def __init__(self, families: Sequence[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def render(families: Sequence[Metric]) -> bytes:
    """Prometheus text exposition of these metric families."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry)


async def exposition(engine: AsyncEngine, metrics: PollMetrics | None = None) -> bytes:
    """``/metrics``: the cluster from the database, then this process's own numbers."""
    families = await cluster_families(engine)
    if metrics is not None:
        families.extend(metrics.families())
    return render(families)
