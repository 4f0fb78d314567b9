"""Sub-distributors: creation rules, e-mail confirmation, every state transition through the
operations, the 30-day window, self-registration, client conversion and tenant isolation."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import func, select

from cmdesk.domain.enums import Asset
from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.domain.money import add_iva
from cmdesk.domain.proration import add_one_year
from cmdesk.models import (
    Account,
    AccountSettings,
    ChangeLog,
    Charge,
    Client,
    Contract,
    LinkToken,
    Membership,
    Profile,
    StampingAccount,
)
from cmdesk.server import db
from cmdesk.server.operations import clients, contracts, distributors, ledger, maintenance
from cmdesk.server.operations.context import Actor
from cmdesk.server.security import token_digest, verify_password
from tests.server.helpers import RFC_FISICA, RFC_MORAL, assert_ledger_ok, give, make_client, make_distributor

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
DAY = dt.timedelta(days=1)
PASSWORD = "Distribuye2026"

_seq = itertools.count(1)


def make_parent(factory, *, multinivel: bool = True, **kw) -> Actor:
    kw.setdefault("now", NOW)
    kw.setdefault("expires_at", add_one_year(NOW))
    actor = make_distributor(factory, **kw)
    if multinivel:
        db.run(factory, contracts.contract, actor, "multinivel", now=NOW)
    return actor


def new_contact() -> dict[str, str]:
    n = next(_seq)
    return {"email": f"sub{n}@subdist.mx", "mobile": f"33{n:08d}"}


def create_child(factory, parent: Actor, now: dt.datetime = NOW, **kw) -> dict:
    data = {**new_contact(), "name": "Solo Tecnología", "rfc": RFC_MORAL, **kw}
    return db.run(factory, distributors.create_sub_distributor, parent, now=now, **data)


def child_in_state(factory, parent: Actor, status: str) -> tuple[str, dt.datetime]:
    """A sub-distributor of `parent` in `status`, and a moment at which it is in that state."""
    out = create_child(factory, parent)
    child_id, token = out["distributor"]["id"], out["confirmation_token"]
    if status == "unvalidated":
        return child_id, NOW + MINUTE
    db.run(factory, distributors.confirm_email, token, PASSWORD, now=NOW)
    if status == "inactive":
        return child_id, NOW + MINUTE
    db.run(factory, distributors.activate, parent, child_id, now=NOW)
    if status == "active":
        return child_id, NOW + MINUTE
    if status == "suspended":
        db.run(factory, distributors.suspend, parent, child_id, now=NOW)
        return child_id, NOW + MINUTE
    if status == "cancelled":
        db.run(factory, distributors.cancel, parent, child_id, now=NOW)
        return child_id, NOW + MINUTE
    assert status == "expired"
    later = add_one_year(NOW) + DAY
    db.run(factory, maintenance.run_maintenance, now=later)
    return child_id, later + MINUTE


def status_of(factory, account_id: str) -> str:
    with db.transaction(factory) as s:
        account = s.get(Account, account_id)
        assert account is not None
        return account.status


OPERATIONS = {
    "activate": distributors.activate,
    "suspend": distributors.suspend,
    "reactivate": distributors.reactivate,
    "cancel": distributors.cancel,
    "renew": distributors.renew,
}
STATES = ["unvalidated", "inactive", "active", "suspended", "cancelled", "expired"]
ALLOWED = {
    ("inactive", "activate"): "active",
    ("inactive", "cancel"): "cancelled",
    ("active", "suspend"): "suspended",
    ("active", "cancel"): "cancelled",
    ("suspended", "reactivate"): "active",
    # The portal's one "Activar" button also re-activates suspended and cancelled accounts.
    ("suspended", "activate"): "active",
    ("cancelled", "activate"): "active",
    ("suspended", "cancel"): "cancelled",
    ("cancelled", "reactivate"): "active",
    ("expired", "renew"): "active",
    ("expired", "cancel"): "cancelled",
}


@pytest.mark.parametrize("status", STATES)
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_every_transition_through_the_operations(factory, status, operation):
    parent = make_parent(factory)
    child_id, at = child_in_state(factory, parent, status)
    expected = ALLOWED.get((status, operation))
    if expected is None:
        with pytest.raises(DomainError) as e:
            db.run(factory, OPERATIONS[operation], parent, child_id, now=at)
        assert e.value.code == ErrorCode.INVALID_STATE_TRANSITION
        assert "No se puede" in e.value.detail
        assert status_of(factory, child_id) == status
        return
    view = db.run(factory, OPERATIONS[operation], parent, child_id, now=at)
    assert view["status"] == expected == status_of(factory, child_id)
    assert view["status_label"]
    if expected == "cancelled":
        assert view["cancelled_at"] == at and view["purge_at"] == at + dt.timedelta(days=30)
    else:
        assert view["cancelled_at"] is None and view["purge_at"] is None
    if expected == "active":
        assert view["activated_at"] is not None
    assert_ledger_ok(factory)


@pytest.mark.parametrize("operation", ["reactivate", "activate"])
@pytest.mark.parametrize(
    ("after", "allowed"),
    [
        (dt.timedelta(days=29, hours=23, minutes=59, seconds=59), True),
        (dt.timedelta(days=30), False),
        (dt.timedelta(days=45), False),
    ],
)
def test_cancelled_account_can_be_reactivated_only_within_30_days(factory, operation, after, allowed):
    parent = make_parent(factory)
    child_id, _ = child_in_state(factory, parent, "active")
    db.run(factory, distributors.cancel, parent, child_id, now=NOW)
    if allowed:
        view = db.run(factory, OPERATIONS[operation], parent, child_id, now=NOW + after)
        assert view["status"] == "active" and view["cancelled_at"] is None
    else:
        with pytest.raises(DomainError) as e:
            db.run(factory, OPERATIONS[operation], parent, child_id, now=NOW + after)
        assert e.value.code == ErrorCode.INVALID_STATE_TRANSITION
        assert "30 días" in e.value.detail
        assert status_of(factory, child_id) == "cancelled"


def test_reactivating_a_cancelled_account_past_its_expiry_leaves_it_expired(factory):
    parent = make_parent(factory)
    child_id, _ = child_in_state(factory, parent, "active")
    expiry = add_one_year(NOW)
    db.run(factory, distributors.cancel, parent, child_id, now=expiry - 2 * DAY)
    view = db.run(factory, distributors.reactivate, parent, child_id, now=expiry + DAY)
    assert view["status"] == "expired"
    view = db.run(factory, distributors.renew, parent, child_id, now=expiry + DAY)
    assert view["status"] == "active" and view["expires_at"] == add_one_year(expiry + DAY)


def test_an_action_after_expiry_sees_the_account_expired_before_maintenance_runs(factory):
    parent = make_parent(factory)
    child_id, _ = child_in_state(factory, parent, "active")
    later = add_one_year(NOW) + DAY
    with pytest.raises(DomainError) as e:
        db.run(factory, distributors.suspend, parent, child_id, now=later)
    assert e.value.code == ErrorCode.INVALID_STATE_TRANSITION
    assert db.run(factory, distributors.renew, parent, child_id, now=later)["status"] == "active"


# --- creation ------------------------------------------------------------------------------------


def test_create_sub_distributor_with_a_new_profile(factory):
    parent = make_parent(factory)
    out = create_child(
        factory,
        parent,
        phone="(961) 605-8925",
        trade_name="Solo TI",
        state="chiapas",
        city="Tuxtla Gutiérrez",
        postal_code="29000",
        street="Av. Central",
        exterior_number="12",
        business_activity="Consultoría",
        profile_name="Laura Pérez",
    )
    d = out["distributor"]
    assert d["status"] == "unvalidated" and d["status_label"] == "Sin validar"
    assert d["parent_id"] == parent.account_id
    assert d["created_at"] == NOW and d["expires_at"] == add_one_year(NOW)
    assert d["balances"] == {"stamps": 0, "points": 0}
    assert d["phone"] == "9616058925" and d["trade_name"] == "Solo TI"
    assert d["address"]["state"] == "Chiapas" and d["address"]["postal_code"] == "29000"
    assert d["admin_profile"]["email"] == out["profile"]["email"]
    assert d["admin_profile"]["email_confirmed"] is False
    assert out["profile"]["name"] == "Laura Pérez"
    token = out["confirmation_token"]
    assert token
    with db.transaction(factory) as s:
        account = s.get(Account, d["id"])
        assert account is not None and account.nic.isdigit()
        assert s.get(AccountSettings, d["id"]) is not None
        profile = s.get(Profile, out["profile"]["id"])
        assert profile is not None and profile.password_hash is None
        # Only the token's hash is stored; the token itself is nowhere in the database.
        confirmation = s.scalar(select(LinkToken).where(LinkToken.token_hash == token_digest(token)))
        assert confirmation is not None and confirmation.account_id == d["id"]
        assert confirmation.purpose == "confirm_email"
        assert s.scalar(select(LinkToken).where(LinkToken.token_hash == token)) is None
        member = s.scalar(select(Membership).where(Membership.account_id == d["id"]))
        assert member is not None and member.role == "master" and member.profile_id == profile.id
        # The parent's feed carries the new account.
        entries = s.scalars(
            select(ChangeLog.entity).where(
                ChangeLog.account_id == parent.account_id, ChangeLog.entity_id == d["id"]
            )
        ).all()
        assert "distributor" in entries


def _same_shape(out: dict, email: str, mobile: str) -> None:
    """The answer of a new person: unvalidated, a confirmation on its way, what the parent typed."""
    d, profile = out["distributor"], out["profile"]
    assert d["status"] == "unvalidated" and out["confirmation_token"]
    assert (profile["email"], profile["mobile"], profile["email_confirmed"]) == (email, mobile, False)
    assert d["admin_profile"]["id"] == profile["id"] and d["admin_profile"]["email"] == email
    assert d["admin_profile"]["mobile"] == mobile and not d["admin_profile"]["email_confirmed"]


def test_an_existing_profile_is_not_told_nor_attached_until_it_consents(factory):
    """Issue 15: the parent learns nothing of an existing profile (its name, its mobile, that it is
    confirmed), and the person becomes the master only through the link sent to their e-mail."""
    parent = make_parent(factory)
    other = make_distributor(factory, email="ya.existe@otro.mx", mobile="5512345678", name="Otra Persona")
    fresh = create_child(factory, parent, email="nadie@otro.mx", mobile="4441234560")
    out = create_child(factory, parent, email="YA.EXISTE@otro.mx", mobile="4441234567")
    _same_shape(fresh, "nadie@otro.mx", "4441234560")
    _same_shape(out, "ya.existe@otro.mx", "4441234567")
    assert out["profile"]["id"] != other.profile_id
    assert set(out["profile"]) == set(fresh["profile"]) and set(out["distributor"]) == set(fresh["distributor"])
    child_id = out["distributor"]["id"]
    with db.transaction(factory) as s:
        assert s.scalar(select(Membership).where(Membership.account_id == child_id)) is None
    # The owner of the e-mail follows the link (they have a password: the link only confirms).
    page = db.run(factory, distributors.describe_confirmation, out["confirmation_token"], now=NOW)
    assert page["needs_password"] is False and page["email"] == "ya.existe@otro.mx"
    assert page["refusal"] is None
    done = db.run(factory, distributors.confirm_email, out["confirmation_token"], None, now=NOW)
    assert done["profile"]["id"] == other.profile_id and done["confirmed_account_ids"] == [child_id]
    with db.transaction(factory) as s:
        member = s.scalar(select(Membership).where(Membership.account_id == child_id))
        assert member is not None and member.profile_id == other.profile_id and member.role == "master"
    view = db.run(factory, distributors.read_distributor, parent, child_id)
    assert view["status"] == "inactive" and view["admin_profile"]["id"] == other.profile_id


def test_an_unconfirmed_existing_profile_confirms_both_accounts(factory):
    parent = make_parent(factory)
    first = create_child(factory, parent)
    email, mobile = first["profile"]["email"], first["profile"]["mobile"]
    second = create_child(factory, parent, email=email, mobile=mobile)
    _same_shape(second, email, mobile)
    assert second["profile"]["id"] != first["profile"]["id"]
    out = db.run(factory, distributors.confirm_email, second["confirmation_token"], PASSWORD, now=NOW)
    assert out["profile"]["id"] == first["profile"]["id"]
    assert set(out["confirmed_account_ids"]) == {first["distributor"]["id"], second["distributor"]["id"]}


def test_a_mobile_of_another_profile_is_told_only_to_the_owner_of_the_email(factory):
    parent = make_parent(factory)
    make_distributor(factory, email="uno@perfil.mx", mobile="5510000001")
    out = create_child(factory, parent, email="nuevo@perfil.mx", mobile="5510000001")
    _same_shape(out, "nuevo@perfil.mx", "5510000001")  # no 422 to the parent
    with pytest.raises(DomainError) as e:
        db.run(factory, distributors.confirm_email, out["confirmation_token"], PASSWORD, now=NOW)
    assert [f.field for f in e.value.errors] == ["token"] and "5510000001" in e.value.errors[0].message
    # E-mail of one profile and mobile of another: no refusal either; the e-mail's owner consents.
    make_distributor(factory, email="dos@perfil.mx", mobile="5510000002")
    out = create_child(factory, parent, email="uno@perfil.mx", mobile="5510000002")
    _same_shape(out, "uno@perfil.mx", "5510000002")
    done = db.run(factory, distributors.confirm_email, out["confirmation_token"], None, now=NOW)
    assert done["profile"]["email"] == "uno@perfil.mx"


def test_an_account_awaiting_its_master_can_have_its_mail_sent_again(factory):
    parent = make_parent(factory)
    make_distributor(factory, email="ya.existe@otro.mx", mobile="5512345678")
    out = create_child(factory, parent, email="ya.existe@otro.mx", mobile="4441234567")
    again = db.run(factory, distributors.resend_confirmation, parent, out["distributor"]["id"], now=NOW)
    assert again["confirmation_token"] and again["confirmation_token"] != out["confirmation_token"]
    with pytest.raises(DomainError):  # the first link no longer works
        db.run(factory, distributors.confirm_email, out["confirmation_token"], None, now=NOW)
    db.run(factory, distributors.confirm_email, again["confirmation_token"], None, now=NOW)


def _link_unused(factory, token: str) -> bool:
    with db.transaction(factory) as s:
        row = s.scalar(select(LinkToken).where(LinkToken.token_hash == token_digest(token)))
        return row is not None and row.used_at is None


def test_a_clients_main_profile_cannot_become_a_master_through_the_link(factory):
    """As an invitation refuses it (access.accept_invitation), the confirmation link does not make a
    client's main profile the master of a sub-distributor; the parent was told nothing either."""
    parent = make_parent(factory)
    seller = make_distributor(factory)
    c = make_client(factory, seller)
    with db.transaction(factory) as s:
        s.add(Profile(name="Cliente", email="cli@cliente.mx", mobile="5544445555", password_hash="x"))
    db.run(
        factory, clients.set_admin_profile, seller, c["client"]["id"], email="cli@cliente.mx", mobile="5544445555"
    )
    out = create_child(factory, parent, email="cli@cliente.mx", mobile="4449990000")
    _same_shape(out, "cli@cliente.mx", "4449990000")
    page = db.run(factory, distributors.describe_confirmation, out["confirmation_token"], now=NOW)
    assert page["refusal"] and "perfil principal de un cliente" in page["refusal"]
    with pytest.raises(DomainError) as e:
        db.run(factory, distributors.confirm_email, out["confirmation_token"], None, now=NOW)
    assert e.value.code == ErrorCode.VALIDATION_ERROR and [f.field for f in e.value.errors] == ["token"]
    assert e.value.errors[0].message == (
        "Su perfil es el perfil principal de un cliente; no puede administrar una Cuenta Maestra."
    )
    child_id = out["distributor"]["id"]
    with db.transaction(factory) as s:
        assert s.scalar(select(Membership).where(Membership.account_id == child_id)) is None
    assert status_of(factory, child_id) == "unvalidated" and _link_unused(factory, out["confirmation_token"])


