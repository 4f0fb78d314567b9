"""A client's records beside its data: the manual's "Interacciones" (dated notes about the client)
and "Pólizas" (support contracts the client holds for a product, with their validity)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cmdesk.domain import contact
from cmdesk.domain.errors import DomainError, ErrorCode, not_found, validation_error
from cmdesk.models import Client, ClientInteraction, Profile, SupportPolicy, utcnow
from cmdesk.server.operations.context import Actor

INTERACTION_MAX_LENGTH = 5000
PRODUCT_MAX_LENGTH = 200
REFERENCE_MAX_LENGTH = 100


def _own_client(session: Session, actor: Actor, client_id: str) -> Client:
    client = session.get(Client, client_id)
    if client is None or client.account_id != actor.account_id:
        raise not_found("El cliente")
    return client


def _author(session: Session, actor: Actor) -> str:
    """Who wrote a note, as people read it: the profile's name, else its e-mail."""
    profile = session.get(Profile, actor.profile_id)
    if profile is None:
        return actor.author
    return profile.name or profile.email


# ---- Interactions ------------------------------------------------------------------------------


def interaction_view(i: ClientInteraction) -> dict[str, Any]:
    return {
        "id": i.id,
        "version": i.version,
        "client_id": i.client_id,
        "occurred_at": i.occurred_at,
        "author": i.author,
        "text": i.text,
    }


