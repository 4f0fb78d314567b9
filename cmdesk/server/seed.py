"""`cmdesk-server seed --demo`: the catalog of the manual and a demo distributor with a realistic
portfolio (clients, CTIs, a few months of sales and issued CFDI), built through the real operations
so every balance obeys the ledger's rules. Seeding twice changes nothing the second time."""

from __future__ import annotations

import datetime as dt
import logging
import random
import unicodedata
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.mx import rfc as stdnum_rfc

from cmdesk.models import CatalogContract, CatalogFee, CatalogPackage, Profile, StampingAccount, utcnow
from cmdesk.resources import load_json
from cmdesk.server import db
from cmdesk.server.operations import accounts, clients, ledger
from cmdesk.server.operations.context import Actor

log = logging.getLogger(__name__)

DEMO_EMAIL = "demo@cmdesk.mx"
DEMO_PASSWORD = "demo1234"
DEMO_MOBILE = "9611000000"


def load_catalog(session: Session) -> int:
    """Insert or update the catalog from resources/demo/catalog.json. Returns the rows written."""
    data = load_json("demo", "catalog.json")
    n = 0
    for asset, key in (("stamps", "stamp_packages"), ("points", "point_packages")):
        for p in data[key]:
            row = session.get(CatalogPackage, p["id"]) or CatalogPackage(id=p["id"])
            row.asset, row.quantity, row.price_cents, row.demo_price, row.active = (
                asset,
                p["quantity"],
                p["price_cents"],
                p["demo_price"],
                True,
            )
            session.add(row)
            n += 1
    for kind, key in (("mkl", "mkl"), ("subscription", "subscriptions")):
        for c in data[key]:
            item = session.get(CatalogContract, c["code"]) or CatalogContract(code=c["code"])
            item.kind, item.name, item.annual_price_before_tax_cents, item.demo_price, item.active = (
                kind,
                c["name"],
                c["annual_price_before_tax_cents"],
                c["demo_price"],
                True,
            )
            session.add(item)
            n += 1
    for f in data["fees"]:
        fee = session.get(CatalogFee, f["code"]) or CatalogFee(code=f["code"])
        fee.name, fee.amount_cents, fee.demo_price = f["name"], f["amount_cents"], f["demo_price"]
        session.add(fee)
        n += 1
    session.flush()
    return n


def _rfc_moral(rng: random.Random, name: str, born: dt.date) -> str:
    letters = "".join(ch for ch in name.upper() if "A" <= ch <= "Z")[:3].ljust(3, "X")
    base = f"{letters}{born:%y%m%d}{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{rng.choice('123456789ABC')}"
    return base + stdnum_rfc.calc_check_digit(base)


def _rfc_fisica(rng: random.Random, given: str, surname1: str, surname2: str, born: dt.date) -> str:
    def up(s: str) -> str:
        return "".join(
            ch for ch in s.upper().translate(str.maketrans("ÁÉÍÓÚÑÜ", "AEIOUXU")) if "A" <= ch <= "Z"
        )

    s1 = up(surname1)
    vowel = next((ch for ch in s1[1:] if ch in "AEIOU"), "X")
    letters = s1[0] + vowel + up(surname2)[0] + up(given)[0]
    if letters in {
        "BUEI",
        "CACA",
        "CAGA",
        "COGE",
        "KACA",
        "KOGE",
        "MAME",
        "MEAR",
        "MEON",
        "MOCO",
        "PEDO",
        "PUTA",
        "PUTO",
        "QULO",
        "RATA",
        "RUIN",
    }:
        letters = letters[:3] + "X"
    base = f"{letters}{born:%y%m%d}{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{rng.choice('123456789ABC')}"
    return base + stdnum_rfc.calc_check_digit(base)


