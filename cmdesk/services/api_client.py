"""The desktop's HTTP client of API v1 (requests): timeouts, safe retries, tokens, and Spanish errors.

    api = ApiClient("https://cm.example.mx", on_refresh_token=save_to_keyring)
    api.sign_in("ana@example.mx", "secreto")            # or api.resume(saved_refresh_token)
    clients = api.get("/v1/clients", params={"limit": 200})
    api.post("/v1/transfers", body, idempotency_key=command.idempotency_key)

Errors (`cmdesk.services.api_errors`, re-exported here). An answer ≥ 400 raises `ApiError` carrying
the server's problem+json (`code`, Spanish `title` and `detail`, per-field `errors`, the whole `body`
for extension members such as `current`); `str()` is the detail, fit to show. Not reaching the server
(refused, reset, timed out, DNS) raises `OfflineError` ("No hay conexión con el servidor."); its
`maybe_sent` says whether the request may have reached the server before the line failed.

Retries, with exponential backoff, only where repeating cannot apply something twice: GET, PUT and
DELETE, and POST/PATCH carrying an `Idempotency-Key` (the server applies a key once). A request that
never left (connection refused, connect timeout) is retried whatever its method. A POST without a key
is never retried once it may have reached the server: the caller gets `OfflineError(maybe_sent=True)`.
502/503/504 and `409 idempotency_key_in_progress` are retried for the same idempotent calls.

Tokens. `sign_in`/`resume` keep the access and refresh tokens. A call answered `401` (`token_expired`,
or a token the server no longer accepts) refreshes once and is sent again; refreshes are serialized
(refresh tokens rotate, and presenting a used one makes the server end the whole session), so threads
that fail together share one refresh. `on_refresh_token(token)` is called each time the refresh token
changes, with None when the session is lost; the caller keeps it in the OS keyring.

Thread-safe: the UI calls it from a pool. Each thread has its own `requests.Session` (dropped with its
thread, so the sync's short-lived threads leave no sockets behind); the token state is behind a lock.
Loopback servers are always reached directly, never through a configured proxy.

The line. Every call has a connect and a read timeout; every connection has TCP keep-alive probes
(`keepalive_socket_options`: idle 30 s, then every 10 s, dead after 3 unanswered; where the platform
lacks the finer options, plain SO_KEEPALIVE), so a connection left half-open by a laptop that slept
or changed networks is noticed instead of waited on. A read that times out drops its connection
(urllib3 never returns it to the pool) and the next attempt connects anew, so a sync interrupted by
sleep resumes cleanly; a server or proxy that answers slowly costs timeouts and backoff, never a
frozen window (the UI calls from its pools).

Versions and time (`cmdesk.services.server_info`). Every request says this desktop's version
(`X-Cmdesk-Version`); every answer's `Date` and version headers feed `server` (a `ServerInfo`): the
server's clock, its API level, the oldest desktop it serves in full. An answer `426
desktop_update_required` raises `ApiError` like any refusal and raises the update notice.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import logging
import random
import socket
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from ipaddress import ip_address
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection

import cmdesk
from cmdesk.domain import compat
from cmdesk.domain.errors import ErrorCode
from cmdesk.services.api_errors import (
    INVALID_RESPONSE,
    OFFLINE_MESSAGE,
    STATUS_TEXTS,
    ApiError,
    OfflineError,
    never_sent,
)
from cmdesk.services.server_info import ServerInfo

log = logging.getLogger(__name__)

TLS_MESSAGE = (
    "No se pudo establecer una conexión segura con el servidor: su certificado no es válido o no es "
    "de confianza."
)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({502, 503, 504})
# The longest wait between two attempts, whatever the backoff or Retry-After say.
MAX_BACKOFF_SECONDS = 30.0
# Failures of the line (anything else requests raises is a programming error and propagates as is).
NETWORK_ERRORS: tuple[type[requests.RequestException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
_AUTH_PREFIX = "/v1/auth/"

RefreshCallback = Callable[[str | None], None]



# ---------------------------------------------------------------------------------------------------
# Bodies


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise TypeError("naive datetime in a request body; use tz-aware UTC")
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode_json(body: Any) -> bytes:
    """A request body as UTF-8 JSON (tz-aware datetimes as ISO 8601 `Z`, dates, enums by value)."""
    return json.dumps(body, default=_json_default, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode_json(content: bytes) -> Any:
    """A large answer's JSON (the sync pages, ~1 MB each), with orjson: several times faster than
    `json`, and the same values for what the server sends (its integers are SQL BIGINTs; orjson would
    read a larger one as a float). What orjson refuses (NaN, a BOM, another encoding) goes to `json`."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return json.loads(content)


