"""Soak test with faults: nothing is lost, nothing is applied twice, every balance adds up.

    python -m bench.soak --minutes 5 --desktops 4 --workers 2 [--invoicers 2] [--seed 1] [--keep DIR]

On a throwaway PostgreSQL (or `--db URL`, an empty database), `cmdesk-server run --workers W` serves
behind a loopback proxy this harness controls (`bench/chaos_proxy.py`). For the same distributors:

- D simulated desktops (`bench/soak_desktop.py`, each its own process with its own cache, outbox and
  journal) run random user actions through the real service layer — transfers, bulk transfers,
  purchases, client edits and tags, new clients, top-up codes and their public redemption — syncing
  now and then;
- invoicing clients stamp CFDI (`POST /v1/stamping/consume`, HTTP Basic), retrying a CFDI with the
  same UUID when the line fails.

Meanwhile the harness SIGKILLs server workers (uvicorn's supervisor starts new ones), SIGKILLs
desktops — preferably in the middle of a push — and starts them again on the same folder, drops
requests and answers in the proxy, and now and then cuts every open connection.

Then faults stop, every desktop pushes what it has left and syncs, and the harness checks:

1. the ledger: for each asset Σ balances + Σ issued == Σ purchased (`ledger.ledger_check`), and no
   balance below zero;
2. exactly once: every command a desktop recorded ended done, rejected (with the server's reason) or
   in conflict (edits only) — none still waiting, none lost; each keyed command has exactly one
   completed idempotency record, and there is no record no desktop sent; the movements, clients and
   codes the server has since the start are exactly those the done commands and redemptions got in
   their answers (no missing one, no extra one), and the CFDI it has are exactly those the invoicing
   clients were told were stamped;
3. every desktop's cache equals the server after its final sync: the ids and versions (and balances)
   of clients, CTIs, movements and top-up codes, as the API lists them.

It prints the operations, the faults injected and each invariant checked; exit status 1 when one
fails. `tests/soak/test_soak.py` runs a short form.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine, func, select

from bench.chaos_proxy import ChaosProxy
from bench.soak_desktop import CREATE_CODE, Desktop
from cmdesk.devtools import postgres, server_process
from cmdesk.models import Client, IdempotencyRecord, IssuedCfdi, Movement, StampingAccount, TopUpCode
from cmdesk.server import db, migrations
from cmdesk.server.operations import accounts, clients, ledger
from cmdesk.server.operations.context import Actor
from cmdesk.server.seed import load_catalog
from cmdesk.services.api_client import ApiClient, ApiError, OfflineError
from cmdesk.services.outbox import CommandState, Outbox

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Soak2026pass"
# Commands whose endpoint applies an Idempotency-Key once (the others set values, applied once by nature).
KEYED = {"transfer", "bulk_transfer", "purchase", "create_client", CREATE_CODE}
# Reasons a command may be refused in this workload (balances run out; the rest would be a bug).
EXPECTED_REJECTIONS = {"insufficient_balance"}
SYNCED = ("client", "stamping_account", "movement", "top_up_code")


@dataclass
class SoakConfig:
    seconds: float = 300.0
    desktops: int = 4
    workers: int = 2
    distributors: int = 2
    invoicers: int = 2
    clients_per_distributor: int = 12
    seed: int = 1
    database_url: str | None = None
    folder: Path | None = None
    keep: bool = False
    # Mean seconds between faults of each kind (0: never).
    worker_kill_every: float = 10.0
    desktop_kill_every: float = 6.0
    line_drop_every: float = 7.0
    drop_before: float = 0.02
    drop_after: float = 0.02
    bad_gateway: float = 0.005
    pace: float = 0.3
    invoicer_pace: float = 0.05
    drain_seconds: float = 120.0


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class SoakReport:
    seconds: float = 0.0
    operations: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    checks: list[Check] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks) and bool(self.checks)

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append(Check(name, bool(ok), detail))

    def render(self) -> str:
        lines = [f"Soak: {self.seconds:,.0f} s under faults"]
        lines.append("Operations")
        for name, n in sorted(self.operations.items()):
            lines.append(f"  {name:<44} {n:>8,}")
        lines.append("Faults injected")
        for name, n in sorted(self.faults.items()):
            lines.append(f"  {name:<44} {n:>8,}")
        lines.append("Invariants")
        for c in self.checks:
            lines.append(f"  [{'OK' if c.ok else 'FALLA'}] {c.name}" + (f" — {c.detail}" if c.detail else ""))
        if self.anomalies:
            lines.append("Anomalies")
            lines.extend(f"  {a}" for a in self.anomalies[:20])
        lines.append("RESULT: " + ("all invariants hold" if self.ok else "FAILED"))
        return "\n".join(lines)


# ---- The world before the soak ------------------------------------------------------------------------


@dataclass
class Distributor:
    login: str
    account_id: str
    ctis: list[tuple[str, str]]  # (CTI id, password) the invoicing clients stamp with


def prepare(factory: db.SessionFactory, cfg: SoakConfig) -> list[Distributor]:
    """Distributors with stamps and points, clients with CTIs holding a few stamps."""
    with db.transaction(factory) as s:
        load_catalog(s)
    out = []
    for i in range(cfg.distributors):
        login = f"soak{i + 1}@cmdesk.mx"
        with db.transaction(factory) as s:
            made = accounts.create_distributor(
                s, name=f"Distribuidora Soak {i + 1}", email=login, mobile=f"55{i + 1:08d}", password=PASSWORD
            )
        actor = Actor(made["account"]["id"], made["profile"]["id"])
        db.run(factory, ledger.purchase, actor, "stamps_5000", 4)
        db.run(factory, ledger.purchase, actor, "points_3000", 2)
        ctis = []
        for k in range(cfg.clients_per_distributor):
            client = db.run(
                factory,
                clients.create_client,
                actor,
                {"name": f"Cliente {k + 1:02d}", "rfc": "XAXX010101000"},
            )
            cti = client["stamping_account"]["id"]
            db.run(
                factory,
                ledger.transfer,
                actor,
                asset="stamps",
                target_type="stamping_account",
                target_id=cti,
                quantity=100,
            )
            ctis.append((cti, client["password"]))
        out.append(Distributor(login, actor.account_id, ctis))
    return out


@dataclass
class Baseline:
    movements: set[str]
    clients: set[str]
    codes: set[str]
    cfdi: set[str]


def baseline(engine: Engine) -> Baseline:
    with engine.connect() as c:
        return Baseline(
            set(c.execute(select(Movement.id)).scalars()),
            set(c.execute(select(Client.id)).scalars()),
            set(c.execute(select(TopUpCode.id)).scalars()),
            set(c.execute(select(IssuedCfdi.cfdi_uuid)).scalars()),
        )


# ---- Processes ----------------------------------------------------------------------------------------


def _child_env() -> dict[str, str]:
    path = os.pathsep.join(p for p in [str(ROOT), os.environ.get("PYTHONPATH", "")] if p)
    return {**os.environ, "PYTHONPATH": path}


class DesktopProcess:
    """A desktop child process, restartable on the same folder; tracks whether it is pushing."""

    def __init__(
        self, index: int, folder: Path, url: str, login: str, cfg: SoakConfig, stop_file: Path
    ) -> None:
        self.index = index
        self.folder = folder
        self.url = url
        self.login = login
        self.cfg = cfg
        self.stop_file = stop_file
        self.incarnation = 0
        self.rebuilds = 0
        self.state = "down"
        self.ready = threading.Event()
        self.proc: subprocess.Popen[str] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        self.incarnation += 1
        self.ready.clear()
        self.state = "starting"
        seed = self.cfg.seed * 100_000 + self.index * 1000 + self.incarnation
        with (self.folder / "stderr.log").open("a") as err:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.soak_desktop",
                    "--url",
                    self.url,
                    "--folder",
                    str(self.folder),
                    "--login",
                    self.login,
                    "--password",
                    PASSWORD,
                    "--seed",
                    str(seed),
                    "--stop-file",
                    str(self.stop_file),
                    "--pace",
                    str(self.cfg.pace),
                ],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=_child_env(),
                cwd=ROOT,
            )
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if proc is not self.proc:
                return
            line = line.strip()
            if line == "ready":
                self.state = "idle"
                self.ready.set()
            elif line.startswith("state "):
                self.state = line.split(" ", 1)[1]
            elif line == "stopped":
                self.state = "stopped"
            elif line == "rebuilt":
                self.rebuilds += 1

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # SIGKILL: no cleanup of any kind
            self.proc.wait(30)
        self.state = "down"

    def wait_stopped(self, timeout: float) -> bool:
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            self.kill()
            return False


def server_workers(supervisor_pid: int) -> list[int]:
    """The uvicorn worker processes of a `cmdesk-server run --workers N` (children of its supervisor
    started by multiprocessing's spawn). Linux only (/proc); elsewhere none, so no worker is killed."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            ppid = int(text[text.rindex(")") + 2 :].split()[1])
            if ppid == supervisor_pid and b"spawn_main" in (stat.parent / "cmdline").read_bytes():
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


# ---- Invoicing clients --------------------------------------------------------------------------------


class Invoicers:
    """Threads stamping CFDI through the proxy. Each CFDI keeps its UUID across retries; its last
    answer is its outcome (None: never got one, settled after the soak)."""

    def __init__(self, url: str, ctis: list[tuple[str, str]], cfg: SoakConfig) -> None:
        self.url = url
        self.ctis = ctis
        self.cfg = cfg
        self.outcomes: dict[str, int | None] = {}
        self.cti_of: dict[str, tuple[str, str]] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True, name=f"invoicer-{i}")
            for i in range(cfg.invoicers)
        ]
        rng = random.Random(cfg.seed)
        self.weights = [rng.paretovariate(1.2) for _ in ctis]  # a few busy emitters

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)

    @staticmethod
    def _send(
        http: requests.Session, url: str, cfdi: str, cti: tuple[str, str], timeout: float
    ) -> int | None:
        try:
            r = http.post(
                f"{url}/v1/stamping/consume",
                json={"emitter_rfc": "XAXX010101000", "cfdi_uuid": cfdi},
                auth=cti,
                timeout=timeout,
            )
        except requests.RequestException:
            return None
        return r.status_code

    def _run(self, index: int) -> None:
        rng = random.Random(self.cfg.seed * 7919 + index)
        with requests.Session() as http:
            http.trust_env = False
            while not self.stop.is_set():
                cti = rng.choices(self.ctis, self.weights)[0]
                cfdi = str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()
                with self.lock:
                    self.cti_of[cfdi] = cti
                    self.outcomes[cfdi] = None
                status: int | None = None
                for attempt in range(4):
                    status = self._send(http, self.url, cfdi, cti, 10)
                    if status is not None and status < 500:
                        break
                    time.sleep(0.05 * (attempt + 1))
                with self.lock:
                    self.outcomes[cfdi] = status
                time.sleep(rng.uniform(0, self.cfg.invoicer_pace))

    def settle(self, url: str, deadline: float) -> int:
        """Send every CFDI without a final answer again (same UUID) straight to the server."""
        unsettled = [u for u, s in self.outcomes.items() if s is None or s >= 500]
        with requests.Session() as http:
            http.trust_env = False
            for cfdi in unsettled:
                status = None
                while status is None or status >= 500:
                    status = self._send(http, url, cfdi, self.cti_of[cfdi], 30)
                    if time.monotonic() > deadline:
                        break
                    if status is None or status >= 500:
                        time.sleep(0.5)
                self.outcomes[cfdi] = status
        return len(unsettled)


