"""Top-up codes (códigos de abono): escrow at creation, one redemption, NIP lock, cancellation."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from cmdesk.domain import codes
from cmdesk.domain.enums import Asset
from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.models import Account, ChangeLog, Client, Movement, StampingAccount, TopUpCode
from cmdesk.server import db
from cmdesk.server.operations import balances, clients, top_up_codes
from tests.server.helpers import assert_ledger_ok, give, make_client, make_distributor


def _get(factory, model, ident, col):
    with db.transaction(factory) as s:
        return getattr(s.get(model, ident), col)


def _code(factory, actor, asset="stamps", quantity=20, amount_cents=5000, **kw):
    return db.run(
        factory,
        top_up_codes.create_code,
        actor,
        asset=asset,
        quantity=quantity,
        amount_cents=amount_cents,
        **kw,
    )["code"]


def _errcode(fn, *args, **kw) -> DomainError:
    with pytest.raises(DomainError) as e:
        fn(*args, **kw)
    return e.value


def test_ten_thousand_generated_codes_are_unique_and_long():
    generated = {codes.generate_top_up_code() for _ in range(10_000)}
    assert len(generated) == 10_000
    assert all(len(c) >= 26 for c in generated)
    nips = [codes.generate_nip() for _ in range(100)]
    assert all(len(n) == 4 for n in nips)


def test_create_escrows_the_quantity(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 50)
    code = _code(factory, actor, comments="Promoción abril")
    assert code["status"] == "available" and code["consumed"] is False and code["receiver"] is None
    assert len(code["code"]) >= 26 and len(code["nip"]) == 4
    assert _get(factory, Account, actor.account_id, "stamps_balance") == 30
    with db.transaction(factory) as s:
        assert balances.totals(s, Asset.STAMPS)["top_up_codes"] == 20
        m = s.scalar(select(Movement).where(Movement.top_up_code_id == code["id"]))
        assert (m.kind, m.source_type, m.target_type, m.target_id) == (
            "top_up",
            "account",
            "top_up_code",
            code["id"],
        )
    assert_ledger_ok(factory)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"asset": "gold"}, "asset"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": -3}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"amount_cents": -1}, "amount_cents"),
        ({"amount_cents": 1.5}, "amount_cents"),
        ({"comments": "x" * 501}, "comments"),
    ],
)
def test_create_validation(factory, kw, field):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 50)
    err = _errcode(_code, factory, actor, **kw)
    assert err.code == ErrorCode.VALIDATION_ERROR
    assert field in {e.field for e in err.errors}


def test_create_without_balance_is_refused(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.POINTS, 5)
    err = _errcode(_code, factory, actor, asset="points", quantity=6)
    assert err.code == ErrorCode.INSUFFICIENT_BALANCE
    with db.transaction(factory) as s:
        assert s.scalar(select(TopUpCode)) is None


def test_redeem_stamps_onto_a_standard_cti(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 50)
    c = make_client(factory, actor)
    cti = c["stamping_account"]["id"]
    code = _code(factory, actor)
    # Typed by a person: lower case, with dashes and spaces.
    typed = "-".join(code["code"][i : i + 5] for i in range(0, 26, 5)).lower()
    out = db.run(
        factory, top_up_codes.redeem, code=f" {typed} ", nip=code["nip"].lower(), stamping_account_id=cti
    )
    assert out["quantity"] == 20 and out["receiver"] == {"type": "stamping_account", "id": cti}
    assert _get(factory, StampingAccount, cti, "balance") == 20
    listed = db.run(factory, top_up_codes.list_codes, actor)
    assert listed[0]["consumed"] is True and listed[0]["status"] == "redeemed"
    assert listed[0]["receiver"]["client_nic"] == c["client"]["nic"]
    with db.transaction(factory) as s:
        assert balances.totals(s, Asset.STAMPS)["top_up_codes"] == 0
        m = s.get(Movement, out["movement_id"])
        assert (m.kind, m.source_type, m.target_type, m.client_id) == (
            "top_up",
            "top_up_code",
            "stamping_account",
            c["client"]["id"],
        )
    err = _errcode(
        db.run, factory, top_up_codes.redeem, code=code["code"], nip=code["nip"], stamping_account_id=cti
    )
    assert err.code == ErrorCode.ALREADY_REDEEMED
    assert _get(factory, StampingAccount, cti, "balance") == 20
    assert_ledger_ok(factory)


def test_redeem_points_onto_a_client(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.POINTS, 30)
    c = make_client(factory, actor)
    code = _code(factory, actor, asset="points", quantity=30, amount_cents=0)
    db.run(factory, top_up_codes.redeem, code=code["code"], nip=code["nip"], client_id=c["client"]["id"])
    assert _get(factory, Client, c["client"]["id"], "points_balance") == 30
    assert _get(factory, Account, actor.account_id, "points_balance") == 0
    assert_ledger_ok(factory)


def test_receiver_must_belong_to_the_codes_distributor(factory):
    a = make_distributor(factory)
    b = make_distributor(factory)
    give(factory, a, Asset.STAMPS, 20)
    give(factory, a, Asset.POINTS, 20)
    other = make_client(factory, b)
    stamps = _code(factory, a, quantity=10)
    points = _code(factory, a, asset="points", quantity=10)
    for code, kw in [
        (stamps, {"stamping_account_id": other["stamping_account"]["id"]}),
        (points, {"client_id": other["client"]["id"]}),
        (stamps, {"stamping_account_id": "NO-EXISTE"}),
    ]:
        err = _errcode(db.run, factory, top_up_codes.redeem, code=code["code"], nip=code["nip"], **kw)
        assert err.code == ErrorCode.NOT_FOUND
    # The wrong receiver kind for the asset is a validation error.
    mine = make_client(factory, a)
    err = _errcode(
        db.run,
        factory,
        top_up_codes.redeem,
        code=stamps["code"],
        nip=stamps["nip"],
        client_id=mine["client"]["id"],
    )
    assert err.code == ErrorCode.VALIDATION_ERROR and err.errors[0].field == "stamping_account_id"
    assert_ledger_ok(factory)


def test_unlimited_cti_cannot_receive_stamps(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 10)
    c = make_client(factory, actor)
    with db.transaction(factory) as s:
        s.add(
            StampingAccount(
                id="ILIMITADA-1",
                account_id=actor.account_id,
                client_id=c["client"]["id"],
                kind="unlimited",
                password_hash="x",
            )
        )
    code = _code(factory, actor, quantity=10)
    err = _errcode(
        db.run,
        factory,
        top_up_codes.redeem,
        code=code["code"],
        nip=code["nip"],
        stamping_account_id="ILIMITADA-1",
    )
    assert err.code == ErrorCode.VALIDATION_ERROR


def test_unknown_code_is_not_found(factory):
    err = _errcode(db.run, factory, top_up_codes.redeem, code="0" * 26, nip="0000", client_id="x")
    assert err.code == ErrorCode.NOT_FOUND


def test_wrong_nip_is_refused_and_locks_after_the_limit(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 10)
    c = make_client(factory, actor)
    cti = c["stamping_account"]["id"]
    code = _code(factory, actor, quantity=10)
    wrong = "ZZZZ" if code["nip"] != "ZZZZ" else "YYYY"
    for attempt in range(1, top_up_codes.MAX_NIP_ATTEMPTS):
        err = _errcode(
            top_up_codes.redeem_committing_failures,
            factory,
            code=code["code"],
            nip=wrong,
            stamping_account_id=cti,
        )
        assert err.code == ErrorCode.INVALID_CREDENTIALS and "NIP" in err.detail
        assert _get(factory, TopUpCode, code["id"], "failed_attempts") == attempt
    err = _errcode(
        top_up_codes.redeem_committing_failures,
        factory,
        code=code["code"],
        nip=wrong,
        stamping_account_id=cti,
    )
    assert err.code == ErrorCode.CODE_LOCKED and err.status == 423
    # Locked: even the right NIP is refused now, and no attempt is counted any more.
    err = _errcode(
        top_up_codes.redeem_committing_failures,
        factory,
        code=code["code"],
        nip=code["nip"],
        stamping_account_id=cti,
    )
    assert err.code == ErrorCode.CODE_LOCKED
    assert _get(factory, TopUpCode, code["id"], "failed_attempts") == top_up_codes.MAX_NIP_ATTEMPTS
    assert _get(factory, StampingAccount, cti, "balance") == 0
    listed = db.run(factory, top_up_codes.get_code, actor, code["id"])
    assert listed["status"] == "locked"
    # The distributor gets the escrow back by cancelling it.
    db.run(factory, top_up_codes.cancel_code, actor, code["id"])
    assert _get(factory, Account, actor.account_id, "stamps_balance") == 10
    assert_ledger_ok(factory)


def test_plain_redeem_leaves_counting_to_the_caller(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.POINTS, 10)
    c = make_client(factory, actor)
    code = _code(factory, actor, asset="points", quantity=10)
    err = _errcode(
        db.run, factory, top_up_codes.redeem, code=code["code"], nip="!!!!", client_id=c["client"]["id"]
    )
    assert err.code == ErrorCode.INVALID_CREDENTIALS and err.extra["nip_failed"] is True
    assert _get(factory, TopUpCode, code["id"], "failed_attempts") == 0
    counted = db.run(factory, top_up_codes.register_failed_nip, code=code["code"])
    assert counted == {"failed_attempts": 1, "locked": False}
    # A right NIP afterwards still works.
    db.run(factory, top_up_codes.redeem, code=code["code"], nip=code["nip"], client_id=c["client"]["id"])
    assert db.run(factory, top_up_codes.register_failed_nip, code=code["code"]) == {
        "failed_attempts": None,
        "locked": None,
    }


def test_cancel_returns_the_escrow_once(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 10)
    c = make_client(factory, actor)
    code = _code(factory, actor, quantity=10)
    out = db.run(factory, top_up_codes.cancel_code, actor, code["id"])
    assert out["code"]["status"] == "cancelled" and out["code"]["consumed"] is False
    assert out["movement"]["target"] == {"type": "account", "id": actor.account_id}
    assert _get(factory, Account, actor.account_id, "stamps_balance") == 10
    assert_ledger_ok(factory)
    err = _errcode(db.run, factory, top_up_codes.cancel_code, actor, code["id"])
    assert err.code == ErrorCode.ALREADY_REDEEMED
    err = _errcode(
        db.run,
        factory,
        top_up_codes.redeem,
        code=code["code"],
        nip=code["nip"],
        stamping_account_id=c["stamping_account"]["id"],
    )
    assert err.code == ErrorCode.ALREADY_REDEEMED and "cancelado" in err.detail
    assert _get(factory, Account, actor.account_id, "stamps_balance") == 10
    assert_ledger_ok(factory)


def test_cancel_redeemed_and_foreign_codes(factory):
    a = make_distributor(factory)
    b = make_distributor(factory)
    give(factory, a, Asset.POINTS, 10)
    c = make_client(factory, a)
    code = _code(factory, a, asset="points", quantity=10)
    assert _errcode(db.run, factory, top_up_codes.cancel_code, b, code["id"]).code == ErrorCode.NOT_FOUND
    assert _errcode(db.run, factory, top_up_codes.get_code, b, code["id"]).code == ErrorCode.NOT_FOUND
    db.run(factory, top_up_codes.redeem, code=code["code"], nip=code["nip"], client_id=c["client"]["id"])
    assert (
        _errcode(db.run, factory, top_up_codes.cancel_code, a, code["id"]).code == ErrorCode.ALREADY_REDEEMED
    )
    assert db.run(factory, top_up_codes.list_codes, b) == []


def test_list_filters_by_month_asset_and_invoiced(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 10)
    give(factory, actor, Asset.POINTS, 10)
    # 2016-04-30 23:30 in Mexico City is already May in UTC: it belongs to April.
    april = dt.datetime(2016, 5, 1, 5, 30, tzinfo=dt.UTC)
    may = dt.datetime(2016, 5, 1, 6, 30, tzinfo=dt.UTC)
    s1 = _code(factory, actor, quantity=1, now=april)
    p1 = _code(factory, actor, asset="points", quantity=1, now=april)
    s2 = _code(factory, actor, quantity=1, amount_cents=0, now=may)
    ids = lambda **kw: [c["id"] for c in db.run(factory, top_up_codes.list_codes, actor, **kw)]  # noqa: E731
    assert set(ids(year=2016, month=4)) == {s1["id"], p1["id"]}
    assert ids(year=2016, month=5) == [s2["id"]]
    assert ids(year=2016, month=4, asset="points") == [p1["id"]]
    assert set(ids(year=2016)) == {s1["id"], p1["id"], s2["id"]}
    assert ids(year=2017) == []
    assert set(ids(invoiced=False)) == {s1["id"], p1["id"]}  # s2 has no amount
    for kw in ({"month": 13, "year": 2016}, {"month": 4}, {"asset": "gold"}):
        assert (
            _errcode(db.run, factory, top_up_codes.list_codes, actor, **kw).code == ErrorCode.VALIDATION_ERROR
        )


def test_feed_records_code_changes(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 10)
    code = _code(factory, actor, quantity=10)
    db.run(factory, top_up_codes.cancel_code, actor, code["id"])
    with db.transaction(factory) as s:
        rows = s.scalars(
            select(ChangeLog).where(ChangeLog.entity == "top_up_code", ChangeLog.entity_id == code["id"])
        ).all()
        assert {r.account_id for r in rows} == {actor.account_id} and len(rows) >= 2
        loaded = top_up_codes.FEED_LOADERS["top_up_code"](s, [code["id"]])
    assert loaded[code["id"]]["status"] == "cancelled"


@pytest.mark.postgres_only
def test_concurrent_redemptions_exactly_one_wins(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 50)
    c = make_client(factory, actor)
    cti = c["stamping_account"]["id"]
    second = db.run(
        factory,
        clients.create_stamping_account,
        actor,
        c["client"]["id"],
        kind="standard",
        password="Secreto123x",
    )["id"]
    code = _code(factory, actor, quantity=50)
    n = 6
    barrier = threading.Barrier(n)
    results: list[object] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        barrier.wait()
        try:
            out = db.run(
                factory,
                top_up_codes.redeem,
                code=code["code"],
                nip=code["nip"],
                stamping_account_id=cti if i % 2 else second,
            )
            with lock:
                results.append(out)
        except DomainError as e:
            with lock:
                results.append(e.code)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wins = [r for r in results if isinstance(r, dict)]
    assert len(wins) == 1
    assert sorted(map(str, (r for r in results if not isinstance(r, dict)))) == ["already_redeemed"] * (n - 1)
    assert (
        _get(factory, StampingAccount, cti, "balance") + _get(factory, StampingAccount, second, "balance")
        == 50
    )
    assert_ledger_ok(factory)
