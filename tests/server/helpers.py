"""Shared builders for server tests: distributors, catalog, balances and clients through the real operations."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def new_database(pg_url: str, prefix: str) -> Iterator[str]:
    """A database of its own on the tests' PostgreSQL (for a server process), dropped afterwards."""
    import uuid

    import psycopg
    from sqlalchemy import make_url

    base = make_url(pg_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    dsn = f"host={base.host} port={base.port} user={base.username} dbname={base.database}"
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
