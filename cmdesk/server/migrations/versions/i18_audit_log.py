"""The bitácora: audit_log, audit_subjects and (PostgreSQL) the cmdesk_audit function; and a client's
movements indexed in time order, for its statements' pages.

Revision ID: i18_audit
Revises: i15_security
Create Date: 2026-12-05 22:49:01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cmdesk.models.base
from cmdesk.models.audit import AUDIT_FUNCTION_V1, DROP_AUDIT_FUNCTION, JsonValue

revision: str = "i18_audit"
down_revision: str | None = "i15_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", BigInt, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", cmdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("profile_id", sa.String(length=32), nullable=True),
        sa.Column("device", sa.String(length=200), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("entity_type", sa.String(length=30), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("before", JsonValue, nullable=True),
        sa.Column("after", JsonValue, nullable=True),
        sa.Column("changes", JsonValue, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_account_at", ["account_id", "created_at", "id"], unique=False)
        batch_op.create_index(
            "ix_audit_log_account_entity_at", ["account_id", "entity_type", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_audit_log_account_profile_at", ["account_id", "profile_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "audit_subjects",
        sa.Column("audit_id", BigInt, nullable=False),
        sa.Column("entity_type", sa.String(length=30), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", cmdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("audit_id", "entity_type", "entity_id", name=op.f("pk_audit_subjects")),
    )
    with op.batch_alter_table("audit_subjects", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_subjects_entity",
            ["account_id", "entity_type", "entity_id", "created_at", "audit_id"],
            unique=False,
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(AUDIT_FUNCTION_V1)
    with op.batch_alter_table("movements", schema=None) as batch_op:
        batch_op.drop_index("ix_movements_client")
        batch_op.create_index("ix_movements_client", ["client_id", "created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("movements", schema=None) as batch_op:
        batch_op.drop_index("ix_movements_client")
        batch_op.create_index("ix_movements_client", ["client_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP_AUDIT_FUNCTION)
    with op.batch_alter_table("audit_subjects", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_subjects_entity")
    op.drop_table("audit_subjects")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_account_profile_at")
        batch_op.drop_index("ix_audit_log_account_entity_at")
        batch_op.drop_index("ix_audit_log_account_at")
    op.drop_table("audit_log")