def _close(factory, account_id: str, status: str) -> None:
    """Puts a "Sin validar" account in `status` directly: the parent's buttons refuse it today
    (test_every_transition_through_the_operations), the link must refuse it whatever the path."""
    with db.transaction(factory) as s:
        account = s.get(Account, account_id)
        assert account is not None
        account.status = status
        account.cancelled_at = NOW if status == "cancelled" else None


@pytest.mark.parametrize("status, word", [("cancelled", "cancelada"), ("suspended", "suspendida")])
@pytest.mark.parametrize("awaiting_master", [True, False])
def test_the_link_does_not_confirm_a_suspended_or_cancelled_account(factory, status, word, awaiting_master):
    parent = make_parent(factory)
    other = make_distributor(factory, email="ya.existe@otro.mx", mobile="5512345678")
    email = "ya.existe@otro.mx" if awaiting_master else "nadie@otro.mx"
    out = create_child(factory, parent, email=email, mobile="4441234567")
    child_id, token = out["distributor"]["id"], out["confirmation_token"]
    _close(factory, child_id, status)
    page = db.run(factory, distributors.describe_confirmation, token, now=NOW)
    with pytest.raises(DomainError) as e:
        db.run(factory, distributors.confirm_email, token, PASSWORD, now=NOW)
    assert e.value.code == ErrorCode.VALIDATION_ERROR and [f.field for f in e.value.errors] == ["token"]
    message = e.value.errors[0].message
    assert word in message and page["account_nic"] in message and "distribuidor" in message
    assert page["refusal"] == message  # told on opening the page, before a password is typed
    with db.transaction(factory) as s:
        members = s.scalars(select(Membership.profile_id).where(Membership.account_id == child_id)).all()
        profile = s.scalar(select(Profile).where(Profile.email == email))
        assert profile is not None
        if awaiting_master:  # nobody became the master of the closed account
            assert members == [] and profile.id == other.profile_id
        else:  # the new person's profile: no password set, e-mail not confirmed
            assert members == [profile.id] and profile.password_hash is None
            assert profile.email_confirmed_at is None
    assert status_of(factory, child_id) == status and _link_unused(factory, token)


