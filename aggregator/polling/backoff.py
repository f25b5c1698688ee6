"""When to poll an account next: its interval with jitter, or a capped, jittered backoff.

Pure functions (the random source is a parameter), so the rules are tested directly:

- after a success: the account's interval, +/- ``jitter`` (a share of it), never below the
  minimum (the larger of the aggregator's and the operator's);
- after a temporary failure number ``n`` (1, 2, ...): ``minimum * 2**(n-1)``, capped at
  :data:`BACKOFF_CAP_S`, with "equal jitter" (between half and all of that delay), and never
  earlier than a ``Retry-After`` the operator sent.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

__all__ = [
    "BACKOFF_CAP_S",
    "backoff_delay",
    "effective_interval",
    "next_after_failure",
    "next_after_success",
]

BACKOFF_CAP_S = 6 * 3600.0
"""A failing account is still tried at least every six hours."""

Uniform = Callable[[float, float], float]


def effective_interval(
    account_interval_s: int | None,
    household_interval_s: int | None,
    default_interval_s: int,
    minimum_s: float,
) -> float:
    """The account's own interval, else the household's, else the default; at least minimum."""
    for value in (account_interval_s, household_interval_s, default_interval_s):
        if value:
            return max(float(value), minimum_s)
    return max(float(default_interval_s), minimum_s)


def next_after_success(
    now: dt.datetime,
    interval_s: float,
    jitter: float,
    minimum_s: float,
    uniform: Uniform = random.uniform,
) -> dt.datetime:
    """``now + interval`` moved by up to ``jitter * interval`` either way, at least minimum."""
    spread = max(0.0, min(jitter, 0.5)) * interval_s
    delay = interval_s + (uniform(-spread, spread) if spread else 0.0)
    return now + dt.timedelta(seconds=max(delay, minimum_s))


def backoff_delay(
    failures: int,
    minimum_s: float,
    retry_after_s: float | None = None,
    cap_s: float = BACKOFF_CAP_S,
    uniform: Uniform = random.uniform,
) -> float:
    """Seconds to wait after the ``failures``-th temporary failure in a row."""
    exponent = min(max(failures, 1) - 1, 30)
    base = min(cap_s, max(minimum_s, 1.0) * (2.0**exponent))
    delay = base / 2 + uniform(0.0, base / 2)
    if retry_after_s is not None and retry_after_s > 0:
        delay = max(delay, min(retry_after_s, cap_s * 4))
    return delay


def next_after_failure(
    now: dt.datetime,
    failures: int,
    minimum_s: float,
    retry_after_s: float | None = None,
    cap_s: float = BACKOFF_CAP_S,
    uniform: Uniform = random.uniform,
) -> dt.datetime:
    return now + dt.timedelta(
        seconds=backoff_delay(failures, minimum_s, retry_after_s, cap_s, uniform)
    )
