"""Issue 15: the embedded server's token signing key is kept with the user's other secrets (the
keyring), not in its database; with no keyring the desktop says so and works with a key file only the
user reads. A key an older version kept in the database moves out of it, and its tokens stay valid."""

from __future__ import annotations

import os
from pathlib import Path

import requests
from sqlalchemy import text

from cmdesk.app import SIGNING_KEY_NAME, embedded_default, embedded_signing_secret, start_reference_server
from cmdesk.server import db
from cmdesk.server.embedded import migrate
from cmdesk.server.operations import auth
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD
from cmdesk.services.config import DesktopConfig
from cmdesk.services.credentials import SECRET_IN_FILE_MESSAGE, local_secret_service, secret_file
from cmdesk.services.session import DesktopSession
from tests.services.conftest import MemoryKeyring


def stored_rows(url: str) -> int:
    engine = db.create_db_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM server_secrets")).scalar_one())
    finally:
        engine.dispose()


def sign_in(base: str) -> str:
    answer = requests.post(
        base + "/v1/auth/token", json={"login": DEMO_EMAIL, "password": DEMO_PASSWORD}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def me(base: str, token: str) -> int:
    return requests.get(base + "/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code


def test_the_key_is_in_the_keyring_and_survives_a_restart(
    home: Path, memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    server = start_reference_server(tmp_path)
    try:
        token = sign_in(server.url)
        assert server.notice is None  # type: ignore[attr-defined]
    finally:
        server.stop()
    url = f"sqlite:///{(tmp_path / 'server.sqlite3').as_posix()}"
    key = memory_keyring.values[(local_secret_service(SIGNING_KEY_NAME), "clave")]
    assert stored_rows(url) == 0  # not in the database
    assert key.encode() not in (tmp_path / "server.sqlite3").read_bytes()
    assert not secret_file(SIGNING_KEY_NAME).exists()
    server = start_reference_server(tmp_path)
    try:
        assert me(server.url, token) == 200  # the same key after a restart
    finally:
        server.stop()


def test_a_key_an_older_version_kept_in_the_database_moves_out(
    home: Path, memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    url = f"sqlite:///{(tmp_path / 'server.sqlite3').as_posix()}"
    engine = db.create_db_engine(url)
    try:
        migrate(engine)
        old = auth.load_signing_secret(db.session_factory(engine))  # what an older version made
    finally:
        engine.dispose()
    assert stored_rows(url) == 1
    assert embedded_signing_secret(url) == (old, True)
    assert stored_rows(url) == 0
    assert memory_keyring.values[(local_secret_service(SIGNING_KEY_NAME), "clave")] == old
    assert embedded_signing_secret(url) == (old, True)  # once moved, it stays


def test_without_a_keyring_it_says_so_and_works_with_a_private_key_file(
    home: Path, no_keyring: None
) -> None:
    session = DesktopSession(DesktopConfig(), embedded=embedded_default())
    try:
        result = session.start(sync=False)
        assert (result.needs_sign_in, result.message) == (False, SECRET_IN_FILE_MESSAGE)
        assert session.account() is not None
        folder = session.server_folder()
    finally:
        session.close()
    key_file = secret_file(SIGNING_KEY_NAME)
    assert key_file.exists() and not key_file.is_relative_to(folder)
    if os.name != "nt":
        assert key_file.stat().st_mode & 0o777 == 0o600
    url = f"sqlite:///{(folder / 'server.sqlite3').as_posix()}"
    assert stored_rows(url) == 0
    assert embedded_signing_secret(url) == (key_file.read_text(), False)  # the same key each start
