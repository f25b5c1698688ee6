"""drop the tables APScheduler 4.0 (alpha) kept in our database

Scheduling no longer stores anything in the database: each process runs an in-memory
APScheduler 3 tick and the claims in ``linked_accounts`` are the only schedule. APScheduler 4
created its tables itself (not through a migration): beside ours on SQLite (``tasks``,
``schedules``, ``jobs``, ``job_results``, ``metadata``), in the schema ``apscheduler`` on
PostgreSQL. They are dropped only when they are APScheduler's (``schedules`` has a ``task_id``).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("job_results", "jobs", "schedules", "tasks", "metadata")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP SCHEMA IF EXISTS apscheduler CASCADE")
        return
    inspector = sa.inspect(bind)
    tables = set(inspector.get_table_names())
    if "schedules" not in tables:
        return
    if "task_id" not in {column["name"] for column in inspector.get_columns("schedules")}:
        return  # not APScheduler's
    for name in _TABLES:
        if name in tables:
            op.drop_table(name)


def downgrade() -> None:
    # Nothing to restore: APScheduler 4 created its tables itself when it started.
    pass
