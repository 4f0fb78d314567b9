"""Distributor accounts: creating one with its master profile, NICs, and the Account view."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cmdesk.domain import contact
from cmdesk.domain.enums import AccountStatus, Role
from cmdesk.domain.errors import DomainError, ErrorCode, not_found
from cmdesk.domain.proration import add_one_year
from cmdesk.models import Account, AccountSettings, Counter, Membership, Profile, utcnow
from cmdesk.server import feed
from cmdesk.server.security import hash_password

FIRST_NIC = 200000


def next_nic(session: Session) -> str:
    """The next public number (NIC), shared by clients and accounts; taken under the counter's row lock."""
    value = session.execute(
        update(Counter).where(Counter.name == "nic").values(value=Counter.value + 1).returning(Counter.value)
    ).scalar()
    if value is None:
        session.add(Counter(name="nic", value=FIRST_NIC))
        session.flush()
        return str(FIRST_NIC)
    return str(value)


def account_view(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "nic": account.nic,
        "version": account.version,
        "parent_id": account.parent_id,
        "status": account.status,
        "name": account.name,
        "trade_name": account.trade_name,
        "rfc": account.rfc,
        "email": account.email,
        "phone": account.phone,
        "address": {
            "state": account.state,
            "city": account.city,
            "postal_code": account.postal_code,
            "neighborhood": account.neighborhood,
            "street": account.street,
            "exterior_number": account.exterior_number,
            "interior_number": account.interior_number,
        },
        "business_activity": account.business_activity,
        "comments": account.comments,
        "balances": {"stamps": account.stamps_balance, "points": account.points_balance},
        "created_at": account.created_at,
        "expires_at": account.expires_at,
        "activated_at": account.activated_at,
        "cancelled_at": account.cancelled_at,
    }


def profile_view(profile: Profile) -> dict[str, Any]:
    return {
        "id": profile.id,
        "version": profile.version,
        "name": profile.name,
        "email": profile.email,
        "mobile": profile.mobile,
        "email_confirmed": profile.email_confirmed_at is not None,
        "created_at": profile.created_at,
    }


def get_account(session: Session, account_id: str) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise not_found("La cuenta")
    return account


def create_distributor(
    session: Session,
    *,
    name: str,
    email: str,
    mobile: str,
    password: str | None,
    rfc: str = "",
    parent_id: str | None = None,
    status: AccountStatus = AccountStatus.ACTIVE,
    expires_at: dt.datetime | None = None,
    profile_name: str = "",
    confirmed: bool = True,
    now: dt.datetime | None = None,
    master: bool = True,
    **company: Any,
) -> dict[str, Any]:
    """A distributor account with its master profile (a new one, or an existing profile by e-mail).
    Without `master`, the account has no master yet (`profile` None): one who must consent first
    (`distributors.create_sub_distributor`)."""
    now = now or utcnow()
    v = contact.Validator()
    name = v.run("name", contact.check_required, name, "Nombre") or name
    email = v.run("email", contact.check_email, email) or email
    mobile = v.run("mobile", contact.check_phone, mobile) or mobile
    v.raise_if_any()
    profile = session.scalar(select(Profile).where(Profile.email == email)) if master else None
    by_mobile = session.scalar(select(Profile).where(Profile.mobile == mobile)) if master else None
    if profile is not None and by_mobile is not None and profile.id != by_mobile.id:
        raise DomainError(
            ErrorCode.DUPLICATE, "El correo y el número móvil pertenecen a perfiles distintos.", []
        )
    profile = profile or by_mobile
    if profile is None and master:
        profile = Profile(
            name=profile_name or name,
            email=email,
            mobile=mobile,
            password_hash=hash_password(password) if password else None,
            email_confirmed_at=now if confirmed else None,
        )
        session.add(profile)
    account = Account(
        nic=next_nic(session),
        parent_id=parent_id,
        status=status.value,
        name=name,
        rfc=rfc,
        email=email,
        phone=mobile,
        created_at=now,
        expires_at=expires_at or add_one_year(now),
        activated_at=now if status == AccountStatus.ACTIVE else None,
        **company,
    )
    session.add(account)
    session.flush()
    if profile is not None:
        session.add(
            Membership(account_id=account.id, profile_id=profile.id, role=Role.MASTER.value, created_at=now)
        )
    session.add(AccountSettings(account_id=account.id))
    session.flush()
    # The new account's feed starts with its master profile and the (global) software catalog.
    if profile is not None:
        feed.record(session, "profile", profile.id, [account.id])
    from cmdesk.server.operations import software

    software.record_catalog_for_account(session, account.id)
    return {"account": account_view(account), "profile": profile_view(profile) if profile else None}


def load_accounts(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = session.scalars(select(Account).where(Account.id.in_(ids))).all()
    return {a.id: account_view(a) for a in rows}


FEED_LOADERS = {"account": load_accounts}
