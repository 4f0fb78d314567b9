"""Sub-distributors (manual, "Distribuidores"): a distributor's own network of Cuentas Maestras.

With the Multinivel subscription a distributor creates sub-distributor accounts (in the portal, from
an existing client, or through self-registration on an external web site), and moves them through
their states: Sin validar → Sin activar → Activo ⇄ Suspendido, Vencido → renewed, and Cancelado,
which can be re-activated for 30 days and is then purged (`operations.maintenance`). The rules of the
states live in `cmdesk.domain.distributor_states`; this module applies them to the rows.

A new sub-distributor must not reuse the creating distributor's e-mail or phone (manual: "no debe
contener datos como correo electrónico o número telefónico del Distribuidor que da de alta"). Its
administrator confirms the e-mail typed (the account stays "Sin validar" until then): a new profile,
or — when the e-mail or mobile already belong to one — whoever holds the e-mail, who becomes its master
only then; nothing the parent sees tells the two apart (issue 15, `distributor_mail`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from cmdesk.domain import contact, geography, identity, passwords
from cmdesk.domain.distributor_states import (
    REACTIVATION_WINDOW,
    SPANISH_STATUS,
    Action,
    transition,
)
from cmdesk.domain.enums import MULTINIVEL_CODE, AccountStatus, Role
from cmdesk.domain.errors import DomainError, ErrorCode, not_found, validation_error
from cmdesk.domain.proration import add_one_year
from cmdesk.models import (
    Account,
    Client,
    Invitation,
    Membership,
    OutboundMail,
    Profile,
    utcnow,
)
from cmdesk.server import feed
from cmdesk.server.mail import links, queue
from cmdesk.server.operations import accounts, contracts
from cmdesk.server.operations.context import Actor
from cmdesk.server.operations.distributor_mail import (
    confirm_email as confirm_email,
)
from cmdesk.server.operations.distributor_mail import (
    confirm_profile as confirm_profile,
)
from cmdesk.server.operations.distributor_mail import (
    describe_confirmation as describe_confirmation,
)
from cmdesk.server.operations.distributor_mail import (
    pending_admin_view,
    pending_masters,
    send_confirmation,
    send_master_confirmation,
)

ANNUAL_FEE_CODE = "distributor_annual_fee"
CONFIRMATION_VALIDITY = links.VALIDITY["confirm_email"]

# Company fields of the manual's form (besides name, RFC and phone), with their labels and lengths.
COMPANY_FIELDS: dict[str, tuple[str, int]] = {
    "trade_name": ("Nombre comercial", 200),
    "state": ("Estado", 40),
    "city": ("Ciudad", 100),
    "postal_code": ("Código postal", 5),
    "neighborhood": ("Colonia", 100),
    "street": ("Calle", 200),
    "exterior_number": ("Número exterior", 20),
    "interior_number": ("Número interior", 20),
    "business_activity": ("¿A qué se dedica su empresa?", 200),
    "comments": ("Comentarios", 2000),
}


# --- views ---------------------------------------------------------------------------------------


def distributor_view(
    account: Account, admin: Profile | None = None, confirmation_mail: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A sub-distributor as its parent sees it in the Distribuidores tab, with the state of the last
    confirmation e-mail sent to its administrator (when it went out, or why it did not)."""
    status = AccountStatus(account.status)
    return {
        **accounts.account_view(account),
        "status_label": SPANISH_STATUS[status],
        # The end of the 30 days in which a cancelled account can still be re-activated.
        "purge_at": (
            account.cancelled_at + REACTIVATION_WINDOW
            if status is AccountStatus.CANCELLED and account.cancelled_at is not None
            else None
        ),
        "source_client_id": account.source_client_id,
        "referred_by_nic": account.referred_by_nic,
        "admin_profile": (
            {
                "id": admin.id,
                "name": admin.name,
                "email": admin.email,
                "mobile": admin.mobile,
                "email_confirmed": admin.email_confirmed_at is not None,
            }
            if admin is not None
            else None
        ),
        "confirmation_mail": confirmation_mail,
    }


