"""`cmdesk-server seed --demo`: the catalog of the manual and a demo distributor with a realistic
portfolio (clients, CTIs, a few months of sales and issued CFDI). Seeding twice changes nothing the
second time.

A first start of the desktop on its embedded default waits for this, so it takes about a second:

- The business steps (the distributor, its purchases and contracts, the CTIs with chosen passwords,
  the auto-sale rule, invoices, codes, users, sub-distributors) go through the real operations.
- The history (the clients and their CTIs, five months of sales to CTIs and clients, two thousand
  issued CFDI) is written in bulk, as `cmdesk.devtools.dataset` writes its big datasets (with the
  writer both share, `cmdesk.server.bulk_rows`): the rows and change-feed entries the operations
  would write one by one, with each balance, `credited`, `issued` and `version` set once per row to
  what those operations would leave, so the ledger's sums hold and the desktop's first sync sees everything.
- The portfolio is one transaction (the catalog and the software files are one each), and the
  Argon2 password hashes are made in a worker thread meanwhile.

The random draws come from one seeded generator in a fixed order: the same names, quantities, dates
and CFDI UUIDs on every run (ids, passwords and codes made by the operations stay random).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session
from stdnum.mx import rfc as stdnum_rfc

from cmdesk.domain import codes
from cmdesk.domain.enums import Asset, MovementKind, PartyType, Role, StampingAccountKind
from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.domain.usage import mx_day
from cmdesk.models import (
    Account,
    AutoSaleRule,
    CatalogContract,
    CatalogFee,
    CatalogPackage,
    Client,
    IssuedCfdi,
    Membership,
    Movement,
    Profile,
    StampingAccount,
    utcnow,
)
from cmdesk.models.base import UTCDateTime
from cmdesk.resources import load_json
from cmdesk.server import db, feed
from cmdesk.server.bulk_rows import BulkRows, BulkSink, table_of
from cmdesk.server.operations import accounts, clients, ledger
from cmdesk.server.operations import usage as usage_ops
from cmdesk.server.operations.context import Actor
from cmdesk.server.security import hash_password

log = logging.getLogger(__name__)

DEMO_EMAIL = "demo@cmdesk.mx"
DEMO_PASSWORD = "demo1234"
DEMO_MOBILE = "9611000000"
SUB_DISTRIBUTOR_PASSWORD = "Heaven2016"


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
        existing = s.scalar(select(Profile.id).where(Profile.email == DEMO_EMAIL))
    if existing is not None:
        log.info("la distribuidora demo ya existe; sólo se actualizó el catálogo")
        _seed_software(factory, software_store)
        return {"created": False}
    # The Argon2 hashes (~0.1 s of CPU each, outside the GIL) are made by a worker thread while this
    # one writes the software files and the first rows, in the order they are needed. "unknown": the
    # password all the clients' first CTIs share (see `_add_clients`), random and thrown away.
    passwords = {
        "unknown": codes.generate_password(),
        "sub_distributor": SUB_DISTRIBUTOR_PASSWORD,
        "demo": DEMO_PASSWORD,
    }
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed-hash") as pool:
        hashes = {name: pool.submit(hash_password, password) for name, password in passwords.items()}
        _seed_software(factory, software_store)
        with db.transaction(factory) as s:
            return _seed_portfolio(s, clients_count, now, rng_seed, hashes)


def _op[T](s: Session, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """One operation inside the seed's transaction, left as if it had run in its own: its changes
    flushed and every loaded row expired, so the next step reads the database again."""
    result = fn(s, *args, **kwargs)
    s.flush()
    s.expire_all()
    return result


def _set_password_hash(s: Session, profile_id: str, password_hash: str) -> None:
    """A profile's password, hashed beforehand (the row and its feed entry exist already)."""
    s.execute(
        update(table_of(Profile))
        .where(table_of(Profile).c.id == profile_id)
        .values(password_hash=password_hash)
    )