def demo_client_data(rng: random.Random, people: dict[str, Any], i: int) -> dict[str, Any]:
    state = rng.choice(list(people["cities"]))
    city = rng.choice(people["cities"][state])
    given, s1, s2 = (
        rng.choice(people["given_names"]),
        rng.choice(people["surnames"]),
        rng.choice(people["surnames"]),
    )
    born = dt.date(1960 + rng.randrange(40), rng.randrange(1, 13), rng.randrange(1, 29))
    moral = rng.random() < 0.6
    if moral:
        words = (people["company_words"], people["company_names"], people["company_suffixes"])
        name = " ".join(rng.choice(w) for w in words)
        rfc = _rfc_moral(rng, name, born)
    else:
        name = f"{given} {s1} {s2}"
        rfc = _rfc_fisica(rng, given, s1, s2, born)
    phone = f"{rng.randrange(2, 10)}{rng.randrange(10**8, 10**9)}"
    plain = unicodedata.normalize("NFKD", s1.lower()).encode("ascii", "ignore").decode()
    slug = "".join(ch for ch in plain if ch.isalpha()) or "cliente"
    return {
        "name": name,
        "trade_name": name.split(" S.")[0] if moral else "",
        "rfc": rfc,
        "phone": phone,
        "email": f"contacto{i}@{slug}{i}.com.mx",
        "address": {
            "state": state,
            "city": city,
            "postal_code": f"{people['postal_prefixes'][state]}{rng.randrange(0, 1000):03d}",
            "neighborhood": "Centro",
            "street": f"Calle {rng.randrange(1, 30)} Poniente",
            "exterior_number": str(rng.randrange(1, 2000)),
        },
        "legal_representative": {
            "person_type": "moral" if moral else "fisica",
            "name": f"{given} {s1} {s2}",
            "position": "Propietario" if not moral else "Representante legal",
        },
        "financial_contact": {
            "name": f"{rng.choice(people['given_names'])} {rng.choice(people['surnames'])}",
            "position": "Contador",
            "email": f"conta{i}@{slug}{i}.com.mx",
        },
        "technical_contact": {
            "name": f"{rng.choice(people['given_names'])} {rng.choice(people['surnames'])}",
            "position": "Soporte",
            "phone": f"{rng.randrange(2, 10)}{rng.randrange(10**8, 10**9)}",
        },
        "other": {
            "bulk_stamp_price_cents": rng.choice([None, 50, 65, 80]),
            "credit_days": rng.choice([0, 15, 30]),
            "business_activity": rng.choice(people["activities"]),
        },
        "favorite": rng.random() < 0.15,
        "dropped": rng.random() < 0.05,
        "color": rng.choice([None, None, None, "red", "green", "blue", "yellow"]),
    }


