"""The migration drop_apscheduler4_tables: the tables APScheduler 4 created beside ours in
SQLite go; a table of the same name that is not APScheduler's stays."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from aggregator.storage.db import create_engine
from aggregator.storage.schema import alembic_config, upgrade


def the_migration() -> tuple[str, str]:
    """(the revision before it, its own revision): found by name, whatever its number."""
    from alembic.script import ScriptDirectory

    for script in ScriptDirectory.from_config(alembic_config()).walk_revisions():
        if script.path.endswith("_drop_apscheduler4_tables.py"):
            assert isinstance(script.down_revision, str)
            return script.down_revision, script.revision
    raise AssertionError("the migration is missing")


APSCHEDULER4 = [
    "CREATE TABLE metadata (schema_version INTEGER NOT NULL)",
    "CREATE TABLE tasks (id VARCHAR(500) PRIMARY KEY, func VARCHAR(500))",
    "CREATE TABLE schedules (id VARCHAR(500) PRIMARY KEY, task_id VARCHAR(500))",
    "CREATE TABLE jobs (id CHAR(32) PRIMARY KEY, task_id VARCHAR(500))",
    "CREATE TABLE job_results (job_id CHAR(32) PRIMARY KEY, outcome INTEGER)",
]


async def tables_after(tmp_path: Path, ddl: list[str]) -> set[str]:
    before, revision = the_migration()
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        await upgrade(engine, before)
        async with engine.begin() as conn:
            for statement in ddl:
                await conn.execute(text(statement))
        await upgrade(engine, revision)
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def test_apscheduler4_tables_are_dropped(tmp_path: Path) -> None:
    tables = await tables_after(tmp_path, APSCHEDULER4)
    assert not tables & {"metadata", "tasks", "schedules", "jobs", "job_results"}
    assert {"linked_accounts", "outbox"} <= tables


async def test_a_foreign_table_of_the_same_name_stays(tmp_path: Path) -> None:
    tables = await tables_after(tmp_path, ["CREATE TABLE schedules (id INTEGER PRIMARY KEY)"])
    assert "schedules" in tables