def add_interaction(
    session: Session,
    actor: Actor,
    client_id: str,
    *,
    text: str,
    occurred_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """A note about the client (a call, a visit, an agreement), at `occurred_at` (default: now)."""
    client = _own_client(session, actor, client_id)
    v = contact.Validator()
    body = v.run("text", contact.check_required, text if isinstance(text, str) else "", "Texto")
    if body is not None and len(body) > INTERACTION_MAX_LENGTH:
        v.add("text", f"El texto admite como máximo {INTERACTION_MAX_LENGTH:,} caracteres.")
    if occurred_at is not None and (not isinstance(occurred_at, dt.datetime) or occurred_at.tzinfo is None):
        v.add("occurred_at", "Indique la fecha y hora con su zona horaria.")
    v.raise_if_any()
    assert body is not None
    row = ClientInteraction(
        account_id=actor.account_id,
        client_id=client.id,
        occurred_at=(occurred_at or utcnow()).astimezone(dt.UTC),
        author=_author(session, actor)[:200],
        text=body,
    )
    session.add(row)
    session.flush()
    return interaction_view(row)


def list_interactions(session: Session, actor: Actor, client_id: str) -> list[dict[str, Any]]:
    """The client's notes, newest first."""
    client = _own_client(session, actor, client_id)
    rows = session.scalars(
        select(ClientInteraction)
        .where(ClientInteraction.client_id == client.id, ClientInteraction.account_id == actor.account_id)
        .order_by(ClientInteraction.occurred_at.desc(), ClientInteraction.id)
    )
    return [interaction_view(r) for r in rows]


def delete_interaction(session: Session, actor: Actor, interaction_id: str) -> None:
    row = session.get(ClientInteraction, interaction_id)
    if row is None or row.account_id != actor.account_id:
        raise not_found("La interacción")
    session.delete(row)
    session.flush()


def load_interactions(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = session.scalars(select(ClientInteraction).where(ClientInteraction.id.in_(ids)))
    return {r.id: interaction_view(r) for r in rows}


# ---- Support policies --------------------------------------------------------------------------


def policy_view(p: SupportPolicy) -> dict[str, Any]:
    return {
        "id": p.id,
        "version": p.version,
        "client_id": p.client_id,
        "product": p.product,
        "starts_on": p.starts_on,
        "ends_on": p.ends_on,
        "reference": p.reference,
        "created_at": p.created_at,
    }


def _is_date(value: Any) -> bool:
    # A datetime is a date too; a policy's validity is whole days, so a datetime is a caller's mistake.
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def _policy_values(fields: dict[str, Any], current: SupportPolicy | None) -> dict[str, Any]:
    v = contact.Validator()
    out: dict[str, Any] = {}
    if "product" in fields:
        product = v.run(
            "product",
            contact.check_required,
            fields["product"] if isinstance(fields["product"], str) else "",
            "Producto",
        )
        if product is not None and len(product) > PRODUCT_MAX_LENGTH:
            v.add("product", f"El producto admite como máximo {PRODUCT_MAX_LENGTH} caracteres.")
        out["product"] = product
    for field, label in (("starts_on", "inicio"), ("ends_on", "fin")):
        if field in fields:
            if not _is_date(fields[field]):
                v.add(field, f"Indique la fecha de {label} de la póliza.")
            else:
                out[field] = fields[field]
    if "reference" in fields:
        ref = fields["reference"] if isinstance(fields["reference"], str) else None
        if ref is None:
            v.add("reference", "La referencia debe ser texto.")
        else:
            out["reference"] = v.run(
                "reference", contact.check_max_length, ref, "Referencia", REFERENCE_MAX_LENGTH
            )
    starts = out.get("starts_on", current.starts_on if current else None)
    ends = out.get("ends_on", current.ends_on if current else None)
    if starts is not None and ends is not None and ends < starts and not v.has_error("ends_on"):
        v.add("ends_on", "La fecha de fin no puede ser anterior a la de inicio.")
    v.raise_if_any()
    return out


def add_policy(
    session: Session,
    actor: Actor,
    client_id: str,
    *,
    product: str,
    starts_on: dt.date,
    ends_on: dt.date,
    reference: str = "",
) -> dict[str, Any]:
    """A support policy of the client for `product`, valid from `starts_on` to `ends_on` (inclusive)."""
    client = _own_client(session, actor, client_id)
    values = _policy_values(
        {"product": product, "starts_on": starts_on, "ends_on": ends_on, "reference": reference}, None
    )
    row = SupportPolicy(account_id=actor.account_id, client_id=client.id, **values)
    session.add(row)
    session.flush()
    return policy_view(row)


EDITABLE_POLICY_FIELDS = frozenset({"product", "starts_on", "ends_on", "reference"})


def _own_policy(session: Session, actor: Actor, policy_id: str) -> SupportPolicy:
    row = session.scalar(
        select(SupportPolicy)
        .where(SupportPolicy.id == policy_id, SupportPolicy.account_id == actor.account_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise not_found("La póliza")
    return row


def _check_version(row: SupportPolicy, expected: int | None) -> None:
    if expected is not None and expected != row.version:
        raise DomainError(
            ErrorCode.VERSION_CONFLICT,
            "Otra persona modificó esta póliza; revise los cambios y vuelva a intentarlo.",
            extra={"current": policy_view(row)},
        )


def update_policy(
    session: Session, actor: Actor, policy_id: str, *, expected_version: int | None = None, **fields: Any
) -> dict[str, Any]:
    unknown = set(fields) - EDITABLE_POLICY_FIELDS
    if unknown:
        raise validation_error({f: "Este campo no se puede modificar." for f in sorted(unknown)})
    row = _own_policy(session, actor, policy_id)
    _check_version(row, expected_version)
    for key, value in _policy_values(fields, row).items():
        setattr(row, key, value)
    session.flush()
    return policy_view(row)


def delete_policy(
    session: Session, actor: Actor, policy_id: str, *, expected_version: int | None = None
) -> None:
    row = _own_policy(session, actor, policy_id)
    _check_version(row, expected_version)
    session.delete(row)
    session.flush()


def list_policies(session: Session, actor: Actor, client_id: str) -> list[dict[str, Any]]:
    """The client's policies, the latest ending first."""
    client = _own_client(session, actor, client_id)
    rows = session.scalars(
        select(SupportPolicy)
        .where(SupportPolicy.client_id == client.id, SupportPolicy.account_id == actor.account_id)
        .order_by(SupportPolicy.ends_on.desc(), SupportPolicy.product, SupportPolicy.id)
    )
    return [policy_view(r) for r in rows]


def load_policies(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = session.scalars(select(SupportPolicy).where(SupportPolicy.id.in_(ids)))
    return {r.id: policy_view(r) for r in rows}


FEED_LOADERS = {"interaction": load_interactions, "support_policy": load_policies}
