"""Shared builders for server tests: distributors, catalog, balances and clients through the real operations."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cmdesk.domain.enums import Asset
from cmdesk.models import CatalogContract, CatalogFee, CatalogPackage
from cmdesk.server import db
from cmdesk.server.operations import accounts, clients, ledger
from cmdesk.server.operations.context import Actor

_seq = itertools.count(1)

# Valid RFCs for tests (12 = moral, 13 = física).
RFC_MORAL = "EKU9003173C9"
RFC_FISICA = "GODE561231GR8"


def ensure_catalog(factory: db.SessionFactory) -> None:
    """The small catalog tests buy from: 1-unit packages, so quantities are exact."""
    with db.transaction(factory) as s:
        if s.scalar(select(CatalogPackage).where(CatalogPackage.id == "test_stamps_1")) is not None:
            return
        s.add_all(
            [
                CatalogPackage(id="test_stamps_1", asset="stamps", quantity=1, price_cents=50),
                CatalogPackage(id="test_points_1", asset="points", quantity=1, price_cents=95),
                CatalogPackage(id="test_stamps_2000", asset="stamps", quantity=2000, price_cents=100000),
                CatalogContract(
                    code="multinivel",
                    kind="subscription",
                    name="Multinivel",
                    annual_price_before_tax_cents=199900,
                ),
                CatalogContract(
                    code="mkl_dominus", kind="mkl", name="MKL Dóminus", annual_price_before_tax_cents=185000
                ),
                CatalogFee(
                    code="distributor_annual_fee", name="Anualidad de distribuidor", amount_cents=348000
                ),
                CatalogFee(
                    code="unlimited_cti_annual_points", name="Anualidad CTI ilimitada", amount_cents=150000
                ),
            ]
        )


def make_distributor(factory: db.SessionFactory, **kw: Any) -> Actor:
    ensure_catalog(factory)
    n = next(_seq)
    kw.setdefault("name", f"Distribuidor {n}")
    kw.setdefault("email", f"dist{n}-{id(factory)}@example.com")
    kw.setdefault("mobile", f"55{n:08d}"[-10:])
    kw.setdefault("password", "secreto123")
    with db.transaction(factory) as s:
        out = accounts.create_distributor(s, **kw)
    return Actor(out["account"]["id"], out["profile"]["id"])


def give(factory: db.SessionFactory, actor: Actor, asset: Asset | str, quantity: int) -> None:
    """Buy `quantity` units of an asset for the actor's account from the 1-unit test packages."""
    ensure_catalog(factory)
    package = "test_stamps_1" if Asset(asset) == Asset.STAMPS else "test_points_1"
    db.run(factory, ledger.purchase, actor, package, quantity) if quantity <= 1000 else _give_many(
        factory, actor, package, quantity
    )


def _give_many(factory: db.SessionFactory, actor: Actor, package: str, quantity: int) -> None:
    while quantity > 0:
        n = min(quantity, 1000)
        db.run(factory, ledger.purchase, actor, package, n)
        quantity -= n


def make_client(factory: db.SessionFactory, actor: Actor, **fields: Any) -> dict[str, Any]:
    """A client with its standard CTI; returns the create answer (client, stamping_account, password)."""
    n = next(_seq)
    fields.setdefault("name", f"Cliente {n}")
    fields.setdefault("rfc", RFC_MORAL)
    return db.run(factory, clients.create_client, actor, fields)


def fund_cti(factory: db.SessionFactory, actor: Actor, cti_id: str, stamps: int) -> None:
    """Transfer `stamps` of the distributor's stamps to a CTI (the distributor must hold them)."""
    db.run(
        factory,
        ledger.transfer,
        actor,
        asset="stamps",
        target_type="stamping_account",
        target_id=cti_id,
        quantity=stamps,
    )


def assert_ledger_ok(factory: db.SessionFactory) -> None:
    with db.transaction(factory) as s:
        check = ledger.ledger_check(s)
    for asset, figures in check.items():
        assert figures["ok"] == 1, (asset, figures)


