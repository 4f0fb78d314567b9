"""Statements with running balances (docs/api.md, "Estados de cuenta"): the account's, a client's and a
CTI's, over whole Mexico City days, in keyset pages that each carry the opening and closing balances."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from cmdesk.server import db
from cmdesk.server.api.deps import CurrentActor, Db, Page, Pagination, decode_cursor, encode_cursor
from cmdesk.server.api.schemas_common import problem_responses
from cmdesk.server.operations import statements
from cmdesk.server.operations.context import Actor

router = APIRouter(tags=["statements"])


class StatementParty(BaseModel):
    type: Literal["account", "client", "stamping_account"]
    id: str
    name: str


class Counterpart(BaseModel):
    type: str = Field(description="account, client, stamping_account, top_up_code, catalog o issued.")
    id: str | None
    name: str


class StatementRow(BaseModel):
    at: dt.datetime
    ref: str = Field(description="«m:<movimiento>», «c:<cargo>» o «d:<día>:<CTI>» (CFDI emitidos ese día).")
    kind: str = Field(examples=["transfer"])
    kind_label: str = Field(examples=["Transferencia"])
    quantity: int
    delta: int = Field(description="Cuánto cambió el saldo: positivo entra, negativo sale.")
    amount_cents: int
    counterpart: Counterpart | None
    stamping_account_id: str | None = Field(description="En los timbres de un cliente: la CTI del renglón.")
    comments: str
    created_by: str
    created_by_name: str
    balance: int = Field(description="El saldo después de este renglón.")


class Statement(BaseModel):
    party: StatementParty
    asset: Literal["stamps", "points", "money"]
    from_: dt.date = Field(alias="from")
    to: dt.date
    opening_balance: int
    closing_balance: int = Field(description="Igual al saldo vivo si el periodo llega a hoy.")
    live_balance: int
    count: int = Field(description="Renglones del periodo (todas las páginas).")
    items: list[StatementRow]
    next_cursor: str | None


def _cursor(value: str | None) -> statements.PageCursor | None:
    if not value:
        return None
    at, ref, *numbers = decode_cursor(value, 7)
    try:
        if not isinstance(ref, str) or any(isinstance(n, bool) or not isinstance(n, int) for n in numbers):
            raise ValueError
        moment = dt.datetime.fromisoformat(str(at))
        if moment.tzinfo is None:
            raise ValueError
    except ValueError:
        decode_cursor("", 7)  # raises the 422 on `cursor`
        raise
    balance, opening, closing, count, live = numbers
    return statements.PageCursor(moment.astimezone(dt.UTC), ref, balance, opening, closing, count, live)


def _statement(factory: db.SessionFactory, actor: Actor, page: Page, **kw: Any) -> dict[str, Any]:
    body, nxt = db.run(
        factory, statements.statement, actor, limit=page.limit, cursor=_cursor(page.cursor), **kw
    )
    body["next_cursor"] = (
        encode_cursor(
            [nxt.at.isoformat(), nxt.ref, nxt.balance, nxt.opening, nxt.closing, nxt.count, nxt.live]
        )
        if nxt
        else None
    )
    return body


From = Annotated[
    dt.date | None,
    Query(alias="from", description="Primer día (Ciudad de México); por omisión el 1.º del mes."),
]
To = Annotated[dt.date | None, Query(description="Último día, incluido; por omisión hoy.")]
RESPONSES = problem_responses(401, 404, 422)


@router.get(
    "/v1/statements/account", response_model=Statement, response_model_by_alias=True, responses=RESPONSES
)
def account_statement(
    actor: CurrentActor,
    factory: Db,
    page: Pagination,
    asset: Literal["stamps", "points", "money"] = "stamps",
    from_: From = None,
    to: To = None,
) -> dict[str, Any]:
    """Estado de cuenta de la Cuenta Maestra: timbres, puntos o dinero cargado, con saldo inicial, cada
    movimiento con el saldo después de él, y saldo final."""
    return _statement(factory, actor, page, party_type="account", asset=asset, first=from_, last=to)


@router.get(
    "/v1/statements/clients/{client_id}",
    response_model=Statement,
    response_model_by_alias=True,
    responses=RESPONSES,
)
def client_statement(
    client_id: Annotated[str, Path(max_length=32)],
    actor: CurrentActor,
    factory: Db,
    page: Pagination,
    asset: Literal["points", "stamps"] = "points",
    from_: From = None,
    to: To = None,
) -> dict[str, Any]:
    """Estado de cuenta de un cliente: sus puntos, o los timbres de sus CTI estándar (abonos y CFDI
    emitidos por día)."""
    return _statement(
        factory, actor, page, party_type="client", party_id=client_id, asset=asset, first=from_, last=to
    )


@router.get(
    "/v1/statements/stamping-accounts/{cti_id}",
    response_model=Statement,
    response_model_by_alias=True,
    responses=RESPONSES,
)
def stamping_account_statement(
    cti_id: Annotated[str, Path(max_length=64)],
    actor: CurrentActor,
    factory: Db,
    page: Pagination,
    from_: From = None,
    to: To = None,
) -> dict[str, Any]:
    """Estado de cuenta de una CTI: abonos, ventas automáticas y CFDI emitidos por día, con su saldo."""
    return _statement(
        factory,
        actor,
        page,
        party_type="stamping_account",
        party_id=cti_id,
        asset="stamps",
        first=from_,
        last=to,
    )
