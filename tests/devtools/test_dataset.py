"""The dataset generator: a small realistic server on SQLite and PostgreSQL whose ledger balances
(also in time order), whose RFCs are valid, whose consumption is skewed, and that a desktop syncs."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from stdnum.mx import rfc as stdnum_rfc

from cmdesk.devtools import dataset
from cmdesk.domain.geography import MEXICAN_STATES
from cmdesk.models import Account, Client, IssuedCfdi, Movement, StampingAccount
from cmdesk.server import db
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.operations.ledger import ledger_check
from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache
from cmdesk.services.outbox import Outbox
from cmdesk.services.sync import SyncEngine

SPEC = dataset.DatasetSpec(distributors=3, clients=200, ctis=300, cfdi=6000, months=12, seed=7)


@pytest.fixture
def generated(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> dataset.DatasetResult:
    # Small chunks, so rows are written in many batches (children after their parents) as at full size.
    monkeypatch.setattr(dataset, "CHUNK", 16)
    return dataset.generate(engine, SPEC)


def test_counts_rfcs_places_and_ledger(engine: Engine, generated: dataset.DatasetResult) -> None:
    factory = db.session_factory(engine)
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(Account)) == 3
        assert s.scalar(select(func.count()).select_from(Client)) == 200
        assert s.scalar(select(func.count()).select_from(StampingAccount)) == 300
        assert s.scalar(select(func.count()).select_from(IssuedCfdi)) == 6000
        check = ledger_check(s)
        assert all(figures["ok"] == 1 for figures in check.values()), check
        assert check["stamps"]["purchased"] > 6000 and check["points"]["purchased"] > 0
        clients = s.execute(select(Client.rfc, Client.address_state, Client.name)).all()
        assert all(stdnum_rfc.is_valid(r.rfc) for r in clients), [r.rfc for r in clients][:5]
        assert all(r.address_state in MEXICAN_STATES for r in clients)
        assert len({r.name for r in clients}) > 150
        # Each CTI: `issued` is its CFDI rows, `credited` what was moved to it, balance the difference.
        cfdi = dict(
            s.execute(
                select(IssuedCfdi.stamping_account_id, func.count()).group_by(IssuedCfdi.stamping_account_id)
            ).all()
        )
        moved: dict[str, int] = defaultdict(int)
        for target, quantity in s.execute(
            select(Movement.target_id, Movement.quantity).where(Movement.target_type == "stamping_account")
        ):
            moved[target] += quantity
        for cti in s.scalars(select(StampingAccount)):
            assert cti.issued == cfdi.get(cti.id, 0)
            assert cti.credited == moved[cti.id]
            assert cti.balance == cti.credited - cti.issued >= 0
    assert generated.counts["cfdi"] == 6000 and len(generated.distributors) == 3


def test_balances_never_go_below_zero_in_time_order(engine: Engine, generated: dataset.DatasetResult) -> None:
    factory = db.session_factory(engine)
    events: dict[str, list[tuple[dt.datetime, int]]] = defaultdict(list)
    with db.transaction(factory) as s:
        for m in s.scalars(select(Movement).where(Movement.asset == "stamps")):
            if m.source_type in ("account", "stamping_account"):
                events[m.source_id].append((m.created_at, -m.quantity))
            if m.target_type in ("account", "stamping_account"):
                events[m.target_id].append((m.created_at, m.quantity))
        for cti, at in s.execute(select(IssuedCfdi.stamping_account_id, IssuedCfdi.issued_at)):
            events[cti].append((at, -1))
    for party, items in events.items():
        balance = 0
        # At equal times credits come first (an auto-sale is recorded one second after its CFDI).
        for _, delta in sorted(items, key=lambda e: (e[0], -e[1])):
            balance += delta
            assert balance >= 0, party


def test_consumption_is_skewed(engine: Engine, generated: dataset.DatasetResult) -> None:
    with engine.connect() as c:
        issued = sorted(c.execute(select(StampingAccount.issued)).scalars(), reverse=True)
    top = sum(issued[: len(issued) // 10])
    assert top > 0.4 * sum(issued)  # the busiest tenth issues far more than a tenth
    assert issued.count(0) > len(issued) // 10  # and many CTIs issued nothing


def test_daily_usage_matches_the_cfdi(engine: Engine, generated: dataset.DatasetResult) -> None:
    """The generator fills the daily usage as both stamping paths would: Σ per CTI == issued, per day
    the CFDI of that Mexico City day, and the feed's summaries agree."""
    from tests.server.helpers import assert_usage_matches_cfdi

    assert assert_usage_matches_cfdi(db.session_factory(engine)) > 100


def test_a_desktop_syncs_it_and_counts_match(
    engine: Engine, generated: dataset.DatasetResult, tmp_path: Path
) -> None:
    server = EmbeddedServer(str(engine.url.render_as_string(hide_password=False)), engine=engine, prepare=None)
    server.start()
    cache = Cache(tmp_path / "cache.sqlite3")
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    try:
        first = generated.distributors[0]
        with ApiClient(server.url) as api:
            api.sign_in(first["email"], first["password"])
            report = SyncEngine(api, cache, outbox).sync_once()
            assert report.counts_ok and not report.rebuilt
            counts = api.get("/v1/sync/counts")
        local = cache.counts()
        for entity in ("client", "stamping_account", "movement", "charge"):
            assert local.get(entity, 0) == counts[entity] > 0, entity
        account = cache.account()
        assert account is not None and account["id"] == first["id"]
    finally:
        cache.close()
        outbox.close()
        server.stop()
