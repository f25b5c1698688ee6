"""linked_accounts.suspension_state/_start/_planned_end: a requested or scheduled block, as the
operator last confirmed it, so the dashboard says so before it starts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("linked_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suspension_state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("suspension_start", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("suspension_planned_end", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("linked_accounts", schema=None) as batch_op:
        batch_op.drop_column("suspension_planned_end")
        batch_op.drop_column("suspension_start")
        batch_op.drop_column("suspension_state")
