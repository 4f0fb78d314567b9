"""The desktop's session: which server, who is signed in, and that account's cache, outbox and sync.

    session = DesktopSession(load_config())
    result = session.start()            # embedded default: starts the local server and signs in
    if result.needs_sign_in:            # a central server without a saved session
        session.sign_in(login, password)
    session.subscribe(on_event)         # "state" / "synced" / "commands" events
    session.command(commands.transfer, asset="stamps", ...)       # queued (the outbox)
    session.online(commands.create_stamping_account, client_id, ...)  # needs the server now
    session.sync_now()                  # blocking: the UI runs it in a worker

Embedded default (`config.server_url is None`): the reference server runs in this process on a SQLite
file in `server_dir(EMBEDDED_KEY)`, migrated, seeded with the demo distributor on first run, and the
session signs in as that distributor by itself. The server is not imported here: `cmdesk.app` gives
the session an `EmbeddedDefault` that starts it. Central server: the refresh token saved in the OS
keyring resumes the session; without one the user signs in.

Offline: the account last used on a server is remembered (`session.json`, no secret), so when the
server can't be reached at start the app still opens on its cached data, state OFFLINE, and every
change goes to the outbox; the next `sync_now` (the saved refresh token still in hand) sends it.

Files of a server: `<server folder>/session.json`, and per account `accounts/<id>/cache.sqlite3` with
its search index `cache-search.sqlite3` (disposable) and `accounts/<id>/outbox.sqlite3` (durable).

Faults. A cache made anew on opening (damaged, deleted, another schema) gets the outbox's commands
laid over it at once, and the next sync fills it; one that meets a damaged page while syncing is made
anew and synced again. A full disk ends the sync with `DiskFull`, whose Spanish text says nothing
was lost. What the server says of itself — its clock far from this computer's, a newer desktop it
wants, something it lacks — is in `notices()`, and each new notice is a `notice` event (the update
one once per session: the window offers the update then).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, ParamSpec, Protocol, TypeVar

from cmdesk.services import overlays, paths, storage
from cmdesk.services.api_client import ApiClient, ApiError, OfflineError
from cmdesk.services.cache import Cache
from cmdesk.services.config import DesktopConfig, save_config
from cmdesk.services.connectivity import ConnectionState
from cmdesk.services.credentials import UNAVAILABLE_MESSAGE, CredentialStore, CredentialStoreUnavailable
from cmdesk.services.outbox import Outbox
from cmdesk.services.server_info import server_now
from cmdesk.services.snapshot import Progress
from cmdesk.services.sync import SessionExpired, SyncEngine, SyncReport

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

EventKind = Literal["state", "synced", "commands", "notice"]

OFFLINE_START_MESSAGE = "No hay conexión con el servidor; se muestran los datos guardados en este equipo."
OFFLINE_NO_DATA_MESSAGE = (
    "No hay conexión con el servidor y este equipo no tiene datos guardados de esta cuenta."
)
SIGN_IN_MESSAGE = "Inicie sesión para trabajar con una cuenta."
EXPIRED_MESSAGE = "La sesión guardada ya no es válida; inicie sesión de nuevo."
EMBEDDED_SIGN_IN_MESSAGE = (
    "No se pudo iniciar sesión en el servidor local con la cuenta de demostración; inicie sesión."
)
NO_EMBEDDED_MESSAGE = "Esta instalación no incluye el servidor integrado; configure un servidor central."
SESSION_FILE = "session.json"


class LocalServer(Protocol):
    """The reference server running in this process."""

    @property
    def url(self) -> str: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class EmbeddedDefault:
    """How to run the embedded default, given by `cmdesk.app` (cmdesk.services never imports the
    server): `start(folder)` starts the reference server on the SQLite file of that folder, migrated,
    seeded with the demo distributor the first time; `demo_login()` is the (login, password) the
    session signs in with; `migrations()` the head revision of the server's migrations and their
    folder (the self-test checks an installation ships them)."""

    start: Callable[[Path], LocalServer]
    demo_login: Callable[[], tuple[str, str]]
    migrations: Callable[[], tuple[str | None, Path]] | None = None


@dataclass(frozen=True)
class StartResult:
    needs_sign_in: bool
    message: str | None = None


@dataclass(frozen=True)
class SessionEvent:
    """`state`: the connection state changed; `synced`: a sync ended (`changed` = entities whose
    cached data changed); `commands`: the outbox changed (a command queued, sent, settled), and
    `changed` names the entities whose optimistic values changed with it; `notice`: the server said
    something the user should know (`changed` = {"clock"}, {"update"} or {"feature:<name>"}; the text
    is in `DesktopSession.notices()`)."""

    kind: EventKind
    changed: frozenset[str] = field(default_factory=frozenset)


Listener = Callable[[SessionEvent], None]


class DesktopSession:
    def __init__(
        self,
        config: DesktopConfig,
        *,
        home: Path | None = None,
        credentials: CredentialStore | None = None,
        embedded: EmbeddedDefault | None = None,
    ) -> None:
        self.config = config
        self.embedded_default = embedded
        self.home = Path(home) if home is not None else None
        self.credentials = credentials or CredentialStore()
        self.api: ApiClient | None = None
        self.cache: Cache | None = None
        self.outbox: Outbox | None = None
        self.engine: SyncEngine | None = None
        self.server: LocalServer | None = None  # the reference server of the embedded default
        self.login: str | None = config.last_login
        self.account_id: str | None = None
        self._role: str | None = None
        self.credential_message: str | None = None
        self._state = ConnectionState.OFFLINE
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()
        self._sync_lock = threading.Lock()
        self._sync_thread: int | None = None
        self._unsubscribe: list[Callable[[], None]] = []

    # ---- where things are ---------------------------------------------------------------------------

    @property
    def embedded(self) -> bool:
        return self.config.server_url is None

    @property
    def server_key(self) -> str:
        return (
            paths.EMBEDDED_KEY if self.config.server_url is None else paths.server_key(self.config.server_url)
        )

    def server_folder(self) -> Path:
        if self.home is None:
            return paths.server_dir(self.server_key)
        return paths.private_folder(self.home / "data" / "servers" / self.server_key)

    def account_folder(self, account_id: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", account_id):
            raise ValueError(f"not an account id: {account_id!r}")
        return paths.private_folder(self.server_folder() / "accounts" / account_id)

    def _credential_key(self) -> str:
        return self.config.server_url or paths.EMBEDDED_KEY

    # ---- events -------------------------------------------------------------------------------------

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call `callback(event)` on every event (from the thread that caused it)."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def _emit(self, kind: EventKind, changed: set[str] | frozenset[str] = frozenset()) -> None:
        event = SessionEvent(kind, frozenset(changed))
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("a session listener failed")

    def _set_state(self, state: ConnectionState) -> None:
        with self._lock:
            if state == self._state:
                return
            self._state = state
        self._emit("state")

    @property
    def state(self) -> ConnectionState:
        return self._state

    def _in_sync(self) -> bool:
        return self._sync_thread == threading.get_ident()

    def _on_outbox_change(self) -> None:
        if not self._in_sync():
            self._emit("commands")

    def _on_cache_change(self, changed: set[str]) -> None:
        if not self._in_sync():
            self._emit("commands", changed)

    # ---- stores -------------------------------------------------------------------------------------

    def _open_account(self, account_id: str) -> None:
        """Open the cache and outbox of `account_id` (closing another account's)."""
        with self._lock:  # `open_saved_account` (cache pool) may run while `start` (network pool) does
            if self.account_id == account_id and self.cache is not None:
                return
            self._close_stores()
            folder = self.account_folder(account_id)
            self.cache = Cache(folder / "cache.sqlite3")
            self.outbox = Outbox(folder / "outbox.sqlite3")
            if self.cache.recreated or self.cache.cursor is None:
                # Made anew (damaged, deleted) or never filled: the commands on their way show at
                # once, before the next sync fills it.
                overlays.reapply_all(self.outbox, self.cache)
            if self.cache.account_id != account_id:
                self.cache.set_meta("account_id", account_id)
            self.account_id = account_id
            self._unsubscribe = [
                self.outbox.subscribe(self._on_outbox_change),
                self.cache.subscribe(self._on_cache_change),
            ]
            if self.api is not None:
                self.engine = SyncEngine(self.api, self.cache, self.outbox)

    def _close_stores(self) -> None:
        with self._lock:
            for unsubscribe in self._unsubscribe:
                unsubscribe()
            self._unsubscribe = []
            if self.cache is not None:
                self.cache.close()
            if self.outbox is not None:
                self.outbox.close()
            self.cache = self.outbox = self.engine = None
            self.account_id = None

    def open_saved_account(self) -> bool:
        """Open the cache and outbox of the account last used on this server (`session.json`) with no
        server and no network, so the window shows the data kept on this computer while `start()`
        brings the server up and syncs. True when an account's stores are open (already, or now);
        False on a first start (nothing saved yet). `start()` keeps these stores when it signs in to
        the same account, and replaces them (with an event) when the account is another one."""
        with self._lock:
            if self.cache is not None:
                return True
            account_id = self._saved_session().get("account_id")
            if not account_id:
                return False
            try:
                self._open_account(str(account_id))
            except (OSError, ValueError, sqlite3.Error):
                # Not fatal: `start()` opens the account again once signed in.
                log.warning("could not open the saved account's data", exc_info=True)
                self._close_stores()
                return False
            return True

    def _saved_session(self) -> dict[str, Any]:
        try:
            data = json.loads((self.server_folder() / SESSION_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save_session(self, account: dict[str, Any], role: str | None = None) -> None:
        data = {
            "login": self.login,
            "account_id": account.get("id"),
            "account_name": account.get("name"),
            "role": role,
            "saved_at": server_now().isoformat(),
        }
        target = self.server_folder() / SESSION_FILE
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        paths.private_file(tmp)
        tmp.replace(target)

    def _signed_in(self, answer: dict[str, Any]) -> None:
        account = answer.get("account") or {}
        self._open_account(str(account["id"]))
        assert self.cache is not None
        self._sync_thread = threading.get_ident()  # the server's data, not a user's change
        try:
            changed = self.cache.apply_answer("account", account)
        finally:
            self._sync_thread = None
        role = answer.get("role")
        self._role = role if isinstance(role, str) else None
        self._save_session(account, self._role)
        self._emit("synced", changed)

    def _new_api(self, base_url: str) -> ApiClient:
        if self.api is not None:
            self.api.close()
        self.api = ApiClient(base_url, on_refresh_token=self._on_refresh_token)
        self.api.server.clock.reset()  # another server: its clock is measured anew
        self.api.server.subscribe(lambda kind: self._emit("notice", {kind}))
        if self.cache is not None and self.outbox is not None:
            self.engine = SyncEngine(self.api, self.cache, self.outbox)
        return self.api

    def _on_refresh_token(self, token: str | None) -> None:
        if self.embedded or not self.login:
            return  # the embedded server's session is opened again at each start
        url = self._credential_key()
        if token is None:
            self.credentials.delete(url, self.login)
            return
        try:
            self.credentials.save_refresh_token(url, self.login, token)
            self.credential_message = None
        except CredentialStoreUnavailable as exc:
            self.credential_message = str(exc)

    # ---- start and sign-in --------------------------------------------------------------------------

    def start(self, *, sync: bool = True) -> StartResult:
        """Open the session (see the module docstring). With `sync`, a first sync runs when online."""
        if self.embedded:
            return self._start_embedded(sync)
        return self._start_central(sync)

    def _start_embedded(self, sync: bool) -> StartResult:
        if self.embedded_default is None:
            return StartResult(True, NO_EMBEDDED_MESSAGE)
        server = self.embedded_default.start(self.server_folder())
        self.server = server
        api = self._new_api(server.url)
        demo_login, demo_password = self.embedded_default.demo_login()
        self.login = self.login or demo_login
        try:
            answer = api.sign_in(self.login, demo_password)
        except ApiError:
            saved = self._saved_session()
            if saved.get("account_id"):
                self._open_account(str(saved["account_id"]))
            return StartResult(True, EMBEDDED_SIGN_IN_MESSAGE)
        self._signed_in(answer)
        self._set_state(ConnectionState.ONLINE)
        if sync:
            self._first_sync()
        # E.g. no keyring: its signing key is in a file only the user reads (cmdesk.app).
        notice = getattr(server, "notice", None)
        return StartResult(False, notice if isinstance(notice, str) else None)

    def _start_central(self, sync: bool) -> StartResult:
        assert self.config.server_url is not None
        api = self._new_api(self.config.server_url)
        saved = self._saved_session()
        self.login = self.login or saved.get("login")
        if saved.get("account_id"):
            # The data of the account last used here stays readable whatever happens next.
            self._open_account(str(saved["account_id"]))
        if not self.credentials.available():
            return StartResult(True, UNAVAILABLE_MESSAGE)
        token = (
            self.credentials.load_refresh_token(self._credential_key(), self.login) if self.login else None
        )
        if token is None:
            return StartResult(True, None)
        try:
            answer = api.resume(token)
        except OfflineError:
            self._set_state(ConnectionState.OFFLINE)
            if self.cache is None:
                return StartResult(True, OFFLINE_NO_DATA_MESSAGE)
            return StartResult(False, OFFLINE_START_MESSAGE)
        except ApiError as error:
            if error.status in (401, 403):
                return StartResult(True, EXPIRED_MESSAGE)
            raise
        self._signed_in(answer)
        self._set_state(ConnectionState.ONLINE)
        if sync:
            self._first_sync()
        return StartResult(False, None)

    def _first_sync(self) -> None:
        with contextlib.suppress(OfflineError, SessionExpired):
            self.sync_now()

    def sign_in(
        self, login: str, password: str, *, account_id: str | None = None, sync: bool = True
    ) -> StartResult:
        """Sign in (raises `ApiError` with the server's Spanish reason, or `OfflineError`). The message
        says when the session can't be remembered on this computer."""
        api = self.api or self._new_api(self.config.server_url or "")
        self.login = login.strip()
        answer = api.sign_in(self.login, password, account_id)
        if not self.embedded:
            # Now that the login is known, keep the token the sign-in got.
            self._on_refresh_token(api.refresh_token)
            self.config.last_login = self.login
            self._save_config()
        self._signed_in(answer)
        self._set_state(ConnectionState.ONLINE)
        if sync:
            self._first_sync()
        message = self.credential_message
        if message is None and not self.embedded and not self.credentials.available():
            message = UNAVAILABLE_MESSAGE
        return StartResult(False, message)

    def _save_config(self) -> None:
        try:
            if self.home is not None:
                save_config(self.config, self.home / "config" / "config.json")
            else:
                save_config(self.config)
        except OSError:
            log.warning("could not save the configuration", exc_info=True)

    def sign_out(self) -> None:
        """End the session: on the server (when reachable) and the saved token. The account's cache
        and outbox stay on disk (the pending commands go out after the next sign-in)."""
        if self.api is not None:
            self.api.logout()
        if self.login and not self.embedded:
            self.credentials.delete(self._credential_key(), self.login)
        self._close_stores()
        self._set_state(ConnectionState.OFFLINE)

    # ---- working ------------------------------------------------------------------------------------

    def sync_now(self, progress: Progress | None = None) -> SyncReport:
        """Push the outbox, pull the feed, check the counts (blocking; one at a time). Raises
        `OfflineError` (state OFFLINE) or `SessionExpired` (the user must sign in again).
        `progress(done, total, text)` follows a first sync's snapshot."""
        if self.engine is None:
            raise SessionExpired("Inicie sesión para sincronizar.")
        with self._sync_lock:
            engine = self.engine
            self._set_state(ConnectionState.SYNCING)
            self._sync_thread = threading.get_ident()
            outbox_before = engine.outbox.pending_count(), engine.outbox.attention_count()
            try:
                try:
                    report = engine.sync_once(progress=progress)
                except storage.CacheDamaged:
                    engine = self._remake_cache()
                    report = engine.sync_once(progress=progress)
            except storage.DiskFull as full:
                self._set_state(ConnectionState.ONLINE)
                raise storage.DiskFull(storage.SYNC_STOPPED) from full
            except OfflineError:
                self._set_state(ConnectionState.OFFLINE)
                raise
            except SessionExpired:
                self._set_state(ConnectionState.OFFLINE)
                raise
            except BaseException:
                self._set_state(ConnectionState.ONLINE)
                raise
            finally:
                self._sync_thread = None
                self._emit_commands_if(engine, outbox_before)
            self._set_state(ConnectionState.ONLINE)
        self._emit("synced", report.changed)
        return report

    def _remake_cache(self) -> SyncEngine:
        """The cache met a damaged page: make it anew, lay the outbox's commands over it, and give a
        new engine (the next sync fills it from the server)."""
        with self._lock:
            assert self.cache is not None and self.outbox is not None and self.api is not None
            log.warning("the cache of account %s is damaged; it is made anew", self.account_id)
            path = self.cache.path
            for unsubscribe in self._unsubscribe:
                unsubscribe()
            self.cache.close()
            self.cache = Cache(path, fresh=True)
            self.cache.recreated = True
            if self.account_id:
                self.cache.set_meta("account_id", self.account_id)
            overlays.reapply_all(self.outbox, self.cache)
            self._unsubscribe = [
                self.outbox.subscribe(self._on_outbox_change),
                self.cache.subscribe(self._on_cache_change),
            ]
            self.engine = SyncEngine(self.api, self.cache, self.outbox)
            return self.engine

    def notices(self) -> list[str]:
        """What the user should know about the server, in Spanish: this computer's clock far from
        the server's, a newer desktop it wants, what it lacks (for the status bar)."""
        return self.api.server.notices() if self.api is not None else []

    def _emit_commands_if(self, engine: SyncEngine, before: tuple[int, int]) -> None:
        after = engine.outbox.pending_count(), engine.outbox.attention_count()
        if after != before:
            self._emit("commands")

    def command(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Queue a change: a `cmdesk.services.commands` function on this account's outbox and cache."""
        if self.outbox is None or self.cache is None:
            raise SessionExpired(SIGN_IN_MESSAGE)
        return fn(self.outbox, self.cache, *args, **kwargs)

    def online(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Make a change that needs the server now: a `cmdesk.services.commands` online function on
        this session's API client and cache (raises `OfflineError` without the line)."""
        if self.api is None or self.cache is None:
            raise SessionExpired(SIGN_IN_MESSAGE)
        return fn(self.api, self.cache, *args, **kwargs)

    def public(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A call that needs no sign-in (¿Olvidó su contraseña?): a `cmdesk.services.commands` public
        function on this session's API client (raises `OfflineError` without the line)."""
        if self.api is None:
            if self.embedded:  # the embedded server is not running yet
                raise SessionExpired(SIGN_IN_MESSAGE if self.embedded_default else NO_EMBEDDED_MESSAGE)
            self._new_api(self.config.server_url or "")
        assert self.api is not None
        return fn(self.api, *args, **kwargs)

    @property
    def last_sync_at(self) -> dt.datetime | None:
        return self.cache.last_sync_at if self.cache is not None else None

    def account(self) -> dict[str, Any] | None:
        return self.cache.account() if self.cache is not None else None

    def role(self) -> str | None:
        """The signed-in profile's role in the account (`domain.roles` says what it allows): the
        server's latest answer, or — offline, before signing in again — the one saved with the
        account. The server checks it on every request anyway; the desktop only hides what the role
        can't do."""
        if self.api is not None and self.api.role is not None:
            return self.api.role
        if self._role is None:
            saved = self._saved_session().get("role")
            self._role = saved if isinstance(saved, str) else None
        return self._role

    def pending_count(self) -> int:
        return self.outbox.pending_count() if self.outbox is not None else 0

    def close(self) -> None:
        """Close the files and the connections, and stop the embedded server."""
        self._close_stores()
        if self.api is not None:
            self.api.close()
        if self.server is not None:
            self.server.stop()
            self.server = None
