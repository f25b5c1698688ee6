"""balance_readings.remainders (package remainders per reading), alert_rules.threshold_units

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("balance_readings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remainders", sa.JSON(), nullable=True))
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("threshold_units", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.drop_column("threshold_units")
    with op.batch_alter_table("balance_readings", schema=None) as batch_op:
        batch_op.drop_column("remainders")
