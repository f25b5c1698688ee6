"""What an operator tolerates, enforced on every request this process sends it.

Each operator gets an :class:`OperatorBudget`: request *slots* (requests in flight at once) and
*tokens* of its request-rate budget. The operator's own HTTP client (see
:mod:`aggregator.runtime`) sends through a :class:`PoliteTransport`, which takes a slot and a
token before each request and gives the slot back when the response is closed.

Alone (SQLite, the CLI, a test) a process owns all of an operator's limits: its capacity is the
declared concurrency and its tokens come from an in-memory bucket. Several processes on one
PostgreSQL share them: :mod:`aggregator.polling.cluster` leases each process its share of the
slots from the database (``set_capacity``) and hands tokens out of a bucket kept there
(``tokens``), in batches, so a request costs no database round trip.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from .core.provider import OperatorLimits
from .settings import Settings

__all__ = [
    "LocalTokens",
    "OperatorBudget",
    "PoliteTransport",
    "Politeness",
    "TokenSource",
    "refill",
]

log = logging.getLogger(__name__)

TokenSource = Callable[[str, OperatorLimits, float], Awaitable[float]]
"""``take(operator, limits, wanted) -> granted``: tokens of the operator's rate budget."""

TOKEN_WINDOW_S = 0.25
"""Tokens are taken in batches of this many seconds' worth of the rate, and expire after it
(so a process never saves up a burst the shared bucket did not allow)."""


def refill(tokens: float, at: float, now: float, limits: OperatorLimits) -> float:
    """The bucket's tokens at ``now``, ``tokens`` having been left at ``at``."""
    rate = limits.requests_per_s or 0.0
    return min(limits.bucket, tokens + max(0.0, now - at) * rate)


