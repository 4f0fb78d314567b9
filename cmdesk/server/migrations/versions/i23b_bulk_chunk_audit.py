"""A bulk transfer's chunk carries its bitácora record's id: each chunk writes the record's subjects
for its own items when it is written (SQLite held the write lock for all 10,000 at once).

Revision ID: i23b_bulk_chunk_audit
Revises: i23_audit_action
Create Date: 2026-12-06 06:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i23b_bulk_chunk_audit"
down_revision: str | None = "i23_audit_action"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bulk_transfer_chunks") as batch:
        batch.add_column(sa.Column("audit_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bulk_transfer_chunks") as batch:
        batch.drop_column("audit_id")
