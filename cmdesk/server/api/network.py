"""The network tree (docs/api.md, "Red de distribuidores"): `GET /v1/network`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from cmdesk.domain import network as rules
from cmdesk.server import db
from cmdesk.server.api.deps import CurrentActor, Db, Pagination
from cmdesk.server.api.distributors import offset_page
from cmdesk.server.api.schemas_common import problem_responses
from cmdesk.server.operations import network

router = APIRouter(tags=["distributors"])


class Totals(BaseModel):
    stamps: int
    points: int
    clients: int
    stamping_accounts: int
    distributors: int = Field(description="Sub-distribuidores debajo (en la rama, sin contar el propio).")
    attention: int = Field(description="Cuántos de la rama (incluido el propio) requieren atención.")


class Attention(BaseModel):
    code: Literal["expired", "expiring", "unvalidated", "inactive", "cancelled"]
    label: str


class Balances(BaseModel):
    stamps: int
    points: int


class NetworkNode(BaseModel):
    id: str
    nic: str
    name: str
    parent_id: str | None
    depth: int = Field(description="1: sub-distribuidor propio; 2: de uno propio; ...")
    children: int
    status: str
    status_label: str
    expires_at: dt.datetime
    created_at: dt.datetime
    purge_at: dt.datetime | None
    admin_email: str | None
    balances: Balances
    clients: int
    stamping_accounts: int
    attention: list[Attention]
    branch: Totals = Field(description="Totales del nodo y todo lo que tiene debajo.")


class NetworkRoot(BaseModel):
    id: str
    nic: str
    name: str
    network: Totals


class Network(BaseModel):
    root: NetworkRoot
    items: list[NetworkNode]
    next_cursor: str | None


@router.get("/v1/network", response_model=Network, responses=problem_responses(401, 422))
def network_tree(
    actor: CurrentActor,
    factory: Db,
    page: Pagination,
    unvalidated_days: Annotated[
        int, Query(ge=0, le=365, description="«Sin validar» requiere atención después de estos días.")
    ] = rules.UNVALIDATED_DAYS,
    expiring_days: Annotated[
        int, Query(ge=0, le=365, description="«Por vencer»: vence dentro de estos días.")
    ] = rules.EXPIRING_DAYS,
) -> dict[str, Any]:
    """La red: los sub-distribuidores como árbol (los suyos debajo de cada uno, hasta donde la cuenta
    ve), en orden de profundidad, con saldos, clientes y CTI, totales por rama y los estados que
    requieren atención (vencido, por vencer, sin validar por más de N días, sin activar, cancelado)."""
    tree = db.run(
        factory, network.network_tree, actor, unvalidated_days=unvalidated_days, expiring_days=expiring_days
    )
    return {"root": tree["root"], **offset_page(tree["items"], page)}
