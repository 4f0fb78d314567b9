"""Fixtures for the desktop services, against the REAL reference server running in-process.

- `home`: a temporary `CMDESK_HOME` (every services folder goes under it).
- `memory_keyring`: an in-memory keyring backend installed with `keyring.set_keyring`, restored after;
  `no_keyring`: keyring's `fail` backend (no keyring at all), restored after.
- `embedded_server`: one `EmbeddedServer` per test module, on a temporary SQLite file, migrated and
  seeded with the demo (5 clients) so `DEMO_EMAIL`/`DEMO_PASSWORD` sign in. Tests sharing it must not
  depend on each other's data; `fresh_server` is the same for one test only.
- `api`: an `ApiClient` on `embedded_server`, signed in as the demo distributor (quick retries).
- `auth_state(server)`: the server's `AuthState`, to make it issue short-lived tokens in a test.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import PasswordDeleteError
from sqlalchemy import func, select

from cmdesk.models import OutboundMail
from cmdesk.server import db
from cmdesk.server.api.deps import AuthState
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD, seed_demo
from cmdesk.services.api_client import ApiClient


class MemoryKeyring(KeyringBackend):
    """A keyring that keeps passwords in a dict (tests only)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.values: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.values.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cmdesk-home"
    folder.mkdir()
    monkeypatch.setenv("CMDESK_HOME", str(folder))
    return folder


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def start_server(folder: Path, *, clients_count: int = 5) -> EmbeddedServer:
    """An embedded server on a new SQLite file in `folder`, migrated and seeded with the demo."""
    url = f"sqlite:///{(folder / 'server.db').as_posix()}"
    server = EmbeddedServer(url)
    server.start()
    engine = db.create_db_engine(url)
    try:
        seed_demo(db.session_factory(engine), clients_count=clients_count, software_store=None)
        # The demo's mails are sent in the background, and each sent one changes its distributor
        # («Correo enviado»): tests start once that settled, not with changes landing mid-test.
        if server._app is not None:
            server._app.state.mail.wake()  # the seed queued them from outside the server's requests
        deadline = time.monotonic() + 30
        queued = select(func.count()).select_from(OutboundMail).where(OutboundMail.status.in_(("queued", "sending")))
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if not conn.execute(queued).scalar():
                    break
            time.sleep(0.05)
    finally:
        engine.dispose()
    return server


def auth_state(server: EmbeddedServer) -> AuthState:
    """The running app's auth configuration (tests override token lifetimes through it)."""
    assert server._server is not None
    app: Any = server._server.config.app
    state: AuthState = app.state.auth
    return state


def set_access_token_lifetime(server: EmbeddedServer, lifetime: dt.timedelta) -> None:
    """Make the server issue access tokens of `lifetime` from now on (zero: already expired)."""
    state = auth_state(server)
    state.override(dataclasses.replace(state.config(), access_token_lifetime=lifetime))


@pytest.fixture(scope="module")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    server = start_server(tmp_path_factory.mktemp("embedded"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    server = start_server(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(embedded_server: EmbeddedServer) -> Iterator[ApiClient]:
    client = ApiClient(embedded_server.url, retries=2, backoff=0.01)
    client.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    try:
        yield client
    finally:
        client.close()
