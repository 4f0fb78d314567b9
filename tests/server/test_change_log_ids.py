"""change_log ids are never handed out twice: a desktop's cursor is an id, so an id reused after the
newest rows were deleted (an account's purge) would put a change behind cursors already past it."""

from __future__ import annotations

from alembic import command
from sqlalchemy import delete, func, select, text

from cmdesk.domain.enums import Asset
from cmdesk.models import ChangeLog
from cmdesk.server import db, feed, migrations
from tests.server.helpers import give, make_client, make_distributor


def _max_id(factory: db.SessionFactory) -> int:
    with db.transaction(factory) as s:
        return int(s.execute(select(func.coalesce(func.max(ChangeLog.id), 0))).scalar_one())


def _drain(factory: db.SessionFactory, account_id: str, cursor: str) -> list[feed.ChangeRef]:
    seen: list[feed.ChangeRef] = []
    while True:
        with db.transaction(factory) as s:
            page = feed.read(s, account_id, cursor, 1000)
        seen.extend(page.changes)
        cursor = page.cursor
        if not page.has_more:
            return seen


def test_a_change_after_a_purge_of_the_newest_rows_reaches_a_snapshot_cursor(factory):
    kept = make_distributor(factory)
    gone = make_distributor(factory)
    make_client(factory, gone)  # the newest rows of the log are the account about to go
    with db.transaction(factory) as s:
        cursor = feed.snapshot_point(s).cursor  # what a desktop of `kept` holds after its snapshot
    highest = _max_id(factory)
    with db.transaction(factory) as s:
        s.execute(delete(ChangeLog).where(ChangeLog.account_id == gone.account_id))
    assert _max_id(factory) < highest  # the top rows are gone
    give(factory, kept, Asset.STAMPS, 5)
    with db.transaction(factory) as s:
        new_ids = s.scalars(select(ChangeLog.id).where(ChangeLog.account_id == kept.account_id)).all()
    assert max(new_ids) > highest
    assert "movement" in {change.entity for change in _drain(factory, kept.account_id, cursor)}


def test_the_migration_keeps_the_rows_and_never_goes_below_them(tmp_path):
    url = f"sqlite:///{(tmp_path / 'old.db').as_posix()}"
    migrations.upgrade(url, "i18_audit")
    engine = db.create_db_engine(url)
    insert = text(
        "INSERT INTO change_log (account_id, entity, entity_id, txid, deleted, created_at)"
        " VALUES ('a1', 'client', :e, 0, 0, '2026-12-06 00:00:00')"
    )
    try:
        with engine.begin() as c:
            for n in range(5):
                c.execute(insert, {"e": f"c{n}"})
        migrations.upgrade(url)
        with engine.begin() as c:
            assert c.execute(text("SELECT count(*), max(id) FROM change_log")).one() == (5, 5)
            c.execute(text("DELETE FROM change_log WHERE id >= 4"))
            c.execute(insert, {"e": "after"})
            assert c.execute(text("SELECT id FROM change_log WHERE entity_id = 'after'")).scalar_one() == 6
            indexes = {row[1] for row in c.execute(text("PRAGMA index_list('change_log')"))}
            assert "ix_change_log_feed" in indexes
        command.downgrade(migrations.alembic_config(url), "i18_audit")
        with engine.begin() as c:
            assert c.execute(text("SELECT count(*) FROM change_log")).scalar_one() == 4
    finally:
        engine.dispose()
