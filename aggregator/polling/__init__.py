"""Scheduled polling: an APScheduler 3 tick per process, claims on due accounts, statuses,
backoff, breakers.

See docs/polling.md. The public pieces:

- :class:`PollingService` (``async with PollingService(runtime, engine, settings)``): the
  scheduler tick, poll batches, result writer, outbox sender and mail sink of one process;
- :func:`run_worker` for ``aggregator worker`` (``aggregator poll`` is
  :func:`aggregator.services.polls.poll_now`);
- :class:`PollOutcome`, :class:`PollingOptions`.

Imported lazily, so ``aggregator.polling.status`` or ``.options`` do not pull in the whole
service.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import PollOutcome
    from .options import PollingOptions
    from .service import PollingService
    from .worker import WorkerError, run_worker

__all__ = [
    "PollOutcome",
    "PollingOptions",
    "PollingService",
    "WorkerError",
    "run_worker",
]

_WHERE = {
    "PollOutcome": ".models",
    "PollingOptions": ".options",
    "PollingService": ".service",
    "WorkerError": ".worker",
    "run_worker": ".worker",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module, __name__), name)