# ---- The run ------------------------------------------------------------------------------------------


def _every(mean: float, rng: random.Random) -> float:
    return rng.expovariate(1 / mean) if mean > 0 else float("inf")


def _wait_healthy(url: str, workers: int, timeout: float) -> None:
    """Until the server answers steadily (restarted workers included)."""
    deadline = time.monotonic() + timeout
    good = 0
    while time.monotonic() < deadline and good < 4 * workers:
        try:
            good = good + 1 if requests.get(f"{url}/v1/health", timeout=2).status_code == 200 else 0
        except requests.RequestException:
            good = 0
        time.sleep(0.1)


@contextlib.contextmanager
def _database(cfg: SoakConfig) -> Iterator[str]:
    if cfg.database_url:
        yield cfg.database_url
        return
    pg = postgres.start()
    try:
        yield pg.create_database("cmdesk_soak")
    finally:
        pg.stop()


def run_soak(cfg: SoakConfig, say: Callable[[str], None] = print) -> SoakReport:
    report = SoakReport()
    folder = cfg.folder or Path(tempfile.mkdtemp(prefix="cmdesk-soak-"))
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(cfg.seed)
    server: server_process.ServerProcess | None = None
    proxy: ChaosProxy | None = None
    desktops: list[DesktopProcess] = []
    with _database(cfg) as url:
        migrations.upgrade(url)
        engine = db.create_db_engine(url)
        try:
            factory = db.session_factory(engine)
            say("preparing distributors, clients and CTIs…")
            world = prepare(factory, cfg)
            before = baseline(engine)
            env = {
                "CMDESK_PUBLIC_REQUESTS_PER_MINUTE": "1000000",
                "CMDESK_PUBLIC_FAILURES_PER_HOUR": "1000000",
                "CMDESK_IDEMPOTENCY_STALE_CLAIM_SECONDS": "5",
            }
            server = server_process.start(url, workers=cfg.workers, log_dir=folder, env=env)
            proxy = ChaosProxy(
                server.url,
                seed=cfg.seed,
                drop_before=cfg.drop_before,
                drop_after=cfg.drop_after,
                bad_gateway=cfg.bad_gateway,
            )
            stop_file = folder / "stop"
            stop_file.unlink(missing_ok=True)
            for i in range(cfg.desktops):
                d = world[i % len(world)]
                desktops.append(
                    DesktopProcess(i, folder / f"desktop{i + 1}", proxy.url, d.login, cfg, stop_file)
                )
            for p in desktops:
                p.start()
            for p in desktops:
                if not p.ready.wait(90):
                    raise RuntimeError(f"desktop {p.index + 1} did not start; see {p.folder / 'stderr.log'}")
            invoicers = Invoicers(proxy.url, [c for d in world for c in d.ctis], cfg)
            say(
                f"soak: {cfg.desktops} desktops, {cfg.invoicers} invoicing clients, {cfg.workers} workers, "
                f"{cfg.seconds:.0f} s of faults…"
            )
            proxy.enabled = True
            invoicers.start()
            started = time.monotonic()
            _chaos(cfg, rng, server, proxy, desktops, report, started + cfg.seconds)
            report.seconds = time.monotonic() - started

            # ---- faults stop; everything left is sent ----
            proxy.enabled = False
            invoicers.join()
            stop_file.touch()
            for p in desktops:
                if not p.alive:
                    continue
                if not p.wait_stopped(30):
                    report.anomalies.append(f"desktop {p.index + 1} did not stop by itself")
            _wait_healthy(server.url, cfg.workers, 60)
            settled = invoicers.settle(server.url, time.monotonic() + 60)
            report.operations["cfdi without an answer, sent again after the soak"] = settled
            say("draining every desktop…")
            _drain_and_check(cfg, world, desktops, invoicers, server.url, engine, before, report)
        finally:
            for p in desktops:
                p.kill()
            if proxy is not None:
                proxy.close()
                report.faults.update(
                    {
                        "requests lost before the server": proxy.counts["drop_before"],
                        "answers lost after the server applied": proxy.counts["drop_after"],
                        "502 from the gateway": proxy.counts["bad_gateway"],
                        "line drops (all connections cut)": proxy.counts["line_drops"],
                        "connections cut in line drops": proxy.counts["connections_cut"],
                    }
                )
                report.operations["HTTP requests through the proxy"] = proxy.counts["requests"]
            if server is not None:
                server.stop()
            engine.dispose()
    report.operations["cache rebuilds after a count mismatch (desktops)"] = sum(p.rebuilds for p in desktops)
    for p in desktops:
        errors = (
            (p.folder / "stderr.log").read_text(errors="replace")
            if (p.folder / "stderr.log").exists()
            else ""
        )
        report.anomalies.extend(
            f"desktop {p.index + 1}: {line[:300]}"
            for line in errors.splitlines()
            if line.startswith("unexpected")
        )
    if not cfg.keep and cfg.folder is None:
        shutil.rmtree(folder, ignore_errors=True)
    return report