class LocalTokens:
    """The rate budget of a process that owns it alone (an in-memory token bucket)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    async def __call__(self, operator: str, limits: OperatorLimits, wanted: float) -> float:
        now = self.clock()
        tokens, at = self._buckets.get(operator, (limits.bucket, now))
        tokens = refill(tokens, at, now, limits)
        granted = min(wanted, math.floor(tokens))
        self._buckets[operator] = (tokens - granted, now)
        return float(granted)


@dataclass
class OperatorBudget:
    """Slots and tokens of one operator in this process, and what it saw (for /metrics)."""

    operator: str
    limits: OperatorLimits
    capacity: int
    tokens_from: TokenSource
    on_wait: Callable[[OperatorBudget], None] = lambda _budget: None
    in_flight: int = 0
    peak_in_flight: int = 0
    waiting: int = 0
    requests: int = 0
    throttled: int = 0  # requests that waited for a token
    _tokens: float = 0.0
    _tokens_until: float = 0.0
    _waiters: collections.deque[asyncio.Future[None]] = field(
        default_factory=collections.deque, repr=False
    )
    _refilling: asyncio.Lock | None = field(default=None, repr=False)
    _prefetch: asyncio.Task[None] | None = field(default=None, repr=False)

    async def acquire(self) -> None:
        """Wait for a slot, then for a token; the caller must :meth:`release` the slot."""
        while self.in_flight >= self.capacity:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            self.waiting += 1
            try:
                self.on_wait(self)
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._notify()  # woken but leaving: the slot goes to the next in line
                else:
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(waiter)
                raise
            finally:
                self.waiting -= 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.limits.requests_per_s is not None:
                await self._token()
        except BaseException:
            self.release()
            raise
        self.requests += 1

    def release(self) -> None:
        self.in_flight -= 1
        self._notify()

    def set_capacity(self, capacity: int) -> None:
        """The slots this process may use now (its share of the cluster's)."""
        self.capacity = max(0, capacity)
        self._notify()

    def _notify(self) -> None:
        room = self.capacity - self.in_flight
        while room > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                room -= 1

    def drop_tokens(self) -> None:
        """Forget the tokens held (their source changes) and stop fetching more."""
        prefetch, self._prefetch = self._prefetch, None
        if prefetch is not None:
            prefetch.cancel()
        self._tokens = 0.0
        self._tokens_until = 0.0

    def _target(self) -> int:
        """Tokens held at most: a window's worth of the rate (at least one, at most a burst)."""
        rate = self.limits.requests_per_s or 1.0
        return max(1, min(math.floor(self.limits.bucket), round(rate * TOKEN_WINDOW_S)))

    async def _token(self) -> None:
        now = time.monotonic()
        if self._tokens >= 1 and now < self._tokens_until:
            self._tokens -= 1
            # Running low, or the window nearly over: fetch the next tokens in the background
            # so that a request seldom waits for the database.
            if self._prefetch is None and (
                self._tokens < self._target() / 2 or now > self._tokens_until - TOKEN_WINDOW_S / 4
            ):
                self._prefetch = asyncio.get_running_loop().create_task(self._refill_ahead())
            return
        if self._refilling is None:
            self._refilling = asyncio.Lock()
        async with self._refilling:
            rate = self.limits.requests_per_s or 1.0
            waited = False
            while not (self._tokens >= 1 and time.monotonic() < self._tokens_until):
                granted = await self.tokens_from(self.operator, self.limits, float(self._target()))
                if granted >= 1:
                    self._tokens = granted
                    self._tokens_until = time.monotonic() + TOKEN_WINDOW_S
                    break
                waited = True
                await asyncio.sleep(max(0.005, 1.0 / rate))
            if waited:
                self.throttled += 1
            self._tokens -= 1

    async def _refill_ahead(self) -> None:
        """Top the tokens up to a window's worth (never more: no burst saved up), valid for a
        new window."""
        try:
            if self._refilling is None:
                self._refilling = asyncio.Lock()
            async with self._refilling:
                now = time.monotonic()
                left = math.floor(self._tokens) if now < self._tokens_until else 0
                wanted = self._target() - left
                if wanted < 1:
                    return
                granted = await self.tokens_from(self.operator, self.limits, float(wanted))
                if granted >= 1:
                    now = time.monotonic()
                    left = math.floor(self._tokens) if now < self._tokens_until else 0
                    self._tokens = left + granted
                    self._tokens_until = now + TOKEN_WINDOW_S
        except asyncio.CancelledError:
            raise
        except Exception:  # the next request takes its tokens itself (and sees the error)
            log.debug("fetching %s's next tokens failed", self.operator, exc_info=True)
        finally:
            self._prefetch = None


class Politeness:
    """Every operator's :class:`OperatorBudget` in this process.

    ``limits_of`` gives an operator's declared :class:`~aggregator.core.provider.OperatorLimits`;
    the settings lower them. Until :meth:`share` hands it to a cluster ledger, the process owns
    the whole of every limit.
    """

    def __init__(self, settings: Settings, limits_of: Callable[[str], OperatorLimits]) -> None:
        self.settings = settings
        self._limits_of = limits_of
        self._budgets: dict[str, OperatorBudget] = {}
        self._tokens: TokenSource = LocalTokens()
        self.shared = False
        self.on_wait: Callable[[OperatorBudget], None] = lambda _budget: None

    def limits(self, operator: str) -> OperatorLimits:
        """The operator's limits as they apply here: declared, lowered by the settings."""
        return self._limits_of(operator).lowered(
            self.settings.per_operator_concurrency, self.settings.per_operator_rate
        )

    def budget(self, operator: str) -> OperatorBudget:
        budget = self._budgets.get(operator)
        if budget is None:
            limits = self.limits(operator)
            budget = self._budgets[operator] = OperatorBudget(
                operator,
                limits,
                capacity=0 if self.shared else limits.concurrency,
                tokens_from=self._take_tokens,
                on_wait=self._waiting,
            )
        return budget

    def budgets(self) -> dict[str, OperatorBudget]:
        return dict(self._budgets)

    def share(self, tokens: TokenSource, on_wait: Callable[[OperatorBudget], None]) -> None:
        """Hand the limits to a cluster ledger: it sets each budget's capacity from now on."""
        self.shared = True
        self._tokens = tokens
        self.on_wait = on_wait
        for budget in self._budgets.values():
            budget.set_capacity(min(budget.capacity, budget.in_flight))

    def unshare(self) -> None:
        """The ledger stopped: this process alone again (only on shutdown)."""
        self.shared = False
        self._tokens = LocalTokens()
        self.on_wait = lambda _budget: None
        for budget in self._budgets.values():
            budget.drop_tokens()
            budget.set_capacity(budget.limits.concurrency)

    async def _take_tokens(self, operator: str, limits: OperatorLimits, wanted: float) -> float:
        return await self._tokens(operator, limits, wanted)

    def _waiting(self, budget: OperatorBudget) -> None:
        self.on_wait(budget)


class _ReleasingStream(httpx.AsyncByteStream):
    """The response body; closing it gives the request's slot back (once)."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class PoliteTransport(httpx.AsyncBaseTransport):
    """Sends each request of one operator within its :class:`OperatorBudget`."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        budget: OperatorBudget,
        *,
        close_inner: bool = True,
    ) -> None:
        self.inner = inner
        self.budget = budget
        self.close_inner = close_inner  # a transport given by a test is the test's to close

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        budget = self.budget
        await budget.acquire()
        try:
            response = await self.inner.handle_async_request(request)
        except BaseException:
            budget.release()
            raise
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        response.stream = _ReleasingStream(stream, budget.release)
        return response

    async def aclose(self) -> None:
        if self.close_inner:
            await self.inner.aclose()
