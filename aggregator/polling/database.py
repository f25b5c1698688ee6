"""The poller's own database engine.

SQLite has one writer at a time. Its default deferred transactions read first and take the
write lock later, and in WAL mode a transaction whose snapshot went stale cannot get that lock
at all (``SQLITE_BUSY`` at once, the busy timeout does not help). The poller, the outbox and
the scheduler's data store therefore use an engine whose transactions start with
``BEGIN IMMEDIATE``: they wait (busy timeout) for the lock instead of failing. PostgreSQL
engines are used as they are.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from ..storage.db import create_engine

__all__ = ["is_postgres", "is_sqlite", "polling_engine", "url_of"]


def url_of(engine_or_url: AsyncEngine | str | URL) -> str:
    if isinstance(engine_or_url, AsyncEngine):
        return engine_or_url.url.render_as_string(hide_password=False)
    if isinstance(engine_or_url, URL):
        return engine_or_url.render_as_string(hide_password=False)
    return engine_or_url


def _immediate_connect(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event below.
    dbapi_connection.isolation_level = None


def _immediate_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def polling_engine(engine_or_url: AsyncEngine | str | URL, **kwargs: Any) -> AsyncEngine:
    """A new engine on the same database; on SQLite every transaction begins IMMEDIATE."""
    url = url_of(engine_or_url)
    if make_url(url).get_backend_name() == "sqlite":
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