@pytest.mark.parametrize(
    "which", ["account_email", "master_mobile", "company_phone", "member_email", "member_mobile"]
)
def test_the_creating_distributors_own_email_or_phone_is_refused(factory, which):
    parent = make_parent(factory, email="yo@matriz.mx", mobile="9611112222")
    with db.transaction(factory) as s:
        member = Profile(email="empleado@matriz.mx", mobile="9613334444", name="Empleado")
        s.add(member)
        s.flush()
        s.add(Membership(account_id=parent.account_id, profile_id=member.id, role="user"))
    data = new_contact()
    field = {
        "account_email": ("email", {"email": "Yo@Matriz.mx"}),
        "master_mobile": ("mobile", {"mobile": "+52 961 111 2222"}),
        "company_phone": ("phone", {"phone": "961-111-2222"}),
        "member_email": ("email", {"email": "empleado@matriz.mx"}),
        "member_mobile": ("mobile", {"mobile": "9613334444"}),
    }[which]
    data.update(field[1])
    with pytest.raises(DomainError) as e:
        create_child(factory, parent, **data)
    assert e.value.code == ErrorCode.VALIDATION_ERROR
    assert [f.field for f in e.value.errors] == [field[0]]
    assert "suyo" in e.value.errors[0].message
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(Account)) == 1


