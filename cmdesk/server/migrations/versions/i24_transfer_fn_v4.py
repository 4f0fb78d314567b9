"""cmdesk_transfer_one (the transfer function's V4): one transfer in plain statements, at half V3's
database CPU (issue 19). PostgreSQL only.

Expand only: a function under a new name. Workers of the previous release keep calling
`cmdesk_transfer` (V3, unchanged, still the bulks' function) while the new ones call this.

Revision ID: i24_transfer_fn_v4
Revises: i23b_bulk_chunk_audit
Create Date: 2026-12-06 08:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from cmdesk.models.pg_transfer_one import DROP_TRANSFER_ONE_FUNCTION, TRANSFER_ONE_FUNCTION_V4

revision: str = "i24_transfer_fn_v4"
down_revision: str | None = "i23b_bulk_chunk_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.get_bind().exec_driver_sql(TRANSFER_ONE_FUNCTION_V4)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.get_bind().exec_driver_sql(DROP_TRANSFER_ONE_FUNCTION)
