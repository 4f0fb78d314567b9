"""A distributor's portfolio in seconds, for benchmarks: `add_portfolio(engine, account_id, clients=N)`
gives one distributor tens of thousands of clients and their CTIs (the desktop sync benchmark,
`bench/desktop_sync.py`). The stamps on its CTIs arrive through one catalog purchase for their total
(the ledger's sums hold, but there is no per-CTI movement trail). Written with SQLAlchemy Core in one
transaction, with the change-feed rows a desktop syncs. The whole-server generator is
`cmdesk.devtools.dataset`. Benchmark data only: never run it against a production database.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from sqlalchemy import Engine, insert, select, update

from cmdesk.models import (
    Client,
    Movement,
    Profile,
    StampingAccount,
)
from cmdesk.models.accounts import Counter
from cmdesk.models.sync import ChangeLog
from cmdesk.server import feed
from cmdesk.server.operations.accounts import FIRST_NIC
from cmdesk.server.security import hash_password

CTI_PASSWORD = "Bench2026pass"
CHUNK = 5000

_GIVEN = [
    "María",
    "José",
    "Juan",
    "Guadalupe",
    "Francisco",
    "Ana",
    "Luis",
    "Carmen",
    "Jorge",
    "Sofía",
    "Miguel",
    "Lucía",
    "Pedro",
    "Elena",
    "Ricardo",
    "Patricia",
    "Fernando",
    "Adriana",
    "Raúl",
    "Mónica",
]
_SURNAMES = [
    "Hernández",
    "García",
    "Martínez",
    "López",
    "González",
    "Pérez",
    "Rodríguez",
    "Sánchez",
    "Ramírez",
    "Cruz",
    "Flores",
    "Gómez",
    "Morales",
    "Vázquez",
    "Reyes",
    "Jiménez",
    "Torres",
    "Díaz",
    "Gutiérrez",
    "Ruiz",
    "Mendoza",
    "Aguilar",
    "Ortiz",
    "Núñez",
    "Peña",
]
_COMPANY = [
    "Comercializadora",
    "Servicios",
    "Distribuidora",
    "Grupo",
    "Abarrotes",
    "Consultores",
    "Ferretería",
    "Farmacia",
    "Transportes",
    "Constructora",
    "Papelería",
    "Refaccionaria",
]
_SUFFIX = ["S.A. de C.V.", "S. de R.L. de C.V.", "S.C.", "S.A.P.I. de C.V.", ""]
_COLORS = [None] * 8 + ["red", "orange", "yellow", "green", "blue", "purple", "gray"]


def take_nics(conn: Any, count: int) -> int:
    """Reserve `count` consecutive NICs; returns the first."""
    last = conn.execute(
        update(Counter)
        .where(Counter.name == "nic")
        .values(value=Counter.value + count)
        .returning(Counter.value)
    ).scalar()
    if last is None:
        conn.execute(insert(Counter).values(name="nic", value=FIRST_NIC + count - 1))
        return FIRST_NIC
    return int(last) - count + 1


def client_row(rng: random.Random, account_id: str, nic: int, now: dt.datetime) -> dict[str, Any]:
    given, s1, s2 = rng.choice(_GIVEN), rng.choice(_SURNAMES), rng.choice(_SURNAMES)
    person = rng.random() < 0.4
    if person:
        name = f"{given} {s1} {s2}"
        initials = f"{s1[:2]}{s2[0]}{given[0]}".upper()
        rfc = f"{initials}{rng.randrange(600101, 991231):06d}{nic % 1000:03d}"
    else:
        name = f"{rng.choice(_COMPANY)} {s1} {rng.choice(_SUFFIX)}".strip()
        rfc = f"{s1[:3].upper()}{rng.randrange(100101, 251231):06d}{nic % 1000:03d}"
    slug = f"{s1[:4].lower()}{nic}"
    return {
        "id": uuid.uuid4().hex,
        "account_id": account_id,
        "nic": str(nic),
        "version": 1,
        "name": name,
        "trade_name": "" if person else f"{s1} {rng.choice(_COMPANY)}",
        "rfc": rfc.translate(str.maketrans("ÁÉÍÓÚÑ", "AEIOUX")),
        "phone": f"{rng.choice(['55', '33', '81', '961', '999'])}{rng.randrange(10**7, 10**8 - 1)}"[:10],
        "email": f"{slug}@ejemplo.mx",
        "legal_person_type": "fisica" if person else "moral",
        "legal_name": f"{rng.choice(_GIVEN)} {rng.choice(_SURNAMES)}",
        "legal_email": f"legal.{slug}@ejemplo.mx",
        "financial_name": f"{rng.choice(_GIVEN)} {rng.choice(_SURNAMES)}",
        "financial_email": f"pagos.{slug}@ejemplo.mx",
        "financial_phone": f"961{rng.randrange(10**6, 10**7 - 1)}",
        "favorite": rng.random() < 0.03,
        "dropped": rng.random() < 0.05,
        "color": rng.choice(_COLORS),
        "points_balance": 0,
        "created_at": now - dt.timedelta(days=rng.randrange(0, 3650), seconds=rng.randrange(0, 86400)),
    }


def add_portfolio(
    engine: Engine,
    account_id: str,
    *,
    clients: int,
    ctis_per_client: float = 1.5,
    rng_seed: int = 7,
    now: dt.datetime | None = None,
) -> dict[str, int]:
    """Give `account_id` `clients` new clients with about `ctis_per_client` standard CTIs each (at
    least one), in one transaction. Returns how many clients, CTIs and stamps were written."""
    now = now or dt.datetime.now(dt.UTC)
    rng = random.Random(rng_seed)
    password_hash = hash_password(CTI_PASSWORD)
    extra_ctis = round(clients * (ctis_per_client - 1)) if ctis_per_client > 1 else 0
    made = {"clients": 0, "stamping_accounts": 0, "stamps": 0}
    with engine.begin() as conn:
        first_nic = take_nics(conn, clients)
        client_rows: list[dict[str, Any]] = []
        cti_rows: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []

        def flush() -> None:
            if client_rows:
                conn.execute(insert(Client), client_rows)
            if cti_rows:
                conn.execute(insert(StampingAccount), cti_rows)
            if changes:
                conn.execute(insert(ChangeLog).values(txid=feed.current_txid()), changes)
            client_rows.clear()
            cti_rows.clear()
            changes.clear()

        for i in range(clients):
            row = client_row(rng, account_id, first_nic + i, now)
            client_rows.append(row)
            changes.append(
                {"account_id": account_id, "entity": "client", "entity_id": row["id"], "deleted": False}
            )
            count = 1 + (1 if rng.random() < extra_ctis / max(clients, 1) else 0)
            for _ in range(count):
                balance = rng.choice([0, 0, rng.randrange(1, 50), rng.randrange(50, 5000)])
                created = row["created_at"] + dt.timedelta(minutes=rng.randrange(0, 600))
                cti = {
                    "id": uuid.uuid4().hex,
                    "account_id": account_id,
                    "client_id": row["id"],
                    "kind": "standard",
                    "active": rng.random() > 0.02,
                    "version": 1,
                    "password_hash": password_hash,
                    "credited": balance,
                    "issued": 0,
                    "balance": balance,
                    "created_at": created,
                    "last_credit_at": (created + dt.timedelta(days=rng.randrange(0, 300)))
                    if balance
                    else None,
                }
                cti_rows.append(cti)
                changes.append(
                    {
                        "account_id": account_id,
                        "entity": "stamping_account",
                        "entity_id": cti["id"],
                        "deleted": False,
                    }
                )
                made["stamping_accounts"] += 1
                made["stamps"] += balance
            made["clients"] += 1
            if len(changes) >= CHUNK:
                flush()
        flush()
        if made["stamps"]:
            # The stamps on the CTIs come from the catalog, so the ledger's sums still hold.
            movement_id = uuid.uuid4().hex
            conn.execute(
                insert(Movement),
                [
                    {
                        "id": movement_id,
                        "account_id": account_id,
                        "kind": "purchase",
                        "asset": "stamps",
                        "quantity": made["stamps"],
                        "amount_cents": 0,
                        "source_type": "catalog",
                        "source_id": "bench",
                        "target_type": "account",
                        "target_id": account_id,
                        "comments": "Datos de prueba de rendimiento",
                        "created_at": now,
                        "created_by": "bench",
                    }
                ],
            )
            conn.execute(
                insert(ChangeLog).values(txid=feed.current_txid()),
                [
                    {
                        "account_id": account_id,
                        "entity": "movement",
                        "entity_id": movement_id,
                        "deleted": False,
                    }
                ],
            )
    return made


def account_id_by_email(engine: Engine, email: str) -> str:
    """The id of the master account of the profile with `email` (e.g. the demo distributor)."""
    from cmdesk.models import Membership

    with engine.connect() as conn:
        value = conn.execute(
            select(Membership.account_id)
            .join(Profile, Profile.id == Membership.profile_id)
            .where(Profile.email == email, Membership.role == "master")
        ).scalar()
    if value is None:
        raise LookupError(f"no account for {email}")
    return str(value)
