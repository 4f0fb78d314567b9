"""`DesktopSession.open_saved_account`: the data of the account last used on a server, opened with no
server and no network (what the window shows at start while the session opens)."""

from __future__ import annotations

import threading
from pathlib import Path

from cmdesk.app import embedded_default
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD
from cmdesk.services import paths
from cmdesk.services.config import DesktopConfig
from cmdesk.services.connectivity import ConnectionState
from cmdesk.services.session import SESSION_FILE, DesktopSession, SessionEvent
from tests.services.conftest import MemoryKeyring


def signed_in_once(url: str) -> tuple[str, int]:
    """Sign in to `url` and sync once (as a previous run of the app did); the account id and its
    number of clients."""
    first = DesktopSession(DesktopConfig(server_url=url))
    try:
        first.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
        assert first.account_id is not None and first.cache is not None
        return first.account_id, first.cache.count_clients()
    finally:
        first.close()


def test_nothing_saved_yet_opens_nothing(home: Path) -> None:
    session = DesktopSession(DesktopConfig(), embedded=embedded_default())
    try:
        assert session.open_saved_account() is False
        assert (session.cache, session.outbox, session.account_id) == (None, None, None)
        assert session.server is None and session.api is None  # nothing was started
    finally:
        session.close()


def test_the_saved_account_opens_without_the_server(
    home: Path, memory_keyring: MemoryKeyring, embedded_server: EmbeddedServer
) -> None:
    url = embedded_server.url
    account_id, clients = signed_in_once(url)
    assert clients > 0

    events: list[SessionEvent] = []
    second = DesktopSession(DesktopConfig(server_url=url, last_login=DEMO_EMAIL))
    second.subscribe(events.append)
    try:
        assert second.open_saved_account() is True
        # The cached data, before any request: no API client, no state change, no event.
        assert second.api is None and second.engine is None and events == []
        assert second.account_id == account_id and second.cache is not None
        assert second.cache.count_clients() == clients
        account = second.account()
        assert account is not None and account["email"] == DEMO_EMAIL
        assert second.state == ConnectionState.OFFLINE
        cache, outbox = second.cache, second.outbox
        assert second.open_saved_account() is True and second.cache is cache  # opened once

        # Opening the session keeps those stores (same account) and syncs them.
        result = second.start()
        assert not result.needs_sign_in
        assert second.cache is cache and second.outbox is outbox
        assert second.engine is not None and second.state == ConnectionState.ONLINE
    finally:
        second.close()


def open_saved(session: DesktopSession, go: threading.Barrier, opened: list[bool]) -> None:
    go.wait()
    opened.append(session.open_saved_account())


def test_opening_the_saved_data_while_the_session_starts_opens_one_set_of_stores(
    home: Path, memory_keyring: MemoryKeyring, embedded_server: EmbeddedServer
) -> None:
    """The window runs `open_saved_account` (cache pool) and `start` (network pool) on two threads."""
    url = embedded_server.url
    signed_in_once(url)
    for _ in range(3):
        session = DesktopSession(DesktopConfig(server_url=url, last_login=DEMO_EMAIL))
        try:
            go = threading.Barrier(2)
            opened: list[bool] = []
            reader = threading.Thread(target=open_saved, args=(session, go, opened))
            reader.start()
            go.wait()
            assert not session.start().needs_sign_in
            reader.join(30)
            assert opened == [True]
            assert session.cache is not None and session.cache.count_clients() > 0  # still open, usable
            assert session.outbox is not None and session.outbox.pending_count() == 0
        finally:
            session.close()


def test_a_saved_session_of_an_unreadable_account_opens_nothing(home: Path) -> None:
    session = DesktopSession(DesktopConfig(), embedded=embedded_default())
    folder = paths.server_dir(paths.EMBEDDED_KEY)
    (folder / SESSION_FILE).write_text('{"account_id": "../../elsewhere"}', encoding="utf-8")
    try:
        assert session.open_saved_account() is False
        assert session.cache is None and session.outbox is None
    finally:
        session.close()
    (folder / SESSION_FILE).write_text("not json", encoding="utf-8")
    again = DesktopSession(DesktopConfig(), embedded=embedded_default())
    try:
        assert again.open_saved_account() is False
    finally:
        again.close()
