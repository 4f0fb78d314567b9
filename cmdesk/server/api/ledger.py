"""The ledger (API.md, "Ledger"): transfers, bulk transfers, movements, the catalog and purchases."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cmdesk.server import audit, db, idempotency
from cmdesk.server.api import schemas
from cmdesk.server.api.deps import (
    CurrentActor,
    Db,
    IdempotencyKey,
    Pagination,
    decode_time_cursor,
    encode_cursor,
    idempotent_call,
    json_response,
)
from cmdesk.server.api.schemas_common import problem_responses
from cmdesk.server.breathing import breathing
from cmdesk.server.operations import bulk_transfers, ledger
from cmdesk.server.operations.context import Actor
from cmdesk.server.settings import Settings

if TYPE_CHECKING:
    from cmdesk.server.transfer_fast import Answer, FastTransfer

router = APIRouter(tags=["ledger"])


# A request the transfer lane handed over because the fast path sends it to the general path.
GENERAL_PATH_MARK = "cmdesk.transfer_general"


def _transfer_kwargs(item: schemas.TransferIn) -> dict[str, Any]:
    return {
        "asset": item.asset,
        "target_type": item.target.type,
        "target_id": item.target.id,
        "quantity": item.quantity,
        "amount_cents": item.amount_cents,
        "comments": item.comments,
        "no_charge": item.no_charge,
    }


def _fast(request: Request) -> FastTransfer | None:
    fast: FastTransfer | None = request.app.state.fast_transfer
    return None if request.scope.get(GENERAL_PATH_MARK) else fast


def fast_response(answer: Answer) -> Response:
    """An answer of the fast path as the general path gives it (a stored refusal is problem+json)."""
    if answer.status >= 400:
        return json_response(json.loads(answer.body), answer.status)
    return Response(answer.body, status_code=answer.status, media_type="application/json")


@router.post(
    "/v1/transfers",
    status_code=201,
    response_model=schemas.Movement,
    responses=problem_responses(401, 404, 409, 422),
)
async def transfer(
    body: schemas.TransferIn, actor: CurrentActor, factory: Db, key: IdempotencyKey, request: Request
) -> Response:
    """Transferir timbres (a una CTI estándar o sub-distribuidor) o puntos (a un cliente o
    sub-distribuidor). Irreversible. Con importe, queda «por facturar»."""
    # On PostgreSQL one call to `cmdesk_transfer` (`cmdesk.server.transfer_fast`); otherwise, and for
    # anything the fast path hands back, `ledger.transfer`.
    fast = _fast(request)
    if fast is not None:
        answer = await fast.transfer(fast.caller(actor), key, body.model_dump(mode="json"), audit.current())
        if answer is not None:
            return fast_response(answer)
    return await _general(
        request, factory, actor, key, body, lambda s: ledger.transfer(s, actor, **_transfer_kwargs(body))
    )


async def _general(
    request: Request,
    factory: db.SessionFactory,
    actor: Actor,
    key: str,
    body: Any,
    fn: Callable[[Session], Any],
) -> Response:
    """The general path: `fn` under the idempotency key, in a worker thread."""
    return await run_in_threadpool(
        idempotent_call, request, factory, scope=actor.account_id, key=key, body=body, fn=fn
    )


class BodyOffTheLoop(APIRoute):
    """A route whose JSON body is parsed and validated in a worker thread, not on the event loop.

    FastAPI parses and validates a body on the event loop: for a bulk of 5,000 items 40-50 ms in which
    this worker answers nothing else (another distributor's stamping waited that long). Here the body
    is decoded and validated in a thread (its validators are Python code: the GIL goes to the event
    loop every few milliseconds meanwhile), exactly as FastAPI does it (`json.loads`, then the route's
    own body field), and the model handed to FastAPI as the request's parsed JSON: its validation
    then takes the model as it is (pydantic does not validate a model instance again). Anything that
    does not pass (not JSON, invalid) is left to FastAPI as is, so the answers stay FastAPI's."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        field = self.body_field
        assert field is not None

        async def handle(request: Request) -> Response:
            if _json_content(request.headers.get("content-type")):
                body = await request.body()
                model = await run_in_threadpool(_validated_body, field, body) if body else None
                if model is not None:
                    # What Starlette's `Request.json()` keeps and gives FastAPI, which then validates it.
                    request._json = model  # type: ignore[attr-defined]
            return await handler(request)

        return handle


def _json_content(content_type: str | None) -> bool:
    """Whether FastAPI reads the body as JSON (`application/json` or `application/*+json`)."""
    if not content_type:
        return False
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def _validated_body(field: Any, body: bytes) -> Any:
    """The body as the route's model, as FastAPI would make it; None when FastAPI would refuse it.
    A list of items (a bulk's) is validated item after item (`breathing`), the model then made of the
    items validated (pydantic takes a model instance as it is)."""
    try:
        data = json.loads(body)
    except ValueError:  # not JSON, not UTF-8: FastAPI answers
        return None
    items = data.get("items") if isinstance(data, dict) and data.keys() == {"items"} else None
    if isinstance(items, list) and items and field.field_info.annotation is schemas.BulkTransferIn:
        try:
            data = {"items": [_TRANSFER_IN.validate_python(item) for item in breathing(items)]}
        except ValidationError:  # FastAPI answers, naming the item
            return None
    value, errors = field.validate(data, {}, loc=("body",))
    return None if errors else value


_TRANSFER_IN = TypeAdapter(schemas.TransferIn)


async def bulk_transfer(
    body: schemas.BulkTransferIn, actor: CurrentActor, factory: Db, key: IdempotencyKey, request: Request
) -> Response:
    """Transferencia masiva: todas o ninguna."""
    # On PostgreSQL one call to `cmdesk_bulk_transfer`, set-based; on SQLite in short transactions
    # (`bulk_transfers.begin_bulk_run`), so other distributors' stamping never waits long for the write lock.
    payload = await run_in_threadpool(body.model_dump, mode="json")  # 5,000 items: off the event loop
    fast = _fast(request)
    if fast is not None:
        answer = await fast.bulk(fast.caller(actor), key, payload, audit.current())
        if answer is not None:
            return fast_response(answer)
    items = payload["items"]
    if factory.kw["bind"].dialect.name == "postgresql":
        return await _general(
            request, factory, actor, key, body, lambda s: bulk_transfers.bulk_transfer(s, actor, items)
        )
    return await run_in_threadpool(_bulk_in_steps, request, factory, actor, key, payload)


router.add_api_route(
    "/v1/transfers/bulk",
    bulk_transfer,
    methods=["POST"],
    status_code=201,
    response_model=schemas.BulkTransferOut,
    responses=problem_responses(401, 404, 409, 422),
    route_class_override=BodyOffTheLoop,
)


def _bulk_in_steps(
    request: Request, factory: db.SessionFactory, actor: Actor, key: str, payload: dict[str, Any]
) -> Response:
    plan = bulk_transfers.plan_bulk(factory, actor, payload["items"])  # read before the write lock is taken

    def begin(session: Session) -> tuple[int, Any]:
        run_id = bulk_transfers.begin_bulk_run(session, actor, plan, record_id=idempotency.claim_id(session))
        return 201, {"run": run_id}

    def finish(record_id: int) -> tuple[int, Any]:
        run_id = db.run(factory, bulk_transfers.run_of_claim, record_id)
        answer = bulk_transfers.finish_bulk_run(factory, run_id) if run_id is not None else None
        if answer is not None:
            return 201, answer
        stored = db.run(factory, idempotency.stored_answer, record_id)  # another worker finished it
        if stored is None:
            raise idempotency.in_progress_error()
        return stored

    settings: Settings = request.app.state.settings
    status, answer = idempotency.idempotent(
        factory,
        scope=actor.account_id,
        key=key,
        method=request.method,
        path=request.url.path,
        body=payload,
        fn=begin,
        finish=finish,
        retention_days=settings.idempotency_retention_days,
    )
    if status >= 400 or not isinstance(answer, dict):
        return json_response(answer, status)
    # The answer is JSON-ready (made so by `finish_bulk_run`, or read back from the key): encoded
    # once with orjson. json_response's two passes over 5,000 movements held the GIL for tens of ms
    # in one C call each, keeping this worker's other requests (stamping) waiting.
    return Response(orjson.dumps(answer), status_code=status, media_type="application/json")


@router.get("/v1/movements", response_model=schemas.MovementList, responses=problem_responses(401, 422))
def movements(
    actor: CurrentActor,
    factory: Db,
    page: Pagination,
    client_id: Annotated[str | None, Query(max_length=32)] = None,
    asset: Literal["stamps", "points"] | None = None,
    kind: Literal["purchase", "transfer", "auto_sale", "top_up", "contract", "unlimited_fee"] | None = None,
    invoiced: bool | None = None,
    from_: Annotated[dt.datetime | None, Query(alias="from")] = None,
    to: dt.datetime | None = None,
) -> dict[str, Any]:
    after = None
    if page.cursor:
        after = decode_time_cursor(page.cursor)
    items = db.run(
        factory,
        ledger.list_movements,
        actor,
        client_id=client_id,
        asset=asset,
        kind=kind,
        invoiced=invoiced,
        since=_utc(from_),
        until=_utc(to),
        limit=page.limit + 1,
        after=after,
    )
    nxt = None
    if len(items) > page.limit:
        items = items[: page.limit]
        nxt = encode_cursor([items[-1]["created_at"].isoformat(), items[-1]["id"]])
    return {"items": items, "next_cursor": nxt}


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@router.get("/v1/catalog", response_model=schemas.CatalogOut, responses=problem_responses(401))
def catalog(actor: CurrentActor, factory: Db) -> dict[str, Any]:
    return db.run(factory, ledger.catalog)


@router.post(
    "/v1/purchases",
    status_code=201,
    response_model=schemas.PurchaseOut,
    responses=problem_responses(401, 404, 422),
)
def purchase(
    body: schemas.PurchaseIn, actor: CurrentActor, factory: Db, key: IdempotencyKey, request: Request
) -> Response:
    """Comprar paquetes del catálogo (incancelable e irreversible): abona la cuenta y se carga al
    estado de cuenta."""
    return idempotent_call(
        request,
        factory,
        scope=actor.account_id,
        key=key,
        body=body,
        fn=lambda s: ledger.purchase(s, actor, body.package_id, body.quantity),
    )
