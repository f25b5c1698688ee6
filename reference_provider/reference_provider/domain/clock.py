"""The billing clock: ``now = start + real_elapsed * speed + manual_advance``.

All billing happens in Moscow time (UTC+3): a billing day is a Moscow calendar day. The clock
can run faster than real time (``speed``), be frozen (``speed=0``, what tests use) and be moved
forward by hand (:meth:`BillingClock.advance`); it never goes back.

A fast clock that starts in the past may be told not to run past real time
(``not_after_real=True``, what ``make demo`` uses): it runs fast until it reaches the wall
clock, then keeps to it, so whatever it dates (payments, charges, readings) is never in the
future however long the demo runs.
"""

from __future__ import annotations

import datetime as dt
import time

__all__ = ["MSK", "BillingClock", "days_in_month", "first_of_next_month"]

MSK = dt.timezone(dt.timedelta(hours=3), "MSK")


def days_in_month(day: dt.date) -> int:
    nxt = first_of_next_month(day)
    return (nxt - day.replace(day=1)).days


def first_of_next_month(day: dt.date) -> dt.date:
    if day.month == 12:
        return dt.date(day.year + 1, 1, 1)
    return dt.date(day.year, day.month + 1, 1)


class BillingClock:
    def __init__(
        self,
        start: dt.datetime | None = None,
        speed: float = 1.0,
        *,
        not_after_real: bool = False,
    ) -> None:
        if start is None:
            start = dt.datetime.now(MSK).replace(microsecond=0)
        if start.tzinfo is None:
            start = start.replace(tzinfo=MSK)
        if speed < 0:
            raise ValueError("clock speed must be >= 0")
        self.start = start.astimezone(MSK)
        self._speed = float(speed)
        self._real_start = time.monotonic()
        self._elapsed_before = 0.0  # simulated seconds accumulated before the last speed change
        self.manual_advance = dt.timedelta(0)
        self._today = self.start.date()
        self._today_until = -1.0  # monotonic time until which ``_today`` is right
        self.not_after_real = not_after_real

    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError("clock speed must be >= 0")
        real_now = time.monotonic()
        self._elapsed_before += (real_now - self._real_start) * self._speed
        self._real_start = real_now
        self._speed = float(speed)
        self._today_until = -1.0

    def now(self) -> dt.datetime:
        """The current billing time, aware, in Moscow time."""
        return self._running()[0] + self.manual_advance

    def _running(self) -> tuple[dt.datetime, float]:
        """The clock before manual advances, and the rate it runs at now (simulated seconds
        per real second)."""
        simulated = self._elapsed_before
        if self._speed:
            simulated += (time.monotonic() - self._real_start) * self._speed
        running = self.start + dt.timedelta(seconds=simulated)
        if self.not_after_real:
            real = dt.datetime.now(MSK)
            if running >= real:
                return real, 1.0  # caught up with the wall clock: keep to it
        return running, self._speed

    def today(self) -> dt.date:
        """The billing day; cached until the next Moscow midnight on this clock (hot path)."""
        real = time.monotonic()
        if real < self._today_until:
            return self._today
        running, rate = self._running()
        now = running + self.manual_advance
        self._today = now.date()
        midnight = dt.datetime.combine(self._today + dt.timedelta(days=1), dt.time(), MSK)
        if rate:
            self._today_until = real + (midnight - now).total_seconds() / rate - 0.001
        else:
            self._today_until = float("inf")
        return self._today

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        """Move the clock forward by ``delta`` (never backwards); return the new now."""
        if delta < dt.timedelta(0):
            raise ValueError("the billing clock never goes back")
        self.manual_advance += delta
        self._today_until = -1.0
        return self.now()

    def snapshot(self) -> dict[str, object]:
        now = self.now()
        return {
            "now": now.isoformat(),
            "today": now.date().isoformat(),
            "speed": self._speed,
            "not_after_real": self.not_after_real,
            "start": self.start.isoformat(),
            "manual_advance_seconds": self.manual_advance.total_seconds(),
        }
