"""``aggregator worker``: an extra polling process on the shared PostgreSQL database.

Start as many as one machine cannot handle alone: each runs its own scheduler tick, claims due
accounts as it has room (``FOR UPDATE SKIP LOCKED``, so no two workers poll one account) and
sends due mail (the outbox rows are claimed the same way).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress

from ..runtime import Runtime
from ..settings import Settings
from .options import PollingOptions
from .service import PollingService, default_identity

__all__ = ["WorkerError", "run_worker"]

log = logging.getLogger(__name__)


class WorkerError(Exception):
    """The worker cannot start (the message says why, for the CLI to print)."""


async def run_worker(
    settings: Settings,
    *,
    identity: str | None = None,
    options: PollingOptions | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run until SIGINT/SIGTERM (or ``stop`` is set)."""
    if settings.is_sqlite:
        raise WorkerError(
            "aggregator worker needs PostgreSQL "
            "(AGGREGATOR_DATABASE_URL=postgresql+psycopg://...); "
            "with SQLite, `aggregator serve` polls by itself"
        )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    options = options or PollingOptions(start_sink=False)
    async with Runtime(settings) as runtime:
        service = PollingService(
            runtime,
            settings=settings,
            options=options,
            identity=identity or default_identity("worker"),
        )
        async with service:
            log.info("worker %s polling", service.identity)
            await stop.wait()
    log.info("worker stopped")
