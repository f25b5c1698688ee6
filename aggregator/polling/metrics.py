"""What one polling process measures about itself, in Prometheus terms.

One :class:`PollMetrics` per :class:`~.service.PollingService` (so two services in one test
process never share a counter): polls by operator and status, poll latency, silent re-logins,
the scheduler's last tick, and, read at scrape time, the operators' gates (requests in flight,
breaker state) and the shared browser. ``aggregator serve`` adds it to ``/metrics`` next to
the cluster's numbers read from the database (:mod:`aggregator.services.health`);
``aggregator worker --metrics-port`` serves it on its own port.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .breaker import BreakerState

if TYPE_CHECKING:
    from .breaker import OperatorGates

__all__ = ["BREAKER_STATES", "LATENCY_BUCKETS", "PollMetrics"]

#: Seconds: a poll is a few requests (fast) or a browser login (tens of seconds).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

BREAKER_STATES = tuple(state.value for state in BreakerState)


class PollMetrics:
    """The metrics of one polling process, on a registry of their own."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._clock = clock
        self.polls = Counter(
            "aggregator_polls",
            "Polls finished by this process, by operator and the account's resulting status "
            "(skipped: the operator's breaker was open, no request went out).",
            ["operator", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "aggregator_poll_duration_seconds",
            "How long one poll took in this process (re-login included), by operator.",
            ["operator"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.logins = Counter(
            "aggregator_silent_logins",
            "Silent re-logins from stored credentials made by this process, by operator.",
            ["operator"],
            registry=self.registry,
        )
        self.last_tick: float | None = None  # monotonic time of the last finished tick
        self.gates: OperatorGates | None = None
        # Returns the process's shared browser pool (a SharedBrowser), or None.
        self.browser: Callable[[], Any] = lambda: None
        self.registry.register(_LiveCollector(self))

    def record_poll(self, operator: str, status: str, seconds: float, *, login: bool) -> None:
        self.polls.labels(operator, status).inc()
        if status != "skipped":
            self.latency.labels(operator).observe(seconds)
        if login:
            self.logins.labels(operator).inc()

    def tick_done(self) -> None:
        self.last_tick = self._clock()

    def tick_age(self) -> float | None:
        """Seconds since the scheduler last looked for due accounts (None: never yet)."""
        return None if self.last_tick is None else max(0.0, self._clock() - self.last_tick)

    def families(self) -> list[Metric]:
        """Every family of this process, collected now."""
        return list(self.registry.collect())


class _LiveCollector(Collector):
    """Values read at scrape time from the objects that hold them."""

    def __init__(self, metrics: PollMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        metrics = self.metrics
        age = metrics.tick_age()
        tick = GaugeMetricFamily(
            "aggregator_scheduler_tick_age_seconds",
            "Seconds since this process's scheduler last looked for due accounts.",
        )
        if age is not None:
            tick.add_metric([], age)
        yield tick
        in_flight = GaugeMetricFamily(
            "aggregator_operator_in_flight",
            "Polls of each operator running in this process now.",
            labels=["operator"],
        )
        breaker = GaugeMetricFamily(
            "aggregator_breaker_state",
            "Each operator's circuit breaker as seen by this process: 1 for its current state.",
            labels=["operator", "state"],
        )
        failures = GaugeMetricFamily(
            "aggregator_breaker_failures",
            "Temporary failures in a row the breaker counted, by operator.",
            labels=["operator"],
        )
        gates = metrics.gates
        for operator, gate in sorted(gates.items() if gates is not None else []):
            in_flight.add_metric([operator], gate.in_flight)
            current = gate.breaker.state.value
            for state in BREAKER_STATES:
                breaker.add_metric([operator, state], 1.0 if state == current else 0.0)
            failures.add_metric([operator], gate.breaker.failures)
        yield in_flight
        yield breaker
        yield failures
        browser = metrics.browser()
        running = GaugeMetricFamily(
            "aggregator_browser_running",
            "1 while this process's shared Chromium is started (it closes when idle).",
        )
        running.add_metric([], 1.0 if getattr(browser, "running", False) else 0.0)
        yield running
        launches = CounterMetricFamily(
            "aggregator_browser_launches",
            "How many times this process started Chromium.",
        )
        launches.add_metric([], float(getattr(browser, "launches", 0)))
        yield launches
