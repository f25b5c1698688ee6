"""The migration bonus_unit: readings stored before it whose operator counts its bonus in points
(Rostelecom, NetByNet) are marked "points"; the others keep NULL (their currency)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from aggregator.storage.db import create_engine
from aggregator.storage.schema import alembic_config, upgrade


def the_migration() -> tuple[str, str]:
    from alembic.script import ScriptDirectory

    for script in ScriptDirectory.from_config(alembic_config()).walk_revisions():
        if script.path.endswith("_bonus_unit.py"):
            assert isinstance(script.down_revision, str)
            return script.down_revision, script.revision
    raise AssertionError("the migration is missing")


async def insert(conn: AsyncConnection, table: str, **values: Any) -> None:
    """A row with ``values``; every other NOT NULL column without a default gets a filler."""
    columns = (await conn.execute(text(f"PRAGMA table_info({table})"))).all()
    row = dict(values)
    for _, name, type_, notnull, default, pk in columns:
        if name in row or not notnull or default is not None or pk:
            continue
        kind = str(type_).upper()
        if "INT" in kind or "NUMERIC" in kind or "BOOL" in kind:
            row[name] = 0
        elif "DATE" in kind or "TIME" in kind:
            row[name] = "2026-01-01 00:00:00.000000"
        elif "JSON" in kind:
            row[name] = "{}"
        else:
            row[name] = name
    names = ", ".join(row)
    marks = ", ".join(f":{n}" for n in row)
    await conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({marks})"), row)


async def test_stored_points_are_marked_points(tmp_path: Path) -> None:
    before, revision = the_migration()
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        await upgrade(engine, before)
        async with engine.begin() as conn:
            await insert(conn, "households", id=1, name="h")
            for id_, provider in ((1, "rostelecom"), (2, "bashtel"), (3, "netbynet")):
                await insert(
                    conn, "linked_accounts", id=id_, household_id=1, provider_id=provider,
                    login_key=f"login-{id_}",
                )  # fmt: skip
            for account, bonus in ((1, 350_00), (2, 75_50), (3, None)):
                await insert(conn, "balance_readings", account_id=account, bonus_minor=bonus)
        await upgrade(engine, revision)
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT account_id, bonus_unit FROM balance_readings ORDER BY account_id")
            )
            assert [tuple(r) for r in rows] == [(1, "points"), (2, None), (3, None)]
    finally:
        await engine.dispose()


def test_a_poll_stores_points_as_points_and_money_as_its_currency() -> None:
    from decimal import Decimal

    from aggregator.core.models import BonusPoints, Money
    from aggregator.polling.store import bonus_minor, bonus_unit

    assert (bonus_minor(BonusPoints(points=1250)), bonus_unit(BonusPoints(points=1250))) == (
        125000,
        "points",
    )
    points = BonusPoints(points=Decimal("12.345"))
    assert (bonus_minor(points), bonus_unit(points)) == (1235, "points")  # two places, half up
    assert (bonus_minor(Money.rub("75.50")), bonus_unit(Money.rub("75.50"))) == (7550, "RUB")
    assert (bonus_minor(None), bonus_unit(None)) == (None, None)
