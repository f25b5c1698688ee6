"""``aggregator worker``: an extra polling process on the shared PostgreSQL database.

Start as many as one machine cannot handle alone: each runs its own scheduler tick, claims due
accounts as it has room (``FOR UPDATE SKIP LOCKED``, so no two workers poll one account) and
sends due mail (the outbox rows are claimed the same way).

With ``metrics_port`` the worker serves its own Prometheus metrics (polls by status, latency,
breakers, requests in flight, its browser) on ``http://<metrics_host>:<port>/``; the cluster's
numbers (accounts by status, due backlog, outbox) are on the server's ``/metrics``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress

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
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    concurrency: int | None = None,
) -> None:
    """Run until SIGINT/SIGTERM (or ``stop`` is set).

    ``concurrency``: the most polls this worker runs at once, over every operator (each
    operator's own limit, shared with the other workers, applies as well)."""
    if concurrency is not None and concurrency < 1:
        raise WorkerError("--concurrency must be at least 1")
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
    if concurrency is not None:
        options = dataclasses.replace(options, max_polls=concurrency)
    async with Runtime(settings) as runtime:
        service = PollingService(
            runtime,
            settings=settings,
            options=options,
            identity=identity or default_identity("worker"),
        )
        async with service:
            with _metrics_server(service, metrics_host, metrics_port):
                log.info("worker %s polling", service.identity)
                await stop.wait()
    log.info("worker stopped")


@contextmanager
def _metrics_server(service: PollingService, host: str, port: int | None) -> Iterator[None]:
    """Serve the worker's own metrics on ``host:port`` while it runs (nothing when None)."""
    if port is None:
        yield
        return
    from prometheus_client import start_http_server

    try:
        server, thread = start_http_server(port, host, registry=service.metrics.registry)
    except OSError as exc:
        raise WorkerError(
            f"cannot serve metrics on {host}:{port}: {exc.strerror or exc} "
            "(choose another --metrics-port)"
        ) from None
    log.info("worker metrics on http://%s:%d/metrics", host, port)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
