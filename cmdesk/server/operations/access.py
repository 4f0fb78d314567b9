"""Getting into an account: invitations of users (Herramientas → Usuarios), password resets, and
the generic notice mail.

Invitations. One `Invitation` row per (account, e-mail). Inviting sends a link to that e-mail,
valid 7 days; nothing is granted until the person accepts it from their own e-mail (issue 15:
consent) — defining their password when they have none (a new person gets their profile then),
confirming the e-mail, and getting the membership with the invitation's role. The inviter is told
the same whether or not the e-mail or mobile belongs to a profile: the invitation holds what they
typed, and what only the owner of the e-mail may learn (the mobile belongs to someone else, the
profile administers a client) is said on the acceptance page. Resending issues a new link (the old
one stops working).

Password reset. Asking never tells whether the e-mail or mobile exists: the same answer, and the
same throttle buckets counted, either way (`throttle.Kind.RESET`, the one mechanism of every
check); a profile gets at most `password_resets_per_hour` mails an hour whatever spelling of its
login was typed (429 after that, also for unknown logins), and an address asking too often waits
growing delays. The link is valid one hour, once; using it sets the new
password, confirms the e-mail (the link proved it) and ends every open session of the profile.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from cmdesk.domain import contact, passwords
from cmdesk.domain.enums import AccountStatus, Role
from cmdesk.domain.errors import DomainError, ErrorCode, not_found, validation_error
from cmdesk.models import (
    Account,
    Invitation,
    Membership,
    OutboundMail,
    Profile,
    RefreshToken,
    ThrottleCounter,
    utcnow,
)
from cmdesk.server import db, feed, throttle
from cmdesk.server.mail import links, queue
from cmdesk.server.operations import auth
from cmdesk.server.operations.accounts import profile_view
from cmdesk.server.operations.context import Actor
from cmdesk.server.operations.distributor_mail import confirm_profile, is_client_main_profile
from cmdesk.server.security import hash_password

RESET_WINDOW = dt.timedelta(hours=1)

INVITATION_LABEL = {"sent": "Enviada", "accepted": "Aceptada", "expired": "Vencida"}


# ---------------------------------------------------------------------------------------------------
# Invitations


def invitation_status(inv: Invitation, now: dt.datetime | None = None) -> str:
    if inv.accepted_at is not None:
        return "accepted"
    return "expired" if inv.expires_at <= (now or utcnow()) else "sent"


def invitation_view(
    inv: Invitation, mail: dict[str, Any] | None = None, now: dt.datetime | None = None
) -> dict[str, Any]:
    status = invitation_status(inv, now)
    return {
        "id": inv.id,
        "version": inv.version,
        "account_id": inv.account_id,
        # Only once accepted: before, it would tell the inviter whether the e-mail had a profile.
        "profile_id": inv.profile_id if inv.accepted_at is not None else None,
        "email": inv.email,
        "mobile": inv.mobile,
        "name": inv.name,
        "status": status,
        "status_label": INVITATION_LABEL[status],
        "invited_by": inv.invited_by,
        "role": inv.role,
        "created_at": inv.created_at,
        "sent_at": inv.sent_at,
        "expires_at": inv.expires_at,
        "accepted_at": inv.accepted_at,
        "mail": mail,
    }


def invitation_views(session: Session, rows: list[Invitation]) -> dict[str, dict[str, Any]]:
    mails = queue.latest_by(session, OutboundMail.invitation_id, [r.id for r in rows], "invitation")
    now = utcnow()
    return {r.id: invitation_view(r, mails.get(r.id), now) for r in rows}


def load_invitations(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    return invitation_views(session, list(session.scalars(select(Invitation).where(Invitation.id.in_(ids)))))


FEED_LOADERS = {"invitation": load_invitations}


def invitations_by_profile(session: Session, account_id: str) -> dict[str, dict[str, Any]]:
    """The account's invitations by profile id (for the Usuarios list)."""
    rows = list(
        session.scalars(
            select(Invitation).where(Invitation.account_id == account_id, Invitation.profile_id.is_not(None))
        )
    )
    views = invitation_views(session, rows)
    return {r.profile_id: views[r.id] for r in rows if r.profile_id is not None}