def test_creation_reports_every_invalid_field_at_once(factory):
    parent = make_parent(factory)
    with pytest.raises(DomainError) as e:
        db.run(
            factory,
            distributors.create_sub_distributor,
            parent,
            email="no-es-correo",
            mobile="123",
            name=" ",
            rfc="XYZ",
            postal_code="1",
            state="Narnia",
            now=NOW,
        )
    fields = {f.field for f in e.value.errors}
    assert fields == {"email", "mobile", "name", "rfc", "postal_code", "state"}
    with pytest.raises(DomainError) as e:
        create_child(factory, parent, colour="rojo")
    assert e.value.code == ErrorCode.VALIDATION_ERROR


def test_creation_needs_multinivel(factory):
    parent = make_parent(factory, multinivel=False)
    with pytest.raises(DomainError) as e:
        create_child(factory, parent)
    assert e.value.code == ErrorCode.FEATURE_NOT_CONTRACTED
    assert "Multinivel" in e.value.detail
    # A contract that ended (the account's expiry passed) does not count either.
    parent = make_parent(factory)
    with pytest.raises(DomainError) as e:
        create_child(factory, parent, now=add_one_year(NOW) + DAY)
    assert e.value.code == ErrorCode.FEATURE_NOT_CONTRACTED


# --- e-mail confirmation -------------------------------------------------------------------------