def _with_admins(session: Session, where: Any, order: bool = False) -> list[tuple[Account, Profile | None]]:
    """Accounts matching `where` with their master profile, in one query."""
    stmt = (
        select(Account, Profile)
        .outerjoin(
            Membership,
            and_(Membership.account_id == Account.id, Membership.role == Role.MASTER.value),
        )
        .outerjoin(Profile, Profile.id == Membership.profile_id)
        .where(where)
    )
    if order:
        stmt = stmt.order_by(Account.nic)
    seen: dict[str, tuple[Account, Profile | None]] = {}
    for account, profile in session.execute(stmt).all():
        seen.setdefault(account.id, (account, profile))
    return list(seen.values())


def _views(session: Session, found: list[tuple[Account, Profile | None]]) -> list[dict[str, Any]]:
    mails = queue.latest_by(session, OutboundMail.account_id, [a.id for a, _ in found], "confirm_email")
    pending = pending_masters(session, [a.id for a, p in found if p is None])
    views = []
    for account, profile in found:
        view = distributor_view(account, profile, mails.get(account.id))
        if profile is None and account.id in pending:
            admin = pending_admin_view(pending[account.id])
            keys = ("id", "name", "email", "mobile", "email_confirmed")
            view["admin_profile"] = {k: admin[k] for k in keys}
        views.append(view)
    return views