def _inviter_name(session: Session, actor: Actor) -> str:
    profile = session.get(Profile, actor.profile_id)
    return (profile.name or profile.email) if profile is not None else ""


def invite(
    session: Session,
    actor: Actor,
    *,
    email: str,
    mobile: str,
    name: str = "",
    role: str = Role.OPERATOR.value,
    now: dt.datetime | None = None,
) -> Invitation:
    """Invite the person with this e-mail to the actor's account (in this transaction): a link to
    accept, sent to that e-mail, valid 7 days. Nothing is granted until they accept from their own
    e-mail (issue 15: consent), whether or not a profile with that e-mail exists — and the
    invitation says nothing about it: it holds what the inviter typed. Inviting again re-sends."""
    now = now or utcnow()
    account = session.get(Account, actor.account_id)
    if account is None:
        raise not_found("La cuenta")
    inv = session.scalar(
        select(Invitation)
        .where(Invitation.account_id == account.id, Invitation.email == email)
        .with_for_update()
    )
    if inv is None:
        inv = Invitation(account_id=account.id, email=email, created_at=now, expires_at=now)
        session.add(inv)
    profile = session.scalar(select(Profile).where(Profile.email == email))
    inv.mobile = mobile
    inv.name = name
    inv.profile_id = profile.id if profile is not None else None
    inv.invited_by = actor.author
    inv.role = role
    inv.accepted_at = None
    inv.sent_at = now
    session.flush()
    _send_invitation(session, inv, account, profile, _inviter_name(session, actor), now)
    return inv


def _send_invitation(
    session: Session,
    inv: Invitation,
    account: Account,
    profile: Profile | None,
    inviter: str,
    now: dt.datetime,
) -> str:
    row, token = links.issue(
        session,
        "invitation",
        profile_id=profile.id if profile is not None else None,
        account_id=account.id,
        invitation_id=inv.id,
        now=now,
    )
    inv.sent_at = now
    inv.expires_at = row.expires_at
    queue.enqueue(
        session,
        "invitation",
        to_address=inv.email,
        to_name=inv.name,
        params={
            "profile_name": inv.name,
            "email": inv.email,
            "account_name": account.name,
            "account_nic": account.nic,
            "inviter_name": inviter,
            "needs_password": profile is None or profile.password_hash is None,
            "expires_at": row.expires_at.isoformat(),
        },
        token_id=row.id,
        account_id=account.id,
        requested_by_account_id=account.id,
        invitation_id=inv.id,
        now=now,
    )
    # The account's desktops list the person as pending from the invitation (Usuarios).
    feed.record(session, "invitation", inv.id, [account.id])
    session.flush()
    return token


def pending_invitation(
    session: Session, account_id: str, ident: str, *, lock: bool = False
) -> Invitation | None:
    """The account's invitation not accepted yet whose id is `ident` (a pending user's id in
    `/v1/users`), or None."""
    stmt = select(Invitation).where(
        Invitation.account_id == account_id, Invitation.id == ident, Invitation.accepted_at.is_(None)
    )
    return session.scalar(stmt.with_for_update() if lock else stmt)