def invalid_response(status: int = 200) -> ApiError:
    """The error of an answer that could not be understood."""
    code, title, detail = INVALID_RESPONSE
    return ApiError(status, code, title, detail)


def _decode(response: requests.Response) -> Any:
    """A successful answer's JSON, or None when it has no body."""
    try:
        if response.status_code == 204 or not response.content:
            return None
        return response.json()
    except (ValueError, requests.RequestException):
        raise invalid_response(response.status_code) from None
    finally:
        response.close()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def insecure_url_problem(base_url: str) -> str | None:
    """Why `base_url` must not be used, when it is `http://` to another computer: the password, the
    tokens and the data would travel unencrypted (issue 15). None for https:// and for a server on
    this same computer (localhost, 127.0.0.1, ::1 — the embedded server)."""
    parts = urlsplit(base_url.strip())
    if parts.scheme != "http" or _is_loopback(parts.hostname or ""):
        return None
    return (
        "La dirección del servidor usa http://, que enviaría su contraseña y sus datos sin cifrar. "
        "Use https:// (http:// sólo se permite para un servidor en este mismo equipo: localhost o "
        "127.0.0.1)."
    )


_NO_BODY = object()


# ---------------------------------------------------------------------------------------------------
# Keep-alive

KEEPALIVE_IDLE = 30
KEEPALIVE_INTERVAL = 10
KEEPALIVE_COUNT = 3
_keepalive_options: list[tuple[int, int, int]] | None = None


