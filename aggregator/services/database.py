"""The database schema: its revision against the newest, and the migration to it.

``aggregator db current`` and ``aggregator db upgrade`` are adapters over these; the dashboard's
start-up check (:mod:`aggregator.server.integration`) uses the same storage helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..storage import schema
from ..storage.datadir import secure_data_dir
from ..storage.db import create_engine

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["SchemaState", "schema_state", "upgrade_schema"]


@dataclass(frozen=True)
class SchemaState:
    """The database's revision (None: no schema yet) and the newest this code knows."""

    current: str | None
    head: str

    @property
    def is_current(self) -> bool:
        return self.current == self.head


async def schema_state(settings: Settings) -> SchemaState:
    """The schema revision of the configured database."""
    engine = create_engine(settings.resolved_database_url)
    try:
        current = await schema.current_revision(engine)
    finally:
        await engine.dispose()
    return SchemaState(current=current, head=schema.head_revision())


async def upgrade_schema(settings: Settings) -> str | None:
    """Migrate the configured database to the newest schema; the revision it is at after.
    A SQLite data directory (and the new database file) is made private to the user."""
    if settings.is_sqlite:
        secure_data_dir(settings.data_dir, keep=(settings.resolved_key_file,))
    revision = await schema.upgrade(settings.resolved_database_url)
    if settings.is_sqlite:
        secure_data_dir(settings.data_dir, keep=(settings.resolved_key_file,))  # the new file
    return revision
