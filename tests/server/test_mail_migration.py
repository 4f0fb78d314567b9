"""Migration i13_mail carries unused e-mail confirmation tokens over to link_tokens: a link mailed
before the upgrade still confirms after it. And back down again."""

from __future__ import annotations

import datetime as dt

from alembic import command
from sqlalchemy import text

from cmdesk.models import Account
from cmdesk.server import db, migrations
from cmdesk.server.operations import distributors
from cmdesk.server.security import token_digest

TOKEN = "enlace-enviado-antes-de-actualizar"


def test_confirmation_links_survive_the_upgrade(tmp_path):
    url = f"sqlite:///{(tmp_path / 'old.db').as_posix()}"
    migrations.upgrade(url, "0002")
    engine = db.create_db_engine(url)
    # Text as SQLite stores the UTC times (naive), without the deprecated datetime adapter.
    now_dt = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    now, later = now_dt.isoformat(sep=" "), (now_dt + dt.timedelta(days=7)).isoformat(sep=" ")
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO profiles (id, version, name, email, mobile, created_at) "
                "VALUES ('p1', 1, 'Laura', 'laura@sub.mx', '3300000001', :now)"
            ),
            {"now": now},
        )
        c.execute(
            text(
                "INSERT INTO accounts (id, nic, version, status, name, trade_name, rfc, email, phone, state, city, "
                "postal_code, neighborhood, street, exterior_number, interior_number, business_activity, comments, "
                "stamps_balance, points_balance, created_at, expires_at) VALUES ('a1', '200001', 1, 'unvalidated', "
                "'Sub', '', '', '', '', '', '', '', '', '', '', '', '', '', 0, 0, :now, :later)"
            ),
            {"now": now, "later": later},
        )
        c.execute(
            text(
                "INSERT INTO memberships (id, account_id, profile_id, role, created_at) VALUES ('m1', 'a1', 'p1', 'master', :now)"
            ),
            {"now": now},
        )
        c.execute(
            text(
                "INSERT INTO email_confirmations (token_hash, profile_id, account_id, created_at, expires_at) "
                "VALUES (:h, 'p1', 'a1', :now, :later)"
            ),
            {"h": token_digest(TOKEN), "now": now, "later": later},
        )
    migrations.upgrade(url)
    factory = db.session_factory(engine)
    out = db.run(factory, distributors.confirm_email, TOKEN, "Distribuye2026")
    assert out["confirmed_account_ids"] == ["a1"]
    with db.transaction(factory) as s:
        assert s.get(Account, "a1").status == "inactive"

    command.downgrade(migrations.alembic_config(url), "0002")
    with engine.connect() as c:
        rows = c.execute(text("SELECT token_hash, used_at IS NOT NULL FROM email_confirmations")).all()
    assert rows == [(token_digest(TOKEN), 1)]
    engine.dispose()
