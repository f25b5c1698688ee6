"""Per-operator concurrency limit and circuit breaker: one slow operator starves no other.

Every operator gets its own :class:`OperatorGate`: a semaphore (as many polls at once in this
process as the operator's concurrency limit; the requests themselves are limited for the whole
cluster by :mod:`aggregator.politeness`) and a :class:`CircuitBreaker`. The breaker counts temporary
failures (timeouts, 5xx, 429) in a row; at ``threshold`` it *opens*: polls of that operator
fail fast, without a request, until ``cooldown`` has passed. Then one probe is let through
(*half-open*): a success closes the breaker, a failure opens it again with a doubled cooldown
(capped). Answers that are about one account (a wrong password, a parse error) say nothing
about the operator's health and leave the breaker alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["BreakerState", "CircuitBreaker", "OperatorGate", "OperatorGates"]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    threshold: int = 5
    cooldown_s: float = 30.0
    max_cooldown_s: float = 600.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    current_cooldown_s: float = field(default=0.0)
    # Opened or closed this many times (the cluster ledger shares each change).
    changes: int = 0
    _probe_out: bool = False

    def __post_init__(self) -> None:
        self.current_cooldown_s = self.cooldown_s

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if self.clock() - self.opened_at >= self.current_cooldown_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def retry_in(self) -> float:
        """Seconds until the breaker lets a probe through (0 when closed)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.current_cooldown_s - self.clock())

    def allow(self) -> bool:
        """May a request go out now? Half-open lets exactly one probe through at a time."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probe_out:
            self._probe_out = True
            return True
        return False

    def record_success(self) -> None:
        if self.opened_at is not None:
            self.changes += 1
        self.failures = 0
        self.opened_at = None
        self._probe_out = False
        self.current_cooldown_s = self.cooldown_s

    def record_failure(self) -> bool:
        """Count a temporary failure; True when this call opened (or re-opened) the breaker."""
        self.failures += 1
        if self.opened_at is not None and self._probe_out:
            # The probe failed: open again, for longer.
            self._probe_out = False
            self.current_cooldown_s = min(self.current_cooldown_s * 2, self.max_cooldown_s)
            self.opened_at = self.clock()
            self.changes += 1
            return True
        if self.opened_at is None and self.failures >= self.threshold:
            self.opened_at = self.clock()
            self.changes += 1
            return True
        return False

    def adopt(self, opened_at: float | None, cooldown_s: float) -> None:
        """Take the state another process shared: open since ``opened_at`` (on this
        breaker's clock) for ``cooldown_s``, or closed (``opened_at`` None)."""
        self._probe_out = False
        if opened_at is None:
            self.failures = 0
            self.opened_at = None
            self.current_cooldown_s = self.cooldown_s
            return
        self.failures = max(self.failures, self.threshold)
        self.opened_at = opened_at
        self.current_cooldown_s = max(cooldown_s, self.cooldown_s)

    def record_neutral(self) -> None:
        """The operator answered, about the account only: a probe still counts as alive."""
        if self._probe_out:
            self.record_success()


@dataclass
class OperatorGate:
    """The semaphore and breaker of one operator in this process."""

    operator: str
    concurrency: int
    breaker: CircuitBreaker
    semaphore: asyncio.Semaphore = field(init=False)
    in_flight: int = 0

    def __post_init__(self) -> None:
        self.semaphore = asyncio.Semaphore(max(1, self.concurrency))


class OperatorGates:
    """One :class:`OperatorGate` per operator id, created on first use."""

    def __init__(
        self,
        concurrency: int | Callable[[str], int],
        *,
        threshold: int = 5,
        cooldown_s: float = 30.0,
        max_cooldown_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._concurrency = concurrency
        self._threshold = threshold
        self._cooldown_s = cooldown_s
        self._max_cooldown_s = max_cooldown_s
        self._clock = clock
        self._gates: dict[str, OperatorGate] = {}

    def __getitem__(self, operator: str) -> OperatorGate:
        gate = self._gates.get(operator)
        if gate is None:
            breaker = CircuitBreaker(
                threshold=self._threshold,
                cooldown_s=self._cooldown_s,
                max_cooldown_s=self._max_cooldown_s,
                clock=self._clock,
            )
            gate = self._gates[operator] = OperatorGate(
                operator, self.concurrency(operator), breaker
            )
        return gate

    def concurrency(self, operator: str) -> int:
        """Polls of ``operator`` at once in this process."""
        given = self._concurrency
        return given if isinstance(given, int) else given(operator)

    def gates(self) -> dict[str, OperatorGate]:
        """The gates created so far, by operator id."""
        return dict(self._gates)

    def states(self) -> dict[str, BreakerState]:
        return {op: gate.breaker.state for op, gate in self._gates.items()}
