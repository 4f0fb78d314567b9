"""The transfer fast path keeps issue 15's and 18's rules: cmdesk_transfer V2 hands an account past its
expiry to the general path and writes the bitácora's record (PostgreSQL only).

Revision ID: i19b_transfer_audit
Revises: i19_transfer_fn
Create Date: 2026-12-06 02:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from cmdesk.models.pg_functions import (
    DROP_TRANSFER_FUNCTION,
    DROP_TRANSFER_FUNCTION_V1,
    TRANSFER_FUNCTION_V1,
    TRANSFER_FUNCTION_V2,
)

revision: str = "i19b_transfer_audit"
down_revision: str | None = "i19_transfer_fn"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP_TRANSFER_FUNCTION_V1)  # V2 takes one more argument: a new signature
        op.get_bind().exec_driver_sql(TRANSFER_FUNCTION_V2)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP_TRANSFER_FUNCTION)
        op.get_bind().exec_driver_sql(TRANSFER_FUNCTION_V1)
