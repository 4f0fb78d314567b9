"""The stamping fast path (PostgreSQL function `cmdesk_consume`) keeps every rule of the general path.

Each scenario runs twice on PostgreSQL: through `FastConsume` (as the router calls it, falling back
to `ledger.consume` when it answers None) and through `ledger.consume` alone. Both must give the same
answers, the same refusals and leave the same rows behind.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from cmdesk.domain.enums import Asset
from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.models import ChangeLog, IssuedCfdi, StampingAccount
from cmdesk.server import db, throttle
from cmdesk.server.operations import clients, ledger
from cmdesk.server.security import CredentialCache
from cmdesk.server.stamping_fast import APPLICATION_NAME, FastConsume
from tests.server.helpers import assert_ledger_ok, fund_cti, give, make_client, make_distributor

pytestmark = pytest.mark.postgres_only

PASSWORD = "Timbrado2026"
RFC = "EKU9003173C9"


class Stamper:
    """Stamps through one path and says which path answered."""

    def __init__(self, path: str, engine: Engine, factory: db.SessionFactory) -> None:
        self.path = path
        self.factory = factory
        self.cache = CredentialCache()
        self.fast = FastConsume(engine.url.render_as_string(hide_password=False))
        # Throttled as the app does, with limits these scenarios never reach.
        self.guard = throttle.Guard(factory, {throttle.Kind.CTI: throttle.Policy(subject_limit=10_000, source_free=10_000)})
        self.runner = asyncio.Runner()
        self.fallbacks = 0

    def __call__(self, cti: str, u: str | None = None, *, password: str = PASSWORD, rfc: str = RFC) -> Any:
        u = u or str(uuid.uuid4())
        if self.path == "fast":
            answer = self.runner.run(self.fast.consume(self.cache, cti, password, rfc, u, guard=self.guard, source="test"))
            if answer is not None:
                return answer
            self.fallbacks += 1
        return db.run(
            self.factory,
            ledger.consume,
            stamping_account_id=cti,
            emitter_rfc=rfc,
            cfdi_uuid=u,
            verify=lambda h: self.cache.verify(cti, password, h),
        )

    def refused(self, cti: str, u: str | None = None, **kw: Any) -> ErrorCode:
        with pytest.raises(DomainError) as e:
            self(cti, u, **kw)
        assert e.value.detail == ledger.CONSUME_REFUSALS.get(e.value.code, e.value.detail)
        return e.value.code

    def close(self) -> None:
        self.runner.run(self.fast.close())
        self.runner.close()


@pytest.fixture(params=["fast", "general"])
def stamp(request: pytest.FixtureRequest, engine: Engine, factory: db.SessionFactory) -> Iterator[Stamper]:
    s = Stamper(request.param, engine, factory)
    yield s
    s.close()


def standard_cti(factory: db.SessionFactory, stamps: int) -> tuple[Any, str, str]:
    actor = make_distributor(factory)
    c = make_client(factory, actor)
    cti = c["stamping_account"]["id"]
    db.run(factory, clients.reset_stamping_password, actor, cti, password=PASSWORD)
    if stamps:
        give(factory, actor, Asset.STAMPS, stamps)
        fund_cti(factory, actor, cti, stamps)
    return actor, c["client"]["id"], cti


def count(factory: db.SessionFactory, model: Any, *where: Any) -> int:
    with db.transaction(factory) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_debits_once_per_uuid_and_records_the_feed(stamp: Stamper, factory: db.SessionFactory) -> None:
    actor, client_id, cti = standard_cti(factory, 2)
    u = str(uuid.uuid4())
    before = count(factory, ChangeLog, ChangeLog.account_id == actor.account_id)
    assert stamp(cti, u) == {"balance": 1, "issued": 1}
    assert stamp(cti, u) == {"balance": 1, "issued": 1}
    assert stamp(cti, u.lower()) == {"balance": 1, "issued": 1}
    assert stamp(cti) == {"balance": 0, "issued": 2}
    assert stamp.refused(cti) == ErrorCode.INSUFFICIENT_BALANCE
    with db.transaction(factory) as s:
        row = s.get(StampingAccount, cti)
        assert row is not None and (row.balance, row.issued) == (0, 2)
        assert row.first_issue_at is not None and row.last_issue_at is not None
        entries = s.execute(
            select(ChangeLog.entity, ChangeLog.entity_id, ChangeLog.txid).where(
                ChangeLog.account_id == actor.account_id
            )
        ).all()[before:]
    # Two consumptions wrote; the refused one and the retries left nothing.
    assert sorted((e, i) for e, i, _ in entries) == sorted(
        [("client", client_id), ("stamping_account", cti)] * 2
    )
    assert all(txid > 0 for *_, txid in entries)
    assert count(factory, IssuedCfdi, IssuedCfdi.stamping_account_id == cti) == 2
    assert stamp.fallbacks == 0
    assert_ledger_ok(factory)


def test_the_same_uuid_on_another_cti_is_a_duplicate(stamp: Stamper, factory: db.SessionFactory) -> None:
    _, _, first = standard_cti(factory, 3)
    _, _, second = standard_cti(factory, 3)
    u = str(uuid.uuid4())
    assert stamp(first, u) == {"balance": 2, "issued": 1}
    assert stamp.refused(second, u) == ErrorCode.DUPLICATE
    assert stamp(second) == {"balance": 2, "issued": 1}


def test_credentials(stamp: Stamper, factory: db.SessionFactory) -> None:
    actor, _, cti = standard_cti(factory, 5)
    assert stamp.refused("NO-EXISTE") == ErrorCode.INVALID_CREDENTIALS
    assert stamp.refused(cti, password="Otra2026clave") == ErrorCode.INVALID_CREDENTIALS
    assert stamp(cti)["balance"] == 4
    # A reset: the old password, verified a moment ago, no longer stamps; the new one does.
    db.run(factory, clients.reset_stamping_password, actor, cti, password="Nueva2026clave")
    assert stamp.refused(cti) == ErrorCode.INVALID_CREDENTIALS
    assert stamp(cti, password="Nueva2026clave")["balance"] == 3


def test_a_blocked_cti_refuses_but_answers_a_retry(stamp: Stamper, factory: db.SessionFactory) -> None:
    actor, _, cti = standard_cti(factory, 5)
    u = str(uuid.uuid4())
    assert stamp(cti, u) == {"balance": 4, "issued": 1}
    db.run(factory, clients.set_stamping_account_active, actor, cti, active=False)
    assert stamp.refused(cti) == ErrorCode.ACCOUNT_BLOCKED
    assert stamp(cti, u) == {"balance": 4, "issued": 1}
    db.run(factory, clients.set_stamping_account_active, actor, cti, active=True)
    assert stamp(cti) == {"balance": 3, "issued": 2}


def test_unlimited(stamp: Stamper, factory: db.SessionFactory) -> None:
    actor = make_distributor(factory)
    client_id = make_client(factory, actor)["client"]["id"]
    cti = db.run(
        factory,
        clients.create_stamping_account,
        actor,
        client_id,
        kind="unlimited",
        password=PASSWORD,
        rfc_restriction=RFC,
    )["id"]
    assert stamp.refused(cti) == ErrorCode.UNLIMITED_EXPIRED
    with db.transaction(factory) as s:
        row = s.get(StampingAccount, cti)
        assert row is not None
        row.paid_until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    assert stamp.refused(cti, rfc="GODE561231GR8") == ErrorCode.RFC_NOT_ALLOWED
    u = str(uuid.uuid4())
    assert stamp(cti, u) == {"balance": None, "issued": 1}
    assert stamp(cti, u) == {"balance": None, "issued": 1}
    assert stamp(cti, rfc="eku-900317-3c9") == {"balance": None, "issued": 2}
    with db.transaction(factory) as s:
        debited = s.scalars(select(IssuedCfdi.debited).where(IssuedCfdi.stamping_account_id == cti)).all()
    assert debited == [False, False]
    assert_ledger_ok(factory)


def test_auto_sale_ctis_take_the_general_path(stamp: Stamper, factory: db.SessionFactory) -> None:
    actor, _, cti = standard_cti(factory, 10)
    give(factory, actor, Asset.STAMPS, 100)
    db.run(factory, clients.set_auto_sale, actor, cti, minimum=9, credit=50, amount_cents=25000)
    assert stamp(cti) == {"balance": 9, "issued": 1}
    assert stamp(cti)["balance"] == 58
    assert stamp.fallbacks == (2 if stamp.path == "fast" else 0)
    assert_ledger_ok(factory)


@pytest.mark.parametrize(
    ("rfc", "u", "field"),
    [("", None, "emitter_rfc"), (RFC, "no-es-un-uuid", "cfdi_uuid")],
)
def test_bad_input_is_a_validation_error(
    stamp: Stamper, factory: db.SessionFactory, rfc: str, u: str | None, field: str
) -> None:
    _, _, cti = standard_cti(factory, 1)
    with pytest.raises(DomainError) as e:
        stamp(cti, u, rfc=rfc)
    assert e.value.code == ErrorCode.VALIDATION_ERROR and [f.field for f in e.value.errors] == [field]
    # With a wrong password, the credentials are refused first, as the general path does.
    assert stamp.refused(cti, u, rfc=rfc, password="Otra2026clave") == ErrorCode.INVALID_CREDENTIALS


def test_concurrent_consumptions_never_overdraw(engine: Engine, factory: db.SessionFactory) -> None:
    """50 calls at once on 30 stamps, on one event loop with a pool of 10 connections."""
    _, _, cti = standard_cti(factory, 30)
    cache, fast = CredentialCache(), FastConsume(engine.url.render_as_string(hide_password=False))
    guard = throttle.Guard(factory, {throttle.Kind.CTI: throttle.Policy(subject_limit=10_000, source_free=10_000)})

    async def one() -> str:
        try:
            await fast.consume(cache, cti, PASSWORD, RFC, str(uuid.uuid4()), guard=guard, source="test")
            return "ok"
        except DomainError as e:
            return e.code.value

    async def run() -> list[str]:
        await fast.consume(cache, cti, PASSWORD, RFC, str(uuid.uuid4()), guard=guard, source="test")  # verifies the password once
        try:
            return list(await asyncio.gather(*(one() for _ in range(50))))
        finally:
            await fast.close()

    results = asyncio.run(run())
    assert results.count("ok") == 29 and results.count("insufficient_balance") == 21
    with db.transaction(factory) as s:
        row = s.get(StampingAccount, cti)
        assert row is not None and (row.balance, row.issued) == (0, 30)
    assert count(factory, IssuedCfdi, IssuedCfdi.stamping_account_id == cti) == 30
    assert_ledger_ok(factory)


def test_only_postgresql_urls_are_supported() -> None:
    assert FastConsume.supports("postgresql+psycopg://u@h/db")
    assert not FastConsume.supports("sqlite:///x.db")


def test_connections_dropped_by_the_database_are_replaced(
    engine: Engine, factory: db.SessionFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A database restart (here: every connection of the pool terminated) costs no consumption."""
    from sqlalchemy import text

    _, _, cti = standard_cti(factory, 10)
    cache, fast = CredentialCache(), FastConsume(engine.url.render_as_string(hide_password=False))
    guard = throttle.Guard(factory, {throttle.Kind.CTI: throttle.Policy(subject_limit=10_000, source_free=10_000)})

    def terminate_pool_connections() -> None:
        with engine.connect() as conn:
            dropped = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = :name"
                ),
                {"name": APPLICATION_NAME},
            ).scalar()
        assert dropped and dropped >= 1

    async def run() -> list[Any]:
        try:
            # Several connections in the pool, then all of them dropped.
            answers = list(
                await asyncio.gather(
                    *(fast.consume(cache, cti, PASSWORD, RFC, str(uuid.uuid4()), guard=guard, source="test") for _ in range(4))
                )
            )
            await asyncio.to_thread(terminate_pool_connections)
            answers.append(await fast.consume(cache, cti, PASSWORD, RFC, str(uuid.uuid4()), guard=guard, source="test"))
            return answers
        finally:
            await fast.close()

    answers = asyncio.run(run())
    assert "se revisa el pool" in caplog.text  # the dropped connection was met, and replaced
    assert answers[-1] == {"balance": 5, "issued": 5}
    assert count(factory, IssuedCfdi, IssuedCfdi.stamping_account_id == cti) == 5
