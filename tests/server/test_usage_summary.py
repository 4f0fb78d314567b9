"""The daily usage per CTI (`cti_daily_usage`) as both stamping paths keep it, and the usage summary
the change feed and the REST view of a CTI carry."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from cmdesk.domain import usage
from cmdesk.domain.enums import Asset
from cmdesk.domain.errors import ErrorCode
from cmdesk.models import CtiDailyUsage, StampingAccount
from cmdesk.server import db
from cmdesk.server.api.sync import read_changes
from cmdesk.server.operations import clients, ledger
from tests.server.helpers import (
    RFC_MORAL,
    assert_usage_matches_cfdi,
    fund_cti,
    give,
    make_client,
    make_distributor,
)
from tests.server.test_stamping_fast import PASSWORD, Stamper, standard_cti


def usage_rows(factory: db.SessionFactory, cti: str) -> dict[dt.date, int]:
    with db.transaction(factory) as s:
        rows = s.scalars(select(CtiDailyUsage).where(CtiDailyUsage.stamping_account_id == cti))
        return {r.day: r.issued for r in rows}


def consume(factory: db.SessionFactory, cti: str, when: dt.datetime, u: str | None = None) -> dict[str, Any]:
    return db.run(
        factory,
        ledger.consume,
        stamping_account_id=cti,
        emitter_rfc=RFC_MORAL,
        cfdi_uuid=u or str(uuid.uuid4()),
        now=when,
    )


def test_the_general_path_counts_each_cfdi_on_its_mexico_city_day(factory: db.SessionFactory) -> None:
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 20)
    made = make_client(factory, actor)
    cti = made["stamping_account"]["id"]
    fund_cti(factory, actor, cti, 20)
    now = dt.datetime.now(dt.UTC)
    today = usage.mx_day(now)
    late = dt.datetime.combine(today, dt.time(5, 30), dt.UTC)  # 23:30 of the day before in Mexico City
    u = str(uuid.uuid4())
    consume(factory, cti, late, u)
    consume(factory, cti, late, u)  # a retry counts nothing
    consume(factory, cti, now - dt.timedelta(days=3))
    for _ in range(3):
        consume(factory, cti, now)
    assert usage_rows(factory, cti) == {
        usage.mx_day(late): 1,
        usage.mx_day(now - dt.timedelta(days=3)): 1,
        today: 3,
    }
    # The CTI's view (feed, REST) carries it: runs of days without use are negative.
    with db.transaction(factory) as s:
        view = clients.load_stamping_accounts(s, [cti])[cti]
    three_ago = usage.mx_day(now - dt.timedelta(days=3))
    expected = {three_ago: 1, usage.mx_day(late): 1, today: 3}
    assert usage.decode_summary(view["usage"]) == expected
    assert view["usage"]["since"] == three_ago.isoformat()
    assert view["usage"]["daily"][0] == 1 and view["usage"]["daily"][-1] == 3
    assert sum(usage.decode_summary(view["usage"]).values()) == view["issued"] == 5
    assert_usage_matches_cfdi(factory)


def test_refusals_count_nothing(factory: db.SessionFactory) -> None:
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 1)
    cti = make_client(factory, actor)["stamping_account"]["id"]
    fund_cti(factory, actor, cti, 1)
    now = dt.datetime.now(dt.UTC)
    consume(factory, cti, now)
    with pytest.raises(Exception) as empty:
        consume(factory, cti, now)
    assert getattr(empty.value, "code", None) == ErrorCode.INSUFFICIENT_BALANCE
    db.run(factory, clients.set_stamping_account_active, actor, cti, active=False)
    with pytest.raises(Exception) as blocked:
        consume(factory, cti, now)
    assert getattr(blocked.value, "code", None) == ErrorCode.ACCOUNT_BLOCKED
    assert usage_rows(factory, cti) == {usage.mx_day(now): 1}


def test_a_cti_without_use_in_90_days_has_no_summary(factory: db.SessionFactory) -> None:
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 5)
    made = make_client(factory, actor)
    cti = made["stamping_account"]["id"]
    assert made["stamping_account"]["usage"] is None
    fund_cti(factory, actor, cti, 5)
    consume(factory, cti, dt.datetime.now(dt.UTC) - dt.timedelta(days=usage.SUMMARY_DAYS + 1))
    with db.transaction(factory) as s:
        view = clients.load_stamping_accounts(s, [cti])[cti]
    assert view["issued"] == 1 and view["usage"] is None


def test_the_feed_page_carries_every_cti_s_summary(factory: db.SessionFactory) -> None:
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 100)
    ctis = []
    for _ in range(3):
        cti = make_client(factory, actor)["stamping_account"]["id"]
        fund_cti(factory, actor, cti, 30)
        ctis.append(cti)
    now = dt.datetime.now(dt.UTC)
    for i, cti in enumerate(ctis):
        for _ in range(i):
            consume(factory, cti, now)
    with db.transaction(factory) as s:
        page = read_changes(s, actor, None, 1000)
    got = {c["id"]: c["data"]["usage"] for c in page["changes"] if c["entity"] == "stamping_account"}
    today = usage.mx_day(now).isoformat()
    assert got == {ctis[0]: None, ctis[1]: {"since": today, "daily": [1]}, ctis[2]: {"since": today, "daily": [2]}}


# ---- both paths, the same scenario (PostgreSQL) -------------------------------------------------


@pytest.fixture(params=["fast", "general"])
def stamp(request: pytest.FixtureRequest, engine: Engine, factory: db.SessionFactory) -> Iterator[Stamper]:
    s = Stamper(request.param, engine, factory)
    yield s
    s.close()


@pytest.mark.postgres_only
def test_both_paths_count_the_same_usage(stamp: Stamper, factory: db.SessionFactory) -> None:
    """Standard, unlimited and auto-sale CTIs; retries, an empty CTI and a blocked one: the fast path
    (`cmdesk_consume` V2) and the general path leave the same daily usage, Σ == issued."""
    actor, _, standard = standard_cti(factory, 3)
    u = str(uuid.uuid4())
    stamp(standard, u)
    stamp(standard, u)  # a retry
    stamp(standard)
    stamp(standard)
    assert stamp.refused(standard) == ErrorCode.INSUFFICIENT_BALANCE
    client_id = make_client(factory, actor)["client"]["id"]
    unlimited = db.run(
        factory, clients.create_stamping_account, actor, client_id, kind="unlimited", password=PASSWORD
    )["id"]
    with db.transaction(factory) as s:
        row = s.get(StampingAccount, unlimited)
        assert row is not None
        row.paid_until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    stamp(unlimited)
    stamp(unlimited)
    _, _, auto = standard_cti(factory, 10)
    with db.transaction(factory) as s:
        auto_actor = s.get(StampingAccount, auto)
        assert auto_actor is not None
        auto_owner = auto_actor.account_id
    from cmdesk.server.operations.context import Actor

    give(factory, Actor(auto_owner), Asset.STAMPS, 50)
    db.run(factory, clients.set_auto_sale, Actor(auto_owner), auto, minimum=9, credit=50, amount_cents=100)
    stamp(auto)
    stamp(auto)
    db.run(factory, clients.set_stamping_account_active, actor, standard, active=False)
    assert stamp.refused(standard) == ErrorCode.ACCOUNT_BLOCKED
    today = usage.mx_day(dt.datetime.now(dt.UTC))
    assert usage_rows(factory, standard) == {today: 3}
    assert usage_rows(factory, unlimited) == {today: 2}
    assert usage_rows(factory, auto) == {today: 2}
    assert stamp.fallbacks == (2 if stamp.path == "fast" else 0)  # only the auto-sale CTI
    assert_usage_matches_cfdi(factory)
