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
    from .cluster import OperatorStatus

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
        # This process's view of each operator (aggregator.polling.cluster.operator_states).
        self.operators: Callable[[], list[OperatorStatus]] = list
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
        families = {
            "in_flight": GaugeMetricFamily(
                "aggregator_operator_requests_in_flight",
                "Requests to each operator in flight from this process now.",
                labels=["operator"],
            ),
            "polls_in_flight": GaugeMetricFamily(
                "aggregator_operator_polls_in_flight",
                "Polls of each operator running in this process now.",
                labels=["operator"],
            ),
            "peak_in_flight": GaugeMetricFamily(
                "aggregator_operator_requests_in_flight_peak",
                "The most requests to each operator this process had in flight at once.",
                labels=["operator"],
            ),
            "slots": GaugeMetricFamily(
                "aggregator_operator_slots",
                "Of the operator's cluster-wide limit, the requests at once this process holds.",
                labels=["operator"],
            ),
            "concurrency": GaugeMetricFamily(
                "aggregator_operator_concurrency_limit",
                "The operator's limit of requests at once, for the whole cluster.",
                labels=["operator"],
            ),
            "waiting": GaugeMetricFamily(
                "aggregator_operator_requests_waiting",
                "Requests of this process waiting for a slot of the operator now.",
                labels=["operator"],
            ),
            "failures": GaugeMetricFamily(
                "aggregator_breaker_failures",
                "Temporary failures in a row the breaker counted, by operator.",
                labels=["operator"],
            ),
        }
        requests = CounterMetricFamily(
            "aggregator_operator_requests",
            "Requests this process sent to each operator.",
            labels=["operator"],
        )
        throttled = CounterMetricFamily(
            "aggregator_operator_throttled",
            "Times this process waited for the operator's rate budget.",
            labels=["operator"],
        )
        breaker = GaugeMetricFamily(
            "aggregator_breaker_state",
            "Each operator's circuit breaker as seen by this process: 1 for its current state.",
            labels=["operator", "state"],
        )
        for status in metrics.operators():
            op = [status.operator]
            families["in_flight"].add_metric(op, status.in_flight)
            families["polls_in_flight"].add_metric(op, status.polls_in_flight)
            families["peak_in_flight"].add_metric(op, status.peak_in_flight)
            families["slots"].add_metric(op, status.slots)
            families["concurrency"].add_metric(op, status.concurrency)
            families["waiting"].add_metric(op, status.waiting)
            families["failures"].add_metric(op, status.breaker_failures)
            requests.add_metric(op, status.requests)
            throttled.add_metric(op, status.throttled)
            for state in BREAKER_STATES:
                breaker.add_metric([*op, state], 1.0 if state == status.breaker.value else 0.0)
        yield from families.values()
        yield requests
        yield throttled
        yield breaker
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
