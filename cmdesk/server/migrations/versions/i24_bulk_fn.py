"""cmdesk_bulk_transfer: the bulk transfer's own database function, planned for its thousands of items
(cmdesk_transfer's generic plans made a 5,000-item bulk's target lookup quadratic). PostgreSQL only.

Revision ID: i24_bulk_fn
Revises: i24_transfer_fn_v4
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from cmdesk.models.pg_bulk_transfer import BULK_TRANSFER_FUNCTION_V1, DROP_BULK_TRANSFER_FUNCTION

revision: str = "i24_bulk_fn"
down_revision: str | None = "i24_transfer_fn_v4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.get_bind().exec_driver_sql(BULK_TRANSFER_FUNCTION_V1)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP_BULK_TRANSFER_FUNCTION)