def _seed_portfolio(
    s: Session, clients_count: int, now: dt.datetime, rng_seed: int, hashes: dict[str, Future[str]]
) -> dict[str, Any]:
    """The demo distributor and its portfolio, in the caller's transaction. `hashes`: the Argon2
    hashes of the passwords `seed_demo` named, being made meanwhile."""
    rng = random.Random(rng_seed)
    people = load_json("demo", "people.json")
    start = now - dt.timedelta(days=150)
    out = _op(
        s,
        accounts.create_distributor,
        name="Soluciones Contables del Sureste S.A. de C.V.",
        email=DEMO_EMAIL,
        mobile=DEMO_MOBILE,
        password=None,  # DEMO_PASSWORD, hashed in a worker thread
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
    _op(s, ledger.purchase, actor, "stamps_250000", 1, now=start)
    _op(s, ledger.purchase, actor, "points_3000", 2, now=start)
    _seed_contracts(s, actor, start)
    made = _add_clients(s, actor, rng, people, clients_count, start, hashes["unknown"].result())
    extra_cti = _op(
        s,
        clients.create_stamping_account,
        actor,
        made[0]["client"]["id"],
        id="Pruebas",
        password="Pruebas2016",
        now=start + dt.timedelta(days=3),
    )
    _op(s, clients.set_auto_sale, actor, extra_cti["id"], minimum=100, credit=2000, amount_cents=200000)
    unlimited = _op(
        s,
        clients.create_stamping_account,
        actor,
        made[1]["client"]["id"],
        kind="unlimited",
        password="Ilimitada2016",
        rfc_restriction=made[1]["client"]["rfc"],
        now=start,
    )
    _seed_unlimited_fee(s, actor, unlimited["id"], start)
    ctis = [m["stamping_account"]["id"] for m in made] + [extra_cti["id"]]
    _seed_sales(s, actor, ctis, made, rng, start)
    _seed_usage(s, actor, ctis, rng, now)
    _seed_billing_and_more(s, actor, made, rng, now, hashes["sub_distributor"].result())
    _set_password_hash(s, actor.profile_id, hashes["demo"].result())
    return {"created": True, "account_id": actor.account_id, "clients": len(made)}


def _add_clients(
    s: Session,
    actor: Actor,
    rng: random.Random,
    people: dict[str, Any],
    count: int,
    start: dt.datetime,
    password_hash: str,
) -> list[dict[str, Any]]:
    """The clients, each with its standard CTI: the rows `clients.create_client` makes (the same
    validation, NICs and feed entries), all in one flush. `create_client` gives each CTI a random
    password that it returns once, and the seed never keeps it; one Argon2 hash per CTI (~0.1 s
    each) was most of the seed's time, so they all get the hash of one such password: as before, no
    one can stamp with them until the distributor sets a password."""
    made: list[dict[str, Any]] = []
    rows: list[Client | StampingAccount] = []
    for i in range(count):
        created = start + dt.timedelta(days=rng.randrange(0, 120), minutes=rng.randrange(0, 600))
        data = demo_client_data(rng, people, i)
        values = clients.validate_client_columns(clients.flatten_client_data(data), creating=True)
        client = Client(
            id=codes.new_id(),
            account_id=actor.account_id,
            nic=accounts.next_nic(s),
            created_at=created,
            **values,
        )
        cti = StampingAccount(
            id=codes.generate_cti_id(),
            account_id=actor.account_id,
            client_id=client.id,
            kind=StampingAccountKind.STANDARD.value,
            password_hash=password_hash,
            created_at=created,
        )
        rows += [client, cti]
        made.append(
            {
                "client": {"id": client.id, "nic": client.nic, "rfc": client.rfc},
                "stamping_account": {"id": cti.id},
            }
        )
    s.add_all(rows)
    s.flush()
    s.expire_all()
    return made


def _seed_sales(
    s: Session,
    actor: Actor,
    ctis: list[str],
    made: list[dict[str, Any]],
    rng: random.Random,
    start: dt.datetime,
) -> None:
    """Sales over the months: stamps to CTIs with an amount (por facturar), points to some clients.
    The movements `ledger.transfer` records, written in bulk; the balances change once per party."""
    owner = {
        r.id: r.client_id
        for r in s.execute(
            select(StampingAccount.id, StampingAccount.client_id).where(StampingAccount.id.in_(ctis))
        )
    }
    sales: list[dict[str, Any]] = []

    def sale(
        asset: Asset,
        target: tuple[PartyType, str],
        client_id: str,
        quantity: int,
        amount: int,
        comments: str,
        when: dt.datetime,
    ) -> None:
        sales.append(
            {
                "id": codes.new_id(),
                "account_id": actor.account_id,
                "kind": MovementKind.TRANSFER.value,
                "asset": asset.value,
                "quantity": quantity,
                "amount_cents": amount,
                "source_type": PartyType.ACCOUNT.value,
                "source_id": actor.account_id,
                "target_type": target[0].value,
                "target_id": target[1],
                "client_id": client_id,
                "comments": comments,
                "created_at": when,
                "created_by": actor.author,
            }
        )

    for day in range(0, 150, 6):
        when = start + dt.timedelta(days=day, hours=rng.randrange(9, 19))
        for cti in rng.sample(ctis, min(4, len(ctis))):
            qty = rng.choice([50, 100, 200, 500, 1000])
            amount = qty * rng.choice([50, 65, 80])
            target = (PartyType.STAMPING_ACCOUNT, cti)
            sale(Asset.STAMPS, target, owner[cti], qty, amount, "timbres a granel", when)
        if day % 30 == 0:
            client_id = rng.choice(made)["client"]["id"]
            sale(Asset.POINTS, (PartyType.CLIENT, client_id), client_id, 500, 50000, "Puntos Induxsoft", when)
    _write_transfers(s, actor.account_id, sales)


def _write_transfers(s: Session, account_id: str, sales: Sequence[dict[str, Any]]) -> None:
    """Bulk `ledger.transfer`: the movements (`Movement` columns; stamps to standard CTIs, points to
    clients, from `account_id`), the distributor's balances debited once per asset (refused, like
    `balances.debit`, without enough), each target credited once, and their feed entries."""
    s.flush()
    conn = s.connection()
    rows = BulkRows(BulkSink(conn), table_of(Movement))
    changes: list[tuple[str, str, str]] = []
    spent: dict[str, list[int]] = {}
    received: dict[tuple[str, str], list[Any]] = {}
    for m in sales:
        rows.add(m)
        changes.append((account_id, "movement", m["id"]))
        spent.setdefault(m["asset"], []).append(m["quantity"])
        total = received.setdefault((m["target_type"], m["target_id"]), [0, 0, m["created_at"]])
        total[0] += m["quantity"]
        total[1] += 1
        total[2] = max(total[2], m["created_at"])  # the CTI's "última compra"
    rows.flush()
    for asset, quantities in spent.items():
        col = Account.stamps_balance if asset == Asset.STAMPS.value else Account.points_balance
        debited = conn.execute(
            update(Account)
            .where(Account.id == account_id, col >= sum(quantities))
            .values({col: col - sum(quantities), Account.version: Account.version + len(quantities)})
            .returning(Account.parent_id)
        ).first()
        if debited is None:
            raise DomainError(
                ErrorCode.INSUFFICIENT_BALANCE, f"Saldo insuficiente de {asset} para las ventas."
            )
        changes.append((account_id, "account", account_id))
        if debited.parent_id:
            changes.append((debited.parent_id, "distributor", account_id))
    cti_t = table_of(StampingAccount)
    client_t = table_of(Client)
    to_ctis: list[dict[str, Any]] = [
        {"b_id": ident, "b_qty": qty, "b_n": n, "b_at": last}
        for (kind, ident), (qty, n, last) in received.items()
        if kind == PartyType.STAMPING_ACCOUNT.value
    ]
    to_clients: list[dict[str, Any]] = [
        {"b_id": ident, "b_qty": qty, "b_n": n}
        for (kind, ident), (qty, n, _last) in received.items()
        if kind == PartyType.CLIENT.value
    ]
    if len(to_ctis) + len(to_clients) != len(received):
        raise ValueError("_write_transfers: only stamps to CTIs and points to clients")
    if to_ctis:
        done = conn.execute(
            update(cti_t)
            .where(cti_t.c.id == bindparam("b_id"), cti_t.c.kind == StampingAccountKind.STANDARD.value)
            .values(
                balance=cti_t.c.balance + bindparam("b_qty"),
                credited=cti_t.c.credited + bindparam("b_qty"),
                version=cti_t.c.version + bindparam("b_n"),
                last_credit_at=bindparam("b_at", type_=cti_t.c.last_credit_at.type),
            ),
            to_ctis,
        )
        if done.rowcount != len(to_ctis):
            raise ValueError("_write_transfers: a target is not a standard CTI")
        for cti_id, client_id in conn.execute(
            select(cti_t.c.id, cti_t.c.client_id).where(cti_t.c.id.in_([t["b_id"] for t in to_ctis]))
        ):
            changes += [(account_id, "stamping_account", cti_id), (account_id, "client", client_id)]
    if to_clients:
        conn.execute(
            update(client_t)
            .where(client_t.c.id == bindparam("b_id"))
            .values(
                points_balance=client_t.c.points_balance + bindparam("b_qty"),
                version=client_t.c.version + bindparam("b_n"),
            ),
            to_clients,
        )
        changes += [(account_id, "client", t["b_id"]) for t in to_clients]
    feed.record_many(s, changes)
    s.expire_all()


_CFDI_COLUMNS = ("cfdi_uuid", "stamping_account_id", "account_id", "emitter_rfc", "debited", "issued_at")


def _seed_usage(s: Session, actor: Actor, ctis: list[str], rng: random.Random, now: dt.datetime) -> None:
    """Issued CFDI over the last 90 days, skewed (a few busy clients, many quiet ones), so C.P.D.,
    D.R. and the consumption chart have data. Each CTI issues fewer than it holds. The rows
    `ledger.consume` inserts, written in bulk, with each CTI's counters set once; only a CFDI that
    takes a CTI below its auto-sale minimum goes through `ledger.consume` (it makes the sale)."""
    weights = [rng.paretovariate(1.2) for _ in ctis]
    state = {
        r.id: r
        for r in s.execute(
            select(
                StampingAccount.id, StampingAccount.client_id, StampingAccount.balance, AutoSaleRule.minimum
            )
            .outerjoin(
                AutoSaleRule,
                (AutoSaleRule.stamping_account_id == StampingAccount.id) & AutoSaleRule.enabled.is_(True),
            )
            .where(StampingAccount.id.in_(ctis))
        )
    }
    rfc, _ = ledger.consume_input("XAXX010101000", str(uuid.UUID(int=0)))  # as `consume` stores it
    issued = _IssuedHistory(s)
    for cti, w in zip(ctis, weights, strict=True):
        row = state[cti]
        balance = row.balance
        stamped = [
            (
                now - dt.timedelta(days=rng.randrange(0, 90), minutes=rng.randrange(0, 1440)),
                str(uuid.UUID(int=rng.getrandbits(128))).upper(),
            )
            for _ in range(min(balance - 1, int(w * 20)))
        ]
        # In time order, as they would have been stamped: the first and last issue times are then
        # the earliest and latest, and an auto-sale fires when the balance really ran low.
        for when, cfdi_uuid in sorted(stamped):
            if row.minimum is not None and balance - 1 < row.minimum:
                issued.flush()
                answer = ledger.consume(
                    s, stamping_account_id=cti, emitter_rfc=rfc, cfdi_uuid=cfdi_uuid, now=when
                )
                balance = answer["balance"]
                continue
            issued.add(cfdi_uuid, cti, actor.account_id, rfc, when)
            balance -= 1
    issued.flush()
    feed.record_many(
        s,
        [
            change
            for cti in issued.touched
            for change in (
                (actor.account_id, "stamping_account", cti),
                (actor.account_id, "client", state[cti].client_id),
            )
        ],
    )
    s.expire_all()


class _IssuedHistory:
    """Issued CFDI of standard CTIs written in bulk: the rows, and per CTI what `ledger.consume` does
    to its counters for each (balance - 1, issued + 1, version + 1, first/last issue times in the
    order given, one more CFDI on its day's usage). `flush()` before anything else reads or writes
    those CTIs."""

    def __init__(self, s: Session) -> None:
        self.s = s
        self.rows = BulkRows(BulkSink(s.connection()), table_of(IssuedCfdi), _CFDI_COLUMNS)
        self.counters: dict[str, list[Any]] = {}
        self.days: Counter[tuple[str, dt.date]] = Counter()
        self.touched: dict[str, None] = {}

    def add(self, cfdi_uuid: str, cti: str, account_id: str, rfc: str, when: dt.datetime) -> None:
        self.rows.add_tuple((cfdi_uuid, cti, account_id, rfc, True, when))
        counter = self.counters.setdefault(cti, [0, when, when])
        counter[0] += 1
        counter[2] = when
        self.days[(cti, mx_day(when))] += 1
        self.touched[cti] = None

    def flush(self) -> None:
        self.rows.flush()
        usage_ops.count_usage(self.s, ((cti, day, n) for (cti, day), n in self.days.items()))
        self.days.clear()
        if not self.counters:
            return
        t = table_of(StampingAccount)
        params = [{"b_id": k, "b_n": n, "b_first": a, "b_last": b} for k, (n, a, b) in self.counters.items()]
        done = self.s.connection().execute(
            update(t)
            .where(t.c.id == bindparam("b_id"), t.c.balance >= bindparam("b_n"))
            .values(
                balance=t.c.balance - bindparam("b_n"),
                issued=t.c.issued + bindparam("b_n"),
                version=t.c.version + bindparam("b_n"),
                first_issue_at=func.coalesce(t.c.first_issue_at, bindparam("b_first", type_=UTCDateTime())),
                last_issue_at=bindparam("b_last", type_=UTCDateTime()),
            ),
            params,
        )
        if done.rowcount != len(params):
            raise ValueError("_IssuedHistory: a CTI would issue more CFDI than its balance")
        self.counters.clear()


def _seed_contracts(s: Session, actor: Actor, when: dt.datetime) -> None:
    from cmdesk.server.operations import contracts

    _op(s, contracts.contract, actor, "multinivel", now=when)
    _op(s, contracts.contract, actor, "mkl_dominus", now=when)


def _seed_unlimited_fee(s: Session, actor: Actor, cti_id: str, when: dt.datetime) -> None:
    from cmdesk.server.operations import unlimited

    _op(s, unlimited.pay_unlimited_fee, actor, cti_id, payer="account", now=when)


def _seed_billing_and_more(
    s: Session,
    actor: Actor,
    made: list[dict[str, Any]],
    rng: random.Random,
    now: dt.datetime,
    sub_password_hash: str,
) -> None:
    from cmdesk.server.operations import billing, contracts, distributors, records, tools, top_up_codes

    # Invoices for the older sales of a few clients.
    for m in made[:6]:
        pending = _op(s, billing.pending_sales, actor, m["client"]["id"])
        if len(pending) > 1:
            ids = [p["id"] for p in pending[: len(pending) // 2]]
            _op(
                s,
                billing.register_invoice,
                actor,
                client_id=m["client"]["id"],
                reference=f"F{rng.randrange(1000, 9999)}-{m['client']['nic']}",
                movement_ids=ids,
            )
    _op(
        s,
        top_up_codes.create_code,
        actor,
        asset="stamps",
        quantity=20,
        amount_cents=5000,
        comments="Código de promoción",
    )
    _op(s, top_up_codes.create_code, actor, asset="points", quantity=300, amount_cents=30000)
    _op(
        s,
        tools.create_price_package,
        actor,
        quantity=100,
        price_cents=50000,
        description="Paquete de 100 Timbres",
    )
    _op(
        s,
        tools.create_price_package,
        actor,
        quantity=500,
        price_cents=200000,
        description="Paquete de 500 Timbres",
    )
    _op(
        s,
        tools.create_price_package,
        actor,
        quantity=1000,
        price_cents=300000,
        description="Paquete de 1,000 Timbres para distribuidores",
        for_distributors=True,
    )
    # A user who accepted her invitation long ago (the manual's example), an operator: made directly,
    # as adding a user now only invites (the person must accept from her e-mail).
    alicia = Profile(name="Prueba Alicia", email="alicia@solucont.mx", mobile="9611258690", created_at=now)
    s.add(alicia)
    s.flush()
    s.add(
        Membership(
            account_id=actor.account_id, profile_id=alicia.id, role=Role.OPERATOR.value, created_at=now
        )
    )
    feed.record(s, "profile", alicia.id, [actor.account_id])
    for m in made[:10]:
        _op(
            s,
            records.add_interaction,
            actor,
            m["client"]["id"],
            text="Llamada de seguimiento: solicita cotización de timbres.",
            occurred_at=now - dt.timedelta(days=rng.randrange(1, 60)),
        )
    for m in made[:5]:
        start = (now - dt.timedelta(days=rng.randrange(10, 200))).date()
        _op(
            s,
            records.add_policy,
            actor,
            m["client"]["id"],
            product="Póliza de soporte MaxiComercio",
            starts_on=start,
            ends_on=start + dt.timedelta(days=365),
            reference=f"POL-{m['client']['nic']}",
        )
    _op(s, contracts.generate_licenses, actor, made[2]["client"]["id"], "mkl_dominus", 1)
    sub = _op(
        s,
        distributors.create_sub_distributor,
        actor,
        email="ventas@heavensoft.mx",
        mobile="9616058925",
        name="HEAVEN SOFT S.A. de C.V.",
        rfc="HSO160409AB3",
    )
    token = sub.get("confirmation_token")
    if token:
        # SUB_DISTRIBUTOR_PASSWORD, hashed in a worker thread; the link then only confirms the e-mail.
        _set_password_hash(s, sub["profile"]["id"], sub_password_hash)
        _op(s, distributors.confirm_email, token=token)
    _op(s, distributors.activate, actor, sub["distributor"]["id"])
    _op(
        s,
        ledger.transfer,
        actor,
        asset="stamps",
        target_type="account",
        target_id=sub["distributor"]["id"],
        quantity=900,
        amount_cents=45000,
        comments="Abono a sub-distribuidor",
    )
    _op(
        s,
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
