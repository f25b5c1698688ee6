"""linked_accounts (provider_id, next_due_at): the poller claims an operator's due accounts
through it, so a claim reads the batch it takes, not every pollable account

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 08:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("linked_accounts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_linked_accounts_operator_due", ["provider_id", "next_due_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("linked_accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_linked_accounts_operator_due")
