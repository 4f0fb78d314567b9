"""ApiClient against the real reference server: sign-in, tokens, errors, offline, and safe retries."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from cmdesk.domain.errors import DomainError, ErrorCode, FieldError
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.operations import auth as auth_ops
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD
from cmdesk.services.api_client import (
    OFFLINE_MESSAGE,
    ApiClient,
    ApiError,
    OfflineError,
    decode_json,
    encode_json,
)
from tests.services.conftest import auth_state, set_access_token_lifetime
from tests.services.proxy import FlakyProxy

FAST = {"retries": 2, "backoff": 0.01}


def client(url: str, **kw: Any) -> ApiClient:
    return ApiClient(url, **{**FAST, **kw})


@pytest.fixture
def tokens() -> list[str | None]:
    return []


@pytest.fixture
def expired_tokens(embedded_server: EmbeddedServer) -> Iterator[None]:
    """Sign-ins inside the block get access tokens that are already expired."""
    original = auth_state(embedded_server).config()
    set_access_token_lifetime(embedded_server, dt.timedelta(0))
    yield
    auth_state(embedded_server).override(original)


@pytest.fixture
def proxy(embedded_server: EmbeddedServer) -> Iterator[FlakyProxy]:
    with FlakyProxy(embedded_server.url) as p:
        yield p


def closed_port_url() -> str:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def standard_cti(api: ApiClient) -> dict[str, Any]:
    items = api.get("/v1/stamping-accounts", params={"limit": 1000})["items"]
    return next(i for i in items if i["kind"] == "standard" and i["active"])


def clients_named(api: ApiClient, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("/v1/clients", params={"q": name, "limit": 1000})["items"]
    return [c for c in items if c["name"] == name]


# ---------------------------------------------------------------------------------------------------
# Sign in


def test_sign_in_keeps_the_tokens(embedded_server: EmbeddedServer, tokens: list[str | None]) -> None:
    api = client(embedded_server.url, on_refresh_token=tokens.append)
    assert not api.signed_in and api.refresh_token is None

    answer = api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)

    assert answer["token_type"] == "bearer" and answer["account"]["nic"]
    assert api.signed_in and api.refresh_token == answer["refresh_token"]
    assert tokens == [answer["refresh_token"]]
    assert api.account is not None and api.account["id"] == answer["account"]["id"]
    me = api.get("/v1/me")
    assert me["profile"]["email"] == DEMO_EMAIL
    assert "access_token" not in repr(api) and answer["access_token"] not in repr(api)


def test_wrong_password_is_an_api_error_with_the_servers_text(embedded_server: EmbeddedServer) -> None:
    api = client(embedded_server.url)
    with pytest.raises(ApiError) as caught:
        api.sign_in(DEMO_EMAIL, "no-es-la-contraseña")
    error = caught.value
    assert (error.status, error.code) == (401, "invalid_credentials")
    assert str(error) == error.detail == "El usuario o la contraseña no son correctos."
    assert error.title == "Credenciales incorrectas"
    assert not api.signed_in
    domain = error.to_domain_error()
    assert isinstance(domain, DomainError) and domain.code is ErrorCode.INVALID_CREDENTIALS


def test_repeated_failures_are_throttled(embedded_server: EmbeddedServer) -> None:
    api = client(embedded_server.url)
    login = f"intruso-{uuid.uuid4().hex[:8]}@ejemplo.mx"
    for _ in range(5):
        with pytest.raises(ApiError) as caught:
            api.sign_in(login, "adivinanza")
        assert caught.value.code == "invalid_credentials"
    with pytest.raises(ApiError) as caught:
        api.sign_in(login, "adivinanza")
    assert (caught.value.status, caught.value.code) == (429, "too_many_attempts")
    assert "Espere un minuto" in str(caught.value)
    assert caught.value.retry_after is not None and 1 <= caught.value.retry_after <= 60


def test_sign_in_with_an_unknown_account_id_names_the_field(embedded_server: EmbeddedServer) -> None:
    with pytest.raises(ApiError) as caught:
        client(embedded_server.url).sign_in(DEMO_EMAIL, DEMO_PASSWORD, account_id="nope")
    assert caught.value.code == "validation_error"
    assert [e.field for e in caught.value.errors] == ["account_id"]


# ---------------------------------------------------------------------------------------------------
# Refresh tokens


def test_resume_from_a_saved_refresh_token(embedded_server: EmbeddedServer, tokens: list[str | None]) -> None:
    first = client(embedded_server.url)
    saved = first.sign_in(DEMO_EMAIL, DEMO_PASSWORD)["refresh_token"]

    api = client(embedded_server.url, on_refresh_token=tokens.append)
    answer = api.resume(saved)

    assert answer["refresh_token"] != saved  # rotated
    assert api.refresh_token == answer["refresh_token"] and tokens == [answer["refresh_token"]]
    assert api.get("/v1/me")["account"]["id"] == answer["account"]["id"]


def test_a_refused_refresh_token_loses_the_session(
    embedded_server: EmbeddedServer, tokens: list[str | None]
) -> None:
    api = client(embedded_server.url, on_refresh_token=tokens.append)
    with pytest.raises(ApiError) as caught:
        api.resume("token-que-no-existe")
    assert (caught.value.status, caught.value.code) == (401, "invalid_credentials")
    assert str(caught.value) == "La sesión terminó; inicie sesión de nuevo."
    assert not api.signed_in and tokens == [None]


def test_a_reused_refresh_token_fails_cleanly(
    embedded_server: EmbeddedServer, tokens: list[str | None], expired_tokens: None
) -> None:
    original = client(embedded_server.url)
    stolen = original.sign_in(DEMO_EMAIL, DEMO_PASSWORD)["refresh_token"]
    copy = client(embedded_server.url)
    copy.resume(stolen)  # uses the token up

    replay = client(embedded_server.url, on_refresh_token=tokens.append)
    with pytest.raises(ApiError) as caught:
        replay.resume(stolen)
    assert caught.value.code == "invalid_credentials"
    assert "se usó dos veces" in str(caught.value)
    assert not replay.signed_in and tokens == [None]

    # The whole family is revoked: the copy's next refresh fails too, and it says so.
    lost: list[str | None] = []
    copy.on_refresh_token = lost.append
    with pytest.raises(ApiError) as caught:
        copy.get("/v1/me")
    assert caught.value.status == 401
    assert not copy.signed_in and lost == [None]


def test_an_expired_access_token_is_refreshed_once(
    embedded_server: EmbeddedServer, tokens: list[str | None], expired_tokens: None
) -> None:
    api = client(embedded_server.url, on_refresh_token=tokens.append)
    first = api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)["refresh_token"]
    set_access_token_lifetime(embedded_server, dt.timedelta(minutes=5))

    assert api.get("/v1/me")["profile"]["email"] == DEMO_EMAIL

    assert tokens[0] == first and len(tokens) == 2 and tokens[1] != first
    assert api.refresh_token == tokens[1]
    api.get("/v1/me")  # the new access token is good: no further refresh
    assert len(tokens) == 2


def test_a_token_that_never_stops_expiring_fails_after_one_refresh(
    embedded_server: EmbeddedServer, tokens: list[str | None], expired_tokens: None
) -> None:
    api = client(embedded_server.url, on_refresh_token=tokens.append)
    api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    with pytest.raises(ApiError) as caught:
        api.get("/v1/me")
    assert (caught.value.status, caught.value.code) == (401, "token_expired")
    assert len(tokens) == 2  # one sign-in, one refresh: no loop
    assert api.signed_in  # the refresh token is still good


def test_threads_that_fail_together_share_one_refresh(
    embedded_server: EmbeddedServer, tokens: list[str | None], expired_tokens: None
) -> None:
    api = client(embedded_server.url, on_refresh_token=tokens.append)
    api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    set_access_token_lifetime(embedded_server, dt.timedelta(minutes=5))
    results: list[Any] = []
    start = threading.Barrier(6)

    def work() -> None:
        start.wait()
        try:
            results.append(api.get("/v1/me")["profile"]["email"])
        except Exception as exc:  # pragma: no cover - reported by the assert below
            results.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [DEMO_EMAIL] * 6
    assert len(tokens) == 2  # a second refresh with the used token would have ended the session


def test_a_rotated_signing_key_is_recovered_by_refreshing(embedded_server: EmbeddedServer) -> None:
    api = client(embedded_server.url)
    api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    state = auth_state(embedded_server)
    original = state.config()
    state.override(dataclasses.replace(original, signing_key=auth_ops.signing_key("otra clave")))
    try:
        assert api.get("/v1/me")["profile"]["email"] == DEMO_EMAIL
    finally:
        state.override(original)


def test_logout_ends_the_session(embedded_server: EmbeddedServer, tokens: list[str | None]) -> None:
    api = client(embedded_server.url, on_refresh_token=tokens.append)
    refresh = api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)["refresh_token"]

    api.logout()

    assert not api.signed_in and tokens == [refresh, None]
    with pytest.raises(ApiError) as caught:
        client(embedded_server.url).resume(refresh)
    assert caught.value.status == 401
    with pytest.raises(ApiError) as caught:
        api.get("/v1/me")
    assert str(caught.value) == "Inicie sesión para continuar."
    api.logout()  # twice is fine


def test_logout_offline_still_forgets_the_session(tokens: list[str | None]) -> None:
    api = client(closed_port_url(), on_refresh_token=tokens.append)
    with pytest.raises(OfflineError):
        api.resume("guardado")
    assert api.refresh_token == "guardado"  # kept: the line may come back
    api.logout()
    assert not api.signed_in and tokens == [None]


def test_a_failing_callback_does_not_fail_the_call(embedded_server: EmbeddedServer) -> None:
    def broken(_token: str | None) -> None:
        raise RuntimeError("sin almacén")

    api = client(embedded_server.url, on_refresh_token=broken)
    api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    assert api.signed_in


# ---------------------------------------------------------------------------------------------------
# Errors


def test_problem_json_becomes_api_error_fields(api: ApiClient) -> None:
    with pytest.raises(ApiError) as caught:
        api.post("/v1/clients", {"name": "", "rfc": "XYZ", "email": "no-es-correo"})
    error = caught.value
    assert (error.status, error.code, error.title) == (422, "validation_error", "Datos no válidos")
    assert {e.field for e in error.errors} == {"name", "rfc", "email"}
    assert all(isinstance(e, FieldError) and e.message for e in error.errors)
    assert error.field_errors()["name"] == "El campo «Nombre» es obligatorio."
    assert error.body["status"] == 422
    domain = error.to_domain_error()
    assert domain.code is ErrorCode.VALIDATION_ERROR and domain.errors == error.errors
    assert domain.detail == str(error)


def test_version_conflict_keeps_the_current_resource(api: ApiClient) -> None:
    target = api.get("/v1/clients", params={"limit": 1})["items"][0]
    with pytest.raises(ApiError) as caught:
        api.patch(f"/v1/clients/{target['id']}", {"trade_name": "Otro"}, if_match=target["version"] - 1)
    assert (caught.value.status, caught.value.code) == (412, "version_conflict")
    assert caught.value.body["current"]["id"] == target["id"]
    domain = caught.value.to_domain_error()
    assert domain.code is ErrorCode.VERSION_CONFLICT and domain.extra["current"]["id"] == target["id"]


def test_not_found(api: ApiClient) -> None:
    with pytest.raises(ApiError) as caught:
        api.get("/v1/clients/no-existe")
    assert (caught.value.status, caught.value.code, str(caught.value)) == (
        404,
        "not_found",
        "El cliente no existe.",
    )


def test_an_unknown_code_maps_to_the_closest_domain_code() -> None:
    error = ApiError(405, "method_not_allowed", "Método no permitido", "No se admite.", body={"x": 1})
    domain = error.to_domain_error()
    assert domain.code is ErrorCode.VALIDATION_ERROR
    assert domain.extra == {"x": 1, "code": "method_not_allowed"}
    assert ApiError(404, "gone", "t", "d").to_domain_error().code is ErrorCode.NOT_FOUND


def test_patch_put_delete_and_no_content(api: ApiClient) -> None:
    target = api.get("/v1/clients", params={"limit": 1})["items"][0]
    updated = api.patch(f"/v1/clients/{target['id']}", {"favorite": True}, if_match=target["version"])
    assert updated["favorite"] is True and updated["version"] > target["version"]

    email = f"admin-{uuid.uuid4().hex[:8]}@ejemplo.mx"
    with pytest.raises(ApiError) as caught:  # PUT reaches the server, which explains its refusal
        api.put(f"/v1/clients/{target['id']}/admin-profile", {"email": email, "mobile": "5512345678"})
    assert caught.value.status == 422 and "debe registrarse primero" in str(caught.value)

    cti = standard_cti(api)
    assert (
        api.post(f"/v1/stamping-accounts/{cti['id']}/password", {"password": "Segura#2024x"}) is None
    )  # 204

    with pytest.raises(ApiError) as caught:
        api.delete(f"/v1/clients/{target['id']}")
    assert caught.value.status == 405 and "DELETE" in str(caught.value)


def test_stream_returns_the_open_response(api: ApiClient) -> None:
    with api.stream("/v1/health") as response:
        assert response.status_code == 200 and response.json()["status"] == "ok"
    with pytest.raises(ApiError) as caught:
        api.stream("/v1/software/files/no-existe")
    assert caught.value.status == 404


def test_health(embedded_server: EmbeddedServer) -> None:
    assert client(embedded_server.url).health() is True
    assert client(closed_port_url()).health() is False


def test_the_base_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="no es válida"):
        ApiClient("cm.example.mx")
    assert ApiClient("https://cm.example.mx/").base_url == "https://cm.example.mx"


def test_bodies_encode_times_as_utc_z() -> None:
    when = dt.datetime(2026, 5, 1, 6, 0, tzinfo=dt.timezone(dt.timedelta(hours=-6)))
    assert encode_json({"at": when, "day": dt.date(2026, 5, 1), "ñ": "sí"}) == (
        '{"at":"2026-05-01T12:00:00Z","day":"2026-05-01","ñ":"sí"}'.encode()
    )
    with pytest.raises(TypeError):
        encode_json({"at": dt.datetime(2026, 5, 1)})


# ---------------------------------------------------------------------------------------------------
# Offline


def test_a_closed_port_is_offline_quickly() -> None:
    api = client(closed_port_url())
    started = time.monotonic()
    with pytest.raises(OfflineError) as caught:
        api.get("/v1/me")
    assert time.monotonic() - started < 2
    assert str(caught.value) == OFFLINE_MESSAGE == "No hay conexión con el servidor."
    assert caught.value.maybe_sent is False
    with pytest.raises(OfflineError):
        api.post("/v1/clients", {"name": "x", "rfc": "x"})  # never sent: safe, and still offline


def test_a_stopped_server_is_offline(fresh_server: EmbeddedServer) -> None:
    api = client(fresh_server.url)
    api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    fresh_server.stop()
    with pytest.raises(OfflineError) as caught:
        api.get("/v1/me")
    assert caught.value.maybe_sent is False
    assert api.signed_in  # offline is not signed out


# ---------------------------------------------------------------------------------------------------
# Retries (a loopback proxy that cuts the line at the chosen moment)


@pytest.mark.parametrize("action", ["drop_before", "drop_after"])
def test_a_get_is_retried_after_a_dropped_connection(proxy: FlakyProxy, action: Any) -> None:
    api = client(proxy.url)
    api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    seen = proxy.requests_seen
    proxy.arm(action)
    assert api.get("/v1/me")["profile"]["email"] == DEMO_EMAIL
    assert proxy.requests_seen == seen + 2


def test_a_get_is_retried_after_a_read_timeout_then_offline(proxy: FlakyProxy) -> None:
    api = client(proxy.url, read_timeout=0.3)
    api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    proxy.arm("hang")
    assert api.get("/v1/me")["profile"]["email"] == DEMO_EMAIL
    proxy.arm("hang", "hang", "hang")
    with pytest.raises(OfflineError) as caught:
        api.get("/v1/me")
    assert caught.value.maybe_sent is True


@pytest.mark.parametrize("action", ["drop_after", "drop_before", "hang"])
def test_a_post_without_key_is_not_retried_once_sent(api: ApiClient, proxy: FlakyProxy, action: Any) -> None:
    flaky = client(proxy.url, read_timeout=1.0)
    flaky.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    name = f"Cliente sin clave {uuid.uuid4().hex[:8]}"
    seen = proxy.requests_seen
    proxy.arm(action)

    with pytest.raises(OfflineError) as caught:
        flaky.post("/v1/clients", {"name": name, "rfc": "XAXX010101000"})

    assert caught.value.maybe_sent is True
    assert proxy.requests_seen == seen + 1  # sent once, never again
    # drop_after: the server applied it, once; otherwise it never reached the server.
    assert len(clients_named(api, name)) == (1 if action == "drop_after" else 0)


def test_a_post_with_a_key_is_retried_and_applied_once(api: ApiClient, proxy: FlakyProxy) -> None:
    flaky = client(proxy.url)
    flaky.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    cti = standard_cti(api)
    key = str(uuid.uuid4())
    body = {"asset": "stamps", "target": {"type": "stamping_account", "id": cti["id"]}, "quantity": 7}
    seen = proxy.requests_seen
    proxy.arm("drop_after")

    movement = flaky.post("/v1/transfers", body, idempotency_key=key)

    assert proxy.requests_seen == seen + 2
    assert movement["quantity"] == 7 and movement["target"]["id"] == cti["id"]
    after = api.get(f"/v1/stamping-accounts/{cti['id']}")
    assert after["balance"] == cti["balance"] + 7  # once, not twice
    again = api.post("/v1/transfers", body, idempotency_key=key)  # a later replay: same movement
    assert again["id"] == movement["id"]
    assert api.get(f"/v1/stamping-accounts/{cti['id']}")["balance"] == cti["balance"] + 7


def test_a_gateway_error_is_retried_only_when_idempotent(api: ApiClient, proxy: FlakyProxy) -> None:
    flaky = client(proxy.url)
    flaky.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    proxy.arm("bad_gateway")
    assert flaky.get("/v1/me")["profile"]["email"] == DEMO_EMAIL

    name = f"Cliente tras 502 {uuid.uuid4().hex[:8]}"
    proxy.arm("bad_gateway")
    with pytest.raises(ApiError) as caught:
        flaky.post("/v1/clients", {"name": name, "rfc": "XAXX010101000"})
    error = caught.value
    assert (error.status, error.code) == (502, "bad_gateway")
    assert str(error) == "El servidor no está disponible; intente más tarde."  # not the HTML page
    assert clients_named(api, name) == []

    proxy.arm("bad_gateway", "bad_gateway")
    created = flaky.post(
        "/v1/clients", {"name": name, "rfc": "XAXX010101000"}, idempotency_key=str(uuid.uuid4())
    )
    assert created["client"]["name"] == name and len(clients_named(api, name)) == 1


def test_a_server_rejection_is_not_retried(api: ApiClient, proxy: FlakyProxy) -> None:
    flaky = client(proxy.url)
    flaky.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    seen = proxy.requests_seen
    body = {"asset": "stamps", "target": {"type": "stamping_account", "id": "NO-EXISTE"}, "quantity": 1}
    with pytest.raises(ApiError) as caught:
        flaky.post("/v1/transfers", body, idempotency_key=str(uuid.uuid4()))
    assert caught.value.status == 404
    assert proxy.requests_seen == seen + 1


# ---------------------------------------------------------------------------------------------------
# Undecoded bodies (the sync engine's pages)


def test_get_raw_is_the_body_get_decodes(api: ApiClient) -> None:
    params = {"limit": 50}
    raw = api.get_raw("/v1/sync/changes", params=params)
    assert isinstance(raw, bytes) and decode_json(raw) == api.get("/v1/sync/changes", params=params)


@pytest.mark.parametrize("action", ["drop_before", "drop_after", "cut_answer"])
def test_get_raw_is_retried_after_a_dropped_connection(proxy: FlakyProxy, action: Any) -> None:
    api = client(proxy.url)
    api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    whole = api.get_raw("/v1/me")
    seen = proxy.requests_seen
    proxy.arm(action)
    assert api.get_raw("/v1/me") == whole
    assert proxy.requests_seen == seen + 2


def test_get_raw_cut_every_time_is_offline(proxy: FlakyProxy) -> None:
    api = client(proxy.url)  # two retries
    api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    proxy.arm("cut_answer", "cut_answer", "cut_answer")
    with pytest.raises(OfflineError) as caught:
        api.get_raw("/v1/me")
    assert caught.value.maybe_sent is True


def test_decode_json_reads_what_the_standard_library_reads() -> None:
    text = '{"a": [1, 2.5, "ñ", null, true], "b": {"c": -9223372036854775808, "d": 9223372036854775807}}'
    assert decode_json(text.encode()) == json.loads(text)
    assert decode_json(b"\xef\xbb\xbf" + text.encode()) == json.loads(text)  # with a BOM: json reads it
    assert math.isnan(decode_json(b'{"x": NaN}')["x"])  # orjson refuses NaN: json reads it
    with pytest.raises(ValueError):
        decode_json(b"<html>no es JSON</html>")


def test_a_503_is_waited_out_as_the_server_asks_and_retried_only_when_safe() -> None:
    """The server answers 503 with Retry-After while its database is away: reads and keyed writes
    wait that long and go again; a write without a key is not sent twice."""
    import http.server

    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(self.command)
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            if len(seen) % 2:  # every other request: the database is away
                body = b'{"code":"service_unavailable","title":"Servicio no disponible","detail":"x","status":503}'
                self.send_response(503)
                self.send_header("Retry-After", "1")
            else:
                body = b'{"ok":true}'
                self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *_args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with ApiClient(f"http://127.0.0.1:{httpd.server_port}", retries=2, backoff=0.01) as api:
            started = time.monotonic()
            assert api.get("/v1/anything") == {"ok": True}
            assert time.monotonic() - started >= 0.9  # Retry-After, not the 10 ms backoff
            assert api.post("/v1/transfers", {"a": 1}, idempotency_key="k1") == {"ok": True}
            with pytest.raises(ApiError) as refused:
                api.post("/v1/clients", {"a": 1})
            assert refused.value.status == 503 and refused.value.retry_after == 1
        assert seen == ["GET", "GET", "POST", "POST", "POST"]
    finally:
        httpd.shutdown()
