"""One simulated desktop of the soak test (`bench/soak.py`), in its own process so it can be killed.

    python -m bench.soak_desktop --url URL --folder DIR --login L --password P --seed N --stop-file F

It is the real service layer: an `ApiClient`, a `Cache` and an `Outbox` in its own folder, the user
actions of `cmdesk.services.commands` (transfers, bulk transfers, purchases, client edits and tags,
new clients) plus top-up codes (queued like any other command) and their public redemption, and the
`SyncEngine` pushing and pulling now and then. It runs random actions until the stop file exists.
Killed at any moment (SIGKILL), a new process on the same folder goes on from what is on disk.

A redemption is not an outbox command (it is public, without a session), so it keeps its own durable
journal (`journal.sqlite3`, `synchronous=FULL`): the idempotency key is written before the request is
sent and reused until the answer is recorded, exactly as the outbox does for commands.

It prints `state pushing` / `state idle` around each sync (the harness kills desktops mid-push) and
`ready` once signed in; problems go to stderr.

The faults of issue 22 it takes part in: `--version` presents another desktop version (the previous
release during a rolling upgrade of the server); `--clock-offset` skews the clock its `ServerInfo`
reads (the harness prefers a real wrong clock, libfaketime, when the machine has it); `--data` puts its
files on a disk the harness fills up now and then. It prints `notice <kind>` when the server tells it
something (`update`, `clock`, a missing feature), `clock <seconds>` with the offset it measured, and
`diskfull <what>` when a full disk stopped a sync or refused a change.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import random
import sqlite3
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cmdesk
from cmdesk.domain.errors import DomainError
from cmdesk.services import commands, storage
from cmdesk.services.api_client import ApiClient, ApiError, OfflineError
from cmdesk.services.cache import Cache
from cmdesk.services.outbox import CommandState, Outbox
from cmdesk.services.server_info import ServerClock, ServerInfo
from cmdesk.services.sync import SessionExpired, SyncEngine

CREATE_CODE = "create_top_up_code"
REDEEM_PATH = "/v1/public/top-up-codes/redeem"
TRADE_NAMES = ["Abarrotes La Esperanza", "Comercial del Sur", "Papelería Moderna", "Servicios Integrales"]
CITIES = ["Tuxtla Gutiérrez", "Mérida", "Puebla", "Monterrey", "Guadalajara", "Oaxaca"]
COLORS = ["red", "orange", "yellow", "green", "blue", "purple", "gray", None]

# What a desktop does, and how often (relative weights).
ACTIONS: list[tuple[str, int]] = [
    ("transfer_stamps", 30),
    ("transfer_points", 8),
    ("bulk_transfer", 8),
    ("purchase", 5),
    ("edit_client", 14),
    ("tags", 8),
    ("create_client", 5),
    ("create_code", 8),
    ("redeem", 8),
]


@contextlib.contextmanager
def _disk() -> Any:
    """The journal's SQLite errors of a full disk as `DiskFull` (as the outbox's)."""
    try:
        yield
    except sqlite3.Error as exc:
        if storage.is_disk_full(exc):
            raise storage.DiskFull(storage.NOT_SAVED) from exc
        raise


class Journal:
    """Public redemptions of top-up codes: key and body on disk before the request leaves."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS redeems (key TEXT PRIMARY KEY, code_id TEXT NOT NULL UNIQUE,"
            " body TEXT NOT NULL, state TEXT NOT NULL, status INTEGER, answer TEXT)"
        )

    def add(self, code_id: str, body: dict[str, Any]) -> str:
        key = uuid.uuid4().hex
        with self._lock, _disk():
            self._conn.execute(
                "INSERT INTO redeems (key, code_id, body, state) VALUES (?, ?, ?, 'pending')",
                (key, code_id, json.dumps(body)),
            )
        return key

    def settle(self, key: str, state: str, status: int, answer: Any) -> None:
        with self._lock, _disk():
            self._conn.execute(
                "UPDATE redeems SET state = ?, status = ?, answer = ? WHERE key = ?",
                (state, status, json.dumps(answer, default=str), key),
            )

    def rows(self, state: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT key, code_id, body, state, status, answer FROM redeems"
        params: tuple[Any, ...] = ()
        if state:
            sql, params = sql + " WHERE state = ?", (state,)
        with self._lock:
            found = self._conn.execute(sql + " ORDER BY rowid", params).fetchall()
        return [
            {
                "key": r[0],
                "code_id": r[1],
                "body": json.loads(r[2]),
                "state": r[3],
                "status": r[4],
                "answer": json.loads(r[5]) if r[5] else None,
            }
            for r in found
        ]

    def code_ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._conn.execute("SELECT code_id FROM redeems")}

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class Desktop:
    """A desktop's service layer on one folder, with the random user of the soak test."""

    def __init__(
        self,
        url: str,
        folder: Path,
        login: str,
        password: str,
        rng: random.Random | None = None,
        *,
        version: str = cmdesk.__version__,
        clock: ServerClock | None = None,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.login = login
        self.password = password
        self.rng = rng or random.Random()
        self.server = ServerInfo(clock or ServerClock(), version=version)
        # The session survives a restart as the real desktop's does: its refresh token kept (there in
        # the keyring, here in a file beside the folder, off the disk that fills), so a restarted
        # desktop resumes instead of hashing its password again.
        self.token_file = folder.parent / f"{folder.name}.refresh-token"
        self.api = ApiClient(
            url,
            connect_timeout=3,
            read_timeout=20,
            retries=3,
            backoff=0.05,
            server=self.server,
            on_refresh_token=self._keep_token,
        )
        self.cache = Cache(folder / "cache.sqlite3")
        self.outbox = Outbox(folder / "outbox.sqlite3")
        self.journal = Journal(folder / "journal.sqlite3")
        self.engine = SyncEngine(self.api, self.cache, self.outbox)

    def close(self) -> None:
        for close in (self.cache.close, self.outbox.close, self.journal.close, self.api.close):
            with contextlib.suppress(Exception):
                close()

    # ---- the line -----------------------------------------------------------------------------------

    def _keep_token(self, token: str | None) -> None:
        with contextlib.suppress(OSError):
            if token is None:
                self.token_file.unlink(missing_ok=True)
            else:
                partial = self.token_file.with_suffix(".partial")
                partial.write_text(token, encoding="utf-8")
                partial.replace(self.token_file)

    def _saved_token(self) -> str | None:
        try:
            return self.token_file.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def sign_in(self, deadline: float) -> None:
        """Open the session: resume the saved one (as the desktop does at a start), else sign in with
        the password; retrying while the line or the server fails."""
        while True:
            try:
                token = self._saved_token()
                if token is not None:
                    try:
                        self.api.resume(token)
                        return
                    except ApiError as error:
                        if error.status not in (401, 403):
                            raise
                        self._keep_token(None)  # refused (rotated by a killed run): the password
                self.api.sign_in(self.login, self.password)
                self._keep_token(self.api.refresh_token)
                return
            except (OfflineError, ApiError) as error:
                if time.monotonic() > deadline:
                    raise
                log(f"sign-in failed, retrying: {error}")
                # As the server asks (a busy hashing gate, the database away), or a moment.
                wait = error.retry_after if isinstance(error, ApiError) else None
                time.sleep(min(float(wait), 10.0) if wait else 0.3)

    def sync(self, *, check_counts: bool = False) -> bool:
        """One push + pull; False when the line or the server failed (it is tried again later).
        Prints `rebuilt` when the count check made the engine rebuild the cache."""
        try:
            if self.engine.sync_once(check_counts=check_counts).rebuilt:
                print("rebuilt", flush=True)
            return True
        except storage.DiskFull:
            print("diskfull sync", flush=True)
        except SessionExpired:
            self.sign_in(time.monotonic() + 60)
        except OfflineError:
            pass
        except ApiError as error:
            if error.status < 500 and error.status not in (408, 409, 429):
                log(f"sync refused: {error.status} {error.code} {error}")
        return False

    def redeem_pending(self) -> int:
        """Send (again, with the same key) every redemption whose answer is not recorded yet."""
        settled = 0
        for row in self.journal.rows("pending"):
            try:
                answer = self.api.post(REDEEM_PATH, row["body"], idempotency_key=row["key"])
            except OfflineError:
                break
            except ApiError as error:
                if error.status >= 500 or error.status in (408, 409, 429):
                    break  # in progress, busy or failing: the same key goes again later
                self.journal.settle(row["key"], "rejected", error.status, error.body)
            else:
                self.journal.settle(row["key"], "done", 200, answer)
            settled += 1
        return settled

    last_error = ""  # the last failure `drain` met (said when a desktop could not send everything)

    def drain(self, deadline: float) -> bool:
        """Push until the outbox and the journal have nothing left to send; True when both are empty.
        `last_error` keeps the last reason a push stopped (the engine's log, or the error raised)."""
        seen = self

        class Stops(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                seen.last_error = record.getMessage()

        engine_log = logging.getLogger("cmdesk.services.sync")
        handler, level = Stops(logging.INFO), engine_log.level
        engine_log.addHandler(handler)
        engine_log.setLevel(logging.INFO)
        try:
            while True:
                self.redeem_pending()
                try:
                    report = self.engine.push()
                    if report.offline:
                        self.last_error = "no answer (offline)"
                except (OfflineError, ApiError) as error:
                    self.last_error = repr(error)
                if self.outbox.pending_count() == 0 and not self.journal.rows("pending"):
                    return True
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.5)
        finally:
            engine_log.removeHandler(handler)
            engine_log.setLevel(level)

    # ---- the user -----------------------------------------------------------------------------------

    def _ctis(self) -> list[dict[str, Any]]:
        return [
            c
            for c in self.cache.query_stamping_accounts(kind="standard", limit=500)
            if not str(c["id"]).startswith(commands.LOCAL_PREFIX)
        ]

    def _clients(self) -> list[dict[str, Any]]:
        return [
            c
            for c in self.cache.query_clients(limit=500)
            if not str(c["id"]).startswith(commands.LOCAL_PREFIX)
        ]

    def step(self) -> str | None:
        """One random user action; returns its name, or None when it could not be done now."""
        rng = self.rng
        action = rng.choices([a for a, _ in ACTIONS], [w for _, w in ACTIONS])[0]
        handler: Callable[[], bool] = getattr(self, f"_do_{action}")
        try:
            return action if handler() else None
        except DomainError:
            return None  # checked on the desktop before queueing (e.g. nothing to edit yet)
        except storage.DiskFull:
            print("diskfull change", flush=True)  # never recorded: the user is told, nothing is lost
            return None

    def _do_transfer_stamps(self) -> bool:
        ctis = self._ctis()
        if not ctis:
            return False
        cti = self.rng.choice(ctis)
        quantity = self.rng.randint(1, 40)
        commands.transfer(
            self.outbox,
            self.cache,
            asset="stamps",
            target_type="stamping_account",
            target_id=cti["id"],
            quantity=quantity,
            amount_cents=quantity * self.rng.choice([0, 65, 80]),
            comments="soak",
        )
        return True

    def _do_transfer_points(self) -> bool:
        clients = self._clients()
        if not clients:
            return False
        quantity = self.rng.randint(1, 60)
        commands.transfer(
            self.outbox,
            self.cache,
            asset="points",
            target_type="client",
            target_id=self.rng.choice(clients)["id"],
            quantity=quantity,
            amount_cents=quantity * 100,
        )
        return True

    def _do_bulk_transfer(self) -> bool:
        ctis = self._ctis()
        if len(ctis) < 2:
            return False
        items = [
            {
                "asset": "stamps",
                "target_type": "stamping_account",
                "target_id": cti["id"],
                "quantity": self.rng.randint(1, 25),
                "amount_cents": 0,
                "comments": "soak masiva",
            }
            for cti in self.rng.sample(ctis, min(len(ctis), self.rng.randint(2, 5)))
        ]
        commands.bulk_transfer(self.outbox, self.cache, items)
        return True

    def _do_purchase(self) -> bool:
        package = self.rng.choice(["stamps_2000", "stamps_2000", "points_3000"])
        commands.purchase(self.outbox, self.cache, package, 1)
        return True

    def _do_edit_client(self) -> bool:
        clients = self._clients()
        if not clients:
            return False
        client = self.rng.choice(clients[:40])  # a small set, so desktops collide on the same clients
        change: dict[str, Any] = self.rng.choice(
            [
                {"trade_name": f"{self.rng.choice(TRADE_NAMES)} {self.rng.randrange(100)}"},
                {"phone": f"55{self.rng.randrange(10**8):08d}"},
                {"address": {"city": self.rng.choice(CITIES)}},
            ]
        )
        commands.update_client(self.outbox, self.cache, client["id"], change)
        return True

    def _do_tags(self) -> bool:
        clients = self._clients()
        if not clients:
            return False
        chosen = [c["id"] for c in self.rng.sample(clients, min(len(clients), self.rng.randint(1, 4)))]
        if self.rng.random() < 0.5:
            commands.set_tags(self.outbox, self.cache, chosen, favorite=self.rng.random() < 0.5)
        else:
            commands.set_tags(self.outbox, self.cache, chosen, color=self.rng.choice(COLORS))
        return True

    def _do_create_client(self) -> bool:
        n = self.rng.randrange(10**6)
        commands.create_client(
            self.outbox, self.cache, {"name": f"Cliente Soak {n:06d}", "rfc": "XAXX010101000"}
        )
        return True

    def _do_create_code(self) -> bool:
        asset = self.rng.choice(["stamps", "stamps", "points"])
        quantity = self.rng.randint(5, 50)
        self.outbox.enqueue(
            CREATE_CODE,
            "POST",
            "/v1/top-up-codes",
            {"asset": asset, "quantity": quantity, "amount_cents": quantity * 90, "comments": "soak"},
            description=f"Código de abono de {quantity} {asset}",
        )
        return True

    def _do_redeem(self) -> bool:
        """Redeem a code this desktop made (its answer carries the code and NIP) to one of its own
        CTIs (stamps) or clients (points)."""
        used = self.journal.code_ids()
        made = [
            c.result["code"]
            for c in self.outbox.list([CommandState.DONE])
            if c.kind == CREATE_CODE and isinstance(c.result, dict) and isinstance(c.result.get("code"), dict)
        ]
        fresh = [code for code in made if code["id"] not in used]
        if not fresh:
            return False
        code = self.rng.choice(fresh)
        body: dict[str, Any] = {"code": code["code"], "nip": code["nip"]}
        if code["asset"] == "stamps":
            ctis = self._ctis()
            if not ctis:
                return False
            body["stamping_account_id"] = self.rng.choice(ctis)["id"]
        else:
            clients = self._clients()
            if not clients:
                return False
            body["client_id"] = self.rng.choice(clients)["id"]
        self.journal.add(code["id"], body)
        self.redeem_pending()
        return True


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Un escritorio simulado de la prueba de resistencia.")
    parser.add_argument("--url", required=True)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--login", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stop-file", type=Path, required=True)
    parser.add_argument("--pace", type=float, default=0.3, help="longest pause between actions (s)")
    parser.add_argument("--sync-rate", type=float, default=0.35, help="chance of a sync after an action")
    parser.add_argument("--version", default=cmdesk.__version__, help="the desktop version it presents")
    parser.add_argument("--clock-offset", type=float, default=0.0, help="seconds its clock is off")
    args = parser.parse_args(argv)
    clock = ServerClock()
    if args.clock_offset:
        offset = dt.timedelta(seconds=args.clock_offset)
        clock = ServerClock(local=lambda: dt.datetime.now(dt.UTC) + offset)
    desktop = _open(args, clock)
    told = desktop.server

    def tell(kind: str) -> None:
        print(f"notice {kind}", flush=True)
        if kind == "clock" and told.clock.offset is not None:
            print(f"clock {told.clock.offset.total_seconds():.1f}", flush=True)

    told.subscribe(tell)
    try:
        # As cmdesk does, keep trying until the session opens (a starved server can take minutes of
        # busy Argon2 or read timeouts): a desktop that gave up would be a fault of the harness.
        while True:
            try:
                desktop.sign_in(time.monotonic() + 120)
                break
            except (OfflineError, ApiError) as error:
                if args.stop_file.exists():
                    raise
                log(f"sign-in still failing after 2 minutes, going on trying: {error}")
        print("ready", flush=True)
        rng = desktop.rng
        while not args.stop_file.exists():
            try:
                desktop.step()
                if rng.random() < args.sync_rate:
                    print("state pushing", flush=True)
                    desktop.sync(check_counts=rng.random() < 0.1)
                    print("state idle", flush=True)
            except (OfflineError, ApiError, SessionExpired) as error:
                log(f"line: {error!r}")
            except storage.DiskFull:
                print("diskfull other", flush=True)
            except Exception:
                log("unexpected: " + traceback.format_exc().replace("\n", " | "))
            time.sleep(rng.uniform(0, args.pace))
        print("stopped", flush=True)
        return 0
    finally:
        desktop.close()


def _open(args: argparse.Namespace, clock: ServerClock) -> Desktop:
    """The desktop's files, opened again and again while its disk is full (restarted on a full disk,
    SQLite cannot even make its shared-memory file)."""
    deadline = time.monotonic() + 120
    while True:
        try:
            return Desktop(
                args.url,
                args.folder,
                args.login,
                args.password,
                random.Random(args.seed),
                version=args.version,
                clock=clock,
            )
        except (sqlite3.Error, OSError, storage.DiskFull) as error:
            if time.monotonic() > deadline:
                raise
            print("diskfull open", flush=True)
            log(f"line: could not open the files ({error!r}); trying again")
            time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
