"""The schema version: ``aggregator db upgrade`` and the start-up check that it is current.

Alembic runs from the installed package: the ``Config`` is built here in code (the scripts
live in :mod:`aggregator.storage.migrations`), so no ``alembic.ini`` is needed at the cwd.
Every entry point that opens the database (serve, worker, poll, accounts, keys) calls
:func:`check_current` first and stops with ``SchemaOutdated("run: aggregator db upgrade")``
when the database is behind.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from .db import create_engine

__all__ = [
    "MIGRATIONS_DIR",
    "SchemaError",
    "SchemaOutdated",
    "SchemaTooNew",
    "alembic_config",
    "check_current",
    "current_revision",
    "head_revision",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class SchemaError(Exception):
    """The database schema does not match this version of the aggregator."""


class SchemaOutdated(SchemaError):
    """The database is behind the code (or empty): run ``aggregator db upgrade``."""


class SchemaTooNew(SchemaError):
    """The database was upgraded by a newer aggregator than this one."""


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` pointing at the packaged migrations (no ini file)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations packaged"
    return head


def _upgrade_sync(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade(url: str | AsyncEngine, revision: str = "head") -> str | None:
    """Bring the database at ``url`` (or behind an engine) to ``revision``; return the new one.

    Safe to run again: an up-to-date database is left alone.
    """
    if isinstance(url, str):
        _ensure_sqlite_directory(url)
    engine = create_engine(url) if isinstance(url, str) else url
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_sync, revision)
        return await current_revision(engine)
    finally:
        if isinstance(url, str):
            await engine.dispose()


def _ensure_sqlite_directory(url: str) -> None:
    """SQLite creates the file but not its directory: make it (private, like the data dir)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)


def _current_sync(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current_sync)


async def check_current(engine: AsyncEngine) -> None:
    """Raise :class:`SchemaOutdated` unless the database is at the newest revision."""
    current = await current_revision(engine)
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    if current == head:
        return
    if current is None:
        raise SchemaOutdated("the database has no schema yet; run: aggregator db upgrade")
    known = {rev.revision for rev in script.walk_revisions()}
    if current not in known:
        raise SchemaTooNew(
            f"the database is at revision {current}, newer than this aggregator ({head}); "
            "upgrade the aggregator"
        )
    raise SchemaOutdated(
        f"the database is at revision {current}, the code needs {head}; run: aggregator db upgrade"
    )
