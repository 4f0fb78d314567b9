"""Large synthetic data written straight into a server database, for benchmarks and soak tests (one
distributor's portfolio alone: `cmdesk.devtools.portfolio`).

`generate(engine, DatasetSpec(...))` and the CLI below make a whole realistic server — N distributors,
  their clients (Mexican names, states and cities from `resources/demo/people.json`, RFCs with valid
  check digits), CTIs, a year of movements (catalog purchases, transfers to CTIs, auto-sales, points
  to clients, with their charges) and millions of issued CFDI, with skewed (Pareto) consumption:
  a few busy emitters, many quiet ones. Every balance is the sum of its movements and every CTI's
  `issued` is its count of CFDI rows, in time order (a CTI is refilled before it runs dry), so
  `ledger.ledger_check` holds; every synced row has its change-feed rows, so a desktop syncs it.

    python -m cmdesk.devtools.dataset --db URL --distributors 10 --clients 100000 --ctis 150000 \
        --cfdi 2000000 --months 12

Rows are written with SQLAlchemy Core in ONE transaction: `COPY` through psycopg on PostgreSQL,
`executemany` on SQLite. Distributors are made with the real operation (`accounts.create_distributor`)
and all share the password `DISTRIBUTOR_PASSWORD`; every CTI shares `CTI_PASSWORD`. Benchmark data
only: never run it against a production database.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import math
import random
import sys
import time
import unicodedata
from collections import Counter as Tally
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from cmdesk.devtools.portfolio import CTI_PASSWORD, take_nics
from cmdesk.domain.enums import Asset, ChargeKind, MovementKind, PartyType
from cmdesk.domain.usage import mx_day
from cmdesk.models import (
    AutoSaleRule,
    CatalogPackage,
    Charge,
    Client,
    CtiDailyUsage,
    IssuedCfdi,
    Movement,
    Profile,
    StampingAccount,
    utcnow,
)
from cmdesk.models.accounts import Account
from cmdesk.models.sync import ChangeLog
from cmdesk.resources import load_json
from cmdesk.server import db, feed
from cmdesk.server.bulk_rows import BulkRows, BulkSink
from cmdesk.server.operations import accounts
from cmdesk.server.security import hash_password

CHUNK = 5000

# =====================================================================================================
# The whole-server generator
# =====================================================================================================

DISTRIBUTOR_PASSWORD = "Dataset2026"
# Stamp quantities a distributor sells to a CTI (rounded up to one of these, then to 10,000s).
STAMP_SIZES = (50, 100, 200, 250, 500, 1000, 2000, 3000, 5000, 10000, 20000, 50000)
POINT_SIZES = (100, 200, 250, 500, 1000)
MONTH = dt.timedelta(days=30.4375)
# Share of CTIs that never issued a CFDI in the period, and of CTIs refilled by an auto-sale rule.
IDLE_SHARE = 0.25
AUTO_SALE_SHARE = 0.03
POINTS_SHARE = 0.08


@dataclass(frozen=True)
class DatasetSpec:
    distributors: int = 10
    clients: int = 100_000
    ctis: int = 150_000
    cfdi: int = 2_000_000
    months: int = 12
    seed: int = 2026


@dataclass
class DatasetResult:
    distributors: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


# ---- Writing rows fast: the demo seed's bulk writer (`cmdesk.server.bulk_rows.BulkSink`) -----------


def _rows(
    sink: BulkSink, table: Any, columns: Sequence[str] | None = None, *, after: Sequence[BulkRows] = ()
) -> BulkRows:
    """A buffered table flushed every `CHUNK` rows (read when called: tests make it small)."""
    return BulkRows(sink, table, columns, after=after, chunk=CHUNK)


# ---- Realistic values -------------------------------------------------------------------------------


def _plain(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


_POINTS_OF_COMPASS = ("Poniente", "Oriente", "Norte", "Sur")


class _People:
    """Names, companies, places and RFCs from resources/demo/people.json (RFC check digits by
    python-stdnum, as the demo seed makes them)."""

    def __init__(self, rng: random.Random) -> None:
        from cmdesk.server.seed import _rfc_fisica, _rfc_moral

        self.rng = rng
        self.data = load_json("demo", "people.json")
        self.states = list(self.data["cities"])
        self._rfc_fisica = _rfc_fisica
        self._rfc_moral = _rfc_moral

    def born(self) -> dt.date:
        rng = self.rng
        return dt.date(1955 + rng.randrange(50), rng.randrange(1, 13), rng.randrange(1, 29))

    def person(self) -> tuple[str, str, str]:
        d, rng = self.data, self.rng
        return rng.choice(d["given_names"]), rng.choice(d["surnames"]), rng.choice(d["surnames"])

    def company(self) -> str:
        d, rng = self.data, self.rng
        return " ".join(
            rng.choice(w) for w in (d["company_words"], d["company_names"], d["company_suffixes"])
        )

    def moral_rfc(self, name: str) -> str:
        return str(self._rfc_moral(self.rng, name, self.born()))

    def place(self) -> tuple[str, str, str]:
        rng = self.rng
        state = rng.choice(self.states)
        city = rng.choice(self.data["cities"][state])
        return state, city, f"{self.data['postal_prefixes'][state]}{rng.randrange(0, 1000):03d}"

    def phone(self) -> str:
        rng = self.rng
        return f"{rng.choice(['55', '33', '81', '961', '999', '222', '442'])}{rng.randrange(10**8)}"[:10]

    def client(self, ident: str, account_id: str, nic: int, created: dt.datetime) -> dict[str, Any]:
        rng, d = self.rng, self.data
        given, s1, s2 = self.person()
        moral = rng.random() < 0.6
        if moral:
            name = self.company()
            rfc = self._rfc_moral(rng, name, self.born())
        else:
            name = f"{given} {s1} {s2}"
            rfc = self._rfc_fisica(rng, given, s1, s2, self.born())
        state, city, postal = self.place()
        slug = "".join(ch for ch in _plain(s1) if ch.isalpha()) or "cliente"
        fin_given, fin_surname = rng.choice(d["given_names"]), rng.choice(d["surnames"])
        tech_given, tech_surname = rng.choice(d["given_names"]), rng.choice(d["surnames"])
        return {
            "id": ident,
            "account_id": account_id,
            "nic": str(nic),
            "version": 1,
            "name": name,
            "trade_name": name.split(" S.")[0] if moral else "",
            "rfc": rfc,
            "phone": self.phone(),
            "email": f"contacto{nic}@{slug}.com.mx",
            "address_state": state,
            "address_city": city,
            "address_postal_code": postal,
            "address_neighborhood": rng.choice(["Centro", "Las Palmas", "San José", "Moderna", "Jardines"]),
            "address_street": f"Calle {rng.randrange(1, 40)} {rng.choice(_POINTS_OF_COMPASS)}",
            "address_exterior_number": str(rng.randrange(1, 3000)),
            "legal_person_type": "moral" if moral else "fisica",
            "legal_name": f"{given} {s1} {s2}",
            "legal_position": "Representante legal" if moral else "Propietario",
            "financial_name": f"{fin_given} {fin_surname}",
            "financial_position": "Contador",
            "financial_email": f"conta{nic}@{slug}.com.mx",
            "technical_name": f"{tech_given} {tech_surname}",
            "technical_position": "Soporte",
            "technical_phone": self.phone(),
            "bulk_stamp_price_cents": rng.choice([None, None, 50, 65, 80]),
            "credit_days": rng.choice([0, 0, 15, 30]),
            "business_activity": rng.choice(d["activities"]),
            "favorite": rng.random() < 0.05,
            "dropped": rng.random() < 0.04,
            "color": rng.choice([None] * 8 + ["red", "orange", "yellow", "green", "blue", "purple", "gray"]),
            "points_balance": 0,
            "created_at": created,
        }


def _size(quantity: float, sizes: Sequence[int] = STAMP_SIZES) -> int:
    """The smallest usual quantity ≥ `quantity` (above the largest: whole 10,000s)."""
    i = bisect.bisect_left(sizes, quantity)
    if i < len(sizes):
        return sizes[i]
    return int(math.ceil(quantity / 10_000) * 10_000)


def _hex_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def _cfdi_uuid(rng: random.Random) -> str:
    """A random version-4 UUID, upper case as `ledger.consume` stores it."""
    x = (rng.getrandbits(128) & ~(0xF << 76) & ~(0x3 << 62)) | (0x4 << 76) | (0x2 << 62)
    h = f"{x:032X}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _allocate(total: int, weights: Sequence[float], rng: random.Random) -> list[int]:
    """`total` split in proportion to `weights` (integers summing to `total` exactly)."""
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    out = [int(total * w / weight_sum) for w in weights]
    left = total - sum(out)
    live = [i for i, w in enumerate(weights) if w > 0]
    rng.shuffle(live)
    for k in range(left):
        out[live[k % len(live)]] += 1
    return out


# ---- The generator ----------------------------------------------------------------------------------


@dataclass
class _Distributor:
    id: str
    profile_id: str
    nic: str
    name: str
    email: str
    stamp_price: int  # centavos per stamp, IVA included, for transfers to CTIs
    outflow: dict[str, list[int]]  # asset → stamps/points given away per month
    bought: dict[str, int] = field(default_factory=dict)


class _Generator:
    def __init__(self, engine: Engine, spec: DatasetSpec, now: dt.datetime, progress: Progress) -> None:
        self.engine = engine
        self.spec = spec
        self.now = now
        self.start = now - MONTH * spec.months
        self.progress = progress
        self.rng = random.Random(spec.seed)
        self.people = _People(self.rng)
        self.distributors: list[_Distributor] = []
        self.counts: Tally[str] = Tally()

    # -- distributors, through the real operation --

    def make_distributors(self) -> None:
        from cmdesk.server.seed import load_catalog

        spec, rng = self.spec, self.rng
        factory = db.session_factory(self.engine)
        tag = f"dataset{spec.seed}"
        password_hash = hash_password(DISTRIBUTOR_PASSWORD)
        with db.transaction(factory) as s:
            load_catalog(s)
            taken = s.scalar(select(Profile.id).where(Profile.email == f"distribuidor1@{tag}.cmdesk.mx"))
            if taken is not None:
                raise RuntimeError(
                    f"La base de datos ya tiene los datos de la semilla {spec.seed}; use otra (--seed)."
                )
            for i in range(spec.distributors):
                name = self.people.company()
                state, city, postal = self.people.place()
                created = self.start - dt.timedelta(days=rng.randrange(30, 1500))
                email = f"distribuidor{i + 1}@{tag}.cmdesk.mx"
                out = accounts.create_distributor(
                    s,
                    name=name,
                    email=email,
                    mobile=f"5{spec.seed % 1000:03d}{i:06d}",
                    password=None,
                    rfc=self.people.moral_rfc(name),
                    profile_name=" ".join(self.people.person()[:2]),
                    now=created,
                    expires_at=self.now + dt.timedelta(days=rng.randrange(30, 330)),
                    state=state,
                    city=city,
                    postal_code=postal,
                    street=f"Av. {rng.choice(['Reforma', 'Juárez', 'Hidalgo', 'Central'])}",
                    exterior_number=str(rng.randrange(1, 2000)),
                )
                profile = s.get(Profile, out["profile"]["id"])
                assert profile is not None
                profile.password_hash = password_hash
                self.distributors.append(
                    _Distributor(
                        id=out["account"]["id"],
                        profile_id=profile.id,
                        nic=out["account"]["nic"],
                        name=name,
                        email=email,
                        stamp_price=rng.choice([58, 65, 75, 87, 99]),
                        outflow={a.value: [0] * spec.months for a in Asset},
                    )
                )

    # -- everything else, in one transaction --

    def month_of(self, when: dt.datetime) -> int:
        return min(self.spec.months - 1, max(0, int((when - self.start) / MONTH)))

    def fill(self) -> None:
        spec, rng = self.spec, self.rng
        clients_n = max(spec.clients, len(self.distributors))
        ctis_n = max(spec.ctis, clients_n)
        # Clients per distributor: Pareto-skewed (a few big distributors), at least one each.
        shares = _allocate(
            clients_n - len(self.distributors), [rng.paretovariate(1.16) for _ in self.distributors], rng
        )
        per_distributor = [1 + n for n in shares]
        # Extra CTIs land on random clients; CFDI on CTIs by Pareto weights (a quarter never issue).
        extra = Tally(rng.choices(range(clients_n), k=ctis_n - clients_n)) if ctis_n > clients_n else Tally()
        weights = [0.0 if rng.random() < IDLE_SHARE else rng.paretovariate(1.2) for _ in range(ctis_n)]
        issued = _allocate(spec.cfdi, weights, rng)
        cti_password = hash_password(CTI_PASSWORD)
        with self.engine.begin() as conn:
            sink = BulkSink(conn)
            txid = int(conn.execute(select(feed.current_txid())).scalar() or 0)
            clients = _rows(sink, Client.__table__)
            ctis = _rows(sink, StampingAccount.__table__, after=[clients])
            t = {
                "clients": clients,
                "ctis": ctis,
                "rules": _rows(sink, AutoSaleRule.__table__, after=[ctis]),
                "movements": _rows(sink, Movement.__table__),
                "charges": _rows(sink, Charge.__table__),
                "cfdi": _rows(
                    sink,
                    IssuedCfdi.__table__,
                    ["cfdi_uuid", "stamping_account_id", "account_id", "emitter_rfc", "debited", "issued_at"],
                ),
                # What both stamping paths count per CTI and Mexico City day, for the CFDI above.
                "usage": _rows(
                    sink, CtiDailyUsage.__table__, ["stamping_account_id", "day", "issued"], after=[ctis]
                ),
                "changes": _rows(
                    sink,
                    ChangeLog.__table__,
                    ["account_id", "entity", "entity_id", "txid", "deleted", "created_at"],
                ),
            }
            self.t = t
            self.txid = txid
            self.packages = conn.execute(
                select(
                    CatalogPackage.id,
                    CatalogPackage.asset,
                    CatalogPackage.quantity,
                    CatalogPackage.price_cents,
                )
                .where(CatalogPackage.active.is_(True))
                .order_by(CatalogPackage.quantity)
            ).all()
            first_nic = take_nics(conn, clients_n)
            client_index = 0
            cti_index = 0
            for d, count in zip(self.distributors, per_distributor, strict=True):
                for _ in range(count):
                    created = self.now - dt.timedelta(
                        days=rng.triangular(1, 3 * 365, 1), seconds=rng.randrange(86400)
                    )
                    client = self.people.client(_hex_id(rng), d.id, first_nic + client_index, created)
                    points = self.plan_points(client) if rng.random() < POINTS_SHARE else []
                    client["points_balance"] = sum(q for q, _ in points)
                    t["clients"].add(client)
                    self.change(d.id, "client", client["id"])
                    for k in range(1 + extra.get(client_index, 0)):
                        self.cti(d, client, issued[cti_index], cti_password, created, k)
                        cti_index += 1
                    for quantity, when in points:
                        self.movement(
                            d,
                            kind=MovementKind.TRANSFER,
                            asset=Asset.POINTS,
                            quantity=quantity,
                            amount=quantity * 100,
                            source=(PartyType.ACCOUNT, d.id),
                            target=(PartyType.CLIENT, client["id"]),
                            when=when,
                            client_id=client["id"],
                            comments="Puntos Induxsoft",
                        )
                    client_index += 1
                    if client_index % 10_000 == 0:
                        self.progress(
                            f"  {client_index:,} clientes, {cti_index:,} CTI, {self.counts['cfdi']:,} CFDI"
                        )
            for d in self.distributors:
                self.purchases(d)
            for rows in t.values():
                rows.flush()
            self.settle_distributors(conn)
        self.counts["clients"] = clients_n
        self.counts["stamping_accounts"] = ctis_n

    def change(self, account_id: str, entity: str, entity_id: str) -> None:
        self.t["changes"].add_tuple((account_id, entity, entity_id, self.txid, False, self.now))
        self.counts["changes"] += 1

    def movement(
        self,
        d: _Distributor,
        *,
        kind: MovementKind,
        asset: Asset,
        quantity: int,
        amount: int,
        source: tuple[PartyType, str],
        target: tuple[PartyType, str],
        when: dt.datetime,
        client_id: str | None = None,
        comments: str = "",
        created_by: str | None = None,
    ) -> str:
        ident = _hex_id(self.rng)
        self.t["movements"].add(
            {
                "id": ident,
                "account_id": d.id,
                "version": 1,
                "kind": kind.value,
                "asset": asset.value,
                "quantity": quantity,
                "amount_cents": amount,
                "source_type": source[0].value,
                "source_id": source[1],
                "target_type": target[0].value,
                "target_id": target[1],
                "client_id": client_id,
                "comments": comments,
                "created_at": when,
                "created_by": created_by or d.profile_id,
            }
        )
        self.change(d.id, "movement", ident)
        self.counts["movements"] += 1
        if source[0] == PartyType.ACCOUNT:
            d.outflow[asset.value][self.month_of(when)] += quantity
        return ident

    def cti(
        self,
        d: _Distributor,
        client: dict[str, Any],
        n: int,
        password_hash: str,
        created: dt.datetime,
        k: int,
    ) -> None:
        """One standard CTI issuing `n` CFDI in the period, refilled (by its distributor, or by an
        auto-sale rule) just before it would run dry."""
        rng = self.rng
        ident = f"{rng.getrandbits(128):032X}"
        opened = min(created + dt.timedelta(days=30 * k + rng.random() * 3), self.now - dt.timedelta(hours=2))
        begin = max(opened, self.start + dt.timedelta(hours=rng.random() * 72))
        begin = min(begin, self.now - dt.timedelta(hours=1 + rng.random() * 24))
        span = (self.now - begin).total_seconds()
        times = sorted(rng.random() for _ in range(n))
        monthly = n / max(span / MONTH.total_seconds(), 1.0)
        auto = n > 0 and rng.random() < AUTO_SALE_SHARE
        cti_ref = (PartyType.STAMPING_ACCOUNT, ident)
        account_ref = (PartyType.ACCOUNT, d.id)
        credited = 0
        last_credit: dt.datetime | None = None

        def credit(quantity: int, when: dt.datetime, kind: MovementKind, amount: int, comments: str) -> None:
            nonlocal credited, last_credit
            self.movement(
                d,
                kind=kind,
                asset=Asset.STAMPS,
                quantity=quantity,
                amount=amount,
                source=account_ref,
                target=cti_ref,
                when=when,
                client_id=client["id"],
                comments=comments,
                created_by="auto_sale" if kind == MovementKind.AUTO_SALE else None,
            )
            credited += quantity
            last_credit = when

        def price(quantity: int) -> int:
            per = d.stamp_price * (0.8 if quantity >= 5000 else 1.0)
            return int(quantity * per)

        rule: dict[str, int] | None = None
        if auto:
            size = _size(max(monthly, 50))
            rule = {"minimum": max(10, size // 5), "credit": size, "amount_cents": price(size)}
            self.t["rules"].add({"stamping_account_id": ident, **rule, "enabled": True, "updated_at": begin})
        balance = 0
        if n == 0:
            if rng.random() < 0.5:
                credit(rng.choice([50, 100, 200]), begin, MovementKind.TRANSFER, 0, "timbres de cortesía")
                balance = credited
        elif rule is not None:
            credit(
                rule["credit"] + rule["minimum"],
                begin,
                MovementKind.TRANSFER,
                price(rule["credit"]),
                "timbres",
            )
            balance = credited
        cfdi = self.t["cfdi"]
        days: Tally[dt.date] = Tally()
        rfc = client["rfc"]
        previous = begin
        first_issue: dt.datetime | None = None
        when = begin
        for fraction in times:
            when = begin + dt.timedelta(seconds=60 + fraction * (span - 60))
            if balance == 0:
                # The distributor tops it up before its next CFDI: about a month or two of use.
                quantity = _size(max(monthly * rng.uniform(0.8, 2.2), 1))
                at = previous + (when - previous) * rng.random()
                credit(
                    quantity,
                    at,
                    MovementKind.TRANSFER,
                    price(quantity),
                    rng.choice(["timbres", "timbres a granel", ""]),
                )
                balance += quantity
            balance -= 1
            cfdi.add_tuple((_cfdi_uuid(rng), ident, d.id, rfc, True, when))
            days[mx_day(when)] += 1
            first_issue = first_issue or when
            previous = when
            if rule is not None and balance < rule["minimum"]:
                at = when + dt.timedelta(seconds=1)
                credit(rule["credit"], at, MovementKind.AUTO_SALE, rule["amount_cents"], "Venta automática")
                balance += rule["credit"]
        self.counts["cfdi"] += n
        self.t["ctis"].add(
            {
                "id": ident,
                "account_id": d.id,
                "client_id": client["id"],
                "kind": "standard",
                "active": rng.random() > 0.02,
                "version": 1,
                "password_hash": password_hash,
                "credited": credited,
                "issued": n,
                "balance": credited - n,
                "created_at": opened,
                "first_issue_at": first_issue,
                "last_issue_at": when if n else None,
                "last_credit_at": last_credit,
            }
        )
        self.change(d.id, "stamping_account", ident)
        for day, issued_that_day in sorted(days.items()):
            self.t["usage"].add_tuple((ident, day, issued_that_day))

    def plan_points(self, client: dict[str, Any]) -> list[tuple[int, dt.datetime]]:
        """Points a distributor gave this client in the period: (quantity, when)."""
        rng = self.rng
        begin = max(client["created_at"], self.start)
        span = (self.now - begin).total_seconds()
        return [
            (rng.choice(POINT_SIZES), begin + dt.timedelta(seconds=rng.random() * span))
            for _ in range(rng.choice([1, 1, 2, 3]))
        ]

    def purchases(self, d: _Distributor) -> None:
        """Catalog purchases at the start of each month covering that month's outflow (plus some stock
        at the start), so the distributor never lends what it has not bought."""
        rng = self.rng
        for asset in Asset:
            menu = [p for p in self.packages if p.asset == asset.value]
            if not menu:
                continue
            stock = 0
            for m, outflow in enumerate(d.outflow[asset.value]):
                need = outflow - stock
                if m == 0:
                    need += (
                        rng.choice([0, 2000, 10000, 50000])
                        if asset == Asset.STAMPS
                        else rng.choice([0, 3000])
                    )
                if need <= 0:
                    stock -= outflow
                    continue
                fitting = [p for p in menu if p.quantity <= need] or menu[:1]
                package = fitting[-1]
                times = min(1000, -(-need // package.quantity))
                units = package.quantity * times
                when = self.start + MONTH * m - dt.timedelta(hours=rng.randrange(1, 48))
                label = "timbres" if asset == Asset.STAMPS else "puntos"
                comments = f"Compra de {times} × {package.quantity:,} {label}"
                movement_id = self.movement(
                    d,
                    kind=MovementKind.PURCHASE,
                    asset=asset,
                    quantity=units,
                    amount=package.price_cents * times,
                    source=(PartyType.CATALOG, package.id),
                    target=(PartyType.ACCOUNT, d.id),
                    when=when,
                    comments=comments,
                )
                charge_id = _hex_id(rng)
                self.t["charges"].add(
                    {
                        "id": charge_id,
                        "account_id": d.id,
                        "version": 1,
                        "kind": ChargeKind.PURCHASE.value,
                        "description": comments,
                        "amount_cents": package.price_cents * times,
                        "paid_with_points": False,
                        "movement_id": movement_id,
                        "created_at": when,
                        "created_by": d.profile_id,
                    }
                )
                self.change(d.id, "charge", charge_id)
                self.counts["charges"] += 1
                self.counts[f"purchased_{asset.value}"] += units
                stock += units - outflow
                d.bought[asset.value] = d.bought.get(asset.value, 0) + units

    def settle_distributors(self, conn: Connection) -> None:
        """Each distributor keeps what it bought and did not give away."""
        for d in self.distributors:
            bought = d.bought
            stamps = bought.get("stamps", 0) - sum(d.outflow["stamps"])
            points = bought.get("points", 0) - sum(d.outflow["points"])
            conn.execute(
                update(Account)
                .where(Account.id == d.id)
                .values(stamps_balance=stamps, points_balance=points, version=Account.version + 1)
            )
            self.t["changes"].add_tuple((d.id, "account", d.id, self.txid, False, self.now))
        self.t["changes"].flush()


def generate(
    engine: Engine, spec: DatasetSpec, *, now: dt.datetime | None = None, progress: Progress = _quiet
) -> DatasetResult:
    """Fill `engine`'s database (already migrated) with `spec`'s distributors and their year."""
    started = time.perf_counter()
    g = _Generator(engine, spec, now or utcnow(), progress)
    progress(f"{spec.distributors} distribuidores…")
    g.make_distributors()
    progress(f"{spec.clients:,} clientes, {spec.ctis:,} CTI, {spec.cfdi:,} CFDI, {spec.months} meses…")
    g.fill()
    return DatasetResult(
        distributors=[
            {"id": d.id, "nic": d.nic, "name": d.name, "email": d.email, "password": DISTRIBUTOR_PASSWORD}
            for d in g.distributors
        ],
        counts=dict(g.counts),
        seconds=time.perf_counter() - started,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cmdesk.devtools.dataset",
        description="Llena una base de datos del servidor con datos sintéticos realistas (benchmarks).",
    )
    parser.add_argument("--db", required=True, help="URL de la base de datos (se migra primero)")
    parser.add_argument("--distributors", type=int, default=10)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--ctis", type=int, default=150_000)
    parser.add_argument("--cfdi", type=int, default=2_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.distributors < 1 or args.clients < 0 or args.ctis < 0 or args.cfdi < 0 or args.months < 1:
        parser.error("las cantidades deben ser positivas (al menos un distribuidor y un mes)")
    from cmdesk.server import migrations
    from cmdesk.server.operations.ledger import ledger_check

    def say(message: str) -> None:
        print(message, flush=True)

    url = db.normalize_url(args.db)
    migrations.upgrade(url)
    engine = db.create_db_engine(url)
    try:
        spec = DatasetSpec(
            distributors=args.distributors,
            clients=args.clients,
            ctis=args.ctis,
            cfdi=args.cfdi,
            months=args.months,
            seed=args.seed,
        )
        try:
            result = generate(engine, spec, progress=say)
        except RuntimeError as error:
            print(f"dataset: {error}", file=sys.stderr)
            return 1
        with db.transaction(db.session_factory(engine)) as s:
            check = ledger_check(s)
        c = result.counts
        say(
            f"Listo en {result.seconds:,.1f} s: {c.get('clients', 0):,} clientes, "
            f"{c.get('stamping_accounts', 0):,} CTI, {c.get('cfdi', 0):,} CFDI, {c.get('movements', 0):,} "
            f"movimientos, {c.get('charges', 0):,} cargos, {c.get('changes', 0):,} cambios en el feed."
        )
        for asset, figures in check.items():
            state = "cuadra" if figures["ok"] else "NO CUADRA"
            say(
                f"Libro mayor ({asset}): saldos {figures['held']:,} + emitidos {figures['spent_or_issued']:,}"
                f" = comprados {figures['purchased']:,} → {state}"
            )
        say(f"Distribuidores (contraseña {DISTRIBUTOR_PASSWORD}):")
        for d in result.distributors:
            say(f"  NIC {d['nic']}  {d['email']}  {d['name']}")
        return 0 if all(f["ok"] for f in check.values()) else 1
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
