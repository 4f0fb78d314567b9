"""Soak test with faults: nothing is lost, nothing is applied twice, every balance adds up.

    python -m bench.soak --minutes 5 --desktops 4 --workers 2 [--invoicers 2] [--seed 1] [--keep DIR]
                         [--db-restart-every S] [--no-upgrade] [--old-desktops N] [--no-clocks]
                         [--disk-fill-every S]

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
requests and answers in the proxy, and now and then cuts every open connection. And the faults of
real deployments (issue 22):

- the database restarts (`pg_ctl restart`, fast or as a crash) and, now and then, stays away for
  longer than the server waits for it (its own throwaway cluster, with synchronous commits; with
  `--db` there is no cluster to restart and the report says so);
- a rolling upgrade of the server halfway through: an expand migration on the live database (a
  nullable column, an index built concurrently, under `lock_timeout`), a new server process started
  with the new release's rules, the proxy switched to it, the old one stopped gracefully. The
  previous desktop release keeps running meanwhile: `--old-desktops` of them present version 0.0.9
  (the previous protocol: the same endpoints, an older version header); the new server refuses
  their tags (`POST /v1/clients/tags`, the contract phase of a change) with `426
  desktop_update_required` and serves everything else;
- wrong desktop clocks: some desktops run days, hours or minutes off and in other time zones (`TZ`).
  The offset is on the clock cmdesk reads (`server_info.default_clock.local`: every date the desktop
  decides goes through it). libfaketime, which would fake the whole process's clock, breaks Python
  3.13's timed waits (`clock_nanosleep`/`sem_clockwait` on the monotonic clock: EINVAL or a hang);
- a disk that fills: one desktop keeps its files on a small tmpfs (root only) that the harness fills
  to the last byte now and then, for a few seconds.

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
   of clients, CTIs, movements and top-up codes, as the API lists them;
4. the faults were answered as designed: no answer 500 and no unexpected error in the server's log
   across database restarts; refusals for the desktop's version only to the previous release, only
   for the gated route, and each of its runs told once; every desktop with a wrong clock measured
   it (within seconds of the truth).

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

import psycopg
import requests
from sqlalchemy import Engine, func, make_url, select

import cmdesk
from bench.chaos_proxy import ChaosProxy
from bench.soak_desktop import CREATE_CODE, Desktop
from cmdesk.devtools import postgres, server_process
from cmdesk.domain import codes, compat
from cmdesk.models import Client, IdempotencyRecord, IssuedCfdi, Movement, StampingAccount, TopUpCode
from cmdesk.server import db, migrations, security
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
# The previous desktop release during the rolling upgrade, and what the new server refuses it.
OLD_VERSION = "0.0.9"
GATED = {"POST /v1/clients/tags": cmdesk.__version__}
GATED_KIND = "set_tags"
# Wrong clocks (seconds off) and time zones of the first desktops that are neither old nor on the disk.
CLOCK_SKEWS = [2 * 86400.0, -3 * 3600.0, 7 * 60.0, -26 * 3600.0]
TIME_ZONES = ["Asia/Tokyo", "America/Tijuana", "Europe/Madrid", "Pacific/Auckland"]
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
    # Issue 22's faults (0 / None / False: off).
    db_restart_every: float = 0.0
    # Every this many restarts, the database stays away `db_away_seconds` instead (longer than the
    # server waits for a connection).
    db_away_every: int = 3
    db_away_seconds: float = 7.0
    # When the rolling upgrade happens, as a fraction of the soak (None: no upgrade).
    upgrade_at: float | None = None
    old_desktops: int = 0
    clocks: bool = False
    disk_fill_every: float = 0.0
    disk_full_seconds: float = 4.0
    # Room for the desktop's own files through a long run (a 30-minute run's cache, its rebuild beside
    # it and the outbox took more than 24 MB): the fault is the filler, not a disk too small to sync.
    disk_size_mb: int = 160


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
        with security.prehashed(PASSWORD), db.transaction(factory) as s:  # Argon2 first, as the routes do
            made = accounts.create_distributor(
                s, name=f"Distribuidora Soak {i + 1}", email=login, mobile=f"55{i + 1:08d}", password=PASSWORD
            )
        actor = Actor(made["account"]["id"], made["profile"]["id"])
        db.run(factory, ledger.purchase, actor, "stamps_5000", 4)
        db.run(factory, ledger.purchase, actor, "points_3000", 2)
        ctis = []
        for k in range(cfg.clients_per_distributor):
            password = codes.generate_password()  # the CTI's, hashed before the transaction opens
            with security.prehashed(password):
                client = db.run(
                    factory,
                    clients.create_client,
                    actor,
                    {"name": f"Cliente {k + 1:02d}", "rfc": "XAXX010101000"},
                    password=password,
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
    """A desktop child process, restartable on the same folder; tracks whether it is pushing, and
    what it said about the faults it met (notices, the clock it measured, a full disk)."""

    def __init__(
        self,
        index: int,
        folder: Path,
        url: str,
        login: str,
        cfg: SoakConfig,
        stop_file: Path,
        *,
        version: str = cmdesk.__version__,
        skew: float = 0.0,
        time_zone: str | None = None,
        data: Path | None = None,
    ) -> None:
        self.index = index
        self.folder = folder
        # Where its cache, outbox and journal live (a small disk for one of them).
        self.data = data or folder
        self.url = url
        self.login = login
        self.cfg = cfg
        self.stop_file = stop_file
        self.version = version
        self.skew = skew
        self.time_zone = time_zone
        self.incarnation = 0
        self.rebuilds = 0
        self.state = "down"
        self.ready = threading.Event()
        self.proc: subprocess.Popen[str] | None = None
        # (incarnation, kind) → how many times that run was told; the last clock offset it measured.
        self.notices: Counter[tuple[int, str]] = Counter()
        self.measured: float | None = None
        self.disk_full: Counter[str] = Counter()
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def old(self) -> bool:
        return self.version != cmdesk.__version__

    def start(self) -> None:
        self.incarnation += 1
        self.ready.clear()
        self.state = "starting"
        seed = self.cfg.seed * 100_000 + self.index * 1000 + self.incarnation
        env = _child_env()
        command = [
            sys.executable,
            "-m",
            "bench.soak_desktop",
            "--url",
            self.url,
            "--folder",
            str(self.data),
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
            "--version",
            self.version,
        ]
        if self.skew:
            command += ["--clock-offset", str(self.skew)]
        if self.time_zone:
            env["TZ"] = self.time_zone
        with (self.folder / "stderr.log").open("a") as err:
            self.proc = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=ROOT
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
            elif line.startswith("notice "):
                self.notices[(self.incarnation, line.split(" ", 1)[1])] += 1
            elif line.startswith("clock "):
                self.measured = float(line.split(" ", 1)[1])
            elif line.startswith("diskfull"):
                self.disk_full[line.split(" ", 1)[1] if " " in line else "other"] += 1

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
        # Every answer's status (None: no answer), through the faults.
        self.statuses: Counter[int | None] = Counter()
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
    ) -> tuple[int | None, float]:
        """The answer's status (None: no answer) and how long to wait before sending it again (what a
        503's `Retry-After` asks, as a careful invoicing program does)."""
        try:
            r = http.post(
                f"{url}/v1/stamping/consume",
                json={"emitter_rfc": "XAXX010101000", "cfdi_uuid": cfdi},
                auth=cti,
                timeout=timeout,
            )
        except requests.RequestException:
            return None, 0.0
        wait = r.headers.get("Retry-After", "")
        return r.status_code, min(float(wait), 5.0) if r.status_code == 503 and wait.isdigit() else 0.0

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
                    status, wait = self._send(http, self.url, cfdi, cti, 10)
                    with self.lock:
                        self.statuses[status] += 1
                    if status is not None and status < 500:
                        break
                    time.sleep(wait or 0.05 * (attempt + 1))
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
                    status, _wait = self._send(http, url, cfdi, self.cti_of[cfdi], 30)
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
def _database(cfg: SoakConfig) -> Iterator[tuple[str, postgres.TempPostgres | None]]:
    """The soak's database: `--db` (nothing to restart), else a throwaway cluster of its own, with
    synchronous commits when it is to be restarted as a crash (it must lose nothing acknowledged)."""
    if cfg.database_url:
        yield cfg.database_url, None
        return
    pg = postgres.start(crash_safe=cfg.db_restart_every > 0)
    try:
        yield pg.create_database("cmdesk_soak"), pg
    finally:
        pg.stop()