def test_confirm_email_sets_password_and_moves_to_inactive(factory):
    parent = make_parent(factory)
    out = create_child(factory, parent)
    token = out["confirmation_token"]
    with pytest.raises(DomainError) as e:
        db.run(factory, distributors.confirm_email, token, None, now=NOW)
    assert e.value.errors[0].field == "password"
    with pytest.raises(DomainError) as e:
        db.run(factory, distributors.confirm_email, token, "corta", now=NOW)
    assert e.value.code == ErrorCode.VALIDATION_ERROR
    result = db.run(factory, distributors.confirm_email, token, PASSWORD, now=NOW)
    assert result["profile"]["email_confirmed"] is True
    assert result["confirmed_account_ids"] == [out["distributor"]["id"]]
    assert status_of(factory, out["distributor"]["id"]) == "inactive"
    with db.transaction(factory) as s:
        profile = s.get(Profile, out["profile"]["id"])
        assert profile is not None and verify_password(profile.password_hash, PASSWORD)
    with pytest.raises(DomainError) as e:
        db.run(factory, distributors.confirm_email, token, PASSWORD, now=NOW)
    assert e.value.code == ErrorCode.VALIDATION_ERROR and e.value.errors[0].field == "token"


@pytest.mark.parametrize("token", ["", "no-existe", None])
def test_confirm_email_with_an_unknown_token(factory, token):
    with pytest.raises(DomainError) as e:
        db.run(factory, distributors.confirm_email, token, PASSWORD, now=NOW)
    assert e.value.code == ErrorCode.VALIDATION_ERROR


