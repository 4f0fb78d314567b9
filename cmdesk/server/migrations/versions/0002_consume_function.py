"""The stamping fast path: the cmdesk_consume function on PostgreSQL (nothing on SQLite).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from cmdesk.models.pg_functions import CONSUME_FUNCTION_V1, DROP_CONSUME_FUNCTION

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CONSUME_FUNCTION_V1)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP_CONSUME_FUNCTION)
