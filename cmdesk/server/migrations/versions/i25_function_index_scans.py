"""The stamping and transfer functions plan index scans whatever the statistics say (issue 19).
PostgreSQL only.

A function's plans last as long as the connection (an hour in the fast pools). Planned while
`issued_cfdi` or `idempotency_records` were small, they scanned the whole table for each key, slower
with every row added (`cmdesk.models.pg_functions.INDEX_SCANS`). Only the functions' settings change:
workers of the previous release call the same functions, with the same arguments.

Revision ID: i25_function_index_scans
Revises: i24_consume_cfdi_index
Create Date: 2026-12-06 14:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "i25_function_index_scans"
down_revision: str | None = "i24_consume_cfdi_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTIONS = (
    "cmdesk_consume(text, text, text, text, timestamptz)",
    "cmdesk_transfer_one(text, text, text, text, text, text, timestamptz, text, timestamptz, timestamptz,"
    " jsonb, text, text, text, text, bigint, bigint, text)",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function in _FUNCTIONS:
            op.get_bind().exec_driver_sql(f"ALTER FUNCTION {function} SET enable_seqscan = off")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function in _FUNCTIONS:
            op.get_bind().exec_driver_sql(f"ALTER FUNCTION {function} RESET enable_seqscan")
