"""Scheduled polling: APScheduler 4, claims on due accounts, statuses, backoff, breakers.

See docs/polling.md. The public pieces:

- :class:`PollingService` (``async with PollingService(runtime, engine, settings)``): the
  scheduler, poll jobs, result writer, outbox sender and mail sink of one process;
- :func:`poll_now` for ``aggregator poll``; :func:`run_worker` for ``aggregator worker``;
- :class:`PollOutcome`, :class:`PollingOptions`.
"""

from __future__ import annotations

from .commands import poll_now
from .models import PollOutcome
from .options import PollingOptions
from .service import PollingService
from .worker import WorkerError, run_worker

__all__ = [
    "PollOutcome",
    "PollingOptions",
    "PollingService",
    "WorkerError",
    "poll_now",
    "run_worker",
]
