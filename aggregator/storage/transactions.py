"""Engines for the background writers (poller, outbox), and how they share SQLite's write lock.

SQLite has one writer at a time. Its default deferred transactions read first and take the
write lock later, and in WAL mode a transaction whose snapshot went stale cannot get that lock
at all (``SQLITE_BUSY`` at once, the busy timeout does not help). The poller and the outbox
therefore use engines whose transactions start with ``BEGIN IMMEDIATE``: they wait for the lock
instead of failing.

Waiting inside SQLite is polling with sleeps, unfair under load: with a dozen writers a
transaction can lose the race for longer than the busy timeout. So the process queues its own
transactions first: :func:`transaction` takes a FIFO ``asyncio.Lock`` per database before
``BEGIN``; at most one transaction of this process ever waits on SQLite itself. PostgreSQL
engines are used as they are (row locks, ``SKIP LOCKED``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .db import create_engine

__all__ = [
    "is_postgres",
    "is_sqlite",
    "polling_engine",
    "transaction",
    "url_of",
]


def url_of(engine_or_url: AsyncEngine | str | URL) -> str:
    """The URL (password included) of an engine, a URL object or a string."""
    if isinstance(engine_or_url, AsyncEngine):
        return engine_or_url.url.render_as_string(hide_password=False)
    if isinstance(engine_or_url, URL):
        return engine_or_url.render_as_string(hide_password=False)
    return engine_or_url


def _immediate_connect(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event below; a modest page cache per
    # connection (the poller's few connections share the OS cache anyway).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA cache_size=-1024")
    cursor.close()
    dbapi_connection.isolation_level = None


def _immediate_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


_GATES: dict[tuple[int, str], asyncio.Lock] = {}


def _gate(engine: AsyncEngine) -> asyncio.Lock | None:
    if engine.dialect.name != "sqlite":
        return None
    key = (id(asyncio.get_running_loop()), str(engine.url.database))
    lock = _GATES.get(key)
    if lock is None:
        lock = _GATES[key] = asyncio.Lock()
    return lock


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """``engine.begin()``, queued behind this process's other transactions on SQLite.

    Never nest two: the queue is not reentrant.
    """
    gate = _gate(engine)
    if gate is None:
        async with engine.begin() as conn:
            yield conn
        return
    async with gate, engine.begin() as conn:
        yield conn


def polling_engine(engine_or_url: AsyncEngine | str | URL, **kwargs: Any) -> AsyncEngine:
    """A new engine on the same database; on SQLite every transaction begins IMMEDIATE."""
    url = url_of(engine_or_url)
    if make_url(url).get_backend_name() == "sqlite":
        # One writer at a time anyway: a few connections are plenty.
        kwargs.setdefault("pool_size", 3)
        kwargs.setdefault("max_overflow", 3)
        engine = create_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _immediate_connect)
        event.listen(engine.sync_engine, "begin", _immediate_begin)
        return engine
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 10)
    return create_engine(url, **kwargs)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"
