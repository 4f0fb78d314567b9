"""Clients and their stamping accounts (CTI): the manual's "Clientes" chapter, server side.

A new client gets one standard CTI at once, with a generated password shown only once. Client
edits are versioned (optimistic concurrency); tags (favorites, dropped, color) are client fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from cmdesk.domain import codes, contact, geography, identity, passwords
from cmdesk.domain.amounts import whole_number_problem
from cmdesk.domain.enums import Color, PersonType, StampingAccountKind
from cmdesk.domain.errors import DomainError, ErrorCode, not_found, validation_error
from cmdesk.domain.portfolio import CATEGORIES, CLIENT_SORTS
from cmdesk.models import AutoSaleRule, Client, Membership, Profile, StampingAccount, utcnow
from cmdesk.server.operations import usage as usage_ops
from cmdesk.server.operations.accounts import next_nic
from cmdesk.server.operations.client_views import CLIENT_FIELDS, client_view_reader, cti_view_reader
from cmdesk.server.operations.context import Actor
from cmdesk.server.security import hash_password

_LENGTHS: dict[str, int] = {
    c.name: int(getattr(c.type, "length", 0))
    for c in Client.__table__.columns
    if getattr(c.type, "length", None)
}
_EMAIL_COLUMNS = {"email", "legal_email", "financial_email", "technical_email"}
_PHONE_COLUMNS = {
    "phone",
    "legal_phone",
    "legal_phone_alt",
    "financial_phone",
    "financial_phone_alt",
    "technical_phone",
    "technical_phone_alt",
    "fax",
}
_INT_COLUMNS = {"bulk_stamp_price_cents", "discount_percent", "credit_days"}
_BOOL_COLUMNS = {"favorite", "dropped"}


def flatten_client_data(data: dict[str, Any]) -> dict[str, Any]:
    """API-shaped (nested) client fields → column values. Unknown fields are a validation error."""
    out: dict[str, Any] = {}
    unknown: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict) and (key,) not in CLIENT_FIELDS:
            for sub, subvalue in value.items():
                col = CLIENT_FIELDS.get((key, sub))
                if col is None:
                    unknown[f"{key}.{sub}"] = "Campo desconocido."
                else:
                    out[col] = subvalue
        elif (key,) in CLIENT_FIELDS:
            out[CLIENT_FIELDS[(key,)]] = value
        elif value is None and any(path[0] == key for path in CLIENT_FIELDS):
            continue
        else:
            unknown[key] = "Campo desconocido."
    if unknown:
        raise validation_error(unknown)
    return out


def _field_name(column: str) -> str:
    for path, col in CLIENT_FIELDS.items():
        if col == column:
            return ".".join(path)
    return column


def validate_client_columns(values: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """Check and normalize column values; every field in error is reported at once, in Spanish."""
    v = contact.Validator()
    out: dict[str, Any] = {}
    for col, value in values.items():
        field = _field_name(col)
        if col in _BOOL_COLUMNS:
            if not isinstance(value, bool):
                v.add(field, "Debe ser verdadero o falso.")
            out[col] = value
            continue
        if col in _INT_COLUMNS:
            if value is None and col == "bulk_stamp_price_cents":
                out[col] = None
                continue
            problem = whole_number_problem(value, 0)
            if problem is not None:
                v.add(field, problem)
                continue
            if col == "discount_percent" and value > 100:
                v.add(field, "El porcentaje de descuento no puede ser mayor que 100.")
                continue
            out[col] = value
            continue
        if col == "color":
            if value is not None and value not in {c.value for c in Color}:
                v.add(field, "Color no válido.")
            out[col] = value
            continue
        if value is None:
            value = ""
        if not isinstance(value, str):
            v.add(field, "Debe ser texto.")
            continue
        value = value.strip()
        if col == "name":
            value = v.run(field, contact.check_required, value, "Nombre") or ""
        elif col == "rfc":
            check = v.run(field, identity.check_rfc, value)
            value = check.rfc if check else value
        elif col == "legal_person_type":
            if value not in {p.value for p in PersonType}:
                v.add(field, "El tipo de persona debe ser física o moral.")
        elif value and col in _EMAIL_COLUMNS:
            value = v.run(field, contact.check_email, value) or value
        elif value and col in _PHONE_COLUMNS:
            value = v.run(field, contact.check_phone, value) or value
        elif value and col == "address_postal_code":
            value = v.run(field, contact.check_postal_code, value) or value
        elif value and col == "address_state":
            value = v.run(field, geography.check_state, value) or value
        elif value and col == "legal_curp":
            value = v.run(field, identity.check_curp, value) or value
        limit = _LENGTHS.get(col)
        if limit and len(value) > limit and not v.has_error(field):
            v.add(field, f"Máximo {limit} caracteres.")
        out[col] = value
    if creating:
        if "name" not in values:
            v.add("name", "El nombre es obligatorio.")
        if "rfc" not in values:
            v.add("rfc", "El RFC es obligatorio.")
    v.raise_if_any()
    return out


def _client_aggregates(session: Session, client_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    ids = list(client_ids)
    if not ids:
        return {}
    standard = StampingAccount.kind == StampingAccountKind.STANDARD.value
    rows = session.execute(
        select(
            StampingAccount.client_id,
            func.coalesce(func.sum(case((standard, StampingAccount.balance), else_=0)), 0),
            func.coalesce(func.sum(StampingAccount.credited), 0),
            func.coalesce(func.sum(StampingAccount.issued), 0),
            func.max(StampingAccount.last_credit_at),
            func.max(StampingAccount.last_issue_at),
        )
        .where(StampingAccount.client_id.in_(ids))
        .group_by(StampingAccount.client_id)
    ).all()
    from cmdesk.models.base import UTCDateTime

    conv = UTCDateTime()

    def _dt(v: Any) -> dt.datetime | None:
        if v is None or isinstance(v, dt.datetime):
            return conv.process_result_value(v, session.get_bind().dialect)
        return conv.process_result_value(dt.datetime.fromisoformat(str(v)), session.get_bind().dialect)

    return {
        r[0]: {
            "stamps": int(r[1]),
            "credited": int(r[2]),
            "issued": int(r[3]),
            "last_purchase_at": _dt(r[4]),
            "last_issue_at": _dt(r[5]),
        }
        for r in rows
    }


_CLIENT_COLUMNS = [c.name for c in Client.__table__.columns]


def _values(obj: Any, columns: list[str]) -> Mapping[str, Any]:
    """Column values of an ORM object or of a Core row, as a mapping (fast for rows)."""
    mapping = getattr(obj, "_mapping", None)
    if mapping is not None:
        return mapping  # type: ignore[no-any-return]
    return {col: getattr(obj, col) for col in columns}


_CLIENT_VIEW = client_view_reader(lambda col: col)


def client_view(client: Any, agg: dict[str, Any] | None, admin: Profile | None) -> dict[str, Any]:
    """The API's Client. `client` is a `Client` or a Core row of the clients table."""
    return _CLIENT_VIEW(_values(client, _CLIENT_COLUMNS), agg, admin)