def _chaos(
    cfg: SoakConfig,
    rng: random.Random,
    server: server_process.ServerProcess,
    proxy: ChaosProxy,
    desktops: list[DesktopProcess],
    report: SoakReport,
    deadline: float,
) -> None:
    now = time.monotonic()
    # The first fault of each kind comes early (so even a short run has them all), then at random.
    next_worker_kill = now + cfg.worker_kill_every * rng.uniform(0.2, 0.8)
    next_desktop_kill = now + cfg.desktop_kill_every * rng.uniform(0.2, 0.8)
    next_line_drop = now + cfg.line_drop_every * rng.uniform(0.2, 0.8)
    restarts: list[tuple[float, DesktopProcess]] = []
    while (now := time.monotonic()) < deadline:
        if now >= next_worker_kill:
            workers = server_workers(server.process.pid)
            if workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(rng.choice(workers), signal.SIGKILL)
                    report.faults["server workers killed (SIGKILL)"] += 1
            next_worker_kill = now + _every(cfg.worker_kill_every, rng)
        if now >= next_desktop_kill:
            live = [p for p in desktops if p.alive and p.ready.is_set()]
            pushing = [p for p in live if p.state == "pushing"]
            victim = rng.choice(pushing or live) if live else None
            if victim is not None:
                victim.kill()
                report.faults["desktops killed (SIGKILL)"] += 1
                if pushing:
                    report.faults["  of them in the middle of a sync"] += 1
                restarts.append((now + rng.uniform(0.3, 2.0), victim))
            next_desktop_kill = now + _every(cfg.desktop_kill_every, rng)
        if now >= next_line_drop:
            proxy.cut_all()
            next_line_drop = now + _every(cfg.line_drop_every, rng)
        for item in list(restarts):
            when, p = item
            if now >= when:
                restarts.remove(item)
                p.start()
                report.faults["desktops restarted on the same folder"] += 1
        time.sleep(0.05)
    for _, p in restarts:  # restart the last victims so they stop cleanly and drain like the others
        p.start()
        report.faults["desktops restarted on the same folder"] += 1
        p.ready.wait(60)