def keepalive_socket_options() -> list[tuple[int, int, int]]:
    """urllib3's default socket options plus TCP keep-alive probes, as this platform takes them.

    SO_KEEPALIVE everywhere; then the idle time, interval and count where the platform has them
    (Linux and Windows 10 1709+ have TCP_KEEPIDLE/TCP_KEEPINTVL, TCP_KEEPCNT on Linux and Windows 10
    1703+; macOS names the idle time TCP_KEEPALIVE). Each finer option is tried once on a throwaway
    socket and left out where the system refuses it, so no platform fails to connect because of it."""
    global _keepalive_options
    if _keepalive_options is not None:
        return list(_keepalive_options)
    options: list[tuple[int, int, int]] = list(HTTPConnection.default_socket_options)
    options.append((socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1))
    idle = getattr(socket, "TCP_KEEPIDLE", None) or getattr(socket, "TCP_KEEPALIVE", None)
    finer = [
        (idle, KEEPALIVE_IDLE),
        (getattr(socket, "TCP_KEEPINTVL", None), KEEPALIVE_INTERVAL),
        (getattr(socket, "TCP_KEEPCNT", None), KEEPALIVE_COUNT),
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        for name, value in finer:
            if name is None:
                continue
            try:
                probe.setsockopt(socket.IPPROTO_TCP, name, value)
            except OSError:
                continue
            options.append((socket.IPPROTO_TCP, name, value))
    _keepalive_options = options
    return list(options)


class KeepAliveAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections (direct or through a proxy) probe an idle line."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["socket_options"] = keepalive_socket_options()
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        proxy_kwargs.setdefault("socket_options", keepalive_socket_options())
        return super().proxy_manager_for(proxy, **proxy_kwargs)


# ---------------------------------------------------------------------------------------------------
# The client


class ApiClient:
    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        on_refresh_token: RefreshCallback | None = None,
        server: ServerInfo | None = None,
        device: str | None = None,
    ) -> None:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"La dirección del servidor no es válida: {base_url!r} (use http:// o https://)."
            )
        if (problem := insecure_url_problem(base_url)) is not None:
            raise ValueError(problem)
        self.base_url = base_url.strip().rstrip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.retries = max(0, retries)
        self.backoff = max(0.0, backoff)
        self.on_refresh_token = on_refresh_token
        # Who is acting, for the server's bitácora: sent on every request (`X-Cmdesk-Device`).
        self.device = device if device is not None else device_label()
        self._trust_env = not _is_loopback(parts.hostname)
        self._lock = threading.Lock()  # the token state and the list of sessions
        # One refresh at a time (refresh tokens rotate). Reentrant: `on_refresh_token` may call the client.
        self._refresh_lock = threading.RLock()
        self._access_token: str | None = None
        self._refresh_token: str | None = None
        self._account: dict[str, Any] | None = None
        self._role: str | None = None
        self._local = threading.local()
        # Weak: a session goes (with its connections) when the thread that made it ends.
        self._sessions: weakref.WeakSet[requests.Session] = weakref.WeakSet()
        # The server's clock and versions, learned from every answer.
        self.server = server if server is not None else ServerInfo()

    def __repr__(self) -> str:  # never the tokens
        return f"ApiClient({self.base_url!r}, signed_in={self.signed_in})"

    # -- state --------------------------------------------------------------------------------------

    @property
    def refresh_token(self) -> str | None:
        with self._lock:
            return self._refresh_token

    @property
    def signed_in(self) -> bool:
        """Whether the client holds a session (tokens), not whether the server still accepts it."""
        with self._lock:
            return self._access_token is not None or self._refresh_token is not None

    @property
    def account(self) -> dict[str, Any] | None:
        """The account of the last sign-in or refresh answer."""
        with self._lock:
            return self._account

    @property
    def role(self) -> str | None:
        """The profile's role in that account (`domain.enums.Role`), as of the last sign-in or refresh."""
        with self._lock:
            return self._role

    # -- auth ---------------------------------------------------------------------------------------

    def sign_in(self, login: str, password: str, account_id: str | None = None) -> dict[str, Any]:
        """`POST /v1/auth/token`; keeps the tokens and returns the answer (`account`, `accounts`, …).
        Wrong credentials raise `ApiError` 401 `invalid_credentials`; too many failures 429."""
        body: dict[str, Any] = {"login": login, "password": password}
        if account_id is not None:
            body["account_id"] = account_id
        # Not retried once sent: a second attempt would count as another login attempt.
        answer = self._json("POST", "/v1/auth/token", body=body, auth=False, retryable=False)
        with self._refresh_lock:
            self._accept(answer)
        return dict(answer)

    def resume(self, refresh_token: str) -> dict[str, Any]:
        """`POST /v1/auth/refresh` with a saved refresh token; keeps the new tokens. When the server
        refuses it the session is lost (`on_refresh_token(None)`) and `ApiError` is raised; offline,
        the token is kept so a later call can refresh by itself."""
        with self._refresh_lock:
            with self._lock:
                self._access_token = None
                self._refresh_token = refresh_token
            return dict(self._refresh(refresh_token))

    def logout(self) -> None:
        """End the session on the server (best effort: offline, it is forgotten locally anyway)."""
        with self._refresh_lock:
            with self._lock:
                access, refresh = self._access_token, self._refresh_token
                self._access_token = self._refresh_token = self._account = None
            if access is None and refresh is None:
                return
            headers = {"Authorization": f"Bearer {access}"} if access else {}
            try:
                response = self._send(
                    "POST",
                    "/v1/auth/logout",
                    params=None,
                    data=encode_json({"refresh_token": refresh}),
                    headers=headers,
                    stream=False,
                    timeout=(self.connect_timeout, min(self.read_timeout, 10.0)),
                )
                response.close()
            except NETWORK_ERRORS as exc:
                log.info("logout could not reach the server: %s", type(exc).__name__)
            self._notify(None)

    # -- calls --------------------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._json("GET", path, params=params)

    def get_raw(self, path: str, params: Mapping[str, Any] | None = None) -> bytes:
        """GET, the answer's body undecoded (`decode_json` reads it): for a caller that decodes it
        elsewhere, like the sync engine, which decodes a page while the next one is requested.

        The body is read in one piece: requests reads 10 KB at a time, taking the GIL back after
        each, and while another thread runs Python (the engine writing the previous page) every
        one of those waits; a 1 MB page then took tens of ms longer."""
        attempt = 0
        while True:
            response = self._call("GET", path, params=params, stream=True)
            try:
                return b"".join(response.iter_content(chunk_size=None))
            except NETWORK_ERRORS as exc:
                if attempt < self.retries:
                    log.info("GET %s failed while reading (%s); retrying", path, type(exc).__name__)
                    self._pause(attempt)
                    attempt += 1
                    continue
                raise OfflineError(maybe_sent=True) from exc
            finally:
                response.close()

    def post(
        self,
        path: str,
        json: Any = None,
        *,
        idempotency_key: str | None = None,
        if_match: int | str | None = None,
        reason: str | None = None,
    ) -> Any:
        """POST (`json=None` sends no body); retried after a failure only when it carries
        `idempotency_key`. `reason`: the user's reason, for the bitácora (`X-Cmdesk-Reason`)."""
        return self._json(
            "POST",
            path,
            body=_NO_BODY if json is None else json,
            headers=_headers(idempotency_key, if_match, reason),
            retryable=idempotency_key is not None,
        )

    def patch(
        self,
        path: str,
        json: Any,
        *,
        if_match: int | str | None = None,
        idempotency_key: str | None = None,
        reason: str | None = None,
    ) -> Any:
        """PATCH (`If-Match: <version>`); retried after a failure only when it carries `idempotency_key`."""
        return self._json(
            "PATCH",
            path,
            body=json,
            headers=_headers(idempotency_key, if_match, reason),
            retryable=idempotency_key is not None,
        )

    def put(
        self, path: str, json: Any, *, if_match: int | str | None = None, reason: str | None = None
    ) -> Any:
        return self._json("PUT", path, body=json, headers=_headers(None, if_match, reason))

    def delete(self, path: str, *, reason: str | None = None) -> Any:
        return self._json("DELETE", path, headers=_headers(None, None, reason))

    def health(self) -> bool:
        """Whether `/v1/health` answers OK right now (one quick try, no retries, never raises)."""
        try:
            response = self._send(
                "GET",
                "/v1/health",
                params=None,
                data=None,
                headers={},
                stream=False,
                timeout=(self.connect_timeout, min(self.read_timeout, 5.0)),
            )
        except Exception:
            return False
        try:
            body = response.json() if response.status_code == 200 else None
        except ValueError:
            body = None
        finally:
            response.close()
        if isinstance(body, dict) and isinstance(body.get("server_time"), str):
            self._observe_time(body["server_time"], response)
        return isinstance(body, dict) and body.get("status") == "ok"

    def _observe_time(self, text: str, response: requests.Response) -> None:
        """A precise sample of the server's clock (`/v1/health`'s `server_time`, in ms)."""
        sent = getattr(response, "cmdesk_sent", None)
        received = getattr(response, "cmdesk_received", None)
        try:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return
        if sent is not None and received is not None and when.tzinfo is not None:
            self.server.clock.observe(when, sent, received, resolution=0.001)

    def health_answer(self) -> Any:
        """The server's whole answer about its health (the database's state included); raises like any
        call."""
        return self.get("/v1/health")

    def stream(
        self,
        path: str,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        """A raw streaming GET (downloads; `Range` may go in `headers`; the sync snapshot). The caller
        closes it (use it as a context manager). Errors raise like any call, before any byte is
        returned; a line that drops while the caller reads raises one of `NETWORK_ERRORS`."""
        return self._call("GET", path, params=params, headers=dict(headers or {}), stream=True)

    def close(self) -> None:
        """Close the connections of every thread (the client can still be used afterwards)."""
        with self._lock:
            sessions, self._sessions = list(self._sessions), weakref.WeakSet()
        self._local = threading.local()
        for session in sessions:
            session.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------------

    def _json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = _NO_BODY,
        headers: dict[str, str] | None = None,
        auth: bool = True,
        retryable: bool | None = None,
    ) -> Any:
        response = self._call(
            method, path, params=params, body=body, headers=headers, auth=auth, retryable=retryable
        )
        return _decode(response)

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = _NO_BODY,
        headers: dict[str, str] | None = None,
        auth: bool = True,
        retryable: bool | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send until there is an answer < 400 (returned open) or a final error (raised)."""
        if retryable is None:
            retryable = method in IDEMPOTENT_METHODS
        auth = auth and not path.startswith(_AUTH_PREFIX)
        data = None if body is _NO_BODY else encode_json(body)
        timeout = (self.connect_timeout, self.read_timeout)
        attempt = 0
        refreshed = False
        while True:
            token = self._current_token() if auth else None
            request_headers = dict(headers or {})
            if token is not None:
                request_headers["Authorization"] = f"Bearer {token}"
            try:
                response = self._send(
                    method,
                    path,
                    params=params,
                    data=data,
                    headers=request_headers,
                    stream=stream,
                    timeout=timeout,
                )
            except NETWORK_ERRORS as exc:
                if isinstance(exc, requests.exceptions.SSLError):
                    raise OfflineError(TLS_MESSAGE) from exc
                sent = not never_sent(exc)
                if (retryable or not sent) and attempt < self.retries:
                    log.info("%s %s failed (%s); retrying", method, path, type(exc).__name__)
                    self._pause(attempt)
                    attempt += 1
                    continue
                raise OfflineError(maybe_sent=sent) from exc

            status = response.status_code
            if status < 400:
                return response
            error = ApiError.from_response(response)
            if error.code == compat.UPDATE_REQUIRED_CODE:
                min_version = error.body.get("min_version")
                self.server.update_required(min_version if isinstance(min_version, str) else None)
            if status == 401 and auth and not refreshed and self._can_refresh(error):
                # The server rejected the request before doing anything: safe to send again.
                refreshed = True
                self._refresh_after(token)
                continue
            in_progress = error.code == ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS.value
            if retryable and attempt < self.retries and (status in RETRY_STATUSES or in_progress):
                log.info("%s %s answered %s; retrying", method, path, status)
                self._pause(attempt, error.retry_after)
                attempt += 1
                continue
            raise error

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        data: bytes | None,
        headers: dict[str, str],
        stream: bool,
        timeout: tuple[float, float],
    ) -> requests.Response:
        if data is not None:
            headers = {"Content-Type": "application/json", **headers}
        clock = self.server.clock
        sent = clock.local()
        response = self._http().request(
            method,
            self.base_url + path,
            params=dict(params) if params else None,
            data=data,
            headers=headers,
            stream=stream,
            timeout=timeout,
            allow_redirects=False,
        )
        received = clock.local()
        response.cmdesk_sent = sent  # type: ignore[attr-defined]
        response.cmdesk_received = received  # type: ignore[attr-defined]
        try:
            self.server.observe(response.headers, sent, received)
        except Exception:  # what the server says of itself must never fail the call
            log.warning("could not read the server's version or clock headers", exc_info=True)
        return response

    def _http(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = self._trust_env
            session.headers.update(
                {
                    "User-Agent": f"{compat.USER_AGENT_PREFIX}{self.server.version}",
                    compat.DESKTOP_VERSION_HEADER: str(self.server.version),
                    "Accept": "application/json, application/problem+json",
                    "X-Cmdesk-Device": header_text(self.device),
                }
            )
            # No retries inside urllib3: this class decides what may be sent twice.
            adapter = KeepAliveAdapter(pool_connections=1, pool_maxsize=4, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
            with self._lock:
                self._sessions.add(session)
        return session

    def _pause(self, attempt: int, retry_after: int | None = None) -> None:
        delay = self.backoff * (2**attempt) * random.uniform(0.8, 1.2)
        if retry_after is not None:
            delay = max(delay, float(retry_after))
        time.sleep(min(delay, MAX_BACKOFF_SECONDS))

    # -- tokens -------------------------------------------------------------------------------------

    def _current_token(self) -> str | None:
        """The access token to send; with only a refresh token (resumed offline), refresh first."""
        with self._lock:
            token, refresh = self._access_token, self._refresh_token
        if token is None and refresh is not None:
            self._refresh_after(None)
            with self._lock:
                token = self._access_token
        return token

    def _can_refresh(self, error: ApiError) -> bool:
        if error.code not in (ErrorCode.TOKEN_EXPIRED.value, ErrorCode.INVALID_CREDENTIALS.value):
            return False
        with self._lock:
            return self._refresh_token is not None

    def _refresh_after(self, failed_token: str | None) -> None:
        """Refresh because `failed_token` was refused (or there was none), unless another thread
        already did meanwhile."""
        with self._refresh_lock:
            with self._lock:
                current, refresh = self._access_token, self._refresh_token
            if current is not None and current != failed_token:
                return
            if refresh is None:
                self._session_lost()
            self._refresh(refresh)

    def _refresh(self, refresh_token: str) -> Mapping[str, Any]:
        """`POST /v1/auth/refresh` (caller holds `_refresh_lock`). Never retried once sent: the token
        is used up by the first attempt, and presenting it again would end the session."""
        try:
            answer = self._json(
                "POST",
                "/v1/auth/refresh",
                body={"refresh_token": refresh_token},
                auth=False,
                retryable=False,
            )
        except ApiError as error:
            if error.status in (401, 403):
                with self._lock:
                    self._access_token = self._refresh_token = self._account = None
                self._notify(None)
            raise
        self._accept(answer)
        return dict(answer)

    def _accept(self, answer: Any) -> None:
        """Keep the tokens of a sign-in or refresh answer (caller holds `_refresh_lock`)."""
        if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
            code, title, detail = INVALID_RESPONSE
            raise ApiError(200, code, title, detail)
        refresh = answer.get("refresh_token")
        with self._lock:
            changed = refresh != self._refresh_token
            self._access_token = answer["access_token"]
            self._refresh_token = refresh if isinstance(refresh, str) else None
            account = answer.get("account")
            self._account = account if isinstance(account, dict) else None
            role = answer.get("role")
            self._role = role if isinstance(role, str) else None
        if changed:
            self._notify(self._refresh_token)

    def _session_lost(self) -> NoReturn:
        code, title, detail = STATUS_TEXTS[401]
        raise ApiError(401, code, title, detail, body={"status": 401})

    def _notify(self, token: str | None) -> None:
        callback = self.on_refresh_token
        if callback is None:
            return
        try:
            callback(token)
        except Exception:
            # Saving the token (the keyring) failing must not fail the call that rotated it.
            log.warning("on_refresh_token failed", exc_info=True)


def header_text(text: str) -> str:
    """A header value of any text: UTF-8 percent-encoded (`%XX`), as the server reads
    `X-Cmdesk-Device` and `X-Cmdesk-Reason`; line breaks become spaces."""
    return quote(" ".join(text.split()), safe=" !#$&'()*+,/:;=?@[]~-._")


def device_label() -> str:
    """This desktop as the bitácora names it: `cmdesk/<version> (<computer>; <user>)`."""
    import getpass
    import platform

    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment
        user = ""
    where = "; ".join(part for part in (platform.node() or "?", user) if part)
    return f"cmdesk/{cmdesk.__version__} ({where})"


def _headers(
    idempotency_key: str | None, if_match: int | str | None, reason: str | None = None
) -> dict[str, str]:
    headers: dict[str, str] = {}
    if reason and reason.strip():
        headers["X-Cmdesk-Reason"] = header_text(reason.strip())
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    if if_match is not None:
        headers["If-Match"] = str(if_match)
    return headers

__all__ = [
    "NETWORK_ERRORS",
    "OFFLINE_MESSAGE",
    "ApiClient",
    "ApiError",
    "OfflineError",
    "decode_json",
    "device_label",
    "encode_json",
    "header_text",
    "insecure_url_problem",
    "invalid_response",
    "keepalive_socket_options",
]
