"""Herramientas: the distributor's price packages, its users, its global settings — and the client
panel's purchase (PCC), which those settings govern.

Rules from the manual, made precise:

- Price packages for sub-distributors ("Distribuidor") need the Multinivel subscription in force.
- "Permitir compra de timbres a través del PCC" requires at least one stamps package for clients AND
  "compra automática de timbres"; the rule is kept both ways: the option can't be enabled without
  them, and while it is enabled the last such package can't be removed nor the automatic purchase
  turned off.
- "Permitir compra de puntos a través del PCC" implies the authorisation to buy the catalog points
  package that covers the client's order, considering the distributor's points balance.
- A panel purchase is a sale "por facturar": a `transfer` movement at the package's price.
- The master user of an account can't be removed.

Profiles reach the change feed through memberships (`Profile.feed_audience()` is empty), so adding
and removing a user records the profile for the account here. A profile's role depends on the
account that looks at it, which a feed loader can't know: the `profile` loader returns role-less
profiles, and the account's `settings` carry `master_profile_id` (the master) and `member_roles`
(every member's role), recorded again whenever a member comes, goes or changes role.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cmdesk.domain import contact, names, roles
from cmdesk.domain.enums import (
    MULTINIVEL_CODE,
    AccountStatus,
    Asset,
    MovementKind,
    PartyType,
    Role,
    StampingAccountKind,
)
from cmdesk.domain.errors import DomainError, ErrorCode, FieldError, not_found, validation_error
from cmdesk.domain.money import check_amount_cents, div_round_half_up
from cmdesk.models import (
    Account,
    AccountSettings,
    CatalogPackage,
    Client,
    Invitation,
    Membership,
    PricePackage,
    Profile,
    RefreshToken,
    StampingAccount,
    utcnow,
)
from cmdesk.server import feed
from cmdesk.server.operations import access, balances, contracts, ledger
from cmdesk.server.operations.accounts import profile_view
from cmdesk.server.operations.context import Actor

MAX_PACKAGE_QUANTITY = 10_000_000
DESCRIPTION_MAX_LENGTH = 500
# Who panel purchases are recorded as made by (the client, through its control panel).
PANEL_AUTHOR = "client_panel"

ASSET_NAME = {Asset.STAMPS.value: "timbres", Asset.POINTS.value: "puntos"}


def _version_conflict(current: dict[str, Any]) -> DomainError:
    return DomainError(
        ErrorCode.VERSION_CONFLICT,
        "Otra persona modificó este registro; revise los cambios y vuelva a intentarlo.",
        extra={"current": current},
    )


def _check_expected_version(expected: int | None, actual: int, current: dict[str, Any]) -> None:
    if expected is not None and expected != actual:
        raise _version_conflict(current)


# ---- Price packages ------------------------------------------------------------------------------


def price_package_view(p: PricePackage) -> dict[str, Any]:
    return {
        "id": p.id,
        "version": p.version,
        "asset": p.asset,
        "quantity": p.quantity,
        "price_cents": p.price_cents,
        # Shown beside the price ("$5.00 c/u"); rounded half up to the centavo.
        "unit_price_cents": div_round_half_up(p.price_cents, p.quantity),
        "description": p.description,
        "for_distributors": p.for_distributors,
        "created_at": p.created_at,
    }


def _package_values(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate the given package fields (all errors at once); returns the normalized values."""
    v = contact.Validator()
    out: dict[str, Any] = {}
    if "asset" in fields:
        try:
            out["asset"] = Asset(fields["asset"]).value
        except ValueError:
            v.add("asset", "El tipo de paquete debe ser de timbres o de puntos.")
    if "quantity" in fields:
        q = fields["quantity"]
        if not isinstance(q, int) or isinstance(q, bool) or not 0 < q <= MAX_PACKAGE_QUANTITY:
            v.add("quantity", f"La cantidad debe ser un número entero entre 1 y {MAX_PACKAGE_QUANTITY:,}.")
        else:
            out["quantity"] = q
    if "price_cents" in fields:
        price = v.run("price_cents", check_amount_cents, fields["price_cents"])
        if price is not None:
            out["price_cents"] = price
    if "description" in fields:
        text = fields["description"]
        if not isinstance(text, str):
            v.add("description", "La descripción debe ser texto.")
        else:
            desc = v.run("description", contact.check_max_length, text, "Descripción", DESCRIPTION_MAX_LENGTH)
            if desc is not None:
                out["description"] = desc
    if "for_distributors" in fields:
        if not isinstance(fields["for_distributors"], bool):
            v.add("for_distributors", "Indique sí o no.")
        else:
            out["for_distributors"] = fields["for_distributors"]
    v.raise_if_any()
    return out


