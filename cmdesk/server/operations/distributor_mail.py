"""The confirmation of a sub-distributor's administrator: the mail to the e-mail typed, its link, and
— when that e-mail or mobile already belong to a profile — the consent of the master an account
awaits (issue 15; see `distributors.create_sub_distributor`).

A new person gets a profile at once (no password when the parent made it) and the link confirms it.
A person who may already have a profile is not attached to the account nor told about to the parent:
the account awaits its master (an `Invitation` with role `master`, standing for the administrator in
the parent's views, `pending_admin_view`), and the same mail's link makes whoever holds the e-mail
its master. Confirming moves the accounts the profile administers from "Sin validar" to "Sin activar".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cmdesk.domain import contact, passwords
from cmdesk.domain.distributor_states import Action, transition
from cmdesk.domain.enums import AccountStatus, Role
from cmdesk.domain.errors import validation_error
from cmdesk.models import Account, Client, Invitation, LinkToken, Membership, Profile, utcnow
from cmdesk.server import feed
from cmdesk.server.mail import links, queue
from cmdesk.server.operations import accounts
from cmdesk.server.security import hash_password


def pending_masters(session: Session, account_ids: list[str]) -> dict[str, Invitation]:
    """account id → the invitation of the master it waits for (see `create_sub_distributor`)."""
    if not account_ids:
        return {}
    rows = session.scalars(
        select(Invitation).where(
            Invitation.account_id.in_(account_ids),
            Invitation.role == Role.MASTER.value,
            Invitation.accepted_at.is_(None),
        )
    )
    return {inv.account_id: inv for inv in rows}


def pending_admin_view(inv: Invitation) -> dict[str, Any]:
    """The master an account waits for, as its parent sees it: what the parent typed, under the
    invitation's id (the same shape as a new, unconfirmed profile: nothing tells them apart)."""
    return {
        "id": inv.id,
        "version": 1,
        "name": inv.name,
        "email": inv.email,
        "mobile": inv.mobile,
        "email_confirmed": False,
        "created_at": inv.created_at,
    }


def send_confirmation(
    session: Session,
    profile: Profile,
    account: Account,
    now: dt.datetime,
    *,
    self_registered: bool = False,
) -> str:
    """A confirmation link for `profile` (older ones stop working) and its mail, in this transaction.
    Returns the token (for in-process callers such as the demo seed; never an API answer)."""
    row, token = links.issue(session, "confirm_email", profile_id=profile.id, account_id=account.id, now=now)
    _queue_confirmation(
        session,
        row,
        account,
        email=profile.email,
        name=profile.name,
        needs_password=profile.password_hash is None,
        self_registered=self_registered,
        now=now,
    )
    return token


def _queue_confirmation(
    session: Session,
    row: LinkToken,
    account: Account,
    *,
    email: str,
    name: str,
    needs_password: bool,
    self_registered: bool,
    now: dt.datetime,
) -> None:
    """The confirmation mail of link `row`: one shape for a new person and for one awaited as master
    (`send_master_confirmation`), so the parent's views can't tell them apart."""
    parent = session.get(Account, account.parent_id) if account.parent_id else None
    queue.enqueue(
        session,
        "confirm_email",
        to_address=email,
        to_name=name,
        params={
            "profile_name": name,
            "email": email,
            "account_name": account.name,
            "account_nic": account.nic,
            "parent_name": parent.name if parent else "",
            "parent_nic": parent.nic if parent else "",
            "self_registered": self_registered,
            "needs_password": needs_password,
            "expires_at": row.expires_at.isoformat(),
        },
        token_id=row.id,
        account_id=account.id,
        requested_by_account_id=account.parent_id,
        now=now,
    )


def send_master_confirmation(session: Session, inv: Invitation, account: Account, now: dt.datetime) -> str:
    """The confirmation mail of an account awaiting its master (`_create_awaiting_master`): the same
    mail, to the typed e-mail, as `send_confirmation` sends a new person."""
    profile = session.get(Profile, inv.profile_id) if inv.profile_id else None
    row, token = links.issue(
        session,
        "confirm_email",
        profile_id=inv.profile_id,
        account_id=account.id,
        invitation_id=inv.id,
        now=now,
    )
    inv.sent_at, inv.expires_at = now, row.expires_at
    _queue_confirmation(
        session,
        row,
        account,
        email=inv.email,
        name=inv.name,
        needs_password=profile is None or profile.password_hash is None,
        self_registered=account.referred_by_nic is not None,
        now=now,
    )
    return token


