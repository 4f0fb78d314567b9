"""Idempotency-Key: a keyed POST applies once; replays answer the same; reuse and races are 409."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Annotated, Any, Literal

import pytest
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.testclient import TestClient
from pydantic import Field
from sqlalchemy import func, select

from cmdesk.domain.enums import Asset
from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.models import Account, Counter, IdempotencyRecord, Movement, utcnow
from cmdesk.server import db, idempotency
from cmdesk.server.api.deps import CurrentActor, Db, IdempotencyKey, idempotent_call
from cmdesk.server.api.schemas_common import RequestModel
from cmdesk.server.operations import ledger
from tests.server.api.conftest import PASSWORD
from tests.server.helpers import give, make_client, make_distributor


class Target(RequestModel):
    type: str
    id: str


class TransferIn(RequestModel):
    asset: Literal["stamps", "points"]
    target: Target
    quantity: Annotated[int, Field(gt=0)]
    amount_cents: Annotated[int, Field(ge=0)] = 0
    comments: str = ""


def _router() -> APIRouter:
    router = APIRouter()

    @router.post("/test/transfers", status_code=201)
    def create_transfer(
        body: TransferIn, actor: CurrentActor, factory: Db, key: IdempotencyKey, request: Request
    ) -> Response:
        return idempotent_call(
            request,
            factory,
            scope=actor.account_id,
            key=key,
            body=body,
            fn=lambda s: ledger.transfer(
                s,
                actor,
                asset=body.asset,
                target_type=body.target.type,
                target_id=body.target.id,
                quantity=body.quantity,
                amount_cents=body.amount_cents,
                comments=body.comments,
            ),
        )

    @router.post("/test/other", status_code=201)
    def other(
        body: TransferIn, actor: CurrentActor, factory: Db, key: IdempotencyKey, request: Request
    ) -> Response:
        return idempotent_call(request, factory, scope=actor.account_id, key=key, body=body, fn=lambda s: {})

    return router


@pytest.fixture
def tc(app: FastAPI):
    app.include_router(_router())
    with TestClient(app) as c:
        yield c


@pytest.fixture
def world(factory, tc, auth_headers):
    actor = make_distributor(factory, email="ana@example.com", password=PASSWORD)
    client = make_client(factory, actor)
    return {
        "actor": actor,
        "cti": client["stamping_account"]["id"],
        "headers": auth_headers("ana@example.com"),
    }


def transfer_body(cti: str, quantity: int = 3) -> dict[str, Any]:
    return {
        "asset": "stamps",
        "target": {"type": "stamping_account", "id": cti},
        "quantity": quantity,
        "amount_cents": 1500,
        "comments": "venta",
    }


def post(tc, world, body, key: str | None, path: str = "/test/transfers"):
    headers = dict(world["headers"])
    if key is not None:
        headers["Idempotency-Key"] = key
    return tc.post(path, json=body, headers=headers)


def stamps_of(factory, account_id: str) -> int:
    with db.transaction(factory) as s:
        return int(s.scalar(select(Account.stamps_balance).where(Account.id == account_id)))


def transfers(factory) -> int:
    with db.transaction(factory) as s:
        return int(s.scalar(select(func.count()).select_from(Movement).where(Movement.kind == "transfer")))


def test_same_key_same_body_replays_the_first_answer(factory, tc, world):
    give(factory, world["actor"], Asset.STAMPS, 10)
    first = post(tc, world, transfer_body(world["cti"]), "key-1")
    assert first.status_code == 201, first.text
    assert first.headers["content-type"] == "application/json"
    again = post(tc, world, transfer_body(world["cti"]), "key-1")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert first.json()["created_at"].endswith("Z")
    # The same body with its keys in another order is the same request.
    reordered = dict(reversed(list(transfer_body(world["cti"]).items())))
    assert post(tc, world, reordered, "key-1").json()["id"] == first.json()["id"]
    assert stamps_of(factory, world["actor"].account_id) == 7
    assert transfers(factory) == 1


def test_same_key_other_body_is_409_reused(factory, tc, world):
    give(factory, world["actor"], Asset.STAMPS, 10)
    assert post(tc, world, transfer_body(world["cti"], 3), "key-2").status_code == 201
    response = post(tc, world, transfer_body(world["cti"], 4), "key-2")
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency_key_reused"
    # Nor may the key be used on another route.
    assert post(tc, world, transfer_body(world["cti"], 3), "key-2", "/test/other").json()["code"] == (
        "idempotency_key_reused"
    )
    assert stamps_of(factory, world["actor"].account_id) == 7


def test_a_rejection_stays_rejected(factory, tc, world):
    first = post(tc, world, transfer_body(world["cti"], 5), "key-3")
    assert first.status_code == 409
    assert first.headers["content-type"] == "application/problem+json"
    assert first.json()["code"] == "insufficient_balance"
    give(factory, world["actor"], Asset.STAMPS, 10)
    again = post(tc, world, transfer_body(world["cti"], 5), "key-3")
    assert again.status_code == 409 and again.json() == first.json()
    assert again.headers["content-type"] == "application/problem+json"
    assert post(tc, world, transfer_body(world["cti"], 5), "key-4").status_code == 201
    assert stamps_of(factory, world["actor"].account_id) == 5


def test_keys_of_two_accounts_do_not_collide(factory, tc, world, auth_headers):
    other = make_distributor(factory, email="beto@example.com", password=PASSWORD)
    other_cti = make_client(factory, other)["stamping_account"]["id"]
    give(factory, world["actor"], Asset.STAMPS, 5)
    give(factory, other, Asset.STAMPS, 5)
    assert post(tc, world, transfer_body(world["cti"], 1), "shared").status_code == 201
    beto = {"headers": auth_headers("beto@example.com")}
    response = post(tc, beto, transfer_body(other_cti, 2), "shared")
    assert response.status_code == 201, response.text
    assert stamps_of(factory, other.account_id) == 3


@pytest.mark.parametrize(
    ("key", "problem"),
    [(None, "requiere"), ("", "64"), ("x" * 65, "64"), ("clave con espacios", "64"), ("ñandú", "64")],
)
def test_the_key_is_required_and_checked(factory, tc, world, key, problem):
    give(factory, world["actor"], Asset.STAMPS, 5)
    headers = dict(world["headers"])
    if key is not None:
        headers["Idempotency-Key"] = key.encode("utf-8")
    response = tc.post("/test/transfers", json=transfer_body(world["cti"]), headers=headers)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["errors"][0]["field"] == "Idempotency-Key"
    assert problem in body["errors"][0]["message"]
    assert transfers(factory) == 0


def test_a_64_character_key_is_fine(factory, tc, world):
    give(factory, world["actor"], Asset.STAMPS, 5)
    assert post(tc, world, transfer_body(world["cti"]), "k" * 64).status_code == 201


# ---------------------------------------------------------------------------------------------------
# The helper itself


def _bump(name: str) -> Any:
    """An operation with an effect: counts its runs in a `Counter` row."""

    def fn(session) -> tuple[int, dict[str, Any]]:
        row = session.get(Counter, name)
        if row is None:
            session.add(Counter(name=name, value=1))
            session.flush()
            value = 1
        else:
            row.value += 1
            value = row.value
        return 201, {"runs": value, "at": utcnow()}

    return fn


def runs(factory, name: str) -> int:
    with db.transaction(factory) as s:
        row = s.get(Counter, name)
        return row.value if row else 0


def call(factory, fn, key="k", body=None, **kw):
    return idempotency.idempotent(
        factory, scope="acc", key=key, method="POST", path="/v1/x", body=body or {"a": 1}, fn=fn, **kw
    )


def test_helper_runs_once_and_replays_json(factory):
    status, body = call(factory, _bump("c"))
    assert status == 201 and body["runs"] == 1 and body["at"].endswith("Z")
    assert call(factory, _bump("c")) == (201, body)
    assert runs(factory, "c") == 1


def test_effect_and_stored_rejection_are_atomic(factory):
    def fail_after_effect(session):
        _bump("atomic")(session)
        raise DomainError(ErrorCode.INSUFFICIENT_BALANCE, "No alcanza.")

    status, body = call(factory, fail_after_effect)
    assert status == 409 and body["code"] == "insufficient_balance" and body["detail"] == "No alcanza."
    assert runs(factory, "atomic") == 0  # the effect was rolled back
    assert call(factory, _bump("atomic")) == (status, body)  # and the rejection is what the key keeps
    assert runs(factory, "atomic") == 0


def test_unexpected_error_releases_the_key(factory):
    def crash(session):
        _bump("crash")(session)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        call(factory, crash)
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
    assert call(factory, _bump("crash"))[1]["runs"] == 1


def _leave_claim(factory, age: dt.timedelta, body=None) -> None:
    now = utcnow()
    with db.transaction(factory) as s:
        s.add(
            IdempotencyRecord(
                scope="acc",
                key="k",
                request_hash=idempotency.request_hash("POST", "/v1/x", body or {"a": 1}),
                method="POST",
                path="/v1/x",
                completed=False,
                created_at=now - age,
                expires_at=now + dt.timedelta(days=90),
            )
        )


def test_a_running_claim_answers_in_progress(factory):
    _leave_claim(factory, dt.timedelta(seconds=5))
    with pytest.raises(DomainError) as info:
        call(factory, _bump("p"))
    assert info.value.code == ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS and info.value.status == 409
    assert runs(factory, "p") == 0
    # A different body with a running key is a reuse.
    with pytest.raises(DomainError) as info:
        call(factory, _bump("p"), body={"a": 2})
    assert info.value.code == ErrorCode.IDEMPOTENCY_KEY_REUSED


def test_a_stale_claim_is_taken_over(factory):
    _leave_claim(factory, dt.timedelta(seconds=idempotency.STALE_CLAIM_SECONDS + 1))
    assert call(factory, _bump("s"))[1]["runs"] == 1
    assert call(factory, _bump("s"))[1]["runs"] == 1
    assert runs(factory, "s") == 1


def test_records_expire_and_are_purged(factory):
    call(factory, _bump("e"), key="old", now=utcnow() - dt.timedelta(days=91))
    call(factory, _bump("e"), key="new")
    with db.transaction(factory) as s:
        assert idempotency.purge(s) == 1
        keys = s.scalars(select(IdempotencyRecord.key)).all()
    assert keys == ["new"]
    with db.transaction(factory) as s:
        expires = s.scalar(select(IdempotencyRecord.expires_at))
    assert expires - utcnow() > dt.timedelta(days=89)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ({"x": 1, "y": [1, 2]}, {"y": [1, 2], "x": 1}, True),
        (b'{"x": 1,  "y": 2}', {"y": 2, "x": 1}, True),
        ({"x": 1}, {"x": 2}, False),
        ({"x": 1}, {"x": "1"}, False),
        (b"not json", b"not json", True),
        (b"not json", b"not json!", False),
        (None, b"", True),
    ],
)
def test_request_hash(a, b, same):
    assert (
        idempotency.request_hash("POST", "/v1/x", a) == idempotency.request_hash("POST", "/v1/x", b)
    ) is same
    assert idempotency.request_hash("POST", "/v1/x", a) != idempotency.request_hash("POST", "/v1/y", a)


# ---------------------------------------------------------------------------------------------------
# Real concurrency


@pytest.mark.postgres_only
def test_concurrent_request_with_the_key_is_409_in_progress(factory):
    started, release = threading.Event(), threading.Event()
    result: dict[str, Any] = {}

    def slow(session):
        started.set()
        assert release.wait(20)
        return _bump("slow")(session)

    worker = threading.Thread(target=lambda: result.update(answer=call(factory, slow)))
    worker.start()
    try:
        assert started.wait(20)
        with pytest.raises(DomainError) as info:
            call(factory, _bump("slow"))
        assert info.value.code == ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS
    finally:
        release.set()
        worker.join(20)
    assert result["answer"][1]["runs"] == 1
    assert call(factory, _bump("slow")) == result["answer"]
    assert runs(factory, "slow") == 1


@pytest.mark.postgres_only
def test_many_concurrent_retries_apply_once(factory, tc, world):
    give(factory, world["actor"], Asset.STAMPS, 100)
    barrier = threading.Barrier(8)
    answers: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()

    def attempt():
        barrier.wait(10)
        response = post(tc, world, transfer_body(world["cti"], 2), "race")
        with lock:
            answers.append((response.status_code, response.json()))

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(answers) == 8
    ok = [body for status, body in answers if status == 201]
    busy = [body for status, body in answers if status == 409]
    assert ok and len(ok) + len(busy) == 8
    assert {body["id"] for body in ok} == {ok[0]["id"]}
    assert all(body["code"] == "idempotency_key_in_progress" for body in busy)
    assert stamps_of(factory, world["actor"].account_id) == 98
    assert transfers(factory) == 1


@pytest.mark.parametrize("code", [ErrorCode.SERVER_BUSY, ErrorCode.TOO_MANY_ATTEMPTS])
def test_a_refusal_to_try_again_later_is_not_kept(factory, code):
    """503 server busy and 429 too many attempts ask the client to try again: the key is released, and
    the next try with it runs the operation (a stored 503 would answer every retry forever)."""

    def not_now(session):
        _bump("later")(session)
        raise DomainError(code, "Intente de nuevo en un momento.")

    with pytest.raises(DomainError) as info:
        call(factory, not_now, key=str(code))
    assert info.value.code == code
    assert runs(factory, "later") == 0  # rolled back
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
    assert call(factory, _bump("later"), key=str(code))[1]["runs"] == 1
    assert call(factory, _bump("later"), key=str(code))[1]["runs"] == 1  # and that answer is kept
