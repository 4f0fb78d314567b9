"""The bitácora (audit log): `GET /v1/audit` and `GET /v1/audit/{id}` (docs/api.md, "Bitácora").

Records are written by `cmdesk.server.audit` in the transaction of each operation; this router only
reads them, filtered by entity, profile, action and period, newest first, with the project's cursor pages.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from cmdesk.server import db
from cmdesk.server.api.deps import CurrentActor, Db, Pagination, decode_cursor, encode_cursor
from cmdesk.server.api.schemas_common import problem_responses
from cmdesk.server.audit import reader

router = APIRouter(tags=["audit"])

EntityName = reader.EntityType


class AuditProfile(BaseModel):
    id: str
    name: str
    email: str


class AuditRecordOut(BaseModel):
    id: int
    created_at: dt.datetime
    account_id: str = Field(description="De quién es la bitácora (la cuenta que actuó).")
    profile: AuditProfile | None = Field(
        description="Quién actuó; null en operaciones públicas (canje, registro) y del sistema."
    )
    device: str = Field(description="El equipo (`X-Cmdesk-Device`, o el User-Agent).")
    ip: str
    action: str = Field(examples=["client.update"])
    action_label: str = Field(examples=["Modificación de cliente"])
    route: str = Field(examples=["PATCH /v1/clients/{client_id}"])
    entity: str = Field(description="Tipo de la entidad principal.", examples=["client"])
    entity_id: str
    reason: str = Field(description="El motivo que dio el usuario (`X-Cmdesk-Reason`), o vacío.")
    before: dict[str, Any] | None = Field(
        description="Campos de la entidad antes: sólo los que cambiaron; null si se creó."
    )
    after: dict[str, Any] | None = Field(description="Campos después; todos si se creó; null si se eliminó.")
    changes_count: int = Field(description="Cuántas otras entidades cambió la operación (ver el detalle).")


class AuditChange(BaseModel):
    entity: str
    id: str
    op: Literal["create", "update", "delete"]
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditSubjectOut(BaseModel):
    entity: str
    id: str


class AuditRecordDetail(AuditRecordOut):
    changes: list[AuditChange]
    subjects: list[AuditSubjectOut]


class AuditList(BaseModel):
    items: list[AuditRecordOut]
    next_cursor: str | None


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _after(cursor: str | None) -> tuple[dt.datetime, int] | None:
    if not cursor:
        return None
    at, ident = decode_cursor(cursor, 2)
    try:
        if isinstance(ident, bool) or not isinstance(ident, int):
            raise ValueError
        moment = _utc(dt.datetime.fromisoformat(str(at)))
    except ValueError:
        decode_cursor("", 2)  # raises the 422 on `cursor`
        raise
    assert moment is not None
    return moment, ident


@router.get("/v1/audit", response_model=AuditList, responses=problem_responses(401, 404, 422))
def list_audit(
    actor: CurrentActor,
    factory: Db,
    page: Pagination,
    entity: Annotated[
        EntityName | None,
        Query(
            description="Registros cuya entidad principal es de este tipo; con `entity_id`: su historial."
        ),
    ] = None,
    entity_id: Annotated[
        str | None,
        Query(max_length=64, description="El historial de una entidad: todo registro que la tocó."),
    ] = None,
    profile_id: Annotated[str | None, Query(max_length=32, description="Quién actuó.")] = None,
    action: Annotated[
        str | None,
        Query(
            max_length=60,
            description="Qué se hizo: el nombre de la acción (`action` de los registros).",
            examples=["client.update"],
        ),
    ] = None,
    from_: Annotated[dt.datetime | None, Query(alias="from", description="Desde (incluido), UTC.")] = None,
    to: Annotated[dt.datetime | None, Query(description="Hasta (excluido), UTC.")] = None,
    account_id: Annotated[
        str | None, Query(max_length=32, description="La bitácora de un sub-distribuidor de la red.")
    ] = None,
) -> dict[str, Any]:
    """La bitácora: quién cambió qué, cuándo, desde qué equipo y por qué; la más reciente primero.
    Filtros por entidad (tipo, o tipo e id para su historial), perfil, acción y periodo."""
    items, nxt = db.run(
        factory,
        reader.list_records,
        actor,
        account_id=account_id,
        entity=entity,
        entity_id=entity_id,
        profile_id=profile_id,
        action=action,
        since=_utc(from_),
        until=_utc(to),
        limit=page.limit,
        after=_after(page.cursor),
    )
    return {"items": items, "next_cursor": encode_cursor([nxt[0].isoformat(), nxt[1]]) if nxt else None}


@router.get(
    "/v1/audit/{record_id}", response_model=AuditRecordDetail, responses=problem_responses(401, 404, 422)
)
def get_audit_record(
    record_id: Annotated[int, Path(ge=1, le=2**62)],
    actor: CurrentActor,
    factory: Db,
    account_id: Annotated[str | None, Query(max_length=32)] = None,
) -> dict[str, Any]:
    """Un registro de la bitácora con todo lo que cambió (`changes`) y cada entidad que tocó (`subjects`)."""
    return db.run(factory, reader.read_record, actor, record_id, account_id)