def is_client_main_profile(session: Session, profile_id: str) -> bool:
    """A client's main profile (`Client.admin_profile_id`) can be neither a user nor the master of a
    Cuenta Maestra (manual, "Perfil principal"): an invitation and a confirmation link refuse it."""
    found = session.scalar(select(Client.id).where(Client.admin_profile_id == profile_id).limit(1))
    return found is not None


def closed_account_refusal(account: Account, *, awaiting_master: bool) -> str | None:
    """Why a confirmation link no longer serves `account` (None: it does). A suspended or cancelled
    account is confirmed by nobody, and one awaiting its master gets none once it left "Sin validar"."""
    which = f"La Cuenta Maestra {account.name} (NIC {account.nic})"
    if account.status == AccountStatus.CANCELLED.value:
        return (
            f"{which} fue cancelada por su distribuidor, así que este enlace ya no la confirma. Si la "
            "necesita, pida a su distribuidor que la reactive o que la dé de alta de nuevo."
        )
    if account.status == AccountStatus.SUSPENDED.value:
        return (
            f"{which} está suspendida por su distribuidor, así que este enlace no la confirma. Pida a "
            "su distribuidor que la reactive y que le reenvíe el correo."
        )
    if awaiting_master and account.status != AccountStatus.UNVALIDATED.value:
        return f"{which} ya no espera la confirmación de este correo."
    return None


def confirm_profile(session: Session, profile: Profile, now: dt.datetime) -> list[Account]:
    """The profile's e-mail is proven (a link sent to it was opened): mark it confirmed and move the
    "Sin validar" accounts it administers to "Sin activar". Returns those accounts."""
    if profile.email_confirmed_at is None:
        profile.email_confirmed_at = now
    owned = session.scalars(
        select(Account)
        .join(Membership, Membership.account_id == Account.id)
        .where(
            Membership.profile_id == profile.id,
            Membership.role == Role.MASTER.value,
            Account.status == AccountStatus.UNVALIDATED.value,
        )
        .with_for_update(of=Account)
    ).all()
    for account in owned:
        account.status = transition(AccountStatus.UNVALIDATED, Action.CONFIRM_EMAIL, now=now).value
    member_of = session.scalars(
        select(Membership.account_id).where(Membership.profile_id == profile.id)
    ).all()
    feed.record(session, "profile", profile.id, member_of)
    return list(owned)


