"""Low-balance alerts and their rules (`cmdesk.server.operations.alerts`), and the renewal calendar
(`cmdesk.server.operations.calendar`), with its iCalendar export."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from cmdesk.domain import alert_rules
from cmdesk.server import db
from cmdesk.server.api.deps import CurrentActor, Db, IfMatch, Pagination, keyset_after, keyset_answer
from cmdesk.server.api.schemas_common import RequestModel, problem_responses
from cmdesk.server.operations import alerts
from cmdesk.server.operations import calendar as renewals

router = APIRouter(tags=["alerts"])

AlertState = Literal["new", "seen", "resolved"]
Scope = Literal["account", "client", "stamping_account", "own_balance"]

# ---- Schemas ---------------------------------------------------------------------------------------


class Subject(BaseModel):
    type: Literal["stamping_account", "own_balance"]
    id: str


class Threshold(BaseModel):
    kind: Literal["days", "balance"]
    value: int


class Delivery(BaseModel):
    recipient: str
    kind: Literal["user", "client"]
    day: dt.date
    status: str


class AlertOut(BaseModel):
    id: str
    version: int
    subject: Subject
    client_id: str | None
    threshold: Threshold
    state: AlertState
    balance: int
    days_remaining: int | None
    average_daily_use: float
    usual_purchase: int | None
    refill_cost_cents: int | None
    title: str
    detail: str
    created_at: dt.datetime
    seen_at: dt.datetime | None
    resolved_at: dt.datetime | None
    resolved_by: str | None
    rearmed_at: dt.datetime | None
    deliveries: list[Delivery]


class AlertList(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None


class AlertStateIn(RequestModel):
    state: AlertState


class AlertStatesIn(RequestModel):
    ids: list[Annotated[str, Field(max_length=32)]] = Field(min_length=1, max_length=1000)
    state: AlertState


class AlertItems(BaseModel):
    items: list[AlertOut]


class RuleOut(BaseModel):
    id: str | None
    version: int | None
    scope: Scope
    scope_id: str | None
    enabled: bool
    days_thresholds: list[int]
    balance_thresholds: list[int]
    notify_users: bool
    notify_client: bool
    client_message: str
    daily_cap: int | None
    stored: bool


class EffectiveRules(BaseModel):
    account: RuleOut
    own_balance: RuleOut


class RuleList(BaseModel):
    items: list[RuleOut]
    effective: EffectiveRules


class RuleIn(RequestModel):
    scope: Scope
    scope_id: Annotated[str, Field(max_length=64)] | None = None
    enabled: bool | None = None
    days_thresholds: list[int] | None = Field(default=None, max_length=alert_rules.MAX_THRESHOLDS)
    balance_thresholds: list[int] | None = Field(default=None, max_length=alert_rules.MAX_THRESHOLDS)
    notify_users: bool | None = None
    notify_client: bool | None = None
    client_message: Annotated[str, Field(max_length=alert_rules.MESSAGE_MAX_LENGTH)] | None = None
    daily_cap: int | None = None


class CalendarItem(BaseModel):
    uid: str
    date: dt.date
    kind: Literal["account", "contract", "unlimited_fee", "distributor", "license", "support_policy"]
    kind_label: str
    title: str
    summary: str
    description: str
    amount_cents: int | None
    points: int | None


class CalendarOut(BaseModel):
    from_: dt.date = Field(alias="from")
    until: dt.date
    items: list[CalendarItem]
    total_cents: int


# ---- Alerts ------------------------------------------------------------------------------------------


@router.get("/v1/alerts", response_model=AlertList, responses=problem_responses(401, 422))
def list_alerts(
    actor: CurrentActor,
    factory: Db,
    page: Pagination,
    state: AlertState | None = None,
    client_id: Annotated[str | None, Query(max_length=32)] = None,
) -> dict[str, Any]:
    """Las alertas de saldo de la cuenta, la más reciente primero (filtros: estado, cliente)."""
    items = db.run(
        factory,
        alerts.list_alerts,
        actor,
        state=state,
        client_id=client_id,
        limit=page.limit + 1,
        after=keyset_after(page),
    )
    return keyset_answer(items, page)


@router.get("/v1/alerts/{alert_id}", response_model=AlertOut, responses=problem_responses(401, 404))
def get_alert(alert_id: str, actor: CurrentActor, factory: Db) -> dict[str, Any]:
    """Una alerta, con a quién se avisó."""
    return db.run(factory, alerts.read_alert, actor, alert_id)


@router.patch(
    "/v1/alerts/{alert_id}", response_model=AlertOut, responses=problem_responses(401, 404, 412, 422)
)
def set_alert_state(
    alert_id: str, body: AlertStateIn, actor: CurrentActor, factory: Db, if_match: IfMatch
) -> dict[str, Any]:
    """Marcar una alerta como nueva, vista o resuelta (`new`, `seen`, `resolved`)."""
    return db.run(factory, alerts.set_state, actor, alert_id, body.state, expected_version=if_match)


@router.post("/v1/alerts/state", response_model=AlertItems, responses=problem_responses(401, 404, 422))
def set_alert_states(body: AlertStatesIn, actor: CurrentActor, factory: Db) -> dict[str, Any]:
    """Marcar varias alertas a la vez (todas o ninguna)."""
    return {"items": db.run(factory, alerts.set_states, actor, body.ids, body.state)}


# ---- Rules ---------------------------------------------------------------------------------------------


@router.get("/v1/alert-rules", response_model=RuleList, responses=problem_responses(401))
def list_rules(actor: CurrentActor, factory: Db) -> dict[str, Any]:
    """Las reglas de alerta guardadas, y las de toda la cuenta y del saldo propio que rigen."""
    return db.run(factory, alerts.list_rules, actor)


@router.put("/v1/alert-rules", response_model=RuleOut, responses=problem_responses(401, 404, 412, 422))
def save_rule(body: RuleIn, actor: CurrentActor, factory: Db, if_match: IfMatch) -> dict[str, Any]:
    """Crear o cambiar la regla de un alcance: toda la cuenta, un cliente, una CTI o el saldo propio.
    Los campos omitidos conservan su valor (o el predeterminado)."""
    fields = body.model_dump(exclude={"scope", "scope_id"})
    return db.run(
        factory,
        alerts.save_rule,
        actor,
        scope=body.scope,
        scope_id=body.scope_id,
        expected_version=if_match,
        **fields,
    )


@router.delete(
    "/v1/alert-rules/{rule_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 404),
)
def delete_rule(rule_id: str, actor: CurrentActor, factory: Db) -> Response:
    """Quitar una regla: su alcance vuelve a seguir la regla superior (la de la cuenta: la predeterminada)."""
    db.run(factory, alerts.delete_rule, actor, rule_id)
    return Response(status_code=204)


# ---- Renewal calendar ----------------------------------------------------------------------------------

Months = Annotated[int, Query(ge=1, le=renewals.MAX_MONTHS, description="Cuántos meses hacia adelante.")]


@router.get("/v1/calendar", response_model=CalendarOut, responses=problem_responses(401, 422))
def calendar(actor: CurrentActor, factory: Db, months: Months = 12) -> dict[str, Any]:
    """Lo que vence en los próximos meses, por fecha, con lo que costará renovarlo."""
    return db.run(factory, renewals.renewal_calendar, actor, months=months)


@router.get(
    "/v1/calendar.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}, **problem_responses(401, 422)},
)
def calendar_ics(actor: CurrentActor, factory: Db, months: Months = 12) -> Response:
    """El calendario de renovaciones en formato iCalendar (Outlook, Google Calendar)."""
    body = db.run(factory, renewals.renewal_ics, actor, months=months)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="renovaciones.ics"'},
    )
