"""The transfer fast path: the cmdesk_transfer function on PostgreSQL, and the tables of the bulk
transfers the general path writes in steps (both databases).

Revision ID: i19_transfer_fn
Revises: i18_audit
Create Date: 2026-12-05 22:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cmdesk.models.pg_functions import DROP_TRANSFER_FUNCTION_V1, TRANSFER_FUNCTION_V1

revision: str = "i19_transfer_fn"
down_revision: str | None = "i18_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bulk_transfer_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("idempotency_record_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_transfer_runs")),
        sa.UniqueConstraint(
            "idempotency_record_id", name=op.f("uq_bulk_transfer_runs_idempotency_record_id")
        ),
    )
    op.create_index(op.f("ix_bulk_transfer_runs_account_id"), "bulk_transfer_runs", ["account_id"])
    op.create_table(
        "bulk_transfer_chunks",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("rows", sa.Text(), nullable=False),
        sa.Column("written", sa.Boolean(), nullable=False),
        sa.Column("stamps", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["bulk_transfer_runs.id"],
            name=op.f("fk_bulk_transfer_chunks_run_id_bulk_transfer_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_transfer_chunks")),
    )
    op.create_index(op.f("ix_bulk_transfer_chunks_run_id"), "bulk_transfer_chunks", ["run_id"])
    if op.get_bind().dialect.name == "postgresql":
        # As the driver gets it: the text holds JSON (`"version":1`), which text() would read as a
        # bind parameter.
        op.get_bind().exec_driver_sql(TRANSFER_FUNCTION_V1)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP_TRANSFER_FUNCTION_V1)
    op.drop_index(op.f("ix_bulk_transfer_chunks_run_id"), table_name="bulk_transfer_chunks")
    op.drop_table("bulk_transfer_chunks")
    op.drop_index(op.f("ix_bulk_transfer_runs_account_id"), table_name="bulk_transfer_runs")
    op.drop_table("bulk_transfer_runs")
