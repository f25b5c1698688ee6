"""The poller's own database engines, and how they share SQLite's single write lock.

SQLite has one writer at a time. Its default deferred transactions read first and take the
write lock later, and in WAL mode a transaction whose snapshot went stale cannot get that lock
at all (``SQLITE_BUSY`` at once, the busy timeout does not help). The poller, the outbox and
the scheduler's data store therefore use engines whose transactions start with
``BEGIN IMMEDIATE``: they wait for the lock instead of failing.

Waiting inside SQLite is polling with sleeps, unfair under load: with a dozen writers a
transaction can lose the race for longer than the busy timeout. So the process queues its own
transactions first: :func:`transaction` takes a FIFO ``asyncio.Lock`` per database before
``BEGIN``, and the scheduler's synchronous engine a ``threading.Lock`` per engine; at most two
transactions of this process ever wait on SQLite itself. PostgreSQL engines are used as they
are (row locks, ``SKIP LOCKED``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.from_thread
from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..storage.db import _sqlite_pragmas, create_engine

__all__ = [
    "is_postgres",
    "is_sqlite",
    "polling_engine",
    "scheduler_sync_engine",
    "transaction",
    "url_of",
]


def url_of(engine_or_url: AsyncEngine | str | URL) -> str:
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


class _BufferedCursor(sqlite3.Cursor):
    """Reads every row at execute time. APScheduler reads some results after its transaction
    ended (fine with aiosqlite, which buffers); with pysqlite the connection may by then be
    back in the pool, serving another thread."""

    _rows: list[Any]

    def execute(self, sql: str, parameters: Any = (), /) -> _BufferedCursor:
        super().execute(sql, parameters)
        self._rows = super().fetchall() if self.description else []
        return self

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _BufferedCursor:
        super().executemany(sql, seq_of_parameters)
        self._rows = []
        return self

    def fetchone(self) -> Any:
        rows = getattr(self, "_rows", [])
        return rows.pop(0) if rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        rows = getattr(self, "_rows", [])
        size = self.arraysize if size is None else size
        out, self._rows = rows[:size], rows[size:]
        return out

    def fetchall(self) -> list[Any]:
        out, self._rows = getattr(self, "_rows", []), []
        return out

    def close(self) -> None:
        # Its connection may be closed already: nothing is left to free then.
        with contextlib.suppress(sqlite3.ProgrammingError):
            super().close()


class _BufferedConnection(sqlite3.Connection):
    def cursor(self, factory: Any = _BufferedCursor) -> Any:
        return super().cursor(factory)


def scheduler_sync_engine(engine: AsyncEngine) -> Engine:
    """A synchronous SQLite engine (pysqlite) for APScheduler's data store, on ``engine``'s file,
    queued behind the same per-database gate as :func:`transaction`.

    APScheduler runs a synchronous engine's operations in anyio worker threads, which a
    cancelled scheduler waits for; an aiosqlite operation cancelled half-way (the scheduler
    stopping while one waits for the write lock) can leave its connection closing forever and
    the process unable to exit. Call it from the event loop that will use it.
    """
    url = make_url(url_of(engine)).set(drivername="sqlite")
    path = url.database or ":memory:"
    gate = _gate(engine)

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(
            path, factory=_BufferedConnection, check_same_thread=False, timeout=60.0
        )

    sync = create_sync_engine(url, creator=connect, pool_size=2, max_overflow=4)

    def acquire() -> bool:
        if gate is None:
            return False
        try:
            anyio.from_thread.run(gate.acquire)
        except RuntimeError:  # not an anyio worker thread (no loop to ask): go ungated
            return False
        return True

    def release() -> None:
        if gate is not None:
            anyio.from_thread.run_sync(gate.release)

    def begin(connection: Any) -> None:
        gated = acquire()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            if gated:
                release()
            raise
        connection.info["gate"] = gated

    def end(connection: Any) -> None:
        if connection.info.pop("gate", False):
            release()

    def checkin(_dbapi_connection: Any, record: Any) -> None:
        # A connection returned in a transaction (an error mid-way): its rollback ends it.
        if record.info.pop("gate", False):
            release()

    event.listen(sync, "connect", _sqlite_pragmas)
    event.listen(sync, "connect", _immediate_connect)
    event.listen(sync, "begin", begin)
    event.listen(sync, "commit", end)
    event.listen(sync, "rollback", end)
    event.listen(sync, "checkin", checkin)
    return sync
