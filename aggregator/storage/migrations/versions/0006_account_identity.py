"""linked_accounts.account_key: the operator's own identity of an account, to link it once

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 17:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("linked_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_key", sa.String(length=128), nullable=True))
        batch_op.create_index(
            "ix_linked_accounts_identity",
            ["household_id", "provider_id", "account_key"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("linked_accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_linked_accounts_identity")
        batch_op.drop_column("account_key")
