"""Herramientas: price packages, users, global settings, and the client panel's purchase (PCC)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cmdesk.domain.enums import Asset
from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.models import (
    Account,
    CatalogPackage,
    ChangeLog,
    Charge,
    Client,
    Membership,
    Profile,
    StampingAccount,
)
from cmdesk.server import db
from cmdesk.server.operations import access, billing, clients, contracts, tools
from tests.server.helpers import QueuedLinks, assert_ledger_ok, give, make_client, make_distributor


def _err(fn, *args, **kw) -> DomainError:
    with pytest.raises(DomainError) as e:
        fn(*args, **kw)
    return e.value


def _get(factory, model, ident, col):
    with db.transaction(factory) as s:
        return getattr(s.get(model, ident), col)


def _package(factory, actor, quantity=100, price_cents=50000, **kw):
    return db.run(
        factory, tools.create_price_package, actor, quantity=quantity, price_cents=price_cents, **kw
    )


# ---- price packages -------------------------------------------------------------------------------


def test_create_and_list_packages(factory):
    actor = make_distributor(factory)
    p = _package(factory, actor, description="Paquete de 100 Timbres.")
    assert p["quantity"] == 100 and p["price_cents"] == 50000 and p["unit_price_cents"] == 500
    assert p["asset"] == "stamps" and p["for_distributors"] is False and p["version"] == 1
    _package(factory, actor, quantity=50, price_cents=3000, asset="points")
    _package(factory, actor, quantity=10, price_cents=6000)
    listed = db.run(factory, tools.list_price_packages, actor)
    assert [(x["asset"], x["quantity"]) for x in listed] == [("stamps", 10), ("stamps", 100), ("points", 50)]
    assert [x["quantity"] for x in db.run(factory, tools.list_price_packages, actor, asset="points")] == [50]
    assert db.run(factory, tools.list_price_packages, make_distributor(factory)) == []


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": 2.5}, "quantity"),
        ({"price_cents": -1}, "price_cents"),
        ({"asset": "oro"}, "asset"),
        ({"description": "x" * 501}, "description"),
    ],
)
def test_package_validation(factory, kw, field):
    actor = make_distributor(factory)
    err = _err(_package, factory, actor, **kw)
    assert err.code == ErrorCode.VALIDATION_ERROR and field in {e.field for e in err.errors}


def test_duplicate_package_is_refused(factory):
    actor = make_distributor(factory)
    _package(factory, actor)
    assert _err(_package, factory, actor, price_cents=1).code == ErrorCode.DUPLICATE
    _package(factory, actor, asset="points")  # another asset is another package


def test_distributor_packages_need_multinivel(factory):
    actor = make_distributor(factory)
    err = _err(_package, factory, actor, for_distributors=True)
    assert err.code == ErrorCode.FEATURE_NOT_CONTRACTED and "Multinivel" in err.detail
    client_pkg = _package(factory, actor)
    err = _err(db.run, factory, tools.update_price_package, actor, client_pkg["id"], for_distributors=True)
    assert err.code == ErrorCode.FEATURE_NOT_CONTRACTED
    db.run(factory, contracts.contract, actor, "multinivel")
    p = _package(factory, actor, for_distributors=True)
    assert p["for_distributors"] is True
    assert db.run(factory, tools.list_price_packages, actor, for_distributors=True) == [p]


def test_update_with_versions(factory):
    actor = make_distributor(factory)
    p = _package(factory, actor)
    out = db.run(
        factory,
        tools.update_price_package,
        actor,
        p["id"],
        expected_version=1,
        price_cents=45000,
        description="Promo",
    )
    assert out["version"] == 2 and out["price_cents"] == 45000 and out["description"] == "Promo"
    err = _err(db.run, factory, tools.update_price_package, actor, p["id"], expected_version=1, price_cents=1)
    assert err.code == ErrorCode.VERSION_CONFLICT and err.extra["current"]["price_cents"] == 45000
    assert err.extra["current"]["version"] == 2
    err = _err(db.run, factory, tools.update_price_package, actor, p["id"], color="red")
    assert err.code == ErrorCode.VALIDATION_ERROR
    other = make_distributor(factory)
    assert (
        _err(db.run, factory, tools.update_price_package, other, p["id"], price_cents=1).code
        == ErrorCode.NOT_FOUND
    )
    assert _err(db.run, factory, tools.delete_price_package, other, p["id"]).code == ErrorCode.NOT_FOUND
    err = _err(db.run, factory, tools.delete_price_package, actor, p["id"], expected_version=1)
    assert err.code == ErrorCode.VERSION_CONFLICT
    db.run(factory, tools.delete_price_package, actor, p["id"], expected_version=2)
    assert db.run(factory, tools.list_price_packages, actor) == []
    with db.transaction(factory) as s:
        tomb = s.scalars(
            select(ChangeLog).where(ChangeLog.entity == "price_package", ChangeLog.deleted.is_(True))
        ).all()
        assert [(t.entity_id, t.account_id) for t in tomb] == [(p["id"], actor.account_id)]


# ---- settings -------------------------------------------------------------------------------------


def test_settings_defaults_and_update(factory):
    actor = make_distributor(factory)
    s = db.run(factory, tools.get_settings, actor)
    assert s["bulk_stamp_price_cents"] == 0 and s["allow_panel_stamp_purchase"] is False
    assert s["master_profile_id"] == actor.profile_id and s["id"] == actor.account_id
    out = db.run(
        factory, tools.update_settings, actor, expected_version=s["version"], bulk_stamp_price_cents=150
    )
    assert out["bulk_stamp_price_cents"] == 150 and out["version"] == s["version"] + 1
    err = _err(
        db.run, factory, tools.update_settings, actor, expected_version=s["version"], auto_stamp_purchase=True
    )
    assert err.code == ErrorCode.VERSION_CONFLICT and err.extra["current"]["bulk_stamp_price_cents"] == 150
    err = _err(db.run, factory, tools.update_settings, actor, bulk_stamp_price_cents=-5)
    assert err.code == ErrorCode.VALIDATION_ERROR
    with db.transaction(factory) as session:
        assert (
            tools.FEED_LOADERS["settings"](session, [actor.account_id])[actor.account_id][
                "bulk_stamp_price_cents"
            ]
            == 150
        )


def test_panel_stamp_purchase_needs_a_package_and_auto_purchase(factory):
    actor = make_distributor(factory)
    err = _err(
        db.run,
        factory,
        tools.update_settings,
        actor,
        allow_panel_stamp_purchase=True,
        auto_stamp_purchase=True,
    )
    assert err.code == ErrorCode.VALIDATION_ERROR and "paquete" in err.detail
    p = _package(factory, actor)
    err = _err(db.run, factory, tools.update_settings, actor, allow_panel_stamp_purchase=True)
    assert err.code == ErrorCode.VALIDATION_ERROR and "compra automática" in err.detail
    assert err.errors[0].field == "allow_panel_stamp_purchase"
    out = db.run(
        factory, tools.update_settings, actor, allow_panel_stamp_purchase=True, auto_stamp_purchase=True
    )
    assert out["allow_panel_stamp_purchase"] is True
    # While enabled: automatic purchase can't be turned off, nor the last package removed.
    err = _err(db.run, factory, tools.update_settings, actor, auto_stamp_purchase=False)
    assert err.code == ErrorCode.VALIDATION_ERROR and err.errors[0].field == "auto_stamp_purchase"
    assert (
        _err(db.run, factory, tools.delete_price_package, actor, p["id"]).code
        == ErrorCode.INVALID_STATE_TRANSITION
    )
    err = _err(db.run, factory, tools.update_price_package, actor, p["id"], asset="points")
    assert err.code == ErrorCode.INVALID_STATE_TRANSITION
    # Turning both off together is fine; points purchase needs nothing.
    db.run(factory, tools.update_settings, actor, allow_panel_stamp_purchase=False, auto_stamp_purchase=False)
    db.run(factory, tools.delete_price_package, actor, p["id"])
    assert db.run(factory, tools.update_settings, actor, allow_panel_point_purchase=True)[
        "allow_panel_point_purchase"
    ]


# ---- users ----------------------------------------------------------------------------------------


def _accept(factory, password: str | None = "ClaveNueva2026") -> dict:
    """The person opens the latest invitation link from their e-mail and accepts it."""
    token = QueuedLinks(factory, "invitation")[-1][1]
    return db.run(factory, access.accept_invitation, token, password)


def test_add_list_accept_and_remove_users(factory):
    actor = make_distributor(factory, name="Luz Clara")
    out = db.run(
        factory,
        tools.add_user,
        actor,
        email="NinaLici@Hotmail.com",
        mobile="123 456 7890",
        name="Prueba Alicia",
    )
    user = out["user"]
    assert (user["email"], user["mobile"], user["role"], user["is_master"], user["member_since"]) == (
        "ninalici@hotmail.com",
        "1234567890",
        "operator",
        False,
        None,
    )
    assert "invitación" in out["detail"]
    users = db.run(factory, tools.list_users, actor)
    assert [u["role"] for u in users] == ["master", "operator"] and users[0]["id"] == actor.profile_id
    assert users[1]["invitation"]["status"] == "sent" and users[1]["id"] == user["id"]
    # Pending: nothing granted, no profile made yet; adding again re-sends.
    with db.transaction(factory) as s:
        assert s.scalar(select(Profile).where(Profile.email == "ninalici@hotmail.com")) is None
    again = db.run(factory, tools.add_user, actor, email="ninalici@hotmail.com", mobile="1234567890")
    assert again["user"]["id"] == user["id"] and len(QueuedLinks(factory, "invitation")) == 2
    accepted = _accept(factory)
    profile_id = accepted["profile"]["id"]
    err = _err(db.run, factory, tools.add_user, actor, email="ninalici@hotmail.com", mobile="1234567890")
    assert err.code == ErrorCode.DUPLICATE
    with db.transaction(factory) as s:
        rows = s.scalars(
            select(ChangeLog).where(ChangeLog.entity == "profile", ChangeLog.entity_id == profile_id)
        ).all()
        assert rows and {(r.account_id, r.deleted) for r in rows} == {(actor.account_id, False)}
        assert tools.FEED_LOADERS["profile"](s, [profile_id])[profile_id]["email"] == "ninalici@hotmail.com"
    err = _err(db.run, factory, tools.remove_user, actor, actor.profile_id)
    assert err.code == ErrorCode.INVALID_STATE_TRANSITION and "maestro" in err.detail
    db.run(factory, tools.remove_user, actor, profile_id)
    assert [u["role"] for u in db.run(factory, tools.list_users, actor)] == ["master"]
    assert _err(db.run, factory, tools.remove_user, actor, profile_id).code == ErrorCode.NOT_FOUND
    with db.transaction(factory) as s:
        assert s.get(Profile, profile_id) is not None  # the person keeps the profile
        last = s.scalars(
            select(ChangeLog)
            .where(ChangeLog.entity == "profile", ChangeLog.entity_id == profile_id)
            .order_by(ChangeLog.id)
        ).all()[-1]
        assert last.deleted is True


def test_a_pending_user_can_be_withdrawn(factory):
    actor = make_distributor(factory)
    user = db.run(factory, tools.add_user, actor, email="nadia@example.com", mobile="5566667777")["user"]
    token = QueuedLinks(factory, "invitation")[-1][1]
    db.run(factory, tools.remove_user, actor, user["id"])
    assert [u["role"] for u in db.run(factory, tools.list_users, actor)] == ["master"]
    err = _err(db.run, factory, access.accept_invitation, token, "ClaveNueva2026")
    assert err.code == ErrorCode.VALIDATION_ERROR and err.errors[0].field == "token"


@pytest.mark.parametrize("status", ["suspended", "cancelled"])
def test_an_invitation_to_a_suspended_or_cancelled_account_gives_no_access(factory, status):
    actor = make_distributor(factory)
    db.run(factory, tools.add_user, actor, email="nadia@example.com", mobile="5566667777")
    token = QueuedLinks(factory, "invitation")[-1][1]
    with db.transaction(factory) as s:
        s.get(Account, actor.account_id).status = status  # type: ignore[union-attr]
    with db.transaction(factory) as s:
        refusal = access.describe_invitation(s, token)["refusal"]
    assert refusal and ("suspendida" if status == "suspended" else "cancelada") in refusal
    err = _err(db.run, factory, access.accept_invitation, token, "ClaveNueva2026")
    assert err.code == ErrorCode.VALIDATION_ERROR and err.errors[0].field == "token"
    assert err.errors[0].message == refusal
    with db.transaction(factory) as s:  # nothing changed: no profile, no membership
        assert s.scalar(select(Profile).where(Profile.email == "nadia@example.com")) is None
        assert len(s.scalars(select(Membership).where(Membership.account_id == actor.account_id)).all()) == 1
    # Once the account is active again, the same link works.
    with db.transaction(factory) as s:
        s.get(Account, actor.account_id).status = "active"  # type: ignore[union-attr]
        assert access.describe_invitation(s, token)["refusal"] is None
    assert db.run(factory, access.accept_invitation, token, "ClaveNueva2026")["account"]["id"] == actor.account_id


def test_an_existing_profile_needs_its_consent(factory):
    a = make_distributor(factory, email="ana@example.com", mobile="5511112222")
    b = make_distributor(factory)
    out = db.run(factory, tools.add_user, b, email="ana@example.com", mobile="5511112222")
    assert out["user"]["id"] != a.profile_id and out["user"]["invitation"]["profile_id"] is None
    with db.transaction(factory) as s:
        assert len(s.scalars(select(Membership).where(Membership.profile_id == a.profile_id)).all()) == 1
    accepted = _accept(factory, password=None)  # she has a password: accepting is enough
    assert accepted["profile"]["id"] == a.profile_id
    with db.transaction(factory) as s:
        roles = {
            m.account_id: m.role
            for m in s.scalars(select(Membership).where(Membership.profile_id == a.profile_id))
        }
    assert roles == {a.account_id: "master", b.account_id: "operator"}
    # A master elsewhere is a plain user here, and can be removed here.
    db.run(factory, tools.remove_user, b, a.profile_id)


def _shape(answer: dict) -> dict:
    """An answer of add_user without what the inviter typed and the ids and times."""
    user = dict(answer["user"])
    for key in ("id", "email", "mobile", "created_at"):
        user.pop(key)
    inv = dict(user.pop("invitation"))
    for key in ("id", "email", "mobile", "created_at", "sent_at", "expires_at", "mail"):
        inv.pop(key)
    return {"user": user, "invitation": inv, "detail": answer["detail"].replace(answer["user"]["email"], "…")}


@pytest.mark.parametrize(
    ("email", "mobile"),
    [
        ("ana@example.com", "5511112222"),  # an existing profile
        ("ana@example.com", "5599998888"),  # that e-mail has another mobile
        ("nueva@example.com", "5511112222"),  # that mobile has another e-mail
        ("ana@example.com", "5533334444"),  # two different profiles
    ],
)
def test_add_user_answers_the_same_whoever_exists(factory, email, mobile):
    make_distributor(factory, email="ana@example.com", mobile="5511112222")
    make_distributor(factory, email="beto@example.com", mobile="5533334444")
    actor = make_distributor(factory)
    nobody = db.run(factory, tools.add_user, actor, email="nadie@example.com", mobile="5500001111")
    somebody = db.run(factory, tools.add_user, actor, email=email, mobile=mobile)
    assert _shape(somebody) == _shape(nobody)
    assert somebody["user"]["email"] == email and somebody["user"]["mobile"] == mobile


@pytest.mark.parametrize(("email", "mobile"), [("no-es-correo", "5599998888"), ("x@example.com", "12")])
def test_add_user_validation(factory, email, mobile):
    actor = make_distributor(factory)
    err = _err(db.run, factory, tools.add_user, actor, email=email, mobile=mobile)
    assert err.code == ErrorCode.VALIDATION_ERROR


def test_a_mobile_of_someone_else_is_told_to_the_invitee_only(factory):
    make_distributor(factory, email="beto@example.com", mobile="5533334444")
    actor = make_distributor(factory)
    db.run(factory, tools.add_user, actor, email="nueva@example.com", mobile="5533334444")
    token = QueuedLinks(factory, "invitation")[-1][1]
    # The invitation's page says it before a password is typed; the acceptance refuses it too.
    assert "5533334444" in db.run(factory, access.describe_invitation, token)["refusal"]
    err = _err(db.run, factory, access.accept_invitation, token, "ClaveNueva2026")
    assert err.code == ErrorCode.VALIDATION_ERROR and "5533334444" in err.errors[0].message


def test_a_clients_admin_profile_cannot_be_a_user(factory):
    actor = make_distributor(factory)
    c = make_client(factory, actor)
    with db.transaction(factory) as s:
        s.add(Profile(name="Cliente", email="cli@example.com", mobile="5544445555", password_hash="x"))
    db.run(
        factory,
        clients.set_admin_profile,
        actor,
        c["client"]["id"],
        email="cli@example.com",
        mobile="5544445555",
    )
    # The inviter is told nothing; the person learns why on the invitation's page.
    db.run(factory, tools.add_user, actor, email="cli@example.com", mobile="5544445555")
    token = QueuedLinks(factory, "invitation")[-1][1]
    page = db.run(factory, access.describe_invitation, token)
    assert "perfil principal de un cliente" in page["refusal"] and page["needs_password"] is False
    err = _err(db.run, factory, access.accept_invitation, token, None)
    assert (
        err.code == ErrorCode.VALIDATION_ERROR and "perfil principal de un cliente" in err.errors[0].message
    )


# ---- client panel purchase ------------------------------------------------------------------------


def _enable(factory, actor, stamps=True, points=False):
    db.run(
        factory,
        tools.update_settings,
        actor,
        auto_stamp_purchase=stamps,
        allow_panel_stamp_purchase=stamps,
        allow_panel_point_purchase=points,
    )


def test_panel_purchase_must_be_enabled(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 100)
    c = make_client(factory, actor)
    p = _package(factory, actor)
    err = _err(db.run, factory, tools.panel_purchase, client_id=c["client"]["id"], price_package_id=p["id"])
    assert err.code == ErrorCode.FEATURE_NOT_CONTRACTED
    pts = _package(factory, actor, quantity=10, price_cents=1000, asset="points")
    _enable(factory, actor)
    err = _err(db.run, factory, tools.panel_purchase, client_id=c["client"]["id"], price_package_id=pts["id"])
    assert err.code == ErrorCode.FEATURE_NOT_CONTRACTED


def test_panel_purchase_of_stamps_from_the_distributors_balance(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 150)
    c = make_client(factory, actor)
    cti = c["stamping_account"]["id"]
    p = _package(factory, actor, description="Paquete de 100 Timbres.")
    _enable(factory, actor)
    out = db.run(factory, tools.panel_purchase, client_id=c["client"]["id"], price_package_id=p["id"])
    assert out["purchase"] is None
    m = out["movement"]
    assert (m["kind"], m["quantity"], m["amount_cents"], m["client_id"]) == (
        "transfer",
        100,
        50000,
        c["client"]["id"],
    )
    assert m["target"] == {"type": "stamping_account", "id": cti}
    assert _get(factory, StampingAccount, cti, "balance") == 100
    assert _get(factory, Account, actor.account_id, "stamps_balance") == 50
    # The sale is pending invoice.
    assert [x["id"] for x in db.run(factory, billing.pending_sales, actor)] == [m["id"]]
    assert_ledger_ok(factory)


def test_panel_purchase_buys_the_covering_catalog_package(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 30)
    with db.transaction(factory) as s:
        s.add_all(
            [
                CatalogPackage(id="t_stamps_100", asset="stamps", quantity=100, price_cents=7000),
                CatalogPackage(id="t_stamps_500", asset="stamps", quantity=500, price_cents=30000),
            ]
        )
    c = make_client(factory, actor)
    second = db.run(
        factory,
        clients.create_stamping_account,
        actor,
        c["client"]["id"],
        kind="standard",
        password="Secreto123x",
    )["id"]
    p = _package(factory, actor, quantity=200, price_cents=90000)
    _enable(factory, actor)
    out = db.run(
        factory,
        tools.panel_purchase,
        client_id=c["client"]["id"],
        price_package_id=p["id"],
        stamping_account_id=second,
    )
    # Short by 170: the smallest catalog package covering it is the 500 (the 1 and 100 don't).
    assert out["purchase"]["movement"]["source"] == {"type": "catalog", "id": "t_stamps_500"}
    assert out["purchase"]["charge_cents"] == 30000
    assert _get(factory, Account, actor.account_id, "stamps_balance") == 330
    assert _get(factory, StampingAccount, second, "balance") == 200
    with db.transaction(factory) as s:
        assert s.scalar(
            select(Charge).where(Charge.account_id == actor.account_id, Charge.amount_cents == 30000)
        )
    assert_ledger_ok(factory)


def test_panel_purchase_of_points_buys_what_covers_the_order(factory):
    actor = make_distributor(factory)
    give(factory, actor, Asset.POINTS, 4)
    with db.transaction(factory) as s:
        s.add(CatalogPackage(id="t_points_3", asset="points", quantity=3, price_cents=250))
    c = make_client(factory, actor)
    p = _package(factory, actor, quantity=10, price_cents=1200, asset="points")
    _enable(factory, actor, stamps=False, points=True)
    out = db.run(factory, tools.panel_purchase, client_id=c["client"]["id"], price_package_id=p["id"])
    # Short by 6 and no package covers it: twice the biggest (3 points).
    assert out["purchase"]["movement"]["quantity"] == 6
    assert _get(factory, Client, c["client"]["id"], "points_balance") == 10
    assert _get(factory, Account, actor.account_id, "points_balance") == 0
    assert out["movement"]["target"] == {"type": "client", "id": c["client"]["id"]}
    assert_ledger_ok(factory)


def test_panel_purchase_tenant_and_target_rules(factory):
    actor = make_distributor(factory)
    other = make_distributor(factory)
    give(factory, actor, Asset.STAMPS, 500)
    c = make_client(factory, actor)
    oc = make_client(factory, other)
    p = _package(factory, actor)
    _enable(factory, actor)
    # Another distributor's client can't buy this package; an unknown client neither.
    for client_id in (oc["client"]["id"], "nope"):
        err = _err(db.run, factory, tools.panel_purchase, client_id=client_id, price_package_id=p["id"])
        assert err.code == ErrorCode.NOT_FOUND
    err = _err(
        db.run,
        factory,
        tools.panel_purchase,
        client_id=c["client"]["id"],
        price_package_id=p["id"],
        stamping_account_id=oc["stamping_account"]["id"],
    )
    assert err.code == ErrorCode.NOT_FOUND
    db.run(factory, contracts.contract, actor, "multinivel")
    dist_pkg = _package(factory, actor, quantity=1000, price_cents=1, for_distributors=True)
    err = _err(
        db.run, factory, tools.panel_purchase, client_id=c["client"]["id"], price_package_id=dist_pkg["id"]
    )
    assert err.code == ErrorCode.NOT_FOUND
    with db.transaction(factory) as s:
        s.get(Account, actor.account_id).status = "suspended"
    err = _err(db.run, factory, tools.panel_purchase, client_id=c["client"]["id"], price_package_id=p["id"])
    assert err.code == ErrorCode.ACCOUNT_BLOCKED
    assert_ledger_ok(factory)
