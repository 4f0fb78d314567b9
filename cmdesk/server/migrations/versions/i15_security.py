"""Security hardening: the password-check throttle's counters (throttle_counters).

Revision ID: i15_security
Revises: 0002
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cmdesk.models.base

revision: str = "i15_security"
down_revision: str | None = "i13_mail"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "throttle_counters",
        sa.Column("bucket", sa.String(length=200), nullable=False),
        sa.Column("window_start", cmdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("blocked_until", cmdesk.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("bucket", name=op.f("pk_throttle_counters")),
    )
    with op.batch_alter_table("throttle_counters", schema=None) as batch_op:
        batch_op.create_index("ix_throttle_counters_window_start", ["window_start"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("throttle_counters", schema=None) as batch_op:
        batch_op.drop_index("ix_throttle_counters_window_start")
    op.drop_table("throttle_counters")
