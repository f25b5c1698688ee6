"""operator_slots, operator_nodes, operator_state: an operator's limits shared by every worker

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operator_slots",
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("operator", "slot", name=op.f("pk_operator_slots")),
    )
    op.create_table(
        "operator_nodes",
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("seen_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("operator", "holder", name=op.f("pk_operator_nodes")),
    )
    op.create_table(
        "operator_state",
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("tokens_at", sa.Float(), nullable=False),
        sa.Column("breaker_version", sa.Integer(), nullable=False),
        sa.Column("breaker_opened_at", sa.Float(), nullable=True),
        sa.Column("breaker_cooldown_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("operator", name=op.f("pk_operator_state")),
    )


def downgrade() -> None:
    op.drop_table("operator_state")
    op.drop_table("operator_nodes")
    op.drop_table("operator_slots")