def resend_invitation(
    session: Session, actor: Actor, profile_id: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Reenviar invitación: a new link (the old one stops working) for a user who has not accepted."""
    now = now or utcnow()
    inv = pending_invitation(session, actor.account_id, profile_id, lock=True) or session.scalar(
        select(Invitation)
        .where(Invitation.account_id == actor.account_id, Invitation.profile_id == profile_id)
        .with_for_update()
    )
    if inv is None:
        member = session.scalar(
            select(Membership.id).where(
                Membership.account_id == actor.account_id, Membership.profile_id == profile_id
            )
        )
        if member is None:
            raise not_found("El usuario")
        raise DomainError(
            ErrorCode.INVALID_STATE_TRANSITION, "Este usuario no tiene una invitación pendiente."
        )
    if inv.accepted_at is not None:
        raise DomainError(ErrorCode.INVALID_STATE_TRANSITION, "Este usuario ya aceptó su invitación.")
    account = session.get(Account, actor.account_id)
    if account is None:
        raise not_found("El usuario")
    profile = session.get(Profile, inv.profile_id) if inv.profile_id else None
    _send_invitation(session, inv, account, profile, _inviter_name(session, actor), now)
    return invitation_views(session, [inv])[inv.id]


def describe_invitation(session: Session, token: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """What the invitation page shows before the person acts; `LinkProblem` if it can't be used."""
    now = now or utcnow()
    row = links.check(session, token, "invitation", now, lock=False)
    inv = session.get(Invitation, row.invitation_id) if row.invitation_id else None
    account = session.get(Account, inv.account_id) if inv is not None else None
    if inv is None or account is None:
        raise links.LinkProblem("unknown", "invitation")
    profile = session.get(Profile, inv.profile_id) if inv.profile_id else None
    if profile is None:
        profile = session.scalar(select(Profile).where(Profile.email == inv.email))
    return {
        # Told before a password is typed for nothing: the account's state, then the person's.
        "refusal": invitation_refusal(account) or _member_refusal(session, inv, profile),
        "email": inv.email,
        "profile_name": inv.name,
        "needs_password": profile is None or profile.password_hash is None,
        "account_name": account.name,
        "account_nic": account.nic,
        "expires_at": row.expires_at,
    }


def _member_refusal(session: Session, inv: Invitation, profile: Profile | None) -> str | None:
    """Why the holder of the invited e-mail (`profile`, None: nobody yet) can't become a user of the
    account. Told only to them (the link proves they hold the e-mail), never to the inviter."""
    taken = select(Profile.id).where(Profile.mobile == inv.mobile)
    if profile is None and inv.mobile and session.scalar(taken) is not None:
        return (
            f"El número móvil {inv.mobile} ya pertenece a otro perfil; pida a quien le invitó que le "
            "invite de nuevo con su número."
        )
    if profile is not None and is_client_main_profile(session, profile.id):
        return "Su perfil es el perfil principal de un cliente; no puede ser usuario de una Cuenta Maestra."
    return None


def invitation_refusal(account: Account) -> str | None:
    """Why an invitation to `account` can't be accepted now (None: it can). A suspended account gives
    no access until it is reactivated (the link keeps working meanwhile); a cancelled one, none."""
    which = f"La Cuenta Maestra {account.name} (NIC {account.nic})"
    if account.status == AccountStatus.CANCELLED.value:
        return f"{which} fue cancelada, así que esta invitación ya no da acceso a ella."
    if account.status == AccountStatus.SUSPENDED.value:
        return (
            f"{which} está suspendida por su distribuidor, así que esta invitación no puede aceptarse "
            "por ahora. Cuando la cuenta se reactive, abra de nuevo este enlace (mientras siga vigente)."
        )
    return None


def accept_invitation(
    session: Session,
    token: str,
    password: str | None = None,
    name: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The invitation link: defines the password (required when the profile has none), confirms the
    e-mail, grants the membership if it is not there yet, and marks the invitation accepted. A used,
    replaced, expired or unknown link changes nothing (422 on `token`)."""
    now = now or utcnow()
    try:
        row = links.check(session, token, "invitation", now)
    except links.LinkProblem as problem:
        raise problem.as_domain_error() from None
    inv = session.get(Invitation, row.invitation_id) if row.invitation_id else None
    account = session.get(Account, inv.account_id) if inv is not None else None
    if inv is None or account is None:
        raise links.LinkProblem("unknown").as_domain_error()
    profile = session.get(Profile, inv.profile_id) if inv.profile_id else None
    if profile is None:
        profile = session.scalar(select(Profile).where(Profile.email == inv.email))
    v = contact.Validator()
    if (refusal := invitation_refusal(account)) is not None:
        raise validation_error({"token": refusal})  # nothing changes: the link still works later
    name_n = v.optional("name", contact.check_person_name, name or "", "Nombre") or ""
    if (refusal := _member_refusal(session, inv, profile)) is not None:
        v.add("token", refusal)
    if profile is None or profile.password_hash is None:
        if not password:
            v.add("password", "Escriba la contraseña con la que iniciará sesión.")
        else:
            v.run("password", passwords.check_password, password)
    v.raise_if_any()
    if profile is None:
        profile = Profile(name=name_n or inv.name, email=inv.email, mobile=inv.mobile, created_at=now)
        session.add(profile)
        session.flush()
    inv.profile_id = profile.id
    if profile.password_hash is None:
        assert password is not None
        profile.password_hash = hash_password(password)
    if name_n:
        profile.name = name_n
    member = session.scalar(
        select(Membership).where(Membership.account_id == account.id, Membership.profile_id == profile.id)
    )
    if member is None:
        session.add(
            Membership(account_id=account.id, profile_id=profile.id, role=inv.role, created_at=now)
        )
    row.used_at = now
    inv.accepted_at = now
    confirm_profile(session, profile, now)
    feed.record(session, "profile", profile.id, [account.id])
    feed.record(session, "invitation", inv.id, [account.id])  # «Aceptada», now with its profile
    feed.record(session, "settings", account.id, [account.id])  # its `member_roles` (tools)
    session.flush()
    return {
        "profile": profile_view(profile),
        "account": {"id": account.id, "nic": account.nic, "name": account.name},
    }


def forget_invitation(session: Session, account_id: str, profile_id: str) -> None:
    """The user left the account (Usuarios → Eliminar): their invitation and its link go too."""
    for inv in session.scalars(
        select(Invitation).where(Invitation.account_id == account_id, Invitation.profile_id == profile_id)
    ):
        feed.record(session, "invitation", inv.id, [account_id], deleted=True)
        session.delete(inv)
    session.flush()


# ---------------------------------------------------------------------------------------------------
# Password reset


def reset_policy(per_hour: int, source_policy: throttle.Policy | None = None) -> throttle.Policy:
    """The throttle of reset requests: `per_hour` mails a login (one bucket per profile, whatever
    spelling was typed), and the per-address rule of every other check. No address is ever known-good
    for resets (they never "succeed"), so the limit is the same for everyone."""
    base = source_policy or throttle.Policy()
    return dataclasses.replace(base, subject_limit=per_hour, subject_window=RESET_WINDOW)


def request_password_reset(
    factory: db.SessionFactory,
    login: str,
    *,
    policy: throttle.Policy,
    source: str = "",
    now: dt.datetime | None = None,
) -> bool:
    """¿Olvidó su contraseña?: a reset link to the e-mail of the profile with this e-mail or mobile.
    Answers nothing about whether it exists (the caller says the same either way, and the same
    buckets are counted: the profile's, or the login's when there is none); past `policy`, 429
    `too_many_attempts` (`throttle.Kind.RESET`). Returns whether a mail was queued, for tests and
    logs only. Runs its own transaction: a refused request is still counted."""
    now = now or utcnow()
    key = auth.normalize_login(login or "")
    if not key:
        raise validation_error({"login": "Escriba su correo electrónico o número móvil."})

    def ask(session: Session) -> tuple[throttle.Ticket, bool]:
        column = Profile.email if "@" in key else Profile.mobile
        profile = session.scalar(select(Profile).where(column == key))
        subject = profile.id if profile is not None else "login:" + key
        ticket = throttle.admit(
            session, policy, kind=throttle.Kind.RESET, subject=subject, source=source, now=now
        )
        if ticket.refusal is not None or profile is None:
            return ticket, False
        _queue_reset(session, profile, now)
        return ticket, True

    ticket, queued = db.run(factory, ask)
    if ticket.refusal is not None:
        raise ticket.refusal
    return queued


def _queue_reset(session: Session, profile: Profile, now: dt.datetime) -> None:
    names = session.scalars(
        select(Account.name)
        .join(Membership, Membership.account_id == Account.id)
        .where(Membership.profile_id == profile.id)
        .order_by(Membership.created_at)
        .limit(4)
    ).all()
    row, _token = links.issue(session, "password_reset", profile_id=profile.id, now=now)
    queue.enqueue(
        session,
        "password_reset",
        to_address=profile.email,
        to_name=profile.name,
        params={
            "profile_name": profile.name,
            "email": profile.email,
            "accounts": ", ".join(names),
            "expires_at": row.expires_at.isoformat(),
        },
        token_id=row.id,
        now=now,
    )


def describe_reset(session: Session, token: str, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    row = links.check(session, token, "password_reset", now, lock=False)
    profile = session.get(Profile, row.profile_id) if row.profile_id else None
    if profile is None:
        raise links.LinkProblem("unknown", "password_reset")
    return {"email": profile.email, "profile_name": profile.name, "expires_at": row.expires_at}


def complete_password_reset(
    session: Session, token: str, password: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The reset link: the new password replaces the old one, and every session of the profile ends.
    A used, replaced, expired or unknown link changes nothing (422 on `token`)."""
    now = now or utcnow()
    try:
        row = links.check(session, token, "password_reset", now)
    except links.LinkProblem as problem:
        raise problem.as_domain_error() from None
    profile = session.get(Profile, row.profile_id) if row.profile_id else None
    if profile is None:
        raise links.LinkProblem("unknown").as_domain_error()
    v = contact.Validator()
    v.run("password", passwords.check_password, password or "")
    v.raise_if_any()
    profile.password_hash = hash_password(password)
    row.used_at = now
    confirm_profile(session, profile, now)
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.profile_id == profile.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    # A successful reset clears the failed sign-ins that may have kept the person out.
    session.execute(
        delete(ThrottleCounter).where(
            ThrottleCounter.bucket == throttle.subject_key(throttle.Kind.LOGIN, profile.id)
        )
    )
    session.flush()
    return {"profile": profile_view(profile)}


# ---------------------------------------------------------------------------------------------------
# The generic notice (alerts, access granted...)


def notify(
    session: Session,
    account: Account,
    *,
    title: str,
    paragraphs: list[str],
    to: Profile | None = None,
    facts: list[tuple[str, str]] | None = None,
    action_label: str | None = None,
    action_url: str | None = None,
    requested_by_account_id: str | None = None,
    dedupe_key: str | None = None,
    now: dt.datetime | None = None,
) -> str | None:
    """Queue a notice about `account` to `to` (by default its master profile), in this transaction.
    The alerts (low balance...) use this. With `dedupe_key`, a notice goes once per key."""
    if to is None:
        to = session.scalar(
            select(Profile)
            .join(Membership, Membership.profile_id == Profile.id)
            .where(Membership.account_id == account.id, Membership.role == Role.MASTER.value)
        )
        if to is None:
            return None
    return queue.enqueue(
        session,
        "notice",
        to_address=to.email,
        to_name=to.name,
        params={
            "title": title,
            "paragraphs": paragraphs,
            "facts": [list(f) for f in facts or []],
            "action_label": action_label,
            "action_url": action_url,
            "profile_name": to.name,
            "account_name": account.name,
            "account_nic": account.nic,
        },
        account_id=account.id,
        requested_by_account_id=requested_by_account_id,
        dedupe_key=dedupe_key,
        now=now,
    )
