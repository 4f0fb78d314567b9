"""Stamping writes one index less per CFDI: `issued_cfdi.account_id` is no longer indexed.

No query reads issued CFDI by account (per-CTI reads use `ix_issued_cfdi_cti_at`, statements and
forecasts use `cti_daily_usage`), yet every consumption, on both stamping paths, inserted into that
index — all of one distributor's CFDI under one key, so into the same hot leaf pages. Measured on
the stamping function alone (pgbench, 8 callers): about 10–15 % less PostgreSQL CPU per CFDI.

Revision ID: i24_consume_cfdi_index
Revises: i24_bulk_fn
Create Date: 2026-12-06 09:25:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "i24_consume_cfdi_index"
down_revision: str | None = "i24_bulk_fn"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("issued_cfdi") as batch:
        batch.drop_index("ix_issued_cfdi_account_id")


def downgrade() -> None:
    with op.batch_alter_table("issued_cfdi") as batch:
        batch.create_index("ix_issued_cfdi_account_id", ["account_id"], unique=False)
