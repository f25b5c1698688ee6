"""The billing clock: fast, frozen, advanced by hand, and kept from running past real time."""

from __future__ import annotations

import datetime as dt
import time

from reference_provider.backend import Backend
from reference_provider.domain.clock import MSK, BillingClock


def test_a_fast_clock_runs_fast() -> None:
    start = dt.datetime.now(MSK) - dt.timedelta(days=30)
    clock = BillingClock(start, speed=86400)  # a day a second
    time.sleep(0.05)
    assert clock.now() - start > dt.timedelta(hours=1)


def test_a_fast_clock_told_so_never_runs_past_real_time() -> None:
    start = dt.datetime.now(MSK) - dt.timedelta(hours=1)
    clock = BillingClock(start, speed=86400 * 365, not_after_real=True)
    time.sleep(0.02)  # a year of billing time: far past today without the cap
    before = dt.datetime.now(MSK)
    now = clock.now()
    after = dt.datetime.now(MSK)
    assert before <= now <= after
    assert clock.today() == after.date() or clock.today() == before.date()
    # From then on it keeps to real time, and a manual advance still moves it.
    assert clock.advance(dt.timedelta(days=2)) - dt.datetime.now(MSK) > dt.timedelta(days=1)


def test_without_the_cap_a_fast_clock_runs_into_the_future() -> None:
    start = dt.datetime.now(MSK) - dt.timedelta(hours=1)
    clock = BillingClock(start, speed=86400 * 365)
    time.sleep(0.02)
    assert clock.now() > dt.datetime.now(MSK) + dt.timedelta(days=1)


def test_a_backend_keeps_the_cap_when_reset() -> None:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    backend = Backend(seed=1, clock_speed=86400 * 365, start=start, not_after_real=True)
    backend.reset()
    time.sleep(0.02)
    assert backend.clock.now() <= dt.datetime.now(MSK)
    assert backend.clock.snapshot()["not_after_real"] is True
