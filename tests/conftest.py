"""Fixtures shared by every test of the aggregator. Keep this file small.

Database (module scope: one fresh, migrated database per test module and database kind):

- ``db_url``: parametrised over SQLite (a file in a tmp directory) and PostgreSQL (a fresh
  database created with CREATE DATABASE on the server of ``AGGREGATOR_TEST_POSTGRES_URL``,
  which ``scripts/with-postgres.sh`` / ``make test`` sets; marked ``postgres`` and skipped
  when unset). A test using it, or anything below, runs once per database.
- ``engine``: an :class:`AsyncEngine` on ``db_url`` with the schema upgraded by the real
  Alembic migrations.
- ``db``: an :class:`AsyncSession` (function scope; rolled back at the end: commit what you
  need). Tests in one module share the database, so create your own rows (``household``).
- ``household``: a committed :class:`Household` of its own for the test.

No database:

- ``settings``: :class:`Settings` with a fresh tmp data directory (SQLite default inside it,
  no database created), the key file in it, environment keys ignored.
- ``vault``: a :class:`Vault` on a fresh key file (mode 0600) in a tmp directory.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aggregator.settings import Settings
from aggregator.storage.db import create_engine, session_factory
from aggregator.storage.models import Household
from aggregator.storage.schema import upgrade
from aggregator.vault import Vault

POSTGRES_URL_ENV = "AGGREGATOR_TEST_POSTGRES_URL"


async def _postgres_admin(sql: str) -> None:
    import psycopg

    server = make_url(os.environ[POSTGRES_URL_ENV]).set(drivername="postgresql")
    dsn = server.render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
async def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'aggregator.db'}"
        return
    if not os.environ.get(POSTGRES_URL_ENV):
        pytest.skip(f"{POSTGRES_URL_ENV} is unset (make test or scripts/with-postgres.sh sets it)")
    name = f"aggtest_{uuid.uuid4().hex[:12]}"
    await _postgres_admin(f'CREATE DATABASE "{name}"')
    url = make_url(os.environ[POSTGRES_URL_ENV]).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        await _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    await upgrade(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with session_factory(engine)() as session:
        try:
            yield session
        finally:
            await session.rollback()


@pytest.fixture
async def household(db: AsyncSession) -> Household:
    household = Household(name=f"test {uuid.uuid4().hex[:8]}")
    db.add(household)
    await db.commit()
    return household


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=None,
        key_file=None,
        vault_key=None,
    )


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return Vault.from_key_file(tmp_path / "keys" / "vault.key")