def test_confirmation_tokens_expire_and_can_be_resent(factory):
    parent = make_parent(factory)
    out = create_child(factory, parent)
    late = NOW + distributors.CONFIRMATION_VALIDITY
    with pytest.raises(DomainError) as e:
        db.run(factory, distributors.confirm_email, out["confirmation_token"], PASSWORD, now=late)
    assert "venció" in e.value.detail
    again = db.run(factory, distributors.resend_confirmation, parent, out["distributor"]["id"], now=late)
    db.run(factory, distributors.confirm_email, again["confirmation_token"], PASSWORD, now=late)
    assert status_of(factory, out["distributor"]["id"]) == "inactive"
    with pytest.raises(DomainError) as e:
        db.run(factory, distributors.resend_confirmation, parent, out["distributor"]["id"], now=late)
    assert e.value.code == ErrorCode.INVALID_STATE_TRANSITION


# --- renewal -------------------------------------------------------------------------------------


def test_renewal_charges_annual_fee_and_every_contract_year(factory):
    parent = make_parent(factory)
    child_id, _ = child_in_state(factory, parent, "active")
    child = Actor(child_id, "child")
    db.run(factory, contracts.contract, child, "mkl_dominus", now=NOW)
    db.run(factory, contracts.contract, child, "multinivel", now=NOW)
    expiry = add_one_year(NOW)
    db.run(factory, maintenance.run_maintenance, now=expiry + DAY)
    assert status_of(factory, child_id) == "expired"
    at = expiry + 3 * DAY
    view = db.run(factory, distributors.renew, parent, child_id, now=at)
    new_expiry = add_one_year(at)
    assert view["status"] == "active" and view["expires_at"] == new_expiry
    amounts = sorted((c["kind"], c["amount_cents"]) for c in view["charges"])
    assert amounts == [("annual_fee", 348000), ("renewal", add_iva(185000)), ("renewal", add_iva(199900))]
    with db.transaction(factory) as s:
        rows = s.scalars(select(Charge).where(Charge.account_id == child_id, Charge.created_at == at)).all()
        assert sorted((c.kind, c.amount_cents) for c in rows) == amounts
        # The parent pays nothing for its sub-distributor's renewal.
        assert (
            s.scalar(select(func.count()).select_from(Charge).where(Charge.account_id == parent.account_id))
            == 1
        )
        assert {c.expires_at for c in s.scalars(select(Contract).where(Contract.account_id == child_id))} == {
            new_expiry
        }
    # The renewed contracts are in force again: the child can use Multinivel.
    out = create_child(factory, child, now=at + DAY)
    assert out["distributor"]["parent_id"] == child_id
    assert_ledger_ok(factory)


# --- list, feed and tenant isolation -------------------------------------------------------------


def test_list_distributors_by_status(factory):
    parent = make_parent(factory)
    ids = {
        status: child_in_state(factory, parent, status)[0] for status in ["unvalidated", "inactive", "active"]
    }
    other = make_parent(factory)
    child_in_state(factory, other, "active")
    rows = db.run(factory, distributors.list_distributors, parent)
    assert {r["id"] for r in rows} == set(ids.values())
    assert [r["nic"] for r in rows] == sorted(r["nic"] for r in rows)
    for r in rows:
        assert {"nic", "name", "created_at", "balances", "expires_at", "status"} <= set(r)
    active = db.run(factory, distributors.list_distributors, parent, "active")
    assert [r["id"] for r in active] == [ids["active"]]
    assert db.run(factory, distributors.list_distributors, parent, "expired") == []
    with pytest.raises(DomainError) as e:
        db.run(factory, distributors.list_distributors, parent, "borrado")
    assert e.value.code == ErrorCode.VALIDATION_ERROR