def _require_multinivel(session: Session, account_id: str, now: dt.datetime) -> None:
    contracts.require_contract(
        session, account_id, MULTINIVEL_CODE, now, "Definir paquetes para distribuidores"
    )


def _check_not_duplicate(
    session: Session, account_id: str, values: dict[str, Any], exclude: str | None
) -> None:
    stmt = select(PricePackage.id).where(
        PricePackage.account_id == account_id,
        PricePackage.asset == values["asset"],
        PricePackage.quantity == values["quantity"],
        PricePackage.for_distributors == values["for_distributors"],
    )
    if exclude is not None:
        stmt = stmt.where(PricePackage.id != exclude)
    if session.scalar(stmt.limit(1)) is not None:
        who = "distribuidores" if values["for_distributors"] else "clientes"
        raise DomainError(
            ErrorCode.DUPLICATE,
            f"Ya tiene un paquete de {values['quantity']:,} {ASSET_NAME[values['asset']]} para {who}; "
            "modifique ese en lugar de crear otro.",
            [FieldError("quantity", "Ya existe un paquete con esta cantidad.")],
        )


def _client_stamp_packages(session: Session, account_id: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(PricePackage)
            .where(
                PricePackage.account_id == account_id,
                PricePackage.asset == Asset.STAMPS.value,
                PricePackage.for_distributors.is_(False),
            )
        )
        or 0
    )


def _keep_panel_rule(session: Session, account_id: str) -> None:
    """After a package change: the PCC stamp purchase, if enabled, still needs a stamps package."""
    settings = session.get(AccountSettings, account_id)
    if (
        settings is not None
        and settings.allow_panel_stamp_purchase
        and _client_stamp_packages(session, account_id) == 0
    ):
        raise DomainError(
            ErrorCode.INVALID_STATE_TRANSITION,
            "La compra de timbres a través del PCC requiere al menos un paquete de timbres para clientes; "
            "desactive primero esa opción en Configuraciones Globales.",
        )