def load_distributors(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    return {v["id"]: v for v in _views(session, _with_admins(session, Account.id.in_(ids)))}


FEED_LOADERS: dict[str, Callable[[Session, list[str]], dict[str, dict[str, Any]]]] = {
    "distributor": load_distributors,
}


def _view(session: Session, account: Account) -> dict[str, Any]:
    session.flush()
    return load_distributors(session, [account.id])[account.id]


# --- creating ------------------------------------------------------------------------------------


def _valid_phone_or_empty(value: str) -> str:
    try:
        return contact.check_phone(value) if value.strip() else ""
    except DomainError:
        return ""


def _own_contacts(session: Session, parent: Account) -> tuple[set[str], set[str]]:
    """E-mails and phones of the creating distributor: its account's and every member profile's."""
    members = session.scalars(
        select(Profile)
        .join(Membership, Membership.profile_id == Profile.id)
        .where(Membership.account_id == parent.id)
    ).all()
    return contact.own_contacts(
        [parent.email, *(p.email for p in members)], [parent.phone, *(p.mobile for p in members)]
    )


def _validate_company(v: contact.Validator, company: dict[str, str]) -> dict[str, str]:
    unknown = set(company) - set(COMPANY_FIELDS)
    if unknown:
        raise validation_error({name: "Campo desconocido." for name in sorted(unknown)})
    values: dict[str, str] = {}
    for name, (label, length) in COMPANY_FIELDS.items():
        raw = company.get(name) or ""
        if not isinstance(raw, str):
            v.add(name, f"El campo «{label}» debe ser texto.")
            continue
        value = v.run(name, contact.check_max_length, raw, label, length)
        if value and name == "state":
            value = v.run(name, geography.check_state, value)
        elif value and name == "postal_code":
            value = v.run(name, contact.check_postal_code, value)
        values[name] = value or ""
    return values


def _validate_new(
    session: Session,
    parent: Account,
    *,
    email: str,
    mobile: str,
    name: str,
    rfc: str,
    phone: str,
    company: dict[str, str],
    password: str | None = None,
) -> dict[str, Any]:
    """Every field of a new sub-distributor checked at once (never whether a profile has them)."""
    v = contact.Validator()
    email_ok = v.run("email", contact.check_email, email)
    mobile_ok = v.run("mobile", contact.check_phone, mobile)
    name_ok = v.run("name", contact.check_required, name, "Empresa")
    if name_ok is not None and len(name_ok) > 200:
        v.add("name", "El campo «Empresa» admite como máximo 200 caracteres.")
    rfc_ok = v.run("rfc", identity.check_rfc, rfc)
    phone_ok = v.optional("phone", contact.check_phone, phone)
    values = _validate_company(v, company)
    if password is not None:
        v.run("password", passwords.check_password, password)
    own = _own_contacts(session, parent)
    for field, problem in contact.own_contact_problems(
        own, email=email_ok, mobile=mobile_ok, phone=phone_ok
    ).items():
        v.add(field, problem)
    v.raise_if_any()
    assert email_ok is not None and mobile_ok is not None and name_ok is not None and rfc_ok is not None
    return {
        "email": email_ok,
        "mobile": mobile_ok,
        "name": name_ok,
        "rfc": rfc_ok.rfc,
        "phone": phone_ok or "",
        "company": values,
    }


def _require_multinivel(session: Session, account_id: str, now: dt.datetime) -> None:
    contracts.require_contract(session, account_id, MULTINIVEL_CODE, now, "Administrar distribuidores")


def _new_account(
    session: Session,
    parent: Account,
    checked: dict[str, Any],
    *,
    now: dt.datetime,
    master: bool,
    password: str | None = None,
    profile_name: str = "",
    **extra: Any,
) -> tuple[dict[str, Any], Account]:
    """A "Sin validar" sub-account of `parent` with the checked form (and, with `master`, its new
    master profile): `accounts.create_distributor`'s answer and the account."""
    created = accounts.create_distributor(
        session,
        name=checked["name"],
        email=checked["email"],
        mobile=checked["mobile"],
        password=password,
        rfc=checked["rfc"],
        parent_id=parent.id,
        status=AccountStatus.UNVALIDATED,
        expires_at=add_one_year(now),
        profile_name=profile_name.strip(),
        confirmed=False,
        now=now,
        master=master,
        **checked["company"],
    )
    account = session.get(Account, created["account"]["id"])
    assert account is not None
    # The company phone is the form's; `create_distributor` only knows the administrator's mobile.
    account.phone = checked["phone"] or checked["mobile"]
    for key, value in extra.items():
        setattr(account, key, value)
    return created, account


def _create_child(
    session: Session,
    parent: Account,
    checked: dict[str, Any],
    *,
    now: dt.datetime,
    password: str | None = None,
    profile_name: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """The sub-account and its new master profile, "Sin validar", and the confirmation token (the
    e-mail and mobile belong to no profile: `_create_for`)."""
    created, account = _new_account(
        session, parent, checked, now=now, master=True, password=password, profile_name=profile_name, **extra
    )
    profile_id: str = created["profile"]["id"]
    profile = session.get(Profile, profile_id)
    assert profile is not None
    session.flush()
    token = send_confirmation(session, profile, account, now, self_registered=password is not None)
    # Profiles reach the feed through their accounts (Profile.feed_audience is empty).
    feed.record(session, "profile", profile_id, [account.id])
    session.flush()
    return {
        "distributor": _view(session, account),
        "profile": created["profile"],
        "confirmation_token": token,
    }


def _parent(session: Session, actor: Actor) -> Account:
    parent = session.get(Account, actor.account_id)
    if parent is None:
        raise not_found("La cuenta")
    return parent


def create_sub_distributor(
    session: Session,
    actor: Actor,
    *,
    email: str,
    mobile: str,
    name: str,
    rfc: str,
    phone: str = "",
    profile_name: str = "",
    now: dt.datetime | None = None,
    **company: str,
) -> dict[str, Any]:
    """Alta de distribuidor: a sub-account of the actor's, "Sin validar" until its profile confirms
    the e-mail (then "Sin activar"). Returns the distributor, its profile and, for a new profile, the
    confirmation token the e-mail carries."""
    now = now or utcnow()
    _require_multinivel(session, actor.account_id, now)
    parent = _parent(session, actor)
    checked = _validate_new(
        session,
        parent,
        email=email,
        mobile=mobile,
        name=name,
        rfc=rfc,
        phone=phone,
        company=company,
    )
    return _create_for(session, parent, checked, now=now, profile_name=profile_name, invited_by=actor.author)


def _create_for(
    session: Session,
    parent: Account,
    checked: dict[str, Any],
    *,
    now: dt.datetime,
    profile_name: str,
    invited_by: str,
    **extra: Any,
) -> dict[str, Any]:
    """A new sub-account for the person typed: with a new profile, or — when the e-mail or the mobile
    already belong to one — awaiting its master's consent (`_create_awaiting_master`)."""
    by_email = session.scalar(select(Profile).where(Profile.email == checked["email"]))
    mobile_taken = session.scalar(select(Profile.id).where(Profile.mobile == checked["mobile"]))
    if by_email is None and mobile_taken is None:
        return _create_child(session, parent, checked, now=now, profile_name=profile_name, **extra)
    return _create_awaiting_master(
        session, parent, checked, by_email, now=now, profile_name=profile_name, invited_by=invited_by, **extra
    )


def _create_awaiting_master(
    session: Session,
    parent: Account,
    checked: dict[str, Any],
    profile: Profile | None,
    *,
    now: dt.datetime,
    profile_name: str,
    invited_by: str,
    self_registered: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """The e-mail or the mobile typed already belong to a profile (issue 15: the parent must not learn
    it, nor attach that person without their consent). The account is made the same, "Sin validar",
    but with no master yet: the confirmation mail goes to the typed e-mail as for anyone, and its link
    makes its owner the master (their existing profile, or a new one) — consent. What only the owner
    of the e-mail may learn (the mobile belongs to someone else) is said on the confirmation page.
    The answer and the parent's views are those of a new person: what the parent typed."""
    if self_registered:
        extra["referred_by_nic"] = parent.nic
    _created, account = _new_account(session, parent, checked, now=now, master=False, **extra)
    inv = Invitation(
        account_id=account.id,
        email=checked["email"],
        mobile=checked["mobile"],
        name=profile_name.strip() or checked["name"],
        profile_id=profile.id if profile is not None else None,
        invited_by=invited_by,
        role=Role.MASTER.value,
        created_at=now,
        sent_at=now,
        expires_at=now,
    )
    session.add(inv)
    session.flush()
    token = send_master_confirmation(session, inv, account, now)
    session.flush()
    return {
        "distributor": _view(session, account),
        "profile": pending_admin_view(inv),
        "confirmation_token": token,
    }


def register_public(
    session: Session,
    *,
    referrer_nic: str,
    email: str,
    mobile: str,
    password: str,
    name: str,
    rfc: str,
    phone: str = "",
    profile_name: str = "",
    now: dt.datetime | None = None,
    **company: str,
) -> dict[str, Any]:
    """Self-registration from an external web site linked to a distributor with Multinivel: a new
    profile (with its password, e-mail not confirmed yet) and a "Sin validar" sub-account.

    Whether the e-mail or the mobile already belong to a profile is never told to the caller nor to
    the referrer (issue 15): then the sub-account is made awaiting its master
    (`_create_awaiting_master`): the same "Sin validar" row in the referrer's list, the same mail to
    the typed e-mail, whose link makes its owner the master (the mobile's problem is told on its
    page). `registered` says which happened (for tests and logs; the API answers the same)."""
    now = now or utcnow()
    referrer = session.scalar(select(Account).where(Account.nic == (referrer_nic or "").strip()))
    if referrer is None or referrer.status != AccountStatus.ACTIVE.value:
        raise not_found("El distribuidor que lo invita")
    _require_multinivel(session, referrer.id, now)
    checked = _validate_new(
        session,
        referrer,
        email=email,
        mobile=mobile,
        name=name,
        rfc=rfc,
        phone=phone,
        company=company,
        password=password,
    )
    by_email = session.scalar(select(Profile).where(Profile.email == checked["email"]))
    mobile_taken = session.scalar(select(Profile.id).where(Profile.mobile == checked["mobile"])) is not None
    if by_email is not None or mobile_taken:
        # The referrer sees a "Sin validar" sub-account either way (its list must not tell them
        # whether someone else's e-mail has a profile); only the e-mail's owner can confirm it.
        created = _create_awaiting_master(
            session,
            referrer,
            checked,
            by_email,
            now=now,
            profile_name=profile_name,
            invited_by="public",
            self_registered=True,
        )
        return {**created, "registered": False, "email": checked["email"]}
    created = _create_child(
        session,
        referrer,
        checked,
        now=now,
        password=password,
        profile_name=profile_name,
        referred_by_nic=referrer.nic,
    )
    return {**created, "registered": True, "email": checked["email"]}


def convert_client_to_distributor(
    session: Session,
    actor: Actor,
    client_id: str,
    *,
    email: str,
    mobile: str,
    profile_name: str = "",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """A sub-distributor made from a client's data (name, RFC, address). The client stays as it is,
    with its CTIs and balances; it only remembers the account it became. A client converts once."""
    now = now or utcnow()
    _require_multinivel(session, actor.account_id, now)
    client = session.scalar(
        select(Client).where(Client.id == client_id, Client.account_id == actor.account_id).with_for_update()
    )
    if client is None:
        raise not_found("El cliente")
    if client.converted_account_id is not None:
        raise DomainError(ErrorCode.DUPLICATE, "Este cliente ya se convirtió en distribuidor.")
    parent = _parent(session, actor)
    company = {
        "trade_name": client.trade_name,
        "state": client.address_state,
        "city": client.address_city,
        "postal_code": client.address_postal_code,
        "neighborhood": client.address_neighborhood,
        "street": client.address_street,
        "exterior_number": client.address_exterior_number,
        "interior_number": client.address_interior_number,
        "business_activity": client.business_activity,
    }
    checked = _validate_new(
        session,
        parent,
        email=email,
        mobile=mobile,
        name=client.name,
        rfc=client.rfc,
        # The client's phone was checked when the client was saved; an odd legacy one is left out
        # rather than blocking a conversion the user can't fix from this dialog.
        phone=_valid_phone_or_empty(client.phone),
        company=company,
    )
    result = _create_for(
        session,
        parent,
        checked,
        now=now,
        profile_name=profile_name or client.legal_name,
        invited_by=actor.author,
        source_client_id=client.id,
    )
    client.converted_account_id = result["distributor"]["id"]
    session.flush()
    result["client_id"] = client.id
    return result


# --- e-mail confirmation -------------------------------------------------------------------------


def resend_confirmation(
    session: Session, actor: Actor, distributor_id: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Reenviar correo: a new confirmation link (the older ones stop working) and its mail, for a
    "Sin validar" sub-distributor whose mail got lost, failed or expired."""
    now = now or utcnow()
    account = _child(session, actor, distributor_id)
    if account.status != AccountStatus.UNVALIDATED.value:
        raise DomainError(
            ErrorCode.INVALID_STATE_TRANSITION,
            "Sólo las cuentas sin validar esperan la confirmación del correo.",
        )
    master_id = session.scalar(
        select(Membership.profile_id).where(
            Membership.account_id == account.id, Membership.role == Role.MASTER.value
        )
    )
    master = session.get(Profile, master_id) if master_id is not None else None
    if master is None:
        awaiting = pending_masters(session, [account.id]).get(account.id)
        if awaiting is None:
            raise not_found("El perfil administrador")
        token = send_master_confirmation(session, awaiting, account, now)
        session.flush()
        return {"distributor": _view(session, account), "confirmation_token": token}
    token = send_confirmation(
        session, master, account, now, self_registered=account.referred_by_nic is not None
    )
    session.flush()
    return {"distributor": _view(session, account), "confirmation_token": token}


# --- states --------------------------------------------------------------------------------------


def _child(session: Session, actor: Actor, distributor_id: str) -> Account:
    """One of the actor's own sub-distributors, locked; anybody else's is "not found"."""
    account = session.scalar(
        select(Account)
        .where(Account.id == distributor_id, Account.parent_id == actor.account_id)
        .with_for_update()
    )
    if account is None:
        raise not_found("El distribuidor")
    return account


def _expire_if_due(account: Account, now: dt.datetime) -> None:
    """Maintenance marks expired accounts periodically; an action in between sees the true state."""
    status = AccountStatus(account.status)
    if status in (AccountStatus.ACTIVE, AccountStatus.SUSPENDED) and account.expires_at <= now:
        account.status = transition(status, Action.EXPIRE, now=now, expires_at=account.expires_at).value


def _apply(
    session: Session, actor: Actor, distributor_id: str, action: Action | None, now: dt.datetime
) -> Account:
    """Lock the sub-distributor and move it by `action`; None is the manual's "Activar" button."""
    account = _child(session, actor, distributor_id)
    _expire_if_due(account, now)
    status = AccountStatus(account.status)
    if action is None:
        # The portal has one "Activar" button on the Sin activar, Suspendido and Cancelado tabs.
        reactivating = status in (AccountStatus.SUSPENDED, AccountStatus.CANCELLED)
        action = Action.REACTIVATE if reactivating else Action.ACTIVATE
    account.status = transition(status, action, now=now, cancelled_at=account.cancelled_at).value
    if action is Action.REACTIVATE:
        account.cancelled_at = None
    if account.status == AccountStatus.ACTIVE.value:
        account.activated_at = account.activated_at or now
    return account


def activate(
    session: Session, actor: Actor, distributor_id: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The manual's "Activar": Sin activar → Activo, and the re-activation of a Suspendido or a
    Cancelado (within its 30 days) account, as `reactivate` does."""
    now = now or utcnow()
    account = _apply(session, actor, distributor_id, None, now)
    # Cancelled past its expiry: back, but as Vencido, to be renewed (never active unpaid).
    _expire_if_due(account, now)
    return _view(session, account)


def suspend(
    session: Session, actor: Actor, distributor_id: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Activo → Suspendido."""
    now = now or utcnow()
    return _view(session, _apply(session, actor, distributor_id, Action.SUSPEND, now))


def reactivate(
    session: Session, actor: Actor, distributor_id: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Suspendido → Activo; Cancelado → Activo while less than 30 days have passed."""
    now = now or utcnow()
    account = _apply(session, actor, distributor_id, Action.REACTIVATE, now)
    _expire_if_due(account, now)
    return _view(session, account)


def cancel(
    session: Session, actor: Actor, distributor_id: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """→ Cancelado; purged 30 days later unless re-activated."""
    now = now or utcnow()
    account = _apply(session, actor, distributor_id, Action.CANCEL, now)
    account.cancelled_at = now
    return _view(session, account)


def renew(
    session: Session, actor: Actor, distributor_id: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Vencido → Activo for one more year: charges the annual fee and the full year of every
    auto-renewed contract to the renewed account's statement, and extends those contracts."""
    now = now or utcnow()
    from cmdesk.server.operations import renewal

    account = _apply(session, actor, distributor_id, Action.RENEW, now)
    charges = renewal.apply_renewal(session, account, author=actor.author, now=now)
    view = _view(session, account)
    return {**view, "charges": [contracts.charge_view(c) for c in charges]}


# --- list ----------------------------------------------------------------------------------------


def read_distributor(session: Session, actor: Actor, distributor_id: str) -> dict[str, Any]:
    """One of the actor's own sub-distributors; anybody else's is "not found"."""
    found = _with_admins(
        session, and_(Account.id == distributor_id, Account.parent_id == actor.account_id)
    )
    if not found:
        raise not_found("El distribuidor")
    return _views(session, found[:1])[0]


def list_distributors(session: Session, actor: Actor, status: str | None = None) -> list[dict[str, Any]]:
    """The Distribuidores tab: the actor's own sub-distributors by NIC, optionally of one state."""
    where: Any = Account.parent_id == actor.account_id
    if status is not None:
        try:
            where = and_(where, Account.status == AccountStatus(status).value)
        except ValueError:
            raise validation_error({"status": "Estado de distribuidor desconocido."}) from None
    return _views(session, _with_admins(session, where, order=True))