def test_balances_show_in_the_list(factory):
    parent = make_parent(factory)
    child_id, _ = child_in_state(factory, parent, "active")
    give(factory, parent, Asset.STAMPS, 900)
    db.run(
        factory,
        ledger.transfer,
        parent,
        asset="stamps",
        target_type="account",
        target_id=child_id,
        quantity=900,
    )
    (row,) = db.run(factory, distributors.list_distributors, parent)
    assert row["balances"] == {"stamps": 900, "points": 0}
    loaded = db.run(factory, distributors.load_distributors, [child_id])
    assert loaded[child_id]["balances"]["stamps"] == 900
    assert distributors.FEED_LOADERS["distributor"] is distributors.load_distributors
    assert_ledger_ok(factory)


@pytest.mark.parametrize("operation", [*OPERATIONS, "resend_confirmation"])
def test_another_distributors_sub_account_is_not_found(factory, operation):
    owner = make_parent(factory)
    intruder = make_parent(factory)
    child_id, at = child_in_state(factory, owner, "unvalidated")
    fn = OPERATIONS.get(operation) or distributors.resend_confirmation
    with pytest.raises(DomainError) as e:
        db.run(factory, fn, intruder, child_id, now=at)
    assert e.value.code == ErrorCode.NOT_FOUND
    # Nor can a sub-distributor act on its parent, nor anybody on a missing id.
    with pytest.raises(DomainError) as e:
        db.run(factory, fn, Actor(child_id), owner.account_id, now=at)
    assert e.value.code == ErrorCode.NOT_FOUND
    with pytest.raises(DomainError) as e:
        db.run(factory, fn, owner, "0" * 32, now=at)
    assert e.value.code == ErrorCode.NOT_FOUND


# --- self-registration ---------------------------------------------------------------------------


def _register(factory, nic: str, **kw):
    data = {**new_contact(), "password": PASSWORD, "name": "Registro Web", "rfc": RFC_FISICA, **kw}
    return db.run(factory, distributors.register_public, referrer_nic=nic, now=NOW, **data)


def _nic(factory, actor: Actor) -> str:
    with db.transaction(factory) as s:
        account = s.get(Account, actor.account_id)
        assert account is not None
        return account.nic


def test_public_registration(factory):
    parent = make_parent(factory)
    out = _register(factory, _nic(factory, parent), city="Mérida")
    d = out["distributor"]
    assert d["status"] == "unvalidated" and d["parent_id"] == parent.account_id
    assert d["referred_by_nic"] == _nic(factory, parent) and d["address"]["city"] == "Mérida"
    with db.transaction(factory) as s:
        profile = s.get(Profile, out["profile"]["id"])
        assert profile is not None and verify_password(profile.password_hash, PASSWORD)
        assert profile.email_confirmed_at is None
    # The password is already set: the link only confirms.
    db.run(factory, distributors.confirm_email, out["confirmation_token"], now=NOW)
    assert status_of(factory, d["id"]) == "inactive"
    assert [r["id"] for r in db.run(factory, distributors.list_distributors, parent)] == [d["id"]]


def test_public_registration_refusals(factory):
    parent = make_parent(factory)
    nic = _nic(factory, parent)
    first = _register(factory, nic)
    assert first["registered"] is True
    # An e-mail that has a profile: the same "Sin validar" sub-account, awaiting that e-mail's
    # owner to confirm (issue 15: neither the caller nor the referrer is told).
    again = _register(factory, nic, email=first["profile"]["email"])
    assert again["registered"] is False and again["email"] == first["profile"]["email"]
    assert again["distributor"]["status"] == "unvalidated" and again["confirmation_token"]
    assert again["distributor"]["referred_by_nic"] == nic
    with pytest.raises(DomainError) as e:
        _register(factory, nic, password="123")
    assert e.value.code == ErrorCode.VALIDATION_ERROR and e.value.errors[0].field == "password"
    with pytest.raises(DomainError) as e:
        _register(factory, "999999999")
    assert e.value.code == ErrorCode.NOT_FOUND
    without = make_parent(factory, multinivel=False)
    with pytest.raises(DomainError) as e:
        _register(factory, _nic(factory, without))
    assert e.value.code == ErrorCode.FEATURE_NOT_CONTRACTED
    # A referrer that is not active (here: a suspended sub-distributor) can't take registrations.
    child_id, _ = child_in_state(factory, parent, "suspended")
    child = Actor(child_id)
    db.run(factory, contracts.contract, child, "multinivel", now=NOW)
    with pytest.raises(DomainError) as e:
        _register(factory, _nic(factory, child))
    assert e.value.code == ErrorCode.NOT_FOUND


