"""An operator's limits and circuit breaker, shared by every process of the cluster.

Several ``aggregator worker`` processes (and the dashboard) on one PostgreSQL must together stay
within what one operator tolerates (:class:`~aggregator.core.provider.OperatorLimits`). The
database keeps, per operator (see the models :class:`~aggregator.storage.models.OperatorSlot`,
``OperatorNode``, ``OperatorState``):

- **slots**, rows 0..concurrency-1, each *leased* to one process (``holder``) until
  ``expires_at``. A process sends at most as many requests at once as it holds slots. The
  slots are split evenly between the processes that want the operator now (their heartbeats in
  ``operator_nodes``); a process holding more than its share gives back the idle ones, one
  with fewer takes free or expired ones (``FOR UPDATE SKIP LOCKED``). A process killed with
  ``kill -9`` holds its slots no longer than the lease (``lease_s``); one that cannot renew
  its lease stops sending before it runs out.
- **the rate budget**, a token bucket in ``operator_state``; a process takes a quarter of a
  second's worth of tokens at a time (:data:`aggregator.politeness.TOKEN_WINDOW_S`), so a
  request costs no database round trip.
- **the circuit breaker**: a process whose breaker opens (or closes after a good probe) writes
  it with a new ``breaker_version``; the others adopt what is newer than what they saw.

:class:`ClusterLedger` runs this in a loop every ``interval_s`` (sooner when a request waits
for a slot the process does not hold yet). SQLite (one process) runs the same code.

:func:`operator_states` is what ``/metrics`` and ``/healthz`` read: per operator, the breaker
state, the limits and the requests in flight in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..core.provider import OperatorLimits
from ..politeness import OperatorBudget, Politeness, refill
from ..storage.models import OperatorNode, OperatorSlot, OperatorState
from ..storage.transactions import transaction
from .breaker import BreakerState, OperatorGates

if TYPE_CHECKING:
    from ..runtime import Runtime

__all__ = ["ClusterLedger", "OperatorStatus", "operator_states"]

log = logging.getLogger(__name__)

slots_t = cast(Table, OperatorSlot.__table__)
nodes_t = cast(Table, OperatorNode.__table__)
state_t = cast(Table, OperatorState.__table__)


@dataclass(frozen=True)
class OperatorStatus:
    """One operator as this process sees it (for ``/metrics`` and ``/healthz``)."""

    operator: str
    breaker: BreakerState  # closed, open or half_open
    breaker_failures: int  # temporary failures in a row, in this process
    concurrency: int  # the limit of requests at once, the whole cluster
    requests_per_s: float | None  # the rate budget, the whole cluster (None: none)
    slots: int  # of those, the requests this process may send at once now
    in_flight: int  # requests in flight from this process now
    peak_in_flight: int  # the most this process had in flight at once
    waiting: int  # requests of this process waiting for a slot now
    requests: int  # requests this process sent
    throttled: int  # times this process waited for the rate budget
    polls_in_flight: int  # polls of this operator running in this process


def operator_states(runtime: Runtime) -> list[OperatorStatus]:
    """Every operator this process has met, sorted by id: breaker, limits, in-flight counts."""
    from ..services.sessions import registered_keeper

    keeper = registered_keeper(runtime)
    gates = keeper.gates.gates() if keeper is not None else {}
    budgets = runtime.politeness.budgets()
    out: list[OperatorStatus] = []
    for operator in sorted(set(gates) | set(budgets)):
        gate = gates.get(operator)
        budget = budgets.get(operator)
        limits = budget.limits if budget is not None else runtime.politeness.limits(operator)
        out.append(
            OperatorStatus(
                operator=operator,
                breaker=gate.breaker.state if gate is not None else BreakerState.CLOSED,
                breaker_failures=gate.breaker.failures if gate is not None else 0,
                concurrency=limits.concurrency,
                requests_per_s=limits.requests_per_s,
                slots=budget.capacity if budget is not None else limits.concurrency,
                in_flight=budget.in_flight if budget is not None else 0,
                peak_in_flight=budget.peak_in_flight if budget is not None else 0,
                waiting=budget.waiting if budget is not None else 0,
                requests=budget.requests if budget is not None else 0,
                throttled=budget.throttled if budget is not None else 0,
                polls_in_flight=gate.in_flight if gate is not None else 0,
            )
        )
    return out


class ClusterLedger:
    """Keeps this process's share of every operator's limits in the database (see the module
    docstring); ``async with`` starts and stops it."""

    def __init__(
        self,
        engine: AsyncEngine,
        politeness: Politeness,
        gates: OperatorGates,
        holder: str,
        *,
        interval_s: float = 0.5,
        lease_s: float = 10.0,
        idle_s: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.politeness = politeness
        self.gates = gates
        self.holder = holder
        self.interval_s = interval_s
        self.lease_s = lease_s
        self.idle_s = idle_s
        self.clock = clock
        self.rounds = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._known: set[str] = set()  # operators whose rows exist
        self._last_busy: dict[str, float] = {}
        self._last_requests: dict[str, int] = {}
        self._pushed: dict[str, int] = {}  # breaker.changes written (or adopted)
        self._seen: dict[str, int] = {}  # breaker_version adopted or written
        self._valid_until = 0.0  # monotonic: the slots held stop being ours then

    async def __aenter__(self) -> ClusterLedger:
        self.politeness.share(self.take_tokens, self._on_wait)
        self._task = asyncio.create_task(self._loop(), name="operator-ledger")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for budget in self.politeness.budgets().values():
            budget.set_capacity(0)
        with contextlib.suppress(Exception):
            async with transaction(self.engine) as conn:
                await conn.execute(
                    update(slots_t)
                    .where(slots_t.c.holder == self.holder)
                    .values(holder=None, expires_at=None)
                )
                await conn.execute(delete(nodes_t).where(nodes_t.c.holder == self.holder))
        self.politeness.unshare()

    def _on_wait(self, budget: OperatorBudget) -> None:
        # A process that holds no slot of the operator yet asks for its share at once; one
        # that holds some waits for its slots to free up (the next round rebalances).
        if budget.capacity == 0:
            self._wake.set()

    async def _loop(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.sync()
                self._valid_until = started + self.lease_s - 2 * self.interval_s
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sharing the operators' limits failed; trying again")
                if time.monotonic() >= self._valid_until:
                    for budget in self.politeness.budgets().values():
                        budget.set_capacity(0)  # our leases may have run out: send nothing
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            # A request waiting for a slot wakes the loop; not more than 20 rounds a second.
            await asyncio.sleep(max(0.0, 0.05 - (time.monotonic() - started)))

    # -- one round ---------------------------------------------------------------------------
    def _operators(self) -> list[str]:
        return sorted(set(self.politeness.budgets()) | set(self.gates.gates()))

    def _busy(self, operator: str, budget: OperatorBudget | None, now: float) -> bool:
        gate = self.gates.gates().get(operator)
        requests = budget.requests if budget is not None else 0
        busy = (
            (budget is not None and (budget.waiting > 0 or budget.in_flight > 0))
            or (gate is not None and gate.in_flight > 0)
            or requests != self._last_requests.get(operator, 0)
        )
        self._last_requests[operator] = requests
        if busy:
            self._last_busy[operator] = now
        return now - self._last_busy.get(operator, -math.inf) < self.idle_s

    async def sync(self) -> None:
        """One round: heartbeat, renew, rebalance the slots; share the breakers."""
        operators = self._operators()
        if not operators:
            return
        self.rounds += 1
        now = self.clock()
        budgets = {op: self.politeness.budget(op) for op in operators}
        wanted = {op for op in operators if self._busy(op, budgets[op], now)}
        async with transaction(self.engine) as conn:
            await self._ensure_rows(conn, operators, budgets, now)
            if wanted:
                await self._heartbeat(conn, sorted(wanted), now)
            await conn.execute(
                update(slots_t)
                .where(slots_t.c.holder == self.holder)
                .values(expires_at=now + self.lease_s)
            )
            held: dict[str, list[int]] = {op: [] for op in operators}
            for row in await conn.execute(
                select(slots_t.c.operator, slots_t.c.slot).where(slots_t.c.holder == self.holder)
            ):
                if row.operator in held:
                    held[row.operator].append(int(row.slot))
            active: dict[str, list[str]] = {}
            for row in await conn.execute(
                select(nodes_t.c.operator, nodes_t.c.holder).where(
                    nodes_t.c.seen_at > now - 3 * self.interval_s - self.idle_s,
                    nodes_t.c.operator.in_(operators),
                )
            ):
                active.setdefault(row.operator, []).append(row.holder)
            for operator in operators:
                budget = budgets[operator]
                limit = budget.limits.concurrency
                mine = sorted(s for s in held[operator] if s < limit)
                extra = [s for s in held[operator] if s >= limit]  # the limit was lowered
                share = 0
                if operator in wanted:
                    holders = sorted(set(active.get(operator, [])) | {self.holder})
                    rank = holders.index(self.holder)
                    share = limit // len(holders) + (1 if rank < limit % len(holders) else 0)
                if len(mine) > share:
                    # Give back idle slots only: never fewer than are in flight.
                    keep = max(share, budget.in_flight)
                    give = mine[keep:]
                    mine = mine[:keep]
                    budget.set_capacity(len(mine))
                    extra += give
                if extra:
                    await conn.execute(
                        update(slots_t)
                        .where(
                            slots_t.c.operator == operator,
                            slots_t.c.slot.in_(extra),
                            slots_t.c.holder == self.holder,
                        )
                        .values(holder=None, expires_at=None)
                    )
                if len(mine) < share:
                    mine += await self._claim(conn, operator, limit, share - len(mine), now)
                held[operator] = mine
            await self._share_breakers(conn, operators, now)
        for operator in operators:
            budgets[operator].set_capacity(len(held[operator]))

    async def _ensure_rows(
        self,
        conn: AsyncConnection,
        operators: Iterable[str],
        budgets: dict[str, OperatorBudget],
        now: float,
    ) -> None:
        new = [op for op in operators if op not in self._known]
        if not new:
            return
        existing = {
            (row.operator, int(row.slot))
            for row in await conn.execute(
                select(slots_t.c.operator, slots_t.c.slot).where(slots_t.c.operator.in_(new))
            )
        }
        states = set(
            (await conn.execute(select(state_t.c.operator).where(state_t.c.operator.in_(new))))
            .scalars()
            .all()
        )
        rows = [
            {"operator": op, "slot": slot, "holder": None, "expires_at": None}
            for op in new
            for slot in range(budgets[op].limits.concurrency)
            if (op, slot) not in existing
        ]
        if rows:
            await conn.execute(_insert_ignoring(conn, slots_t), rows)
        fresh = [
            {
                "operator": op,
                "tokens": budgets[op].limits.bucket,
                "tokens_at": now,
                "breaker_version": 0,
                "breaker_opened_at": None,
                "breaker_cooldown_s": 0.0,
            }
            for op in new
            if op not in states
        ]
        if fresh:
            await conn.execute(_insert_ignoring(conn, state_t), fresh)
        self._known.update(new)

    async def _heartbeat(self, conn: AsyncConnection, operators: list[str], now: float) -> None:
        done = set(
            (
                await conn.execute(
                    update(nodes_t)
                    .where(nodes_t.c.holder == self.holder, nodes_t.c.operator.in_(operators))
                    .values(seen_at=now)
                    .returning(nodes_t.c.operator)
                )
            )
            .scalars()
            .all()
        )
        missing = [op for op in operators if op not in done]
        if missing:
            await conn.execute(
                _insert_ignoring(conn, nodes_t),
                [{"operator": op, "holder": self.holder, "seen_at": now} for op in missing],
            )
        if self.rounds % 100 == 1:  # now and then: forget processes long gone
            await conn.execute(delete(nodes_t).where(nodes_t.c.seen_at < now - 300))

    async def _claim(
        self, conn: AsyncConnection, operator: str, limit: int, count: int, now: float
    ) -> list[int]:
        free = (
            select(slots_t.c.slot)
            .where(
                slots_t.c.operator == operator,
                slots_t.c.slot < limit,
                or_(slots_t.c.holder.is_(None), slots_t.c.expires_at < now),
            )
            .order_by(slots_t.c.slot)
            .limit(count)
            .with_for_update(skip_locked=True)
        )
        slots = [int(s) for s in (await conn.execute(free)).scalars().all()]
        if not slots:
            return []
        await conn.execute(
            update(slots_t)
            .where(slots_t.c.operator == operator, slots_t.c.slot.in_(slots))
            .values(holder=self.holder, expires_at=now + self.lease_s)
        )
        return slots

    # -- the breakers -------------------------------------------------------------------------
    async def _share_breakers(
        self, conn: AsyncConnection, operators: list[str], now: float
    ) -> None:
        gates = self.gates.gates()
        mine = [op for op in operators if op in gates]
        if not mine:
            return
        rows = {
            row.operator: row
            for row in await conn.execute(
                select(
                    state_t.c.operator,
                    state_t.c.breaker_version,
                    state_t.c.breaker_opened_at,
                    state_t.c.breaker_cooldown_s,
                ).where(state_t.c.operator.in_(mine))
            )
        }
        mono = time.monotonic()
        for operator in mine:
            row = rows.get(operator)
            if row is None:
                continue
            breaker = gates[operator].breaker
            version = int(row.breaker_version)
            if breaker.changes != self._pushed.get(operator, 0):
                opened = None if breaker.opened_at is None else now - (mono - breaker.opened_at)
                written = await conn.execute(
                    update(state_t)
                    .where(state_t.c.operator == operator, state_t.c.breaker_version == version)
                    .values(
                        breaker_version=version + 1,
                        breaker_opened_at=opened,
                        breaker_cooldown_s=breaker.current_cooldown_s,
                    )
                )
                if written.rowcount:
                    self._pushed[operator] = breaker.changes
                    self._seen[operator] = version + 1
            elif version > self._seen.get(operator, 0):
                opened_at = row.breaker_opened_at
                breaker.adopt(
                    None if opened_at is None else mono - (now - float(opened_at)),
                    float(row.breaker_cooldown_s),
                )
                self._pushed[operator] = breaker.changes
                self._seen[operator] = version

    # -- the rate budget ----------------------------------------------------------------------
    async def take_tokens(self, operator: str, limits: OperatorLimits, wanted: float) -> float:
        """Up to ``wanted`` tokens of the operator's shared bucket (0 when it is empty)."""
        async with transaction(self.engine) as conn:
            row = (
                await conn.execute(
                    select(state_t.c.tokens, state_t.c.tokens_at)
                    .where(state_t.c.operator == operator)
                    .with_for_update()
                )
            ).first()
            now = self.clock()
            if row is None:
                await conn.execute(
                    _insert_ignoring(conn, state_t),
                    [
                        {
                            "operator": operator,
                            "tokens": limits.bucket,
                            "tokens_at": now,
                            "breaker_version": 0,
                            "breaker_opened_at": None,
                            "breaker_cooldown_s": 0.0,
                        }
                    ],
                )
                tokens = limits.bucket
            else:
                tokens = refill(float(row.tokens), float(row.tokens_at), now, limits)
            granted = float(min(wanted, math.floor(tokens)))
            await conn.execute(
                update(state_t)
                .where(state_t.c.operator == operator)
                .values(tokens=tokens - granted, tokens_at=now)
            )
            return granted


def _insert_ignoring(conn: AsyncConnection, table: Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    return insert(table)
