"""Clients and CTIs: creation with a standard CTI, validation in Spanish, versions, tags, admin profile."""

from __future__ import annotations

import pytest

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.models import Membership, Profile
from cmdesk.server import db
from cmdesk.server.operations import clients
from cmdesk.server.security import hash_password
from tests.server.helpers import RFC_FISICA, RFC_MORAL, make_client, make_distributor

FULL_CLIENT = {
    "name": "Empresa de Pruebas",
    "trade_name": "Empresa de Pruebas",
    "rfc": "eku900317-3c9",
    "phone": "(961) 555-1234",
    "email": "Contacto@Empresa.MX",
    "address": {
        "state": "chiapas",
        "city": "Tuxtla Gutiérrez",
        "postal_code": "29000",
        "street": "Av. Central",
    },
    "legal_representative": {"person_type": "fisica", "name": "Juan Pérez", "curp": "BOXW310820HNERXN09"},
    "financial_contact": {
        "name": "Marisela Gutiérrez",
        "position": "Contador",
        "email": "cpmargtz@gmail.com",
    },
    "technical_contact": {"name": "Jorge Pérez", "phone": "9611234567"},
    "other": {"bulk_stamp_price_cents": 650, "discount_percent": 5, "credit_days": 15, "comments": "VIP"},
}


def test_create_client_gets_a_standard_cti_and_password(factory):
    actor = make_distributor(factory)
    out = db.run(factory, clients.create_client, actor, FULL_CLIENT)
    c = out["client"]
    assert c["rfc"] == "EKU9003173C9" and c["email"] == "contacto@empresa.mx"
    assert c["address"]["state"] == "Chiapas" and c["phone"] == "9615551234"
    assert c["other"]["bulk_stamp_price_cents"] == 650
    assert len(c["nic"]) >= 6 and c["nic"].isdigit()
    assert c["balances"] == {"stamps": 0, "points": 0} and c["version"] == 1
    cti = out["stamping_account"]
    assert cti["kind"] == "standard" and cti["balance"] == 0 and cti["client_id"] == c["id"]
    assert len(cti["id"]) == 32 and len(out["password"]) >= 8
    assert db.run(factory, clients.read_client, actor, c["id"])["nic"] == c["nic"]


def test_nics_are_unique_and_increasing(factory):
    actor = make_distributor(factory)
    nics = [int(make_client(factory, actor)["client"]["nic"]) for _ in range(3)]
    assert nics == sorted(nics) and len(set(nics)) == 3


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"rfc": RFC_MORAL}, "name"),
        ({"name": "X"}, "rfc"),
        ({"name": "X", "rfc": "ABC"}, "rfc"),
        ({"name": "X", "rfc": "EKU901317AB1"}, "rfc"),  # month 13
        ({"name": "X", "rfc": RFC_MORAL, "email": "no-es-correo"}, "email"),
        ({"name": "X", "rfc": RFC_MORAL, "address": {"postal_code": "12"}}, "address.postal_code"),
        ({"name": "X", "rfc": RFC_MORAL, "address": {"state": "Texas"}}, "address.state"),
        (
            {"name": "X", "rfc": RFC_MORAL, "legal_representative": {"curp": "XXX"}},
            "legal_representative.curp",
        ),
        ({"name": "X", "rfc": RFC_MORAL, "other": {"discount_percent": 101}}, "other.discount_percent"),
        ({"name": "X", "rfc": RFC_MORAL, "color": "pink"}, "color"),
        ({"name": "X", "rfc": RFC_MORAL, "nonsense": 1}, "nonsense"),
    ],
)
def test_create_client_validation_in_spanish(factory, data, field):
    actor = make_distributor(factory)
    with pytest.raises(DomainError) as e:
        db.run(factory, clients.create_client, actor, data)
    assert e.value.code == ErrorCode.VALIDATION_ERROR
    assert field in [x.field for x in e.value.errors]
    assert all(x.message for x in e.value.errors)


def test_all_field_errors_reported_at_once(factory):
    actor = make_distributor(factory)
    with pytest.raises(DomainError) as e:
        db.run(factory, clients.create_client, actor, {"name": "", "rfc": "X", "email": "x"})
    assert {"name", "rfc", "email"} <= {x.field for x in e.value.errors}


def test_rfc_check_digit_mismatch_is_accepted(factory):
    actor = make_distributor(factory)
    out = make_client(factory, actor, rfc="PRUE7010023T5")  # the manual's example RFC
    assert out["client"]["rfc"] == "PRUE7010023T5"


def test_update_is_versioned(factory):
    actor = make_distributor(factory)
    c = make_client(factory, actor)["client"]
    updated = db.run(
        factory, clients.update_client, actor, c["id"], {"trade_name": "Nueva"}, expected_version=1
    )
    assert updated["version"] == 2 and updated["trade_name"] == "Nueva"
    with pytest.raises(DomainError) as e:
        db.run(factory, clients.update_client, actor, c["id"], {"trade_name": "Vieja"}, expected_version=1)
    assert e.value.code == ErrorCode.VERSION_CONFLICT
    assert e.value.extra["current"]["trade_name"] == "Nueva"