class SmallDisk:
    """A small tmpfs on one desktop's data folder, filled to the last byte now and then (root only)."""

    def __init__(self, folder: Path, size_mb: int) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.filler = folder / "filler.bin"
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(folder)], capture_output=True
        )
        self.mounted = done.returncode == 0

    def fill(self) -> None:
        with self.filler.open("ab") as f, contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 65536)
                f.flush()

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.folder)], capture_output=True)
            self.mounted = False


@dataclass
class Servers:
    """The server process serving now (the rolling upgrade replaces it), and every one that did."""

    current: server_process.ServerProcess
    all: list[server_process.ServerProcess] = field(default_factory=list)


SERVER_ENV = {
    "CMDESK_PUBLIC_REQUESTS_PER_MINUTE": "1000000",
    "CMDESK_PUBLIC_FAILURES_PER_HOUR": "1000000",
    # Every desktop and invoicer reaches the server from the proxy's one loopback address, and a soak
    # desktop signs in with its password at every restart (a real one refreshes the token its keyring
    # keeps), so sign-ins whose answer the faults lost would soon cost that address the throttle's
    # growing delays (up to 5 min): the harness would be throttling itself, not testing anything.
    "CMDESK_ATTEMPTS_PER_SOURCE_PER_HOUR": "1000000",
    "CMDESK_IDEMPOTENCY_STALE_CLAIM_SECONDS": "5",
}


