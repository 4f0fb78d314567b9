"""The desktop session: the embedded default end to end, a central server resumed from the saved
refresh token, no keyring, an expired session, and the events the UI listens to."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from cmdesk.app import SIGNING_KEY_NAME, embedded_default
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD
from cmdesk.services import commands, paths
from cmdesk.services.config import DesktopConfig, load_config
from cmdesk.services.connectivity import ConnectionState
from cmdesk.services.credentials import (
    UNAVAILABLE_MESSAGE,
    CredentialStore,
    local_secret_service,
    service_name,
)
from cmdesk.services.session import EXPIRED_MESSAGE, DesktopSession, SessionEvent
from cmdesk.services.sync import SessionExpired
from tests.services.conftest import MemoryKeyring


def test_embedded_default_end_to_end(home: Path, memory_keyring: MemoryKeyring) -> None:
    events: list[SessionEvent] = []
    session = DesktopSession(DesktopConfig(), embedded=embedded_default())
    session.subscribe(events.append)
    try:
        result = session.start()
        assert (result.needs_sign_in, result.message) == (False, None)
        assert session.server is not None and session.server.running
        assert session.server.url.startswith("http://127.0.0.1:")
        folder = paths.server_dir(paths.EMBEDDED_KEY)
        assert (
            folder.is_relative_to(home)
            and (folder / "server.sqlite3").exists()
            and (folder / "seeded").exists()
        )
        assert session.state == ConnectionState.ONLINE
        account = session.account()
        assert account is not None and account["email"] == DEMO_EMAIL
        assert session.cache is not None and session.cache.count_clients() == 36  # the demo portfolio
        assert session.cache.count_stamping_accounts() >= 37
        assert session.last_sync_at is not None and session.pending_count() == 0
        assert [e.kind for e in events][:2] == ["synced", "state"] and events[-1].kind == "synced"
        assert "client" in events[-1].changed
        # The embedded session is never stored; only the user's keys are kept (the embedded server's
        # signing key, and the cache's sealing key: the demo has top-up codes).
        assert set(memory_keyring.values) == {
            (local_secret_service(SIGNING_KEY_NAME), "clave"),
            (local_secret_service("cache"), "clave"),
        }

        # A change: event at once, applied by the next sync.
        events.clear()
        client_id = session.cache.query_clients(limit=1)[0]["id"]
        session.command(commands.set_tags, [client_id], color="green")
        assert [e.kind for e in events] == ["commands", "commands"]  # outbox, then the optimistic value
        assert "client" in events[-1].changed and session.pending_count() == 1
        report = session.sync_now()
        assert report.push.done == 1 and session.pending_count() == 0
        assert [e.kind for e in events[2:]] == ["state", "commands", "state", "synced"]
    finally:
        session.close()
    assert not session.server

    # The next start reuses the database: no new seed, same data.
    again = DesktopSession(DesktopConfig(), embedded=embedded_default())
    try:
        assert not again.start().needs_sign_in
        assert again.cache is not None and again.cache.count_clients() == 36
        assert again.cache.count_clients(color="green") >= 1
    finally:
        again.close()


def test_central_server_with_a_saved_refresh_token(
    home: Path, memory_keyring: MemoryKeyring, embedded_server: EmbeddedServer
) -> None:
    url = embedded_server.url
    first = DesktopSession(DesktopConfig(server_url=url))
    try:
        result = first.start()
        assert (result.needs_sign_in, result.message) == (True, None)
        assert first.state == ConnectionState.OFFLINE and first.cache is None
        signed = first.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
        assert (signed.needs_sign_in, signed.message) == (False, None)
        assert (
            first.state == ConnectionState.ONLINE  # type: ignore[comparison-overlap]
            and first.cache is not None
            and first.cache.count_clients() > 0
        )
        saved = memory_keyring.values[(service_name(url), DEMO_EMAIL)]
        assert saved == first.api.refresh_token  # type: ignore[union-attr]
    finally:
        first.close()
    config = load_config()
    assert (config.server_url, config.last_login) == (url, DEMO_EMAIL)  # the session saved it

    # Next time: no sign-in, the saved token resumes the session (and the rotated one is saved).
    second = DesktopSession(DesktopConfig(server_url=url, last_login=DEMO_EMAIL))
    try:
        result = second.start()
        assert (result.needs_sign_in, result.message) == (False, None)
        assert second.state == ConnectionState.ONLINE and second.last_sync_at is not None
        assert memory_keyring.values[(service_name(url), DEMO_EMAIL)] not in (saved, None)
        assert second.account() is not None
        second.sign_out()
        assert (service_name(url), DEMO_EMAIL) not in memory_keyring.values
        assert second.state == ConnectionState.OFFLINE
        with pytest.raises(SessionExpired):
            second.sync_now()
    finally:
        second.close()


def test_without_a_keyring_the_user_signs_in_each_time(home: Path, embedded_server: EmbeddedServer) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    try:
        session = DesktopSession(DesktopConfig(server_url=embedded_server.url, last_login=DEMO_EMAIL))
        try:
            result = session.start()
            assert result.needs_sign_in and result.message == UNAVAILABLE_MESSAGE
            assert "almacén seguro de contraseñas" in result.message
            signed = session.sign_in(DEMO_EMAIL, DEMO_PASSWORD, sync=False)
            assert not signed.needs_sign_in and signed.message == UNAVAILABLE_MESSAGE
            assert session.state == ConnectionState.ONLINE
        finally:
            session.close()
    finally:
        keyring.set_keyring(previous)


def test_a_saved_session_the_server_refuses_asks_to_sign_in(
    home: Path, memory_keyring: MemoryKeyring, embedded_server: EmbeddedServer
) -> None:
    url = embedded_server.url
    CredentialStore().save_refresh_token(url, DEMO_EMAIL, "no-es-un-token-valido")
    session = DesktopSession(DesktopConfig(server_url=url, last_login=DEMO_EMAIL))
    try:
        result = session.start()
        assert result.needs_sign_in and result.message == EXPIRED_MESSAGE
        assert (service_name(url), DEMO_EMAIL) not in memory_keyring.values  # forgotten
    finally:
        session.close()


def test_a_wrong_password_keeps_the_servers_spanish_reason(
    home: Path, embedded_server: EmbeddedServer
) -> None:
    from cmdesk.services.api_client import ApiError

    session = DesktopSession(DesktopConfig(server_url=embedded_server.url))
    try:
        session.start()
        with pytest.raises(ApiError) as info:
            session.sign_in(DEMO_EMAIL, "equivocada")
        assert info.value.code == "invalid_credentials" and str(info.value)
        assert session.cache is None
    finally:
        session.close()
