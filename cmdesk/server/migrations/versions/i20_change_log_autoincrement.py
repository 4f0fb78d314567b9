"""change_log ids are never reused on SQLite (AUTOINCREMENT).

Without it SQLite hands out max(id) + 1, so once the newest rows of the log were deleted (an
account's purge) the next change took an id a desktop's cursor had already passed, and that desktop
never saw it. The table is copied into one declared AUTOINCREMENT; SQLite then records the largest
id copied and never goes below it. PostgreSQL's sequence never goes back: nothing to do there.

Revision ID: i20_change_log_autoincrement
Revises: i19b_transfer_audit
Create Date: 2026-12-06 01:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "i20_change_log_autoincrement"
down_revision: str | None = "i19b_transfer_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _recreate(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "change_log", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass


def upgrade() -> None:
    _recreate(True)


def downgrade() -> None:
    _recreate(False)
