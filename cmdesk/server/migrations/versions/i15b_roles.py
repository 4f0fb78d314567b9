"""Roles inside an account: Administrador and Operador (issue 15). Existing users keep what they could
do (every one of them could administer the account): they become administrators; the master stays
master. An invitation carries the role its person gets when they accept.

Revision ID: i15b_roles
Revises: i20_change_log_autoincrement
Create Date: 2026-12-06 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i15b_roles"
down_revision: str | None = "i20_change_log_autoincrement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE memberships SET role = 'admin' WHERE role = 'user'")
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=12), nullable=False, server_default="admin"))
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.alter_column("role", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_column("role")
    op.execute("UPDATE memberships SET role = 'user' WHERE role IN ('admin', 'operator')")