def describe_confirmation(session: Session, token: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """What the confirmation page shows before the person acts (the token is not used up):
    whose e-mail, for which account, whether a password must be chosen, and `refusal`: why acting
    would be refused (None: it would not), told before a password is typed. `LinkProblem` if the
    link can't be used."""
    now = now or utcnow()
    row = links.check(session, token, "confirm_email", now, lock=False)
    inv = session.get(Invitation, row.invitation_id) if row.invitation_id else None
    profile = session.get(Profile, row.profile_id) if row.profile_id else None
    account = session.get(Account, row.account_id) if row.account_id else None
    if inv is not None:  # an account awaiting its master (`_create_awaiting_master`)
        profile = profile or session.scalar(select(Profile).where(Profile.email == inv.email))
        closed = closed_account_refusal(account, awaiting_master=True) if account else None
        return {
            "refusal": closed or _master_refusal(session, inv, profile),
            "email": inv.email,
            "profile_name": profile.name if profile is not None else inv.name,
            "needs_password": profile is None or profile.password_hash is None,
            "account_name": account.name if account else "",
            "account_nic": account.nic if account else "",
            "expires_at": row.expires_at,
        }
    if profile is None:
        raise links.LinkProblem("unknown", "confirm_email")
    return {
        "refusal": closed_account_refusal(account, awaiting_master=False) if account else None,
        "email": profile.email,
        "profile_name": profile.name,
        "needs_password": profile.password_hash is None,
        "account_name": account.name if account else "",
        "account_nic": account.nic if account else "",
        "expires_at": row.expires_at,
    }


def confirm_email(
    session: Session, token: str, password: str | None = None, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The link of the confirmation e-mail (public): sets the profile's password (required if it has
    none yet), marks the e-mail confirmed and moves its "Sin validar" accounts to "Sin activar".
    A used, replaced, expired or unknown link changes nothing (422 on `token`)."""
    now = now or utcnow()
    try:
        row = links.check(session, token, "confirm_email", now)
    except links.LinkProblem as problem:
        raise problem.as_domain_error() from None
    if row.invitation_id is not None:
        return _confirm_master(session, row, password, now)
    profile = session.get(Profile, row.profile_id) if row.profile_id else None
    if profile is None:
        raise links.LinkProblem("unknown").as_domain_error()
    account = session.get(Account, row.account_id) if row.account_id else None
    if account is not None and (refusal := closed_account_refusal(account, awaiting_master=False)):
        raise validation_error({"token": refusal})
    if password is None and profile.password_hash is None:
        raise validation_error({"password": "Escriba la contraseña de su perfil."})
    if password is not None:
        profile.password_hash = hash_password(passwords.check_password(password))
    row.used_at = now
    owned = confirm_profile(session, profile, now)
    session.flush()
    return {"profile": accounts.profile_view(profile), "confirmed_account_ids": [a.id for a in owned]}


def _master_refusal(session: Session, inv: Invitation, profile: Profile | None) -> str | None:
    """Why the holder of the e-mail (`profile`, None: nobody yet) can't become the awaited master."""
    if profile is not None and is_client_main_profile(session, profile.id):
        return "Su perfil es el perfil principal de un cliente; no puede administrar una Cuenta Maestra."
    if profile is None and session.scalar(select(Profile.id).where(Profile.mobile == inv.mobile)):
        return (
            f"El número móvil {inv.mobile} ya pertenece a otro perfil de Cuenta Maestra; pida a "
            "quien le dio de alta que lo haga de nuevo con su propio número."
        )
    return None


def _confirm_master(
    session: Session, row: LinkToken, password: str | None, now: dt.datetime
) -> dict[str, Any]:
    """The confirmation link of an account awaiting its master: whoever holds the typed e-mail
    becomes its master — their profile, or a new one with the typed mobile — and the account moves
    to "Sin activar". Told only to them: the mobile belongs to another profile."""
    inv = session.get(Invitation, row.invitation_id)
    account = session.get(Account, row.account_id) if row.account_id else None
    if inv is None or account is None:
        raise links.LinkProblem("unknown").as_domain_error()
    profile = session.get(Profile, inv.profile_id) if inv.profile_id else None
    profile = profile or session.scalar(select(Profile).where(Profile.email == inv.email))
    if refusal := closed_account_refusal(account, awaiting_master=True):
        raise validation_error({"token": refusal})  # nobody becomes master of a closed account
    v = contact.Validator()
    if refusal := _master_refusal(session, inv, profile):
        v.add("token", refusal)
    if profile is None or profile.password_hash is None:
        if not password:
            v.add("password", "Escriba la contraseña de su perfil.")
        else:
            v.run("password", passwords.check_password, password)
    v.raise_if_any()
    if profile is None:
        profile = Profile(name=inv.name, email=inv.email, mobile=inv.mobile, created_at=now)
        session.add(profile)
        session.flush()
    if profile.password_hash is None:
        assert password is not None
        profile.password_hash = hash_password(password)
    member = session.scalar(
        select(Membership).where(Membership.account_id == account.id, Membership.profile_id == profile.id)
    )
    if member is None:
        session.add(
            Membership(account_id=account.id, profile_id=profile.id, role=Role.MASTER.value, created_at=now)
        )
    else:
        member.role = Role.MASTER.value
    inv.profile_id, inv.accepted_at = profile.id, now
    row.used_at = now
    session.flush()
    owned = confirm_profile(session, profile, now)
    feed.record(session, "profile", profile.id, [account.id])
    session.flush()
    return {"profile": accounts.profile_view(profile), "confirmed_account_ids": [a.id for a in owned]}
