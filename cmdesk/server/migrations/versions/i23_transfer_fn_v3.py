"""cmdesk_transfer V3: the same rules and records, at less than half the database CPU per call (the
bitácora's subjects written from the items' arrays, generic plans). PostgreSQL only.

Revision ID: i23_transfer_fn_v3
Revises: i15b_roles
Create Date: 2026-12-06 05:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from cmdesk.models.pg_functions import TRANSFER_FUNCTION_V2, TRANSFER_FUNCTION_V3

revision: str = "i23_transfer_fn_v3"
down_revision: str | None = "i15b_roles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.get_bind().exec_driver_sql(TRANSFER_FUNCTION_V3)  # same signature: replaced in place


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.get_bind().exec_driver_sql(TRANSFER_FUNCTION_V2)