def test_tags_for_many_clients(factory):
    actor = make_distributor(factory)
    ids = [make_client(factory, actor)["client"]["id"] for _ in range(3)]
    out = db.run(factory, clients.set_tags, actor, ids[:2], favorite=True, color="green")
    assert [c["favorite"] for c in out] == [True, True] and {c["color"] for c in out} == {"green"}
    out = db.run(factory, clients.set_tags, actor, ids[:1], color=None, dropped=True)
    assert out[0]["color"] is None and out[0]["dropped"] and out[0]["favorite"]
    with pytest.raises(DomainError) as e:
        db.run(factory, clients.set_tags, actor, ids, color="pink")
    assert e.value.code == ErrorCode.VALIDATION_ERROR


def test_other_distributors_client_is_not_found(factory):
    a, b = make_distributor(factory), make_distributor(factory)
    c = make_client(factory, b)
    for call in (
        lambda s: clients.read_client(s, a, c["client"]["id"]),
        lambda s: clients.update_client(s, a, c["client"]["id"], {"name": "x"}),
        lambda s: clients.set_tags(s, a, [c["client"]["id"]], favorite=True),
        lambda s: clients.set_stamping_account_active(s, a, c["stamping_account"]["id"], active=False),
        lambda s: clients.reset_stamping_password(s, a, c["stamping_account"]["id"], password="Nueva2024x"),
        lambda s: clients.create_stamping_account(s, a, c["client"]["id"], password="Nueva2024x"),
    ):
        with pytest.raises(DomainError) as e:
            db.run(factory, call)
        assert e.value.code == ErrorCode.NOT_FOUND


def test_admin_profile_rules(factory):
    actor = make_distributor(factory, email="master@dist.mx", mobile="5512345678")
    c = make_client(factory, actor)["client"]
    with pytest.raises(DomainError) as e:
        db.run(
            factory, clients.set_admin_profile, actor, c["id"], email="master@dist.mx", mobile="5512345678"
        )
    assert e.value.code == ErrorCode.PROFILE_ADMINISTERS_MASTER_ACCOUNT
    with pytest.raises(DomainError) as e:
        db.run(factory, clients.set_admin_profile, actor, c["id"], email="nadie@x.mx", mobile="5500000000")
    assert e.value.code == ErrorCode.VALIDATION_ERROR
    with db.transaction(factory) as s:
        s.add(Profile(email="cliente@x.mx", mobile="5599999999", password_hash=hash_password("x1234567")))
    out = db.run(
        factory, clients.set_admin_profile, actor, c["id"], email="cliente@x.mx", mobile="55 9999 9999"
    )
    assert out["admin_profile"] == {"email": "cliente@x.mx", "mobile": "5599999999"}
    with db.transaction(factory) as s:
        assert s.query(Membership).count() == 1


def test_create_cti_rules(factory):
    actor = make_distributor(factory)
    c = make_client(factory, actor)
    cid = c["client"]["id"]
    chosen = db.run(factory, clients.create_stamping_account, actor, cid, id="Pruebas", password="Clave2024x")
    assert chosen["id"] == "Pruebas"
    with pytest.raises(DomainError) as e:
        db.run(factory, clients.create_stamping_account, actor, cid, id="Pruebas", password="Clave2024x")
    assert e.value.code == ErrorCode.DUPLICATE
    with pytest.raises(DomainError) as e:
        db.run(factory, clients.create_stamping_account, actor, cid, password="abc")
    assert e.value.code == ErrorCode.VALIDATION_ERROR
    with pytest.raises(DomainError) as e:
        db.run(
            factory,
            clients.create_stamping_account,
            actor,
            cid,
            password="Clave2024x",
            password_confirmation="Otra2024x",
        )
    assert e.value.code == ErrorCode.VALIDATION_ERROR
    with pytest.raises(DomainError) as e:
        db.run(
            factory,
            clients.create_stamping_account,
            actor,
            cid,
            password="Clave2024x",
            rfc_restriction=RFC_FISICA,
        )
    assert e.value.errors[0].field == "rfc_restriction"
    u = db.run(
        factory,
        clients.create_stamping_account,
        actor,
        cid,
        kind="unlimited",
        password="Clave2024x",
        rfc_restriction=RFC_FISICA,
    )
    assert u["kind"] == "unlimited" and u["balance"] is None and u["rfc_restriction"] == RFC_FISICA
    with pytest.raises(DomainError):
        db.run(factory, clients.set_auto_sale, actor, u["id"], minimum=1, credit=1, amount_cents=1)


def test_reset_password_changes_hash(factory):
    from cmdesk.models import StampingAccount
    from cmdesk.server.security import verify_password

    actor = make_distributor(factory)
    c = make_client(factory, actor)
    cti = c["stamping_account"]["id"]
    db.run(
        factory,
        clients.reset_stamping_password,
        actor,
        cti,
        password="Nueva2024x",
        password_confirmation="Nueva2024x",
    )
    with db.transaction(factory) as s:
        h = s.get(StampingAccount, cti).password_hash
    assert verify_password(h, "Nueva2024x") and not verify_password(h, c["password"])
