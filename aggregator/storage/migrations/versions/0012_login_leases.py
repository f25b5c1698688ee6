"""login_leases: one process at a time uses an operator login's session, across the cluster

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 08:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_leases",
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("household_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("login_key", sa.String(length=128), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "provider_id", "household_id", "login_key", name=op.f("pk_login_leases")
        ),
    )


def downgrade() -> None:
    op.drop_table("login_leases")
