"""The transfer fast path (PostgreSQL function `cmdesk_transfer`) keeps every rule of the general path.

Each scenario runs twice on PostgreSQL: through `FastTransfer` (as the routes call it, falling back
to the general path when it answers None) and through the general path alone (`ledger.transfer` /
`bulk_transfers.bulk_transfer` under `idempotency.idempotent`, as the routes run them). Both must give the
same answers — statuses, bodies, refusals word for word — and leave the same rows behind: balances,
versions, the movements and the feed entries.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from cmdesk.domain.enums import Asset
from cmdesk.domain.errors import DomainError
from cmdesk.models import (
    Account,
    IdempotencyRecord,
    Movement,
    RefreshToken,
)
from cmdesk.server import db, idempotency, security
from cmdesk.server.api.errors import domain_problem
from cmdesk.server.operations import bulk_transfers, ledger
from cmdesk.server.operations.context import Actor
from cmdesk.server.transfer_fast import Caller, FastTransfer, TokenCache, authorize
from tests.server.helpers import assert_ledger_ok, give
from tests.server.transfer_helpers import (
    add_refused_targets,
    points,
    stamps,
    state,
    sub_distributor,
    to_sub,
    world,
)

pytestmark = pytest.mark.postgres_only

Answer = tuple[int, dict[str, Any]]


class Transferer:
    """Transfers through one path, answering (status, body) as the API would."""

    def __init__(self, path: str, engine: Engine, factory: db.SessionFactory) -> None:
        self.path = path
        self.factory = factory
        self.fast = FastTransfer(engine.url.render_as_string(hide_password=False))
        self.runner = asyncio.Runner()
        self.fallbacks = 0

    def _fast(self, coro: Any) -> Answer | None:
        try:
            answer = self.runner.run(coro)
        except DomainError as exc:
            return exc.status, domain_problem(exc)
        if answer is None:
            self.fallbacks += 1
            return None
        return answer.status, json.loads(answer.body)

    def _general(self, actor: Actor, key: str, path: str, payload: Any, fn: Any) -> Answer:
        try:
            return idempotency.idempotent(
                self.factory,
                scope=actor.account_id,
                key=key,
                method="POST",
                path=path,
                body=payload,
                fn=lambda s: (201, fn(s)),
            )
        except DomainError as exc:
            return exc.status, domain_problem(exc)

    def __call__(self, actor: Actor, key: str, item: dict[str, Any], session: str | None = None) -> Answer:
        item = {"amount_cents": 0, "comments": "", **item}
        if self.path == "fast":
            answer = self._fast(
                self.fast.transfer(Caller(actor.account_id, actor.profile_id, session), key, item)
            )
            if answer is not None:
                return answer

        def fn(s: Any) -> dict[str, Any]:
            target = item["target"]
            return ledger.transfer(
                s,
                actor,
                asset=item["asset"],
                target_type=target["type"],
                target_id=target["id"],
                quantity=item["quantity"],
                amount_cents=item["amount_cents"],
                comments=item["comments"],
            )

        return self._general(actor, key, "/v1/transfers", item, fn)

    def bulk(self, actor: Actor, key: str, items: list[dict[str, Any]]) -> Answer:
        body = {"items": [{"amount_cents": 0, "comments": "", **i} for i in items]}
        if self.path == "fast":
            answer = self._fast(self.fast.bulk(Caller(actor.account_id, actor.profile_id), key, body))
            if answer is not None:
                return answer
        return self._general(
            actor,
            key,
            "/v1/transfers/bulk",
            body,
            lambda s: bulk_transfers.bulk_transfer(s, actor, body["items"]),
        )

    def close(self) -> None:
        self.runner.run(self.fast.close())
        self.runner.close()


@pytest.fixture(params=["fast", "general"])
def move(request: pytest.FixtureRequest, engine: Engine, factory: db.SessionFactory) -> Iterator[Transferer]:
    t = Transferer(request.param, engine, factory)
    yield t
    t.close()


def strip(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("id", "created_at")}


def test_stamps_to_a_cti_are_a_sale_and_the_key_replays(move: Transferer, factory: db.SessionFactory) -> None:
    w = world(factory)
    actor, cti = w["actor"], w["ctis"][0]
    status, body = move(actor, "k-1", stamps(cti, 40, amount_cents=26000, comments="  timbres a granel "))
    assert status == 201
    assert strip(body) == {
        "version": 1,
        "kind": "transfer",
        "asset": "stamps",
        "quantity": 40,
        "amount_cents": 26000,
        "source": {"type": "account", "id": actor.account_id},
        "target": {"type": "stamping_account", "id": cti},
        "client_id": w["clients"][0],
        "account_id": actor.account_id,
        "comments": "timbres a granel",
        "created_by": actor.profile_id,
        "invoice_id": None,
        "top_up_code_id": None,
        "contract_id": None,
    }
    assert dt.datetime.fromisoformat(body["created_at"].replace("Z", "+00:00")).tzinfo is not None
    # The same key and body: the same answer, nothing moves again.
    assert move(actor, "k-1", stamps(cti, 40, amount_cents=26000, comments="  timbres a granel ")) == (
        201,
        body,
    )
    after = state(factory, actor)
    assert after["account"][0] == 60 and after["ctis"][cti][:2] == (40, 40)
    assert len(after["movements"]) == 1
    # Another body with the key: 409 reused.
    status, problem = move(actor, "k-1", stamps(cti, 41))
    assert (status, problem["code"]) == (409, "idempotency_key_reused")
    with db.transaction(factory) as s:
        sale = s.get(Movement, body["id"])
        assert sale is not None and sale.invoice_id is None and sale.amount_cents == 26000  # por facturar
    assert_ledger_ok(factory)


def test_both_paths_leave_the_same_rows(engine: Engine, factory: db.SessionFactory) -> None:
    """The same transfers, once per path: the same balances, versions, movements and feed."""
    results = []
    for path in ("fast", "general"):
        t = Transferer(path, engine, factory)
        try:
            w = world(factory, stamps_held=500, points_held=300)
            actor = w["actor"]
            sub = sub_distributor(factory, actor)
            answers = [
                t(actor, "a", stamps(w["ctis"][0], 10, amount_cents=500)),
                t(actor, "b", stamps(w["ctis"][0], 5)),
                t(actor, "c", points(w["clients"][1], 30, amount_cents=3000)),
                t(actor, "d", to_sub(sub, "stamps", 7)),
                t(actor, "e", to_sub(sub, "points", 8)),
                t.bulk(
                    actor,
                    "f",
                    [
                        stamps(w["ctis"][1], 3),
                        stamps(w["ctis"][0], 4),
                        points(w["clients"][0], 2),
                        to_sub(sub, "stamps", 1),
                        stamps(w["ctis"][1], 6, comments="otra vez"),
                    ],
                ),
            ]
            snapshot = state(factory, actor)
            # Ids differ from one world to the other: compare the shapes by position.
            results.append(
                (
                    [a[0] for a in answers],
                    snapshot["account"],
                    sorted(snapshot["ctis"].values()),
                    sorted(snapshot["clients"].values()),
                    sorted(snapshot["subs"].values()),
                    [(*m[:4], m[6]) for m in snapshot["movements"]],
                    sorted(
                        (a == actor.account_id, e, i in (actor.account_id, sub))
                        for a, e, i in snapshot["feed"]
                    ),
                )
            )
            assert t.fallbacks == 0
        finally:
            t.close()
    assert results[0] == results[1]
    assert results[0][0] == [201] * 6
    assert_ledger_ok(factory)


@pytest.mark.parametrize(
    ("make_item", "code", "detail"),
    [
        (lambda w, o: stamps(o["ctis"][0], 1), "not_found", "La cuenta de timbrado no existe."),
        (lambda w, o: points(o["clients"][0], 1), "not_found", "El cliente no existe."),
        (lambda w, o: to_sub(o["actor"].account_id, "stamps", 1), "not_found", "El distribuidor no existe."),
        (
            lambda w, o: stamps(w["unlimited"], 1),
            "validation_error",
            "Las cuentas de timbrado ilimitadas no tienen saldo de timbres; no se les transfieren timbres.",
        ),
        (
            lambda w, o: to_sub(w["cancelled"], "stamps", 1),
            "invalid_state_transition",
            "No se puede transferir a un distribuidor cancelado o sin validar.",
        ),
        # A target refused and a balance short at once: the target's refusal, as the reference meets them.
        (lambda w, o: stamps(o["ctis"][0], 101), "not_found", "La cuenta de timbrado no existe."),
        (
            lambda w, o: to_sub(w["cancelled"], "stamps", 101),
            "invalid_state_transition",
            "No se puede transferir a un distribuidor cancelado o sin validar.",
        ),
        (
            lambda w, o: stamps(w["ctis"][0], 101),
            "insufficient_balance",
            "Saldo insuficiente: no hay 101 timbres disponibles para esta operación.",
        ),
    ],
)
def test_refusals_change_nothing_and_stay_refused(
    move: Transferer, factory: db.SessionFactory, make_item: Any, code: str, detail: str
) -> None:
    w, other = world(factory), world(factory)
    actor = w["actor"]
    add_refused_targets(factory, w)
    before = state(factory, actor)
    status, problem = move(actor, "refused", make_item(w, other))
    assert (problem["code"], problem["detail"]) == (code, detail)
    assert status == problem["status"]
    assert state(factory, actor) == before
    # Stored: the same request again answers the same refusal, even once it would pass.
    give(factory, actor, Asset.STAMPS, 500)
    assert move(actor, "refused", make_item(w, other)) == (status, problem)
    assert_ledger_ok(factory)


def test_a_refused_bulk_names_the_item_the_reference_meets_first(
    move: Transferer, factory: db.SessionFactory
) -> None:
    w = world(factory, stamps_held=100)
    actor, (a, b) = w["actor"], w["ctis"]
    before = state(factory, actor)
    # Item 2 empties the balance before item 3's unknown CTI is met.
    status, problem = move.bulk(actor, "b1", [stamps(a, 60), stamps(b, 50), stamps("NO-EXISTE", 1)])
    assert (status, problem["code"]) == (409, "insufficient_balance")
    assert problem["detail"] == (
        "Transferencia 2: Saldo insuficiente: no hay 50 timbres disponibles para esta operación. "
        "No se aplicó ninguna transferencia."
    )
    assert problem["errors"] == [
        {"field": "items[1]", "message": problem["detail"].split(": ", 1)[1].split(" No se")[0]}
    ]
    assert (problem["asset"], problem["quantity"]) == ("stamps", 50)
    # The unknown CTI comes first now.
    status, problem = move.bulk(actor, "b2", [stamps(a, 60), stamps("NO-EXISTE", 1), stamps(b, 50)])
    assert (status, problem["code"], problem["errors"][0]["field"]) == (404, "not_found", "items[1]")
    assert (
        problem["detail"]
        == "Transferencia 2: La cuenta de timbrado no existe. No se aplicó ninguna transferencia."
    )
    assert state(factory, actor) == before
    status, body = move.bulk(actor, "b3", [stamps(a, 60), stamps(b, 40)])
    assert status == 201 and [m["quantity"] for m in body["movements"]] == [60, 40]
    assert move.bulk(actor, "b3", [stamps(a, 60), stamps(b, 40)]) == (status, body)
    assert state(factory, actor)["account"][0] == 0
    assert_ledger_ok(factory)


def test_claims_in_progress_and_stale_claims(move: Transferer, factory: db.SessionFactory) -> None:
    w = world(factory)
    actor, cti = w["actor"], w["ctis"][0]
    item = {"amount_cents": 0, "comments": "", **stamps(cti, 2)}
    digest = idempotency.request_hash("POST", "/v1/transfers", item)
    now = dt.datetime.now(dt.UTC)
    with db.transaction(factory) as s:
        for key, age in (("running", 1), ("stale", idempotency.STALE_CLAIM_SECONDS + 5)):
            s.add(
                IdempotencyRecord(
                    scope=actor.account_id,
                    key=key,
                    request_hash=digest,
                    method="POST",
                    path="/v1/transfers",
                    completed=False,
                    created_at=now - dt.timedelta(seconds=age),
                    expires_at=now + dt.timedelta(days=1),
                )
            )
    status, problem = move(actor, "running", stamps(cti, 2))
    assert (status, problem["code"]) == (409, "idempotency_key_in_progress")
    status, body = move(actor, "stale", stamps(cti, 2))  # a dead worker's claim: taken over
    assert status == 201 and body["quantity"] == 2
    assert move(actor, "stale", stamps(cti, 2)) == (201, body)
    assert state(factory, actor)["account"][0] == 98


def test_the_database_checks_the_session_on_every_call(engine: Engine, factory: db.SessionFactory) -> None:
    """Fast path only: a revoked session, a profile out of the account, an account not active go to the
    general path (which refuses them); nothing is applied by the fast path then."""
    t = Transferer("fast", engine, factory)
    try:
        w = world(factory)
        actor, cti = w["actor"], w["ctis"][0]
        caller = Caller(actor.account_id, actor.profile_id, "family-1")
        item = {"amount_cents": 0, "comments": "", **stamps(cti, 1)}
        assert t.runner.run(t.fast.transfer(caller, "s1", item)) is not None
        with db.transaction(factory) as s:
            s.add(
                RefreshToken(
                    token_hash="x" * 64,
                    family_id="family-1",
                    profile_id=actor.profile_id,
                    account_id=actor.account_id,
                    expires_at=dt.datetime.now(dt.UTC),
                    revoked_at=dt.datetime.now(dt.UTC),
                )
            )
        assert t.runner.run(t.fast.transfer(caller, "s2", item)) is None  # logged out: refused at once
        other = world(factory)["actor"]
        stranger = Caller(actor.account_id, other.profile_id, "family-2")
        assert t.runner.run(t.fast.transfer(stranger, "s3", item)) is None
        fresh = Caller(actor.account_id, actor.profile_id, "family-3")
        assert t.runner.run(t.fast.transfer(fresh, "s4", item)) is not None
        with db.transaction(factory) as s:
            s.execute(update(Account).where(Account.id == actor.account_id).values(status="suspended"))
        assert t.runner.run(t.fast.transfer(fresh, "s5", item)) is None  # suspended: the general path
        with db.transaction(factory) as s:
            keys = set(
                s.scalars(select(IdempotencyRecord.key).where(IdempotencyRecord.scope == actor.account_id))
            )
        assert keys == {"s1", "s4"}
        assert state(factory, actor)["account"][0] == 98
    finally:
        t.close()


def test_tokens_are_verified_once_per_worker_and_expire() -> None:
    key = security.derive_key("secreto", "cmdesk access token v1")
    token, claims = security.issue_access_token(
        key, profile_id="p", account_id="a", session_id="s", lifetime=dt.timedelta(minutes=15)
    )
    cache = TokenCache(max_entries=2)
    assert authorize(cache, key, token) == claims
    assert authorize(cache, key, token) == claims and len(cache) == 1
    assert authorize(cache, security.derive_key("otro", "cmdesk access token v1"), token) is None
    assert authorize(cache, key, token + "x") is None
    assert cache.claims(key, token, claims.expires_at) is None  # expired: the route answers token_expired
    for n in range(3):
        other, _ = security.issue_access_token(
            key, profile_id=f"p{n}", account_id="a", session_id="s", lifetime=dt.timedelta(minutes=1)
        )
        authorize(cache, key, other)
    assert len(cache) == 2


def test_concurrent_transfers_never_overdraw(engine: Engine, factory: db.SessionFactory) -> None:
    """50 transfers at once on 30 stamps, on one event loop and one pool of 10 connections; and 10
    requests at once with one key apply once."""
    w = world(factory, stamps_held=30)
    actor, cti = w["actor"], w["ctis"][0]
    fast = FastTransfer(engine.url.render_as_string(hide_password=False))
    caller = Caller(actor.account_id, actor.profile_id)
    item = {"amount_cents": 0, "comments": "", **stamps(cti, 1)}

    async def one(key: str) -> str:
        try:
            answer = await fast.transfer(caller, key, item)
        except DomainError as e:
            return e.code.value
        assert answer is not None
        return "ok" if answer.status == 201 else json.loads(answer.body)["code"]

    async def run() -> tuple[list[str], list[str]]:
        try:
            spread = list(await asyncio.gather(*(one(f"k{i}") for i in range(50))))
            give(factory, actor, Asset.STAMPS, 1)
            same = list(await asyncio.gather(*(one("same") for _ in range(10))))
            return spread, same
        finally:
            await fast.close()

    spread, same = asyncio.run(run())
    assert spread.count("ok") == 30 and spread.count("insufficient_balance") == 20
    assert same == ["ok"] * 10
    assert state(factory, actor)["ctis"][cti][0] == 31
    assert_ledger_ok(factory)


def test_a_bulk_from_many_threads_and_transfers_agree(engine: Engine, factory: db.SessionFactory) -> None:
    """A bulk and single transfers of the same distributor at once: the balance row serializes them."""
    w = world(factory, stamps_held=1000)
    actor, (a, b) = w["actor"], w["ctis"]
    t = Transferer("fast", engine, factory)
    errors: list[BaseException] = []

    def singles() -> None:
        try:
            u = Transferer("fast", engine, factory)
            for i in range(20):
                assert u(actor, f"one-{i}", stamps(b, 1))[0] == 201
            u.close()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    thread = threading.Thread(target=singles)
    thread.start()
    status, body = t.bulk(actor, "bulk", [stamps(a, 1)] * 500)
    thread.join()
    t.close()
    assert not errors and status == 201 and len(body["movements"]) == 500
    assert state(factory, actor)["account"][0] == 1000 - 520
    assert_ledger_ok(factory)
