"""linked_accounts.trusted_payment (what is owed and until when) and balance_key (numbers
sharing one balance count once)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("linked_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trusted_payment", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("balance_key", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("linked_accounts", schema=None) as batch_op:
        batch_op.drop_column("balance_key")
        batch_op.drop_column("trusted_payment")
