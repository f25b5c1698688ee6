"""balance_readings.bonus_unit: a bonus balance in points is shown as points, not roubles

The readings stored before it of the operators whose bonus counts points (Rostelecom's «Бонус»,
NetByNet's bonus account) are marked "points"; the others keep NULL (their currency).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POINTS_OPERATORS = ("rostelecom", "netbynet")


def upgrade() -> None:
    with op.batch_alter_table("balance_readings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bonus_unit", sa.String(length=8), nullable=True))
    readings = sa.table(
        "balance_readings",
        sa.column("account_id", sa.Integer()),
        sa.column("bonus_minor", sa.BigInteger()),
        sa.column("bonus_unit", sa.String()),
    )
    accounts = sa.table("linked_accounts", sa.column("id"), sa.column("provider_id"))
    op.execute(
        readings.update()
        .where(
            readings.c.bonus_minor.is_not(None),
            readings.c.account_id.in_(
                sa.select(accounts.c.id).where(accounts.c.provider_id.in_(POINTS_OPERATORS))
            ),
        )
        .values(bonus_unit="points")
    )


def downgrade() -> None:
    with op.batch_alter_table("balance_readings", schema=None) as batch_op:
        batch_op.drop_column("bonus_unit")