def create_price_package(
    session: Session,
    actor: Actor,
    *,
    quantity: int,
    price_cents: int,
    description: str = "",
    for_distributors: bool = False,
    asset: str | Asset = Asset.STAMPS,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Precios → Agregar: a package of the account's stamps (or points) at a price with IVA."""
    now = now or utcnow()
    values = _package_values(
        {
            "asset": asset,
            "quantity": quantity,
            "price_cents": price_cents,
            "description": description,
            "for_distributors": for_distributors,
        }
    )
    if values["for_distributors"]:
        _require_multinivel(session, actor.account_id, now)
    _check_not_duplicate(session, actor.account_id, values, None)
    package = PricePackage(account_id=actor.account_id, created_at=now, **values)
    session.add(package)
    session.flush()
    return price_package_view(package)


def _own_package(
    session: Session, actor: Actor, package_id: str, *, for_update: bool = False
) -> PricePackage:
    stmt = select(PricePackage).where(
        PricePackage.id == package_id, PricePackage.account_id == actor.account_id
    )
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    package = session.scalar(stmt)
    if package is None:
        raise not_found("El paquete")
    return package


EDITABLE_PACKAGE_FIELDS = frozenset({"asset", "quantity", "price_cents", "description", "for_distributors"})


def update_price_package(
    session: Session,
    actor: Actor,
    package_id: str,
    *,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Edit a package's fields; a stale `expected_version` answers `version_conflict` with the current."""
    now = now or utcnow()
    unknown = set(fields) - EDITABLE_PACKAGE_FIELDS
    if unknown:
        raise validation_error({f: "Este campo no se puede modificar." for f in sorted(unknown)})
    package = _own_package(session, actor, package_id, for_update=True)
    _check_expected_version(expected_version, package.version, price_package_view(package))
    values = _package_values(fields)
    if values.get("for_distributors") and not package.for_distributors:
        _require_multinivel(session, actor.account_id, now)
    merged = {
        "asset": values.get("asset", package.asset),
        "quantity": values.get("quantity", package.quantity),
        "for_distributors": values.get("for_distributors", package.for_distributors),
    }
    _check_not_duplicate(session, actor.account_id, merged, package.id)
    for key, value in values.items():
        setattr(package, key, value)
    session.flush()
    _keep_panel_rule(session, actor.account_id)
    return price_package_view(package)


def delete_price_package(
    session: Session, actor: Actor, package_id: str, *, expected_version: int | None = None
) -> None:
    package = _own_package(session, actor, package_id, for_update=True)
    _check_expected_version(expected_version, package.version, price_package_view(package))
    session.delete(package)
    session.flush()
    _keep_panel_rule(session, actor.account_id)


def list_price_packages(
    session: Session, actor: Actor, *, asset: str | Asset | None = None, for_distributors: bool | None = None
) -> list[dict[str, Any]]:
    """The account's packages: by asset, clients' before distributors', smaller first."""
    stmt = select(PricePackage).where(PricePackage.account_id == actor.account_id)
    if asset is not None:
        stmt = stmt.where(PricePackage.asset == _package_values({"asset": asset})["asset"])
    if for_distributors is not None:
        stmt = stmt.where(PricePackage.for_distributors.is_(for_distributors))
    stmt = stmt.order_by(
        PricePackage.asset.desc(), PricePackage.for_distributors, PricePackage.quantity, PricePackage.id
    )
    return [price_package_view(p) for p in session.scalars(stmt)]


def load_price_packages(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = session.scalars(select(PricePackage).where(PricePackage.id.in_(ids)))
    return {p.id: price_package_view(p) for p in rows}


# ---- Users ---------------------------------------------------------------------------------------


def user_view(
    profile: Profile, membership: Membership, invitation: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        **profile_view(profile),
        "role": membership.role,
        "role_label": names.ROLES.get(membership.role, membership.role),
        "is_master": membership.role == Role.MASTER.value,
        "member_since": membership.created_at,
        # Enviada / Aceptada / Vencida, with its last mail; None for members never invited by mail.
        "invitation": invitation,
    }


def _check_role(role: str) -> str:
    if role not in roles.ASSIGNABLE:
        raise validation_error({"role": "El rol debe ser Administrador u Operador."})
    return role


def add_user(
    session: Session,
    actor: Actor,
    *,
    email: str,
    mobile: str,
    name: str = "",
    role: str = roles.DEFAULT_ROLE.value,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Usuarios → Nuevo usuario: invite a person (by e-mail and mobile) into the account with a role.

    The answer is the same whether or not the e-mail or the mobile belong to a profile (issue 15: no
    account enumeration): a pending user made of what was typed and the invitation sent to that
    e-mail (`operations.access.invite`). The person gets access when they accept it from their own
    e-mail; until then they are listed with their invitation, and adding them again re-sends it.
    Only someone who is already a user of this account (the list shows them) is refused (409)."""
    now = now or utcnow()
    v = contact.Validator()
    email_n = v.run("email", contact.check_email, email)
    mobile_n = v.run("mobile", contact.check_phone, mobile)
    name_n = v.optional("name", contact.check_person_name, name, "Nombre") or ""
    v.raise_if_any()
    assert email_n is not None and mobile_n is not None
    role = _check_role(role)
    if session.get(Account, actor.account_id) is None:
        raise not_found("La cuenta")
    member = session.scalar(
        select(Profile.id)
        .join(Membership, Membership.profile_id == Profile.id)
        .where(
            Membership.account_id == actor.account_id,
            (Profile.email == email_n) | (Profile.mobile == mobile_n),
        )
        .limit(1)
    )
    if member is not None:
        raise DomainError(
            ErrorCode.DUPLICATE,
            "Esa persona ya es usuario de esta cuenta.",
            [FieldError("email", "Esa persona ya es usuario de esta cuenta.")],
        )
    invitation = access.invite(
        session, actor, email=email_n, mobile=mobile_n, name=name_n, role=role, now=now
    )
    view = access.invitation_views(session, [invitation])[invitation.id]
    return {
        "user": pending_user_view(invitation, view),
        "detail": f"Enviamos una invitación a {email_n}. Tendrá acceso a la cuenta cuando la acepte desde "
        "su correo (el enlace funciona 7 días).",
    }


def pending_user_view(inv: Invitation, invitation: dict[str, Any]) -> dict[str, Any]:
    """A person invited who has not accepted yet, as a row of the users list: what the inviter typed
    (never the data of a profile that may have that e-mail), under the invitation's id."""
    return {
        "id": inv.id,
        "version": inv.version,
        "name": inv.name,
        "email": inv.email,
        "mobile": inv.mobile,
        "email_confirmed": False,
        "created_at": inv.created_at,
        "role": inv.role,
        "role_label": names.ROLES.get(inv.role, inv.role),
        "is_master": False,
        "member_since": None,
        "invitation": invitation,
    }


def remove_user(session: Session, actor: Actor, profile_id: str, *, now: dt.datetime | None = None) -> None:
    """Usuarios → Eliminar: the person loses access to the account (its sessions there end at once).
    The profile itself remains (it may belong to other accounts). Never the master user."""
    now = now or utcnow()
    membership = session.scalar(
        select(Membership).where(
            Membership.account_id == actor.account_id, Membership.profile_id == profile_id
        )
    )
    if membership is None:
        pending = access.pending_invitation(session, actor.account_id, profile_id, lock=True)
        if pending is None:
            raise not_found("El usuario")
        # A pending user: the invitation is withdrawn (its link stops working with it).
        feed.record(session, "invitation", pending.id, [actor.account_id], deleted=True)
        session.delete(pending)
        session.flush()
        return
    if membership.role == Role.MASTER.value:
        raise DomainError(
            ErrorCode.INVALID_STATE_TRANSITION,
            "No se puede eliminar al usuario maestro de la Cuenta Maestra.",
        )
    session.delete(membership)
    access.forget_invitation(session, actor.account_id, profile_id)
    session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.profile_id == profile_id,
            RefreshToken.account_id == actor.account_id,
            RefreshToken.revoked_at.is_(None),
        )
        .values(revoked_at=now),
        execution_options={"synchronize_session": False},
    )
    session.flush()
    feed.record(session, "profile", profile_id, [actor.account_id], deleted=True)
    record_roles(session, actor.account_id)


def set_user_role(session: Session, actor: Actor, profile_id: str, role: str) -> dict[str, Any]:
    """Usuarios → Rol: make a user an Administrador or an Operador. The master user is always an
    administrator; the change applies to the person's next request (the role is read on each)."""
    role = _check_role(role)
    row = session.execute(
        select(Profile, Membership)
        .join(Membership, Membership.profile_id == Profile.id)
        .where(Membership.account_id == actor.account_id, Membership.profile_id == profile_id)
        .with_for_update(of=Membership)
    ).first()
    if row is None:
        pending = access.pending_invitation(session, actor.account_id, profile_id, lock=True)
        if pending is None:
            raise not_found("El usuario")
        pending.role = role  # the role they will get when they accept
        feed.record(session, "invitation", pending.id, [actor.account_id])
        session.flush()
        return pending_user_view(pending, access.invitation_views(session, [pending])[pending.id])
    profile, membership = row
    if membership.role == Role.MASTER.value:
        raise DomainError(
            ErrorCode.INVALID_STATE_TRANSITION,
            "El usuario maestro siempre es administrador de su Cuenta Maestra.",
        )
    membership.role = role
    record_roles(session, actor.account_id)
    session.flush()
    invitations = access.invitations_by_profile(session, actor.account_id)
    return user_view(profile, membership, invitations.get(profile.id))


def list_users(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """The account's users, the master first, then the people invited who have not accepted yet."""
    rows = session.execute(
        select(Profile, Membership)
        .join(Membership, Membership.profile_id == Profile.id)
        .where(Membership.account_id == actor.account_id)
        .order_by((Membership.role == Role.MASTER.value).desc(), Profile.name, Profile.email)
    ).all()
    invitations = access.invitations_by_profile(session, actor.account_id)
    users = [user_view(p, m, invitations.get(p.id)) for p, m in rows]
    members = {p.id for p, _m in rows}
    pending = [
        inv
        for inv in session.scalars(
            select(Invitation)
            .where(Invitation.account_id == actor.account_id, Invitation.accepted_at.is_(None))
            .order_by(Invitation.name, Invitation.email)
        )
        if inv.profile_id not in members
    ]
    views = access.invitation_views(session, pending)
    return users + [pending_user_view(inv, views[inv.id]) for inv in pending]


def load_profiles(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Profiles for the feed, without the role (it depends on the account; see the module docstring)."""
    return {p.id: profile_view(p) for p in session.scalars(select(Profile).where(Profile.id.in_(ids)))}


# ---- Settings ------------------------------------------------------------------------------------


def settings_view(
    s: AccountSettings, master_profile_id: str | None, member_roles: dict[str, str] | None = None
) -> dict[str, Any]:
    """The account's global settings, with who is its master and the role of each member
    (`member_roles`: profile id → master/admin/operator; a profile's own feed entry can't carry it,
    see the module docstring)."""
    return {
        "id": s.account_id,
        "account_id": s.account_id,
        "version": s.version,
        "bulk_stamp_price_cents": s.bulk_stamp_price_cents,
        "allow_panel_stamp_purchase": s.allow_panel_stamp_purchase,
        "allow_panel_point_purchase": s.allow_panel_point_purchase,
        "auto_stamp_purchase": s.auto_stamp_purchase,
        "master_profile_id": master_profile_id,
        "member_roles": member_roles or {},
    }


def _member_roles(session: Session, account_ids: list[str]) -> dict[str, dict[str, str]]:
    """account id → {profile id: role} of its members."""
    out: dict[str, dict[str, str]] = {a: {} for a in account_ids}
    rows = session.execute(
        select(Membership.account_id, Membership.profile_id, Membership.role).where(
            Membership.account_id.in_(account_ids)
        )
    ).all()
    for account_id, profile_id, role in rows:
        out[account_id][profile_id] = role
    return out


def record_roles(session: Session, account_id: str) -> None:
    """The account's members or their roles changed: its settings (which list them) go to the feed."""
    feed.record(session, "settings", account_id, [account_id])


def _masters(session: Session, account_ids: list[str]) -> dict[str, str]:
    rows = session.execute(
        select(Membership.account_id, Membership.profile_id).where(
            Membership.account_id.in_(account_ids), Membership.role == Role.MASTER.value
        )
    ).all()
    return {a: p for a, p in rows}


def _settings_row(session: Session, account_id: str, *, for_update: bool = False) -> AccountSettings:
    stmt = select(AccountSettings).where(AccountSettings.account_id == account_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = session.scalar(stmt)
    if row is None:
        # Accounts get their settings when created; this covers rows made before that existed.
        if session.get(Account, account_id) is None:
            raise not_found("La cuenta")
        row = AccountSettings(account_id=account_id)
        session.add(row)
        session.flush()
    return row


def get_settings(session: Session, actor: Actor) -> dict[str, Any]:
    row = _settings_row(session, actor.account_id)
    return settings_view(
        row,
        _masters(session, [actor.account_id]).get(actor.account_id),
        _member_roles(session, [actor.account_id])[actor.account_id],
    )


def update_settings(
    session: Session,
    actor: Actor,
    *,
    expected_version: int | None = None,
    bulk_stamp_price_cents: int | None = None,
    allow_panel_stamp_purchase: bool | None = None,
    allow_panel_point_purchase: bool | None = None,
    auto_stamp_purchase: bool | None = None,
) -> dict[str, Any]:
    """Configuraciones globales. Options left None keep their value."""
    row = _settings_row(session, actor.account_id, for_update=True)
    master = _masters(session, [actor.account_id]).get(actor.account_id)
    members = _member_roles(session, [actor.account_id])[actor.account_id]
    _check_expected_version(expected_version, row.version, settings_view(row, master, members))
    v = contact.Validator()
    price = v.optional("bulk_stamp_price_cents", check_amount_cents, bulk_stamp_price_cents)
    flags = {
        "allow_panel_stamp_purchase": allow_panel_stamp_purchase,
        "allow_panel_point_purchase": allow_panel_point_purchase,
        "auto_stamp_purchase": auto_stamp_purchase,
    }
    for field, value in flags.items():
        if value is not None and not isinstance(value, bool):
            v.add(field, "Indique sí o no.")
    v.raise_if_any()
    stamp_panel = (
        row.allow_panel_stamp_purchase if allow_panel_stamp_purchase is None else allow_panel_stamp_purchase
    )
    auto = row.auto_stamp_purchase if auto_stamp_purchase is None else auto_stamp_purchase
    if stamp_panel:
        problems = []
        if _client_stamp_packages(session, actor.account_id) == 0:
            problems.append("al menos un paquete de timbres definido (Herramientas → Precios)")
        if not auto:
            problems.append("la compra automática de timbres habilitada")
        if problems:
            field = "allow_panel_stamp_purchase" if allow_panel_stamp_purchase else "auto_stamp_purchase"
            raise validation_error(
                {
                    field: "Permitir la compra de timbres a través del PCC requiere "
                    + " y ".join(problems)
                    + "."
                }
            )
    if price is not None:
        row.bulk_stamp_price_cents = price
    for field, value in flags.items():
        if value is not None:
            setattr(row, field, value)
    session.flush()
    return settings_view(row, master, members)


def load_settings(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = list(session.scalars(select(AccountSettings).where(AccountSettings.account_id.in_(ids))))
    account_ids = [r.account_id for r in rows]
    masters = _masters(session, account_ids) if rows else {}
    roles_of = _member_roles(session, account_ids) if rows else {}
    return {
        r.account_id: settings_view(r, masters.get(r.account_id), roles_of.get(r.account_id))
        for r in rows
    }


# ---- Client panel purchase (PCC) -----------------------------------------------------------------


def _covering_purchase(session: Session, asset: Asset, shortfall: int) -> tuple[CatalogPackage, int]:
    """The catalog package to buy for `shortfall` units: the smallest that covers it (the cheapest of
    equal size); when none is that big, enough of the biggest."""
    packages = list(
        session.scalars(
            select(CatalogPackage)
            .where(CatalogPackage.asset == asset.value, CatalogPackage.active.is_(True))
            .order_by(CatalogPackage.quantity, CatalogPackage.price_cents, CatalogPackage.id)
        )
    )
    if not packages:
        raise DomainError(
            ErrorCode.INSUFFICIENT_BALANCE,
            f"Su distribuidor no tiene {ASSET_NAME[asset.value]} suficientes y no hay paquetes a la venta.",
        )
    for package in packages:
        if package.quantity >= shortfall:
            return package, 1
    biggest = max(packages, key=lambda p: (p.quantity, -p.price_cents))
    return biggest, -(-shortfall // biggest.quantity)


def panel_purchase(
    session: Session,
    *,
    client_id: str,
    price_package_id: str,
    stamping_account_id: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """A client buys one of its distributor's packages from its control panel (PCC).

    Stamps go to the client's standard CTI (the one given, else its oldest); points to the client.
    When the distributor lacks the quantity, the catalog package covering the shortfall is bought
    first (stamps: needs "compra automática"; points: implied by enabling the PCC purchase). The
    sale is a `transfer` at the package's price, pending invoice."""
    now = now or utcnow()
    client = session.get(Client, client_id)
    if client is None:
        raise not_found("El cliente")
    package = session.get(PricePackage, price_package_id)
    if package is None or package.account_id != client.account_id or package.for_distributors:
        raise not_found("El paquete")
    asset = Asset(package.asset)
    # The account row lock serialises panel purchases of one distributor, so the shortfall we compute
    # is the one we cover.
    account = session.scalar(
        select(Account)
        .where(Account.id == client.account_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if account is None:
        raise not_found("El distribuidor")
    if account.status != AccountStatus.ACTIVE.value:
        raise DomainError(ErrorCode.ACCOUNT_BLOCKED, "Su distribuidor no puede vender en este momento.")
    settings = _settings_row(session, account.id)
    enabled = (
        settings.allow_panel_stamp_purchase if asset == Asset.STAMPS else settings.allow_panel_point_purchase
    )
    if not enabled:
        raise DomainError(
            ErrorCode.FEATURE_NOT_CONTRACTED,
            f"Su distribuidor no permite comprar {ASSET_NAME[asset.value]} "
            "desde el Panel de Control del Cliente.",
        )
    if asset == Asset.STAMPS:
        target = (PartyType.STAMPING_ACCOUNT, _panel_cti(session, client, stamping_account_id).id)
        have = account.stamps_balance
        may_buy = settings.auto_stamp_purchase
    else:
        target = (PartyType.CLIENT, client.id)
        have = account.points_balance
        may_buy = True
    distributor = Actor(account.id, PANEL_AUTHOR)
    bought: dict[str, Any] | None = None
    shortfall = package.quantity - have
    if shortfall > 0 and may_buy:
        catalog_package, count = _covering_purchase(session, asset, shortfall)
        bought = ledger.purchase(session, distributor, catalog_package.id, count, now=now)
    balances.debit(session, PartyType.ACCOUNT, account.id, asset, package.quantity)
    balances.credit(session, target[0], target[1], asset, package.quantity, now=now)
    movement = ledger.record_movement(
        session,
        distributor,
        kind=MovementKind.TRANSFER,
        asset=asset,
        quantity=package.quantity,
        amount_cents=package.price_cents,
        source=(PartyType.ACCOUNT, account.id),
        target=target,
        client_id=client.id,
        comments=f"Compra desde el Panel de Control del Cliente: paquete de {package.quantity:,} "
        f"{ASSET_NAME[asset.value]}" + (f" ({package.description})" if package.description else ""),
        now=now,
    )
    return {
        "movement": ledger.movement_view(movement),
        "purchase": bought,
        "price_package": price_package_view(package),
    }


def _panel_cti(session: Session, client: Client, cti_id: str | None) -> StampingAccount:
    if cti_id:
        cti = session.get(StampingAccount, cti_id)
        if cti is None or cti.client_id != client.id:
            raise not_found("La cuenta de timbrado")
        if cti.kind != StampingAccountKind.STANDARD.value:
            raise validation_error(
                {"stamping_account_id": "Las cuentas ilimitadas no reciben timbres; elija una estándar."}
            )
        return cti
    first = session.scalar(
        select(StampingAccount)
        .where(
            StampingAccount.client_id == client.id, StampingAccount.kind == StampingAccountKind.STANDARD.value
        )
        .order_by(StampingAccount.created_at, StampingAccount.id)
        .limit(1)
    )
    if first is None:
        raise validation_error(
            {"stamping_account_id": "El cliente no tiene una cuenta de timbrado estándar para los timbres."}
        )
    return first


FEED_LOADERS = {
    "price_package": load_price_packages,
    "settings": load_settings,
    "profile": load_profiles,
}