def load_clients(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    # Plain rows, not ORM objects: the feed loads thousands per page and needs no identity map.
    rows = session.execute(select(*Client.__table__.columns).where(Client.id.in_(ids))).all()
    return views_for(session, rows)


def views_for(session: Session, clients: Iterable[Any]) -> dict[str, dict[str, Any]]:
    clients = list(clients)
    aggs = _client_aggregates(session, (c.id for c in clients))
    admin_ids = {c.admin_profile_id for c in clients if c.admin_profile_id}
    admins = (
        {p.id: p for p in session.scalars(select(Profile).where(Profile.id.in_(admin_ids)))}
        if admin_ids
        else {}
    )
    return {
        c.id: client_view(c, aggs.get(c.id), admins.get(c.admin_profile_id) if c.admin_profile_id else None)
        for c in clients
    }


def get_client(session: Session, actor: Actor, client_id: str, *, for_update: bool = False) -> Client:
    stmt = select(Client).where(Client.id == client_id, Client.account_id == actor.account_id)
    if for_update:
        stmt = stmt.with_for_update()
    client = session.scalar(stmt)
    if client is None:
        raise not_found("El cliente")
    return client


def read_client(session: Session, actor: Actor, client_id: str) -> dict[str, Any]:
    client = get_client(session, actor, client_id)
    return views_for(session, [client])[client.id]


def create_client(
    session: Session,
    actor: Actor,
    data: dict[str, Any],
    *,
    password: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """A client and its standard CTI, ready to stamp. The CTI's password (`password`, or a generated
    one) is returned only here."""
    now = now or utcnow()
    values = validate_client_columns(flatten_client_data(data), creating=True)
    client = Client(account_id=actor.account_id, nic=next_nic(session), created_at=now, **values)
    session.add(client)
    session.flush()
    password = password or codes.generate_password()
    cti = StampingAccount(
        id=codes.generate_cti_id(),
        account_id=actor.account_id,
        client_id=client.id,
        kind=StampingAccountKind.STANDARD.value,
        password_hash=hash_password(password),
        created_at=now,
    )
    session.add(cti)
    session.flush()
    return {
        "client": views_for(session, [client])[client.id],
        "stamping_account": stamping_account_view(cti, None),
        "password": password,
    }


def _check_version(current_version: int, expected: int | None, current: dict[str, Any]) -> None:
    if expected is not None and expected != current_version:
        raise DomainError(
            ErrorCode.VERSION_CONFLICT,
            "Otra persona modificó este registro; revise los cambios y vuelva a intentarlo.",
            extra={"current": current},
        )


def update_client(
    session: Session,
    actor: Actor,
    client_id: str,
    data: dict[str, Any],
    *,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Change any client fields (tags included); with `expected_version`, a stale edit is refused (412)."""
    client = get_client(session, actor, client_id, for_update=True)
    _check_version(client.version, expected_version, views_for(session, [client])[client.id])
    values = validate_client_columns(flatten_client_data(data), creating=False)
    for col, value in values.items():
        setattr(client, col, value)
    session.flush()
    return views_for(session, [client])[client.id]


def set_tags(
    session: Session,
    actor: Actor,
    client_ids: list[str],
    *,
    favorite: bool | None = None,
    dropped: bool | None = None,
    color: str | bool | None = False,
) -> list[dict[str, Any]]:
    """Classify many clients at once (Favoritos, Bajas, color). `color=False` leaves colors as they are."""
    changes: dict[str, Any] = {}
    if favorite is not None:
        changes["favorite"] = favorite
    if dropped is not None:
        changes["dropped"] = dropped
    if color is not False:
        changes["color"] = color
    values = validate_client_columns(changes, creating=False)
    clients = session.scalars(
        select(Client).where(Client.id.in_(client_ids), Client.account_id == actor.account_id)
    ).all()
    if len(clients) != len(set(client_ids)):
        raise not_found("Alguno de los clientes")
    for client in clients:
        for col, value in values.items():
            setattr(client, col, value)
    session.flush()
    views = views_for(session, clients)
    return [views[c.id] for c in clients]


def set_admin_profile(
    session: Session, actor: Actor, client_id: str, *, email: str, mobile: str
) -> dict[str, Any]:
    """Link the client's main profile (Asignar Perfil Admin). The profile must exist in the portal and
    must not administer a Cuenta Maestra: the distributor can't control a client's account in its name."""
    client = get_client(session, actor, client_id, for_update=True)
    v = contact.Validator()
    email_n = v.run("email", contact.check_email, email)
    mobile_n = v.run("mobile", contact.check_phone, mobile)
    v.raise_if_any()
    profile = session.scalar(select(Profile).where(Profile.email == email_n, Profile.mobile == mobile_n))
    if profile is None:
        raise validation_error(
            {
                "email": "No existe un perfil con ese correo y número móvil; "
                "el cliente debe registrarse primero en el portal."
            }
        )
    administers = session.scalar(
        select(func.count()).select_from(Membership).where(Membership.profile_id == profile.id)
    )
    if administers:
        raise DomainError(
            ErrorCode.PROFILE_ADMINISTERS_MASTER_ACCOUNT,
            "No puede vincular como perfil principal a un perfil que administra una Cuenta Maestra.",
        )
    client.admin_profile_id = profile.id
    session.flush()
    return views_for(session, [client])[client.id]


# ---- Stamping accounts (CTI) -------------------------------------------------------------------


_CTI_COLUMNS = [c.name for c in StampingAccount.__table__.columns]


_CTI_VIEW = cti_view_reader(lambda col: col)


def stamping_account_view(
    cti: Any, rule: AutoSaleRule | None, usage_summary: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The API's StampingAccount. `cti` is a `StampingAccount` or a Core row of its table;
    `usage_summary` its recent daily use (`usage_ops.summaries`; None for a new CTI)."""
    return _CTI_VIEW(_values(cti, _CTI_COLUMNS), rule, usage_summary)


def load_stamping_accounts(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = session.execute(
        select(*StampingAccount.__table__.columns).where(StampingAccount.id.in_(ids))
    ).all()
    return cti_views_for(session, rows)


def cti_views_for(session: Session, ctis: Iterable[Any]) -> dict[str, dict[str, Any]]:
    ctis = list(ctis)
    ids = [c.id for c in ctis]
    rules = (
        {
            r.stamping_account_id: r
            for r in session.scalars(select(AutoSaleRule).where(AutoSaleRule.stamping_account_id.in_(ids)))
        }
        if ids
        else {}
    )
    # The usage summaries of the whole page in one query (the change feed and the snapshot use this).
    summaries = usage_ops.summaries(session, ids) if ids else {}
    return {c.id: stamping_account_view(c, rules.get(c.id), summaries.get(c.id)) for c in ctis}


def get_stamping_account(
    session: Session, actor: Actor, cti_id: str, *, for_update: bool = False
) -> StampingAccount:
    stmt = select(StampingAccount).where(
        StampingAccount.id == cti_id, StampingAccount.account_id == actor.account_id
    )
    if for_update:
        stmt = stmt.with_for_update()
    cti = session.scalar(stmt)
    if cti is None:
        raise not_found("La cuenta de timbrado")
    return cti


def create_stamping_account(
    session: Session,
    actor: Actor,
    client_id: str,
    *,
    kind: str = StampingAccountKind.STANDARD.value,
    id: str | None = None,
    password: str,
    password_confirmation: str | None = None,
    rfc_restriction: str | None = None,
    fee_payer: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """An extra CTI for a client: standard or unlimited, with a chosen or an automatic id. An unlimited
    one with `fee_payer` ("client" / "account") has its first year's fee charged in the same
    transaction: without the points, nothing is created."""
    now = now or utcnow()
    client = get_client(session, actor, client_id)
    v = contact.Validator()
    if kind not in {k.value for k in StampingAccountKind}:
        v.add("kind", "El tipo de cuenta debe ser estándar o ilimitada.")
    cti_id = v.run("id", codes.check_cti_id, id) if id else codes.generate_cti_id()
    v.run("password", passwords.check_password, password, confirm=password_confirmation)
    restriction = None
    if rfc_restriction:
        if kind != StampingAccountKind.UNLIMITED.value:
            v.add("rfc_restriction", "Sólo las cuentas ilimitadas se restringen a un RFC emisor.")
        else:
            check = v.run("rfc_restriction", identity.check_rfc, rfc_restriction)
            restriction = check.rfc if check else None
    if fee_payer is not None and kind != StampingAccountKind.UNLIMITED.value:
        v.add("fee_payer", "Sólo las cuentas ilimitadas pagan cuota anual.")
    v.raise_if_any()
    assert cti_id is not None
    if session.get(StampingAccount, cti_id) is not None:
        raise DomainError(
            ErrorCode.DUPLICATE,
            f"Ya existe una cuenta de timbrado con el id «{cti_id}»; elija otro.",
            [],
        )
    cti = StampingAccount(
        id=cti_id,
        account_id=actor.account_id,
        client_id=client.id,
        kind=kind,
        password_hash=hash_password(password),
        rfc_restriction=restriction,
        created_at=now,
    )
    session.add(cti)
    session.flush()
    if fee_payer is not None:
        from cmdesk.server.operations.unlimited import pay_unlimited_fee  # it imports this module

        paid = pay_unlimited_fee(session, actor, cti.id, payer=fee_payer, now=now)
        return dict(paid["stamping_account"])
    return stamping_account_view(cti, None)


def set_stamping_account_active(
    session: Session, actor: Actor, cti_id: str, *, active: bool
) -> dict[str, Any]:
    """Bloquear / reactivar: a blocked CTI can't stamp."""
    cti = get_stamping_account(session, actor, cti_id, for_update=True)
    if not isinstance(active, bool):
        raise validation_error({"active": "Debe ser verdadero o falso."})
    cti.active = active
    session.flush()
    return cti_views_for(session, [cti])[cti.id]


def reset_stamping_password(
    session: Session, actor: Actor, cti_id: str, *, password: str, password_confirmation: str | None = None
) -> None:
    """Restablecer contraseña. The applications stamping with the CTI must be reconfigured."""
    cti = get_stamping_account(session, actor, cti_id, for_update=True)
    passwords.check_password(password, "password", confirm=password_confirmation)
    cti.password_hash = hash_password(password)
    session.flush()


def set_auto_sale(
    session: Session,
    actor: Actor,
    cti_id: str,
    *,
    minimum: int,
    credit: int,
    amount_cents: int,
    enabled: bool = True,
) -> dict[str, Any]:
    """Venta automática for a standard CTI: below `minimum`, credit `credit` stamps for `amount_cents`."""
    cti = get_stamping_account(session, actor, cti_id, for_update=True)
    v = contact.Validator()
    if cti.kind != StampingAccountKind.STANDARD.value:
        v.add("kind", "La venta automática sólo aplica a cuentas de timbrado estándar.")
    for field, value, low in (
        ("minimum", minimum, 0),
        ("credit", credit, 1),
        ("amount_cents", amount_cents, 0),
    ):
        if problem := whole_number_problem(value, low):
            v.add(field, problem)
    v.raise_if_any()
    rule = session.get(AutoSaleRule, cti.id)
    if rule is None:
        rule = AutoSaleRule(stamping_account_id=cti.id)
        session.add(rule)
    rule.minimum, rule.credit, rule.amount_cents, rule.enabled = minimum, credit, amount_cents, enabled
    rule.updated_at = utcnow()
    flag_modified(cti, "version")  # the rule is part of the CTI's API shape: the CTI changed
    session.flush()
    return cti_views_for(session, [cti])[cti.id]


FEED_LOADERS = {"client": load_clients, "stamping_account": load_stamping_accounts}


# ---- Lists ----------------------------------------------------------------------------------------


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_clients(
    session: Session,
    actor: Actor,
    *,
    q: str | None = None,
    color: str | None = None,
    category: str = "all",
    sort: str = "name",
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int | None]:
    """The portfolio with the manual's filters and twelve orders. Returns (items, next offset)."""
    if sort not in CLIENT_SORTS:
        raise validation_error({"sort": "Orden no válido. Opciones: " + ", ".join(CLIENT_SORTS) + "."})
    if category not in CATEGORIES:
        raise validation_error({"category": "La categoría debe ser all, favorites o dropped."})
    if color is not None and color not in {c.value for c in Color}:
        raise validation_error({"color": "Color no válido."})
    standard = StampingAccount.kind == StampingAccountKind.STANDARD.value
    agg = (
        select(
            StampingAccount.client_id.label("client_id"),
            func.coalesce(func.sum(case((standard, StampingAccount.balance), else_=0)), 0).label("stamps"),
            func.max(StampingAccount.last_credit_at).label("last_purchase_at"),
            func.max(StampingAccount.last_issue_at).label("last_issue_at"),
        )
        .where(StampingAccount.account_id == actor.account_id)
        .group_by(StampingAccount.client_id)
        .subquery()
    )
    stmt = (
        select(Client)
        .outerjoin(agg, agg.c.client_id == Client.id)
        .where(Client.account_id == actor.account_id)
    )
    if category == "favorites":
        stmt = stmt.where(Client.favorite.is_(True))
    elif category == "dropped":
        stmt = stmt.where(Client.dropped.is_(True))
    if color:
        stmt = stmt.where(Client.color == color)
    if q and q.strip():
        pattern = _like(q.strip().lower())
        cols = [
            Client.nic,
            Client.name,
            Client.trade_name,
            Client.rfc,
            Client.phone,
            Client.email,
            Client.legal_name,
            Client.legal_email,
            Client.legal_phone,
            Client.legal_phone_alt,
            Client.financial_name,
            Client.financial_email,
            Client.financial_phone,
            Client.financial_phone_alt,
            Client.technical_name,
            Client.technical_email,
            Client.technical_phone,
            Client.technical_phone_alt,
        ]
        cti_match = (
            select(StampingAccount.client_id)
            .where(StampingAccount.account_id == actor.account_id)
            .where(func.lower(StampingAccount.id).like(pattern, escape="\\"))
        )
        from sqlalchemy import or_

        stmt = stmt.where(
            or_(*[func.lower(c).like(pattern, escape="\\") for c in cols], Client.id.in_(cti_match))
        )
    stamps = func.coalesce(agg.c.stamps, 0)
    nulls_last = {
        "last_purchase_desc": (agg.c.last_purchase_at.is_(None), agg.c.last_purchase_at.desc()),
        "last_purchase_asc": (agg.c.last_purchase_at.is_(None), agg.c.last_purchase_at.asc()),
        "last_issue_desc": (agg.c.last_issue_at.is_(None), agg.c.last_issue_at.desc()),
        "last_issue_asc": (agg.c.last_issue_at.is_(None), agg.c.last_issue_at.asc()),
    }
    order: dict[str, tuple[Any, ...]] = {
        "name": (func.lower(Client.name),),
        "nic": (func.length(Client.nic), Client.nic),
        "stamps_desc": (stamps.desc(),),
        "stamps_asc": (stamps.asc(),),
        "points_desc": (Client.points_balance.desc(),),
        "points_asc": (Client.points_balance.asc(),),
        "created_desc": (Client.created_at.desc(),),
        "created_asc": (Client.created_at.asc(),),
        **nulls_last,
    }
    stmt = stmt.order_by(*order[sort], Client.id).limit(limit + 1).offset(offset)
    rows = list(session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    views = views_for(session, rows)
    return [views[c.id] for c in rows], (offset + limit if more else None)


def list_stamping_accounts(
    session: Session, actor: Actor, *, client_id: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[dict[str, Any]], int | None]:
    stmt = select(StampingAccount).where(StampingAccount.account_id == actor.account_id)
    if client_id:
        stmt = stmt.where(StampingAccount.client_id == client_id)
    stmt = stmt.order_by(StampingAccount.created_at, StampingAccount.id).limit(limit + 1).offset(offset)
    rows = list(session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    views = cti_views_for(session, rows)
    return [views[c.id] for c in rows], (offset + limit if more else None)


def read_stamping_account(session: Session, actor: Actor, cti_id: str) -> dict[str, Any]:
    cti = get_stamping_account(session, actor, cti_id)
    return cti_views_for(session, [cti])[cti.id]