# --- client conversion ---------------------------------------------------------------------------


def test_convert_client_to_distributor(factory):
    parent = make_parent(factory)
    c = make_client(
        factory,
        parent,
        name="Daniel Martínez Arce",
        rfc=RFC_FISICA,
        phone="9991234567",
        address={"state": "Yucatán", "city": "Mérida", "postal_code": "97000", "street": "Calle 60"},
        other={"business_activity": "Contabilidad"},
    )
    client_id = c["client"]["id"]
    give(factory, parent, Asset.STAMPS, 10)
    db.run(
        factory,
        ledger.transfer,
        parent,
        asset="stamps",
        target_type="stamping_account",
        target_id=c["stamping_account"]["id"],
        quantity=10,
    )
    out = db.run(
        factory,
        distributors.convert_client_to_distributor,
        parent,
        client_id,
        **new_contact(),
        now=NOW,
    )
    d = out["distributor"]
    assert out["client_id"] == client_id
    assert d["name"] == "Daniel Martínez Arce" and d["rfc"] == RFC_FISICA and d["phone"] == "9991234567"
    assert d["address"]["state"] == "Yucatán" and d["address"]["street"] == "Calle 60"
    assert d["business_activity"] == "Contabilidad"
    assert d["source_client_id"] == client_id and d["parent_id"] == parent.account_id
    assert d["status"] == "unvalidated"
    with db.transaction(factory) as s:
        client = s.get(Client, client_id)
        assert client is not None and client.converted_account_id == d["id"]
        assert client.account_id == parent.account_id
        cti = s.get(StampingAccount, c["stamping_account"]["id"])
        assert cti is not None and cti.balance == 10 and cti.account_id == parent.account_id
    with pytest.raises(DomainError) as e:
        db.run(
            factory, distributors.convert_client_to_distributor, parent, client_id, **new_contact(), now=NOW
        )
    assert e.value.code == ErrorCode.DUPLICATE
    assert_ledger_ok(factory)


def test_converting_a_client_says_nothing_about_an_existing_profile(factory):
    parent = make_parent(factory)
    make_distributor(factory, email="ya.existe@otro.mx", mobile="5512345678")
    client_id = make_client(factory, parent, name="Cliente Convertido", rfc=RFC_FISICA)["client"]["id"]
    out = db.run(
        factory,
        distributors.convert_client_to_distributor,
        parent,
        client_id,
        email="ya.existe@otro.mx",
        mobile="4441234567",
        now=NOW,
    )
    _same_shape(out, "ya.existe@otro.mx", "4441234567")
    assert out["client_id"] == client_id and out["distributor"]["source_client_id"] == client_id
    done = db.run(factory, distributors.confirm_email, out["confirmation_token"], None, now=NOW)
    assert done["confirmed_account_ids"] == [out["distributor"]["id"]]


def test_convert_refusals(factory):
    parent = make_parent(factory)
    other = make_parent(factory)
    theirs = make_client(factory, other)["client"]["id"]
    with pytest.raises(DomainError) as e:
        db.run(factory, distributors.convert_client_to_distributor, parent, theirs, **new_contact(), now=NOW)
    assert e.value.code == ErrorCode.NOT_FOUND
    without = make_parent(factory, multinivel=False)
    mine = make_client(factory, without)["client"]["id"]
    with pytest.raises(DomainError) as e:
        db.run(factory, distributors.convert_client_to_distributor, without, mine, **new_contact(), now=NOW)
    assert e.value.code == ErrorCode.FEATURE_NOT_CONTRACTED
    with db.transaction(factory) as s:
        client = s.get(Client, mine)
        assert client is not None and client.converted_account_id is None
