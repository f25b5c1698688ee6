"""Migrations and the schema itself, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import stat
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aggregator.storage.db import create_engine
from aggregator.storage.models import (
    AlertEpisode,
    AlertRule,
    BalanceReading,
    Base,
    Household,
    LinkedAccount,
    from_minor,
    to_minor,
)
from aggregator.storage.schema import (
    SchemaOutdated,
    SchemaTooNew,
    check_current,
    current_revision,
    head_revision,
    upgrade,
)


async def _account(db: AsyncSession, household: Household, n: str = "1") -> LinkedAccount:
    account = LinkedAccount(
        household_id=household.id, provider_id="fake", login_scheme="pw", login_key=f"k{n}"
    )
    db.add(account)
    await db.flush()
    return account


async def test_migrations_upgrade_from_empty_to_head(engine: AsyncEngine) -> None:
    assert await current_revision(engine) == head_revision()
    await check_current(engine)


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    def compare(conn: object) -> list[object]:
        from alembic.autogenerate import compare_metadata
        from alembic.runtime.migration import MigrationContext

        context = MigrationContext.configure(conn, opts={"compare_type": False})  # type: ignore[arg-type]
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        diff = await conn.run_sync(compare)
    assert diff == [], "models changed: run scripts/regen-migration.sh"


async def test_upgrade_twice_is_harmless(engine: AsyncEngine) -> None:
    assert await upgrade(engine) == head_revision()


async def test_an_empty_database_is_outdated(db_url: str) -> None:
    # a second database next to the migrated one: nothing migrated there
    if db_url.startswith("sqlite"):
        url = db_url.replace("aggregator.db", "empty.db")
        empty = create_engine(url)
        try:
            with pytest.raises(SchemaOutdated, match="run: aggregator db upgrade"):
                await check_current(empty)
            assert await current_revision(empty) is None
            assert await upgrade(url) == head_revision()
            await check_current(empty)
        finally:
            await empty.dispose()
    else:
        pytest.skip("covered on SQLite; PostgreSQL databases here are created migrated")


async def test_behind_and_ahead_are_told_apart(tmp_path: object, db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("revision bookkeeping is the same on every database")
    url = db_url.replace("aggregator.db", "versions.db")
    await upgrade(url)
    eng = create_engine(url)
    try:
        async with eng.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
        with pytest.raises(SchemaTooNew, match="newer"):
            await check_current(eng)
    finally:
        await eng.dispose()


async def test_money_round_trips_exactly(db: AsyncSession, household: Household) -> None:
    account = await _account(db, household, "money")
    amounts = [Decimal("0.01"), Decimal("-45.20"), Decimal("1234.56"), Decimal("99999999999.99")]
    now = dt.datetime.now(dt.UTC)
    for i, amount in enumerate(amounts):
        db.add(
            BalanceReading(
                account_id=account.id,
                at=now + dt.timedelta(seconds=i),
                amount_minor=to_minor(amount),
                credit_limit_minor=to_minor(Decimal("300.00")),
            )
        )
    await db.commit()
    db.expunge_all()
    rows = (
        await db.scalars(
            select(BalanceReading)
            .where(BalanceReading.account_id == account.id)
            .order_by(BalanceReading.at)
        )
    ).all()
    assert [r.amount for r in rows] == amounts
    assert all(isinstance(r.amount_minor, int) for r in rows)
    assert from_minor(rows[0].credit_limit_minor or 0) == Decimal("300.00")


async def test_timestamps_come_back_aware_utc(db: AsyncSession, household: Household) -> None:
    account = await _account(db, household, "tz")
    moscow = dt.timezone(dt.timedelta(hours=3))
    at = dt.datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=moscow)
    db.add(BalanceReading(account_id=account.id, at=at, amount_minor=100))
    await db.commit()
    db.expunge_all()
    reading = await db.scalar(select(BalanceReading).where(BalanceReading.account_id == account.id))
    assert reading is not None
    assert reading.at.tzinfo is not None
    assert reading.at.utcoffset() == dt.timedelta(0)
    assert reading.at == at
    assert reading.at.hour == 9


async def test_naive_datetimes_are_refused(db: AsyncSession, household: Household) -> None:
    account = await _account(db, household, "naive")
    db.add(BalanceReading(account_id=account.id, at=dt.datetime(2025, 1, 1), amount_minor=1))
    with pytest.raises(Exception, match="naive"):
        await db.flush()


async def test_foreign_keys_are_enforced(db: AsyncSession) -> None:
    db.add(BalanceReading(account_id=987654321, at=dt.datetime.now(dt.UTC), amount_minor=1))
    with pytest.raises(IntegrityError):
        await db.flush()


async def test_deleting_an_account_cascades_to_readings(
    db: AsyncSession, household: Household
) -> None:
    account = await _account(db, household, "cascade")
    db.add(BalanceReading(account_id=account.id, at=dt.datetime.now(dt.UTC), amount_minor=5))
    await db.commit()
    await db.execute(text("DELETE FROM linked_accounts WHERE id = :id"), {"id": account.id})
    await db.commit()
    left = await db.scalar(select(BalanceReading.id).where(BalanceReading.account_id == account.id))
    assert left is None


async def test_sqlite_runs_in_wal_with_a_busy_timeout(engine: AsyncEngine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    async with engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 10000


async def test_one_open_episode_per_account_and_kind(
    db: AsyncSession, household: Household
) -> None:
    account_id = (await _account(db, household, "episodes")).id
    db.add(AlertEpisode(account_id=account_id, kind="low_balance"))
    await db.commit()
    # another kind, or a closed one of the same kind, is fine
    db.add(AlertEpisode(account_id=account_id, kind="runs_out"))
    db.add(
        AlertEpisode(account_id=account_id, kind="low_balance", closed_at=dt.datetime.now(dt.UTC))
    )
    await db.commit()
    db.add(AlertEpisode(account_id=account_id, kind="low_balance"))
    with pytest.raises(IntegrityError):
        await db.commit()
    await db.rollback()
    # once the open one closes, a new one may open
    episode = await db.scalar(
        select(AlertEpisode).where(
            AlertEpisode.account_id == account_id,
            AlertEpisode.kind == "low_balance",
            AlertEpisode.closed_at.is_(None),
        )
    )
    assert episode is not None
    episode.closed_at = dt.datetime.now(dt.UTC)
    await db.commit()
    db.add(AlertEpisode(account_id=account_id, kind="low_balance"))
    await db.commit()


async def test_one_household_default_rule_per_kind(db: AsyncSession, household: Household) -> None:
    db.add(AlertRule(household_id=household.id, kind="low_balance", threshold_minor=10000))
    await db.commit()
    db.add(AlertRule(household_id=household.id, kind="low_balance", threshold_minor=5000))
    with pytest.raises(IntegrityError):
        await db.commit()
    await db.rollback()


async def test_every_table_exists(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert set(Base.metadata.tables) <= names
    assert "alembic_version" in names


async def test_upgrade_creates_the_sqlite_directory(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "aggregator.db"
    url = f"sqlite+aiosqlite:///{path}"
    assert await upgrade(url) == head_revision()
    assert path.exists()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