def _roles(cfg: SoakConfig, disk_ok: bool) -> tuple[set[int], int | None, dict[int, tuple[float, str]]]:
    """Which desktops run the previous release, which one keeps its files on the small disk, and
    which run with a wrong clock (offset, time zone)."""
    old = set(range(min(cfg.old_desktops, cfg.desktops)))
    disk = cfg.desktops - 1 if cfg.disk_fill_every and disk_ok and cfg.desktops - 1 not in old else None
    free = [i for i in range(cfg.desktops) if i not in old and i != disk]
    clocks = (
        {i: (CLOCK_SKEWS[k], TIME_ZONES[k]) for k, i in enumerate(free[: len(CLOCK_SKEWS)])}
        if cfg.clocks
        else {}
    )
    return old, disk, clocks


def run_soak(cfg: SoakConfig, say: Callable[[str], None] = print) -> SoakReport:
    report = SoakReport()
    folder = cfg.folder or Path(tempfile.mkdtemp(prefix="cmdesk-soak-"))
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(cfg.seed)
    servers: Servers | None = None
    proxy: ChaosProxy | None = None
    desktops: list[DesktopProcess] = []
    disk: SmallDisk | None = None
    with _database(cfg) as (url, pg):
        migrations.upgrade(url)
        engine = db.create_db_engine(url)
        try:
            factory = db.session_factory(engine)
            say("preparing distributors, clients and CTIs…")
            world = prepare(factory, cfg)
            before = baseline(engine)
            first = server_process.start(url, workers=cfg.workers, log_dir=folder, env=SERVER_ENV)
            servers = Servers(first, [first])
            proxy = ChaosProxy(
                first.url,
                seed=cfg.seed,
                drop_before=cfg.drop_before,
                drop_after=cfg.drop_after,
                bad_gateway=cfg.bad_gateway,
            )
            stop_file = folder / "stop"
            stop_file.unlink(missing_ok=True)
            root = hasattr(os, "geteuid") and os.geteuid() == 0
            old, disk_index, clocks = _roles(cfg, root)
            for i in range(cfg.desktops):
                d = world[i % len(world)]
                home = folder / f"desktop{i + 1}"
                data = None
                if i == disk_index:
                    disk = SmallDisk(home / "data", cfg.disk_size_mb)
                    data = disk.folder if disk.mounted else None
                skew, zone = clocks.get(i, (0.0, None))
                desktops.append(
                    DesktopProcess(
                        i,
                        home,
                        proxy.url,
                        d.login,
                        cfg,
                        stop_file,
                        version=OLD_VERSION if i in old else cmdesk.__version__,
                        skew=skew,
                        time_zone=zone,
                        data=data,
                    )
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
            faults = Faults(cfg, rng, url, pg, servers, proxy, desktops, disk, report, folder)
            faults.run(started, started + cfg.seconds)
            report.seconds = time.monotonic() - started

            # ---- faults stop; everything left is sent ----
            proxy.enabled = False
            invoicers.join()
            for p in desktops:  # every victim was started again: none should have ended (yet)
                if not p.alive:
                    report.anomalies.append(
                        f"desktop {p.index + 1} had ended by itself (see {p.folder / 'stderr.log'})"
                    )
            stop_file.touch()
            for p in desktops:
                if not p.alive:
                    continue
                if not p.wait_stopped(30):
                    report.anomalies.append(f"desktop {p.index + 1} did not stop by itself")
            server = servers.current
            _wait_healthy(server.url, cfg.workers, 60)
            settled = invoicers.settle(server.url, time.monotonic() + 60)
            report.operations["cfdi without an answer, sent again after the soak"] = settled
            if disk is not None:
                disk.free()  # the user freed space (the fault's thread does too, as it ends)
            say("draining every desktop…")
            _drain_and_check(cfg, world, desktops, invoicers, server.url, engine, before, report)
            _check_faults(cfg, desktops, invoicers, servers, faults, report)
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
            if servers is not None:
                for server in servers.all:
                    server.stop()
            if disk is not None:
                disk.close()
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


class Faults:
    """Every fault of the soak, at random times until the deadline. The slow ones (the database
    away, the rolling upgrade, a full disk) run on threads of their own, so the quick ones go on."""

    def __init__(
        self,
        cfg: SoakConfig,
        rng: random.Random,
        url: str,
        pg: postgres.TempPostgres | None,
        servers: Servers,
        proxy: ChaosProxy,
        desktops: list[DesktopProcess],
        disk: SmallDisk | None,
        report: SoakReport,
        folder: Path,
    ) -> None:
        self.cfg, self.rng, self.url, self.pg = cfg, rng, url, pg
        self.servers, self.proxy, self.desktops, self.disk = servers, proxy, desktops, disk
        self.report, self.folder = report, folder
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.upgraded_at: float | None = None
        self.problems: list[str] = []

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.report.faults[name] += n

    def run(self, started: float, deadline: float) -> None:
        cfg = self.cfg
        threads = []
        if cfg.db_restart_every and self.pg is not None:
            threads.append(threading.Thread(target=self._database, args=(deadline,), daemon=True))
        elif cfg.db_restart_every:
            self.report.anomalies.append(
                "database restarts not injected: --db names a database it cannot restart"
            )
        if cfg.disk_fill_every and self.disk is not None and self.disk.mounted:
            threads.append(threading.Thread(target=self._disk, args=(deadline,), daemon=True))
        elif cfg.disk_fill_every:
            self.report.anomalies.append("disk not filled: mounting a small tmpfs needs root")
        if cfg.upgrade_at is not None:
            when = started + cfg.seconds * cfg.upgrade_at
            threads.append(threading.Thread(target=self._upgrade, args=(when,), daemon=True))
        for t in threads:
            t.start()
        try:
            self._quick(deadline)
        finally:
            self.stop.set()
            for t in threads:
                t.join(180)

    # ---- the quick faults: workers, desktops, the line -----------------------------------------------

    def _quick(self, deadline: float) -> None:
        cfg, rng = self.cfg, self.rng
        now = time.monotonic()
        # The first fault of each kind comes early (so even a short run has them all), then at random.
        next_worker_kill = now + cfg.worker_kill_every * rng.uniform(0.2, 0.8)
        next_desktop_kill = now + cfg.desktop_kill_every * rng.uniform(0.2, 0.8)
        next_line_drop = now + cfg.line_drop_every * rng.uniform(0.2, 0.8)
        restarts: list[tuple[float, DesktopProcess]] = []
        while (now := time.monotonic()) < deadline:
            if now >= next_worker_kill:
                workers = server_workers(self.servers.current.process.pid)
                if workers:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(rng.choice(workers), signal.SIGKILL)
                        self.count("server workers killed (SIGKILL)")
                next_worker_kill = now + _every(cfg.worker_kill_every, rng)
            if now >= next_desktop_kill:
                live = [p for p in self.desktops if p.alive and p.ready.is_set()]
                pushing = [p for p in live if p.state == "pushing"]
                victim = rng.choice(pushing or live) if live else None
                if victim is not None:
                    victim.kill()
                    self.count("desktops killed (SIGKILL)")
                    if pushing:
                        self.count("  of them in the middle of a sync")
                    restarts.append((now + rng.uniform(0.3, 2.0), victim))
                next_desktop_kill = now + _every(cfg.desktop_kill_every, rng)
            if now >= next_line_drop:
                self.proxy.cut_all()
                next_line_drop = now + _every(cfg.line_drop_every, rng)
            for item in list(restarts):
                when, p = item
                if now >= when:
                    restarts.remove(item)
                    p.start()
                    self.count("desktops restarted on the same folder")
            time.sleep(0.05)
        for _, p in restarts:  # restart the last victims so they stop cleanly and drain like the others
            p.start()
            self.count("desktops restarted on the same folder")
            p.ready.wait(60)

    # ---- the database ---------------------------------------------------------------------------------

    def _database(self, deadline: float) -> None:
        assert self.pg is not None
        cfg, rng = self.cfg, random.Random(self.cfg.seed + 1)
        restarts = 0
        wait = cfg.db_restart_every * rng.uniform(0.3, 0.7)
        while not self.stop.wait(wait) and time.monotonic() < deadline:
            restarts += 1
            try:
                if cfg.db_away_every and restarts % cfg.db_away_every == 0:
                    self.pg.halt("fast")
                    self.count(f"database away {cfg.db_away_seconds:.0f} s (pg_ctl stop, then start)")
                    self.stop.wait(cfg.db_away_seconds)
                    self.pg.resume()
                else:
                    mode = rng.choice(["fast", "immediate"])
                    self.pg.restart(mode)
                    self.count(f"database restarts (pg_ctl restart -m {mode})")
            except Exception as error:  # the soak goes on; the report says it
                self.problems.append(f"database fault failed: {error}")
                with contextlib.suppress(Exception):
                    self.pg.resume()
            wait = _every(cfg.db_restart_every, rng)

    # ---- the disk -------------------------------------------------------------------------------------

    def _disk(self, deadline: float) -> None:
        assert self.disk is not None
        cfg, rng = self.cfg, random.Random(self.cfg.seed + 2)
        wait = cfg.disk_fill_every * rng.uniform(0.2, 0.6)
        while not self.stop.wait(wait) and time.monotonic() < deadline:
            self.disk.fill()
            self.count("disk filled to the last byte (one desktop's folder)")
            self.stop.wait(cfg.disk_full_seconds)
            self.disk.free()
            wait = _every(cfg.disk_fill_every, rng)
        self.disk.free()

    # ---- the rolling upgrade --------------------------------------------------------------------------

    def _upgrade(self, when: float) -> None:
        if self.stop.wait(max(0.0, when - time.monotonic())):
            return
        try:
            self._expand()
            # The new release: the same code, started with the new rules (the previous desktop's
            # tags are refused: the contract phase of a change of that request).
            env = {**SERVER_ENV, "CMDESK_DESKTOP_REQUIREMENTS": json.dumps(GATED)}
            # The old one keeps serving while the new one starts, so the wait costs nothing but time;
            # on a loaded machine W workers importing the app need more than a minute.
            new = server_process.start(
                self.url, workers=self.cfg.workers, log_dir=self.folder, env=env, ready_within=300
            )
            old = self.servers.current
            self.servers.all.append(new)
            self.proxy.upstream = ("127.0.0.1", int(new.url.rsplit(":", 1)[1]))
            self.servers.current = new
            self.upgraded_at = time.monotonic()
            old.stop()  # SIGTERM: uvicorn finishes what it is answering, then closes its connections
            self.count("rolling upgrade: new server started, proxy switched, old one stopped")
        except Exception as error:
            self.problems.append(f"the rolling upgrade failed: {error}")

    def _expand(self) -> None:
        """An expand migration on the live database: a nullable column (no rewrite) and an index
        built concurrently, each under a lock timeout, retried when the lock is not had in time."""
        u = make_url(self.url)
        dsn = f"host={u.host} port={u.port} user={u.username} dbname={u.database}"
        statements = [
            "ALTER TABLE clients ADD COLUMN IF NOT EXISTS soak_expand_note text",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_clients_soak_expand ON clients (soak_expand_note)",
        ]
        for statement in statements:
            for _attempt in range(30):
                try:
                    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
                        conn.execute("SET lock_timeout = '2s'")
                        conn.execute(statement)  # type: ignore[arg-type]
                    break
                except psycopg.errors.LockNotAvailable:
                    self.count("expand migration: lock not had in 2 s, retried")
                except psycopg.OperationalError:
                    time.sleep(1)  # the database restarting meanwhile
            else:
                raise RuntimeError(f"could not apply: {statement}")
        self.count("expand migration applied under load (column, index concurrently)")


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
    # Every desktop pushes what it has left (the same service layer, in this process now), one after
    # the other, each given `drain_seconds` (a shared deadline ran out for the last of 8 desktops on a
    # loaded machine: their commands were still waiting, not lost)...
    drained = []
    for p in desktops:
        deadline = time.monotonic() + cfg.drain_seconds
        desktop = Desktop(url, p.data, login_of[p.index], PASSWORD)
        try:
            desktop.sign_in(deadline)
            drained.append(desktop.drain(deadline))
            if not drained[-1]:
                head = desktop.outbox.next_to_push()
                report.anomalies.append(
                    f"desktop {p.index + 1} could not send everything: {desktop.last_error or 'no error'}"
                    + (f" (first waiting: {head.kind} {head.method} {head.path})" if head else "")
                )
        finally:
            desktop.close()
    report.check(
        "every desktop sent everything it had recorded", all(drained), f"{sum(drained)}/{len(drained)}"
    )
    # ... and only then syncs, so no push of another desktop changes the server after its last pull.
    for p in desktops:
        desktop = Desktop(url, p.data, login_of[p.index], PASSWORD)
        try:
            desktop.sign_in(time.monotonic() + cfg.drain_seconds)
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
        outbox = Outbox(p.data / "outbox.sqlite3")
        try:
            for c in outbox.list():
                states[f"{c.kind} {c.state.value}"] += 1
                if c.state in (CommandState.PENDING, CommandState.SENT):
                    waiting += 1
                if c.state == CommandState.CONFLICT and c.kind != "update_client":
                    bad_conflicts += 1
                if c.state == CommandState.REJECTED and c.error_code == compat.UPDATE_REQUIRED_CODE:
                    states[f"{c.kind} refused for the desktop's version (426)"] += 1
                    if not (p.old and c.kind == GATED_KIND):
                        bad_rejections[f"{c.kind}: {c.error_code} (desktop {p.index + 1})"] += 1
                elif c.state == CommandState.REJECTED and c.error_code not in EXPECTED_REJECTIONS:
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
        journal = sqlite3.connect(p.data / "journal.sqlite3")
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
        "rejections only for the expected reasons (insufficient balance; the previous release's tags"
        " after the upgrade)",
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
            cache_view, local = _cache_view(p.data)
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


def _check_faults(
    cfg: SoakConfig,
    desktops: list[DesktopProcess],
    invoicers: Invoicers,
    servers: Servers,
    faults: Faults,
    report: SoakReport,
) -> None:
    """Invariant 4: each fault of issue 22 was answered as designed (see the module docstring)."""
    report.anomalies.extend(faults.problems)
    logs = "\n".join(s.log_path.read_text(errors="replace") for s in servers.all if s.log_path.exists())
    unexpected = logs.count("unexpected error")
    # 500: the server's own error (502s come from the proxy's gateway fault; 503 is the database away).
    five_hundreds = invoicers.statuses[500]
    report.operations["consume answered 503 (database away), sent again"] = invoicers.statuses[503]
    report.operations["requests answered 503 by the server (its log)"] = logs.count(
        "database unavailable answering"
    )
    report.check(
        "no answer 500 and no unexpected error in the server's logs, through every fault",
        five_hundreds == 0 and unexpected == 0,
        f"{five_hundreds} answers 500; {unexpected} unexpected errors logged",
    )
    if cfg.upgrade_at is not None and cfg.old_desktops:
        refused = done = 0
        for p in (p for p in desktops if p.old):
            outbox = Outbox(p.data / "outbox.sqlite3")
            try:
                for c in outbox.list():
                    done += c.state == CommandState.DONE
                    refused += c.error_code == compat.UPDATE_REQUIRED_CODE
            finally:
                outbox.close()
        told = [n for p in desktops if p.old for (_run, kind), n in p.notices.items() if kind == "update"]
        report.operations["previous release: commands done / tags refused for its version"] = done
        report.operations["previous release: runs told to update"] = len(told)
        report.check(
            "the previous desktop release kept working through the rolling upgrade, told once per run",
            faults.upgraded_at is not None
            and done > 0
            and all(n == 1 for n in told)
            and (bool(told) or not refused),
            f"{done:,} commands done, {refused} tags refused (426), "
            f"told {sum(told)} times in {len(told)} runs",
        )
    skewed = [p for p in desktops if p.skew]
    if skewed:
        wrong = [
            f"desktop {p.index + 1}: {p.skew:+.0f} s, measured {p.measured}"
            for p in skewed
            if p.measured is None or abs(p.measured + p.skew) > 10
        ]
        for p in skewed:
            report.faults[f"desktop {p.index + 1}: clock {p.skew / 3600:+.1f} h, zone {p.time_zone}"] += 1
        report.check(
            "every desktop with a wrong clock measured it against the server's (within 10 s)",
            not wrong,
            "; ".join(wrong) or ", ".join(f"{p.measured:+.0f} s" for p in skewed if p.measured is not None),
        )
    disk = [p for p in desktops if p.data != p.folder]
    for p in disk:
        for what, n in p.disk_full.items():
            report.operations[f"desktop {p.index + 1} on the full disk: {what} stopped"] = n
        report.check(
            "the desktop whose disk filled up met it and went on (nothing lost: invariants 2 and 3)",
            sum(p.disk_full.values()) > 0,
            ", ".join(f"{k} ×{n}" for k, n in p.disk_full.items()) or "never met a full disk",
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
    parser.add_argument(
        "--db-restart-every",
        type=float,
        default=60.0,
        help="mean seconds between database restarts (0: none)",
    )
    parser.add_argument("--no-upgrade", action="store_true", help="no rolling upgrade halfway")
    parser.add_argument("--old-desktops", type=int, default=1, help="desktops of the previous release")
    parser.add_argument("--no-clocks", action="store_true", help="every desktop with a right clock")
    parser.add_argument(
        "--disk-fill-every", type=float, default=45.0, help="mean seconds between full disks (0: none)"
    )
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
        db_restart_every=args.db_restart_every,
        upgrade_at=None if args.no_upgrade else 0.5,
        old_desktops=0 if args.no_upgrade else args.old_desktops,
        clocks=not args.no_clocks,
        disk_fill_every=args.disk_fill_every,
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