# ---- Checks -------------------------------------------------------------------------------------------


def _list_all(api: ApiClient, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api.get(path, params={"limit": 1000, **({"cursor": cursor} if cursor else {})})
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def _server_view(api: ApiClient) -> dict[str, dict[str, Any]]:
    """entity → id → what is compared (version, and balances where they are not versioned)."""
    return {
        "client": {
            c["id"]: (c["version"], c["balances"]["stamps"], c["balances"]["points"])
            for c in _list_all(api, "/v1/clients")
        },
        "stamping_account": {
            c["id"]: (c["version"], c["balance"], c["issued"])
            for c in _list_all(api, "/v1/stamping-accounts")
        },
        "movement": {m["id"]: (m["version"],) for m in _list_all(api, "/v1/movements")},
        "top_up_code": {c["id"]: (c["version"], c["status"]) for c in _list_all(api, "/v1/top-up-codes")},
    }


def _cache_view(folder: Path) -> tuple[dict[str, dict[str, Any]], int]:
    conn = sqlite3.connect(folder / "cache.sqlite3")
    try:
        out: dict[str, dict[str, Any]] = {e: {} for e in SYNCED}
        for entity, ident, data in conn.execute(
            f"SELECT entity, id, data FROM entities WHERE entity IN ({', '.join('?' for _ in SYNCED)})",
            SYNCED,
        ):
            d = json.loads(data)
            if entity == "client":
                out[entity][ident] = (d["version"], d["balances"]["stamps"], d["balances"]["points"])
            elif entity == "stamping_account":
                out[entity][ident] = (d["version"], d["balance"], d["issued"])
            elif entity == "movement":
                out[entity][ident] = (d["version"],)
            else:
                out[entity][ident] = (d["version"], d["status"])
        local = int(conn.execute("SELECT count(*) FROM local").fetchone()[0])
    finally:
        conn.close()
    return out, local


def _ids(values: list[Any]) -> set[str]:
    return {str(v) for v in values}


def _drain_and_check(
    cfg: SoakConfig,
    world: list[Distributor],
    desktops: list[DesktopProcess],
    invoicers: Invoicers,
    url: str,
    engine: Engine,
    before: Baseline,
    report: SoakReport,
) -> None:
    login_of = {p.index: p.login for p in desktops}
    account_of = {d.login: d.account_id for d in world}
    # Every desktop pushes what it has left (the same service layer, in this process now)...
    deadline = time.monotonic() + cfg.drain_seconds
    drained = []
    for p in desktops:
        desktop = Desktop(url, p.folder, login_of[p.index], PASSWORD)
        try:
            desktop.sign_in(deadline)
            drained.append(desktop.drain(deadline))
        finally:
            desktop.close()
    report.check(
        "every desktop sent everything it had recorded", all(drained), f"{sum(drained)}/{len(drained)}"
    )
    # ... and only then syncs, so no push of another desktop changes the server after its last pull.
    for p in desktops:
        desktop = Desktop(url, p.folder, login_of[p.index], PASSWORD)
        try:
            desktop.sign_in(deadline)
            for attempt in range(5):
                try:
                    desktop.engine.sync_once(check_counts=True)
                    break
                except (OfflineError, ApiError):
                    if attempt == 4:
                        raise
                    time.sleep(1)
        finally:
            desktop.close()

    # ---- what the desktops recorded ----
    done: dict[str, list[Any]] = {
        k: [] for k in ("transfer", "purchase", "client", "code", "escrow", "redeem")
    }
    keys: dict[str, set[str]] = {}
    states: Counter[str] = Counter()
    waiting, bad_conflicts, bad_rejections = 0, 0, Counter[str]()
    redeem_keys: set[str] = set()
    for p in desktops:
        outbox = Outbox(p.folder / "outbox.sqlite3")
        try:
            for c in outbox.list():
                states[f"{c.kind} {c.state.value}"] += 1
                if c.state in (CommandState.PENDING, CommandState.SENT):
                    waiting += 1
                if c.state == CommandState.CONFLICT and c.kind != "update_client":
                    bad_conflicts += 1
                if c.state == CommandState.REJECTED and c.error_code not in EXPECTED_REJECTIONS:
                    bad_rejections[f"{c.kind}: {c.error_code}"] += 1
                if c.kind in KEYED and c.state in (CommandState.DONE, CommandState.REJECTED):
                    keys.setdefault(account_of[p.login], set()).add(c.idempotency_key)
                if c.state != CommandState.DONE or not isinstance(c.result, dict):
                    continue
                r = c.result
                if c.kind == "transfer":
                    done["transfer"].append(r["id"])
                elif c.kind == "bulk_transfer":
                    done["transfer"].extend(m["id"] for m in r["movements"])
                elif c.kind == "purchase":
                    done["purchase"].append(r["movement"]["id"])
                elif c.kind == "create_client":
                    done["client"].append(r["client"]["id"])
                elif c.kind == CREATE_CODE:
                    done["code"].append(r["code"]["id"])
                    done["escrow"].append(r["movement"]["id"])
        finally:
            outbox.close()
        journal = sqlite3.connect(p.folder / "journal.sqlite3")
        try:
            for key, state, answer in journal.execute("SELECT key, state, answer FROM redeems"):
                redeem_keys.add(key)
                states[f"redeem_top_up_code {state}"] += 1
                if state == "pending":
                    waiting += 1
                if state == "done":
                    done["redeem"].append(json.loads(answer)["movement_id"])
                elif state == "rejected":
                    bad_rejections[f"redeem: {json.loads(answer).get('code')}"] += 1
        finally:
            journal.close()
    report.operations.update(states)
    outcomes = Counter(
        "stamped (200)" if s == 200 else "refused: no stamps (409)" if s == 409 else f"other ({s})"
        for s in invoicers.outcomes.values()
    )
    for name, n in outcomes.items():
        report.operations[f"consume CFDI {name}"] = n

    report.check(
        "no command left pending or sent after the drain (none lost)", waiting == 0, f"{waiting} waiting"
    )
    report.check("conflicts only on client edits", bad_conflicts == 0, f"{bad_conflicts} others")
    report.check(
        "rejections only for the expected reason (insufficient balance)",
        not bad_rejections,
        ", ".join(f"{k} ×{n}" for k, n in bad_rejections.items()),
    )
    report.check(
        "every CFDI request got a definitive answer",
        all(s is not None and s < 500 for s in invoicers.outcomes.values())
        and set(outcomes) <= {"stamped (200)", "refused: no stamps (409)"},
        ", ".join(f"{k} ×{n}" for k, n in outcomes.items()),
    )

    # ---- the server's side ----
    with engine.connect() as conn:
        with db.transaction(db.session_factory(engine)) as s:
            figures = ledger.ledger_check(s)
        for asset, f in figures.items():
            report.check(
                f"ledger {asset}: Σ balances + Σ issued == Σ purchased",
                f["ok"] == 1,
                f"{f['held']:,} + {f['spent_or_issued']:,} = {f['purchased']:,}",
            )
        negative = max(f["negative_balances"] for f in figures.values())
        report.check("no balance below zero", negative == 0, f"{negative} negative")

        records = conn.execute(
            select(IdempotencyRecord.scope, IdempotencyRecord.key, IdempotencyRecord.completed)
        ).all()
        by_scope: dict[str, Counter[str]] = {}
        incomplete = 0
        for scope, key, completed in records:
            by_scope.setdefault(scope, Counter())[key] += 1
            incomplete += 0 if completed else 1
        missing = extra = twice = 0
        for scope, expected in [*keys.items(), ("public:redeem", redeem_keys)]:
            seen = by_scope.get(scope, Counter())
            missing += len(expected - set(seen))
            extra += len(set(seen) - expected)
            twice += sum(1 for n in seen.values() if n > 1)
        report.check(
            "each keyed command has exactly one completed idempotency record, and no record is unknown",
            missing == extra == twice == incomplete == 0,
            f"{sum(len(k) for k in keys.values()) + len(redeem_keys):,} keys; missing {missing}, "
            f"unknown {extra}, twice {twice}, unfinished {incomplete}",
        )

        new_movements = conn.execute(
            select(Movement.id, Movement.kind, Movement.source_type).where(
                Movement.id.not_in(before.movements)
            )
        ).all()

        def same(name: str, expected: list[Any], actual: set[str]) -> None:
            exp = _ids(expected)
            doubled = len(expected) - len(exp)
            report.check(
                f"{name}: the server has exactly those the desktops were told were done",
                exp == actual and doubled == 0,
                f"{len(actual):,} on the server, {len(expected):,} done; missing {len(exp - actual)}, "
                f"extra {len(actual - exp)}, doubled {doubled}",
            )

        same(
            "transfers (incl. bulk items)",
            done["transfer"],
            {m.id for m in new_movements if m.kind == "transfer"},
        )
        same("purchases", done["purchase"], {m.id for m in new_movements if m.kind == "purchase"})
        same(
            "top-up code escrows",
            done["escrow"],
            {m.id for m in new_movements if m.kind == "top_up" and m.source_type == "account"},
        )
        same(
            "top-up code redemptions",
            done["redeem"],
            {m.id for m in new_movements if m.kind == "top_up" and m.source_type == "top_up_code"},
        )
        same("new clients", done["client"], set(conn.execute(select(Client.id)).scalars()) - before.clients)
        same("top-up codes", done["code"], set(conn.execute(select(TopUpCode.id)).scalars()) - before.codes)
        others = Counter(m.kind for m in new_movements if m.kind not in ("transfer", "purchase", "top_up"))
        report.check(
            "no other movement appeared", not others, ", ".join(f"{k} ×{n}" for k, n in others.items())
        )

        stamped = {u for u, s in invoicers.outcomes.items() if s == 200}
        issued = set(conn.execute(select(IssuedCfdi.cfdi_uuid)).scalars()) - before.cfdi
        report.check(
            "CFDI: the server issued exactly those the invoicing clients were told were stamped",
            issued == stamped,
            f"{len(issued):,} issued; missing {len(stamped - issued)}, extra {len(issued - stamped)}",
        )
        counted = conn.execute(select(func.coalesce(func.sum(StampingAccount.issued), 0))).scalar_one()
        rows = conn.execute(
            select(func.count()).select_from(IssuedCfdi).where(IssuedCfdi.debited.is_(True))
        ).scalar_one()
        report.check(
            "Σ CTI issued == CFDI rows", int(counted) == int(rows), f"{int(counted):,} / {int(rows):,}"
        )

    # ---- every cache equals the server ----
    for d in world:
        with ApiClient(url) as api:
            api.sign_in(d.login, PASSWORD)
            server_view = _server_view(api)
        for p in desktops:
            if p.login != d.login:
                continue
            cache_view, local = _cache_view(p.folder)
            diffs = []
            for entity in SYNCED:
                theirs, ours = server_view[entity], cache_view[entity]
                if theirs != ours:
                    wrong = sum(1 for i in theirs if i in ours and ours[i] != theirs[i])
                    missing, extra = len(set(theirs) - set(ours)), len(set(ours) - set(theirs))
                    diffs.append(f"{entity}: {missing} missing, {extra} extra, {wrong} stale")
            sizes = ", ".join(f"{len(server_view[e]):,} {e}" for e in SYNCED)
            report.check(
                f"desktop {p.index + 1}: cache == server after the final sync",
                not diffs and local == 0,
                "; ".join(diffs) + (f"; {local} optimistic values left" if local else "")
                if diffs or local
                else sizes,
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--desktops", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--distributors", type=int, default=2)
    parser.add_argument("--invoicers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", help="an empty PostgreSQL database (default: a throwaway server)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (logs, caches, outboxes)")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    cfg = SoakConfig(
        seconds=args.minutes * 60,
        desktops=args.desktops,
        workers=args.workers,
        distributors=min(args.distributors, args.desktops),
        invoicers=args.invoicers,
        seed=args.seed,
        database_url=args.db,
        folder=args.keep,
        keep=args.keep is not None,
    )
    started = dt.datetime.now(dt.UTC)
    report = run_soak(cfg, say=lambda m: print(m, flush=True))
    print(report.render())
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "started_at": started.isoformat(),
                    "config": {k: str(v) for k, v in vars(cfg).items()},
                    "seconds": report.seconds,
                    "operations": dict(report.operations),
                    "faults": dict(report.faults),
                    "checks": [vars(c) for c in report.checks],
                    "anomalies": report.anomalies,
                    "ok": report.ok,
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