def assert_usage_matches_cfdi(factory: db.SessionFactory, now: Any = None) -> int:
    """The daily usage table holds, per CTI and Mexico City day, exactly the CFDI issued (Σ == issued);
    and each CTI's feed summary decodes to its days of the last 90. Returns the CTIs with use checked."""
    import datetime as dt
    from collections import Counter

    from cmdesk.domain import usage
    from cmdesk.models import CtiDailyUsage, IssuedCfdi, StampingAccount

    now = now or dt.datetime.now(dt.UTC)
    today = usage.mx_day(now)
    with db.transaction(factory) as s:
        expected: Counter[tuple[str, Any]] = Counter(
            (cti, usage.mx_day(at))
            for cti, at in s.execute(select(IssuedCfdi.stamping_account_id, IssuedCfdi.issued_at))
        )
        stored = {(r.stamping_account_id, r.day): r.issued for r in s.scalars(select(CtiDailyUsage))}
        assert stored == dict(expected)
        issued = dict(s.execute(select(StampingAccount.id, StampingAccount.issued)).all())
        per_cti: Counter[str] = Counter()
        for (cti, _day), n in stored.items():
            per_cti[cti] += n
        assert {k: v for k, v in issued.items() if v} == dict(per_cti)
        views = clients.load_stamping_accounts(s, list(issued))
    since = today - dt.timedelta(days=usage.SUMMARY_DAYS - 1)
    for cti, view in views.items():
        window = {day: n for (c, day), n in expected.items() if c == cti and since <= day <= today}
        assert usage.decode_summary(view["usage"]) == window, cti
    return len(per_cti)


@contextmanager
def new_database(pg_url: str, prefix: str = "srv") -> Iterator[str]:
    """A fresh PostgreSQL database beside the test one, migrated to the head; dropped afterwards.
    Yields its URL."""
    import uuid

    import psycopg
    from sqlalchemy import make_url

    from cmdesk.server import migrations

    base = make_url(pg_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    dsn = f"host={base.host} port={base.port} user={base.username} dbname={base.database}"
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        url = base.set(database=name).render_as_string(hide_password=False)
        migrations.upgrade(url)
        yield url
    finally:
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@contextmanager
def server_on_new_database(pg_url: str, log_dir: Path, **start: Any) -> Iterator[tuple[Any, db.SessionFactory]]:
    """A real `cmdesk-server` (`server_process.start(**start)`) on a fresh, migrated PostgreSQL
    database, with a session factory on the same database; all removed afterwards."""
    from cmdesk.devtools import server_process

    with new_database(pg_url) as url:
        engine = db.create_db_engine(url)
        proc = server_process.start(url, log_dir=log_dir, **start)
        try:
            yield proc, db.session_factory(engine)
        finally:
            proc.stop()
            engine.dispose()


class QueuedLinks:
    """The link mails in the queue, as (address, token) pairs in the order they were queued: what a
    person would find in their inbox. Read again on every use."""

    def __init__(self, factory: db.SessionFactory, kind: str = "confirm_email") -> None:
        self.factory = factory
        self.kind = kind

    def _items(self) -> list[tuple[str, str]]:
        from cmdesk.models import LinkToken, OutboundMail
        from cmdesk.server.mail import links

        with db.transaction(self.factory) as s:
            rows = s.execute(
                select(OutboundMail.to_address, LinkToken)
                .join(LinkToken, LinkToken.id == OutboundMail.token_id)
                .where(OutboundMail.kind == self.kind)
                .order_by(OutboundMail.created_at, LinkToken.created_at)
            ).all()
            return [(address, links.token_of(s, token)) for address, token in rows]

    def __iter__(self):
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def __getitem__(self, index: int) -> tuple[str, str]:
        return self._items()[index]

    def __eq__(self, other: object) -> bool:
        return self._items() == other

    __hash__ = None  # type: ignore[assignment]

