"""The bitácora filtered by action (`GET /v1/audit?action=`): an index per account and action.

Without it a page of a rare action walks the account's whole log newest first (1,000,000 records)
to find a hundred; with it, a page is one index range, as for the other filters.

Revision ID: i23_audit_action
Revises: i23_transfer_fn_v3
Create Date: 2026-12-06 05:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "i23_audit_action"
down_revision: str | None = "i23_transfer_fn_v3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_audit_log_account_action_at", "audit_log", ["account_id", "action", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_audit_log_account_action_at", table_name="audit_log")