def seed_demo(
    factory: db.SessionFactory,
    *,
    clients_count: int = 36,
    software_store: Path | None = None,
    now: dt.datetime | None = None,
    rng_seed: int = 2016,
) -> dict[str, Any]:
    """Load the catalog and, unless it exists, the demo distributor with its portfolio."""
    now = now or utcnow()
    with db.transaction(factory) as s:
        load_catalog(s)
        existing = s.scalar(select(Profile).where(Profile.email == DEMO_EMAIL))
    if existing is not None:
        log.info("la distribuidora demo ya existe; sólo se actualizó el catálogo")
        _seed_software(factory, software_store)
        return {"created": False}
    rng = random.Random(rng_seed)
    people = load_json("demo", "people.json")
    start = now - dt.timedelta(days=150)
    with db.transaction(factory) as s:
        out = accounts.create_distributor(
            s,
            name="Soluciones Contables del Sureste S.A. de C.V.",
            email=DEMO_EMAIL,
            mobile=DEMO_MOBILE,
            password=DEMO_PASSWORD,
            rfc="SCS1604146B2",
            profile_name="Luz Clara",
            now=start,
            expires_at=now + dt.timedelta(days=140),
            state="Chiapas",
            city="Tuxtla Gutiérrez",
            postal_code="29000",
            street="Av. Central Oriente",
            exterior_number="1450",
            trade_name="SoluCont",
            business_activity="Compra venta de equipo de cómputo y software",
        )
    actor = Actor(out["account"]["id"], out["profile"]["id"])
    db.run(factory, ledger.purchase, actor, "stamps_250000", 1, now=start)
    db.run(factory, ledger.purchase, actor, "points_3000", 2, now=start)
    _seed_contracts(factory, actor, start)
    made = []
    for i in range(clients_count):
        created = start + dt.timedelta(days=rng.randrange(0, 120), minutes=rng.randrange(0, 600))
        made.append(
            db.run(factory, clients.create_client, actor, demo_client_data(rng, people, i), now=created)
        )
    extra_cti = db.run(
        factory,
        clients.create_stamping_account,
        actor,
        made[0]["client"]["id"],
        id="Pruebas",
        password="Pruebas2016",
        now=start + dt.timedelta(days=3),
    )
    db.run(
        factory, clients.set_auto_sale, actor, extra_cti["id"], minimum=100, credit=2000, amount_cents=200000
    )
    unlimited = db.run(
        factory,
        clients.create_stamping_account,
        actor,
        made[1]["client"]["id"],
        kind="unlimited",
        password="Ilimitada2016",
        rfc_restriction=made[1]["client"]["rfc"],
        now=start,
    )
    _seed_unlimited_fee(factory, actor, made[1]["client"]["id"], unlimited["id"], start)
    ctis = [m["stamping_account"]["id"] for m in made] + [extra_cti["id"]]
    # Sales over the months: transfers with an amount (por facturar), points to some clients.
    for day in range(0, 150, 6):
        when = start + dt.timedelta(days=day, hours=rng.randrange(9, 19))
        for cti in rng.sample(ctis, min(4, len(ctis))):
            qty = rng.choice([50, 100, 200, 500, 1000])
            db.run(
                factory,
                ledger.transfer,
                actor,
                asset="stamps",
                target_type="stamping_account",
                target_id=cti,
                quantity=qty,
                amount_cents=qty * rng.choice([50, 65, 80]),
                comments="timbres a granel",
                now=when,
            )
        if day % 30 == 0:
            m = rng.choice(made)
            db.run(
                factory,
                ledger.transfer,
                actor,
                asset="points",
                target_type="client",
                target_id=m["client"]["id"],
                quantity=500,
                amount_cents=50000,
                comments="Puntos Induxsoft",
                now=when,
            )
    # Issued CFDI: skewed consumption (a few busy clients, many quiet ones).
    weights = [rng.paretovariate(1.2) for _ in ctis]
    with db.transaction(factory) as s:
        for cti, w in zip(ctis, weights, strict=True):
            balance = s.get(StampingAccount, cti).balance  # type: ignore[union-attr]
            for _ in range(min(balance - 1, int(w * 20))):
                when = now - dt.timedelta(days=rng.randrange(0, 90), minutes=rng.randrange(0, 1440))
                ledger.consume(
                    s,
                    stamping_account_id=cti,
                    emitter_rfc="XAXX010101000",
                    cfdi_uuid=str(uuid.UUID(int=rng.getrandbits(128))),
                    now=when,
                )
    _seed_billing_and_more(factory, actor, made, rng, now)
    _seed_software(factory, software_store)
    return {"created": True, "account_id": actor.account_id, "clients": len(made)}


def _seed_contracts(factory: db.SessionFactory, actor: Actor, when: dt.datetime) -> None:
    from cmdesk.server.operations import contracts

    db.run(factory, contracts.contract, actor, "multinivel", now=when)
    db.run(factory, contracts.contract, actor, "mkl_dominus", now=when)


