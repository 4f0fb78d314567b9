"""The demo seed (`seed_demo`): its history is written in bulk, so check that it is what the operations
would have left — each CTI's `issued` is its CFDI rows and `credited` its incoming movements, every
synced row reaches the change feed, the ledger's sums hold — that its seeded data does not change
from run to run, and that the passwords sign in."""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from cmdesk.models import (
    Account,
    Base,
    Client,
    IssuedCfdi,
    Membership,
    Movement,
    Profile,
    StampingAccount,
)
from cmdesk.models.base import Synced
from cmdesk.models.software import SoftwareFile, SoftwareProduct
from cmdesk.server import db, feed
from cmdesk.server.operations import ledger, software
from cmdesk.server.operations.context import Actor
from cmdesk.server.security import verify_password
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD, SUB_DISTRIBUTOR_PASSWORD, seed_demo
from tests.server.helpers import assert_ledger_ok, assert_usage_matches_cfdi

# Some operations date their rows with the wall clock (the contracts the demo uses must be in force).
NOW = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
# What rng_seed=2016 draws for 36 clients (the figures of the demo as the per-operation seed made it).
DEMO_CFDI = 2138
DEMO_SALES = 105  # 100 stamp transfers to CTIs and 5 point transfers to clients, over five months


@pytest.fixture
def seeded(factory: db.SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    # Small software files: their rows and feed entries are what matters here, not their megabytes.
    small = functools.partial(software.seed_demo_software, sizes=(1000, 2000))
    monkeypatch.setattr(software, "seed_demo_software", small)
    return seed_demo(factory, software_store=tmp_path / "files", now=NOW)


def _demo_account(s: Any) -> str:
    return str(
        s.scalar(
            select(Membership.account_id)
            .join(Profile, Profile.id == Membership.profile_id)
            .where(Profile.email == DEMO_EMAIL, Membership.role == "master")
        )
    )


def test_counters_match_the_bulk_written_history(factory: db.SessionFactory, seeded: dict[str, Any]) -> None:
    assert seeded["created"] is True and seeded["clients"] == 36
    assert_ledger_ok(factory)
    with db.transaction(factory) as s:
        cfdi = Counter(
            dict(
                s.execute(
                    select(IssuedCfdi.stamping_account_id, func.count()).group_by(
                        IssuedCfdi.stamping_account_id
                    )
                ).all()
            )
        )
        credited: Counter[str] = Counter()
        points: Counter[str] = Counter()
        for m in s.scalars(select(Movement)):
            if m.target_type == "stamping_account":
                credited[m.target_id] += m.quantity
            elif m.target_type == "client":
                points[m.target_id] += m.quantity
        ctis = s.scalars(select(StampingAccount)).all()
        assert len(ctis) == 38  # one per client, "Pruebas" and the unlimited one
        assert sum(cfdi.values()) == DEMO_CFDI
        for cti in ctis:
            assert cti.issued == cfdi[cti.id], cti.id
            if cti.kind == "standard":
                assert cti.credited == credited[cti.id], cti.id
                assert cti.balance == cti.credited - cti.issued >= 1, cti.id
            if cti.issued:
                times = s.execute(
                    select(func.min(IssuedCfdi.issued_at), func.max(IssuedCfdi.issued_at)).where(
                        IssuedCfdi.stamping_account_id == cti.id
                    )
                ).one()
                assert cti.first_issue_at is not None and cti.last_issue_at is not None
                assert times[0] <= cti.first_issue_at <= times[1]
                assert times[0] <= cti.last_issue_at <= times[1]
        for client in s.scalars(select(Client)):
            assert client.points_balance == points[client.id], client.nic
        assert all(row.debited for row in s.scalars(select(IssuedCfdi)))
        kinds = Counter(s.scalars(select(Movement.kind)))
        assert kinds["transfer"] == DEMO_SALES + 1  # and one to the sub-distributor
        # "Pruebas" has an auto-sale rule: its CFDI took it below the minimum once, and it was refilled.
        pruebas = s.get(StampingAccount, "Pruebas")
        assert pruebas is not None and pruebas.issued > 0 and pruebas.balance >= 100
        assert kinds["auto_sale"] == 1
        auto = s.scalar(select(Movement).where(Movement.kind == "auto_sale"))
        assert auto is not None and auto.target_id == "Pruebas" and auto.created_by == "auto_sale"


def test_usage_history_is_spread_over_the_last_90_days(
    factory: db.SessionFactory, seeded: dict[str, Any]
) -> None:
    with db.transaction(factory) as s:
        times = s.scalars(select(IssuedCfdi.issued_at)).all()
        assert all(NOW - dt.timedelta(days=91) <= t <= NOW for t in times)
        assert len({t.date() for t in times}) >= 80
        busiest = s.scalar(select(StampingAccount).order_by(StampingAccount.issued.desc()).limit(1))
        assert busiest is not None
        report = ledger.usage_report(s, Actor(busiest.account_id), busiest.id, days=120, now=NOW)
        assert report["average_daily_use"] > 0 and report["days_remaining"] is not None
        assert sum(d["issued"] for d in report["daily"]) == busiest.issued


def test_daily_usage_and_feed_summaries_count_the_seeded_cfdi(
    factory: db.SessionFactory, seeded: dict[str, Any]
) -> None:
    """What the bulk writer and the one `ledger.consume` (the auto-sale) left in the daily usage table
    is the CFDI issued, per CTI and Mexico City day; the feed's summaries carry the last 90 days."""
    assert assert_usage_matches_cfdi(factory, NOW) >= 30


def test_first_and_last_issue_and_last_purchase_are_the_history_s_dates(
    factory: db.SessionFactory, seeded: dict[str, Any]
) -> None:
    """Primera/última emisión are the earliest/latest CFDI and «última compra» the latest sale, as a
    CTI that lived through that history would show."""
    with db.transaction(factory) as s:
        spans = dict(
            (cti, (first, last))
            for cti, first, last in s.execute(
                select(
                    IssuedCfdi.stamping_account_id,
                    func.min(IssuedCfdi.issued_at),
                    func.max(IssuedCfdi.issued_at),
                ).group_by(IssuedCfdi.stamping_account_id)
            )
        )
        sales = dict(
            s.execute(
                select(Movement.target_id, func.max(Movement.created_at))
                .where(Movement.target_type == "stamping_account")
                .group_by(Movement.target_id)
            ).all()
        )
        ctis = s.scalars(select(StampingAccount).where(StampingAccount.kind == "standard")).all()
        assert sum(1 for c in ctis if c.id in spans) >= 30
        for cti in ctis:
            if cti.id in spans:
                assert (cti.first_issue_at, cti.last_issue_at) == spans[cti.id], cti.id
            if cti.id in sales:
                assert cti.last_credit_at == sales[cti.id], cti.id


def test_the_feed_covers_every_synced_row(factory: db.SessionFactory, seeded: dict[str, Any]) -> None:
    """Every synced row reaches each account that sees it, read as the desktop reads the feed."""
    with db.transaction(factory) as s:
        accounts = list(s.scalars(select(Account.id)))
        expected: set[tuple[str, str, str]] = set()
        for mapper in Base.registry.mappers:
            model = mapper.class_
            if not issubclass(model, Synced):
                continue
            for row in s.scalars(select(model)):
                audiences: list[Any] = list(row.feed_audience())
                if model is Profile:
                    audiences = list(
                        s.scalars(select(Membership.account_id).where(Membership.profile_id == row.id))
                    )
                elif model in (SoftwareProduct, SoftwareFile):
                    audiences = accounts
                for audience in audiences:
                    account, entity = (
                        audience if isinstance(audience, tuple) else (audience, model.__feed_entity__)
                    )
                    expected.add((account, entity, str(row.id)))  # type: ignore[attr-defined]
        assert {e for _a, e, _i in expected} >= {"client", "stamping_account", "movement", "software_file"}
        seen: set[tuple[str, str, str]] = set()
        for account in accounts:
            cursor = None
            while True:
                page = feed.read(s, account, cursor, 500)
                seen |= {(account, c.entity, c.entity_id) for c in page.changes if not c.deleted}
                cursor = page.cursor
                if not page.has_more:
                    break
    assert expected - seen == set()


def test_passwords_sign_in(factory: db.SessionFactory, seeded: dict[str, Any]) -> None:
    with db.transaction(factory) as s:
        demo = s.scalar(select(Profile).where(Profile.email == DEMO_EMAIL))
        sub = s.scalar(select(Profile).where(Profile.email == "ventas@heavensoft.mx"))
        assert demo is not None and verify_password(demo.password_hash, DEMO_PASSWORD)
        assert sub is not None and verify_password(sub.password_hash, SUB_DISTRIBUTOR_PASSWORD)
        assert sub.email_confirmed_at is not None
        pruebas = s.get(StampingAccount, "Pruebas")
        assert pruebas is not None and verify_password(pruebas.password_hash, "Pruebas2016")
        # The clients' own CTIs have a password no one was told (as `create_client` leaves them).
        hashes = s.scalars(select(StampingAccount.password_hash).where(StampingAccount.id != "Pruebas"))
        assert all(h and h.startswith("$argon2") for h in hashes)
        assert not verify_password(demo.password_hash, "otra")


def test_seeding_again_changes_nothing(factory: db.SessionFactory, seeded: dict[str, Any]) -> None:
    def counts() -> dict[str, int]:
        with db.transaction(factory) as s:
            return {
                t.name: int(s.scalar(select(func.count()).select_from(t)) or 0)
                for t in Base.metadata.sorted_tables
            }

    before = counts()
    assert seed_demo(factory, now=NOW) == {"created": False}
    assert counts() == before


def _signature(engine: Engine) -> list[Any]:
    """The seeded data that must not change from run to run (no random ids, hashes or codes)."""
    factory = db.session_factory(engine)
    with db.transaction(factory) as s:
        nic = dict(s.execute(select(Client.id, Client.nic)).all())
        cti_key = {c.id: (nic[c.client_id], c.kind, c.created_at) for c in s.scalars(select(StampingAccount))}
        return [
            sorted(
                s.execute(
                    select(
                        Client.nic,
                        Client.name,
                        Client.rfc,
                        Client.address_city,
                        Client.points_balance,
                        Client.created_at,
                    )
                ).all()
            ),
            sorted(
                (
                    *cti_key[c.id],
                    c.balance,
                    c.issued,
                    c.credited,
                    c.version,
                    c.first_issue_at,
                    c.last_issue_at,
                )
                for c in s.scalars(select(StampingAccount))
            ),
            sorted(
                (r.cfdi_uuid, cti_key[r.stamping_account_id], r.issued_at)
                for r in s.scalars(select(IssuedCfdi))
            ),
            sorted(
                (
                    m.kind,
                    m.asset,
                    m.quantity,
                    m.amount_cents,
                    m.created_at,
                    cti_key.get(m.target_id, nic.get(m.target_id)),
                )
                for m in s.scalars(
                    select(Movement).where(Movement.kind == "transfer", Movement.target_type != "account")
                )
            ),
            sorted(s.execute(select(Account.nic, Account.stamps_balance, Account.points_balance)).all()),
        ]


def test_the_seeded_data_is_the_same_on_every_run(tmp_path: Path) -> None:
    signatures = []
    for run in ("a", "b"):
        engine = db.create_db_engine(f"sqlite:///{(tmp_path / f'{run}.db').as_posix()}")
        try:
            Base.metadata.create_all(engine)
            seed_demo(db.session_factory(engine), clients_count=12, now=NOW)
            signatures.append(_signature(engine))
        finally:
            engine.dispose()
    assert signatures[0] == signatures[1]
    assert len(signatures[0][2]) > 100