def _seed_unlimited_fee(
    factory: db.SessionFactory, actor: Actor, client_id: str, cti_id: str, when: dt.datetime
) -> None:
    from cmdesk.server.operations import unlimited

    db.run(factory, unlimited.pay_unlimited_fee, actor, cti_id, payer="account", now=when)


def _seed_billing_and_more(
    factory: db.SessionFactory, actor: Actor, made: list[dict[str, Any]], rng: random.Random, now: dt.datetime
) -> None:
    from cmdesk.server.operations import billing, contracts, distributors, records, tools, top_up_codes

    # Invoices for the older sales of a few clients.
    for m in made[:6]:
        pending = db.run(factory, billing.pending_sales, actor, m["client"]["id"])
        if len(pending) > 1:
            ids = [p["id"] for p in pending[: len(pending) // 2]]
            db.run(
                factory,
                billing.register_invoice,
                actor,
                client_id=m["client"]["id"],
                reference=f"F{rng.randrange(1000, 9999)}-{m['client']['nic']}",
                movement_ids=ids,
            )
    db.run(
        factory,
        top_up_codes.create_code,
        actor,
        asset="stamps",
        quantity=20,
        amount_cents=5000,
        comments="Código de promoción",
    )
    db.run(factory, top_up_codes.create_code, actor, asset="points", quantity=300, amount_cents=30000)
    db.run(
        factory,
        tools.create_price_package,
        actor,
        quantity=100,
        price_cents=50000,
        description="Paquete de 100 Timbres",
    )
    db.run(
        factory,
        tools.create_price_package,
        actor,
        quantity=500,
        price_cents=200000,
        description="Paquete de 500 Timbres",
    )
    db.run(
        factory,
        tools.create_price_package,
        actor,
        quantity=1000,
        price_cents=300000,
        description="Paquete de 1,000 Timbres para distribuidores",
        for_distributors=True,
    )
    db.run(
        factory, tools.add_user, actor, email="alicia@solucont.mx", mobile="9611258690", name="Prueba Alicia"
    )
    for m in made[:10]:
        db.run(
            factory,
            records.add_interaction,
            actor,
            m["client"]["id"],
            text="Llamada de seguimiento: solicita cotización de timbres.",
            occurred_at=now - dt.timedelta(days=rng.randrange(1, 60)),
        )
    for m in made[:5]:
        start = (now - dt.timedelta(days=rng.randrange(10, 200))).date()
        db.run(
            factory,
            records.add_policy,
            actor,
            m["client"]["id"],
            product="Póliza de soporte MaxiComercio",
            starts_on=start,
            ends_on=start + dt.timedelta(days=365),
            reference=f"POL-{m['client']['nic']}",
        )
    db.run(factory, contracts.generate_licenses, actor, made[2]["client"]["id"], "mkl_dominus", 1)
    sub = db.run(
        factory,
        distributors.create_sub_distributor,
        actor,
        email="ventas@heavensoft.mx",
        mobile="9616058925",
        name="HEAVEN SOFT S.A. de C.V.",
        rfc="HSO160409AB3",
    )
    token = sub.get("confirmation_token")
    if token:
        db.run(factory, distributors.confirm_email, token=token, password="Heaven2016")
    db.run(factory, distributors.activate, actor, sub["distributor"]["id"])
    db.run(
        factory,
        ledger.transfer,
        actor,
        asset="stamps",
        target_type="account",
        target_id=sub["distributor"]["id"],
        quantity=900,
        amount_cents=45000,
        comments="Abono a sub-distribuidor",
    )
    db.run(
        factory,
        distributors.create_sub_distributor,
        actor,
        email="daniel@martinezarce.mx",
        mobile="9612223344",
        name="DANIEL MARTINEZ ARCE",
        rfc="MAAD800101AB2",
    )


def _seed_software(factory: db.SessionFactory, store: Path | None) -> None:
    if store is None:
        return
    from cmdesk.server.operations import software

    with db.transaction(factory) as s:
        software.seed_demo_software(s, store)
