"""The reference server running inside another process (the desktop's embedded default, and tests).

    server = EmbeddedServer("sqlite:///C:/Users/ana/AppData/Local/Induxsoft/cmdesk/server/cmdesk-server.db")
    server.start()          # a free loopback port; returns when /v1/health answers
    api = ApiClient(server.url)
    ...
    server.stop()

The database is migrated first (Alembic), so a file made by an older version is upgraded; a
database already at the head revision (every start but the first after an update) skips Alembic.

Mail: without an SMTP host in the settings, the sender writes every mail as an `.eml` file to
`mail/` beside the SQLite file (`CMDESK_MAIL_FOLDER` changes it), links pointing at this server,
and `/v1/demo/mails` lists them for the signed-in user (the desktop's "Correo de prueba").
uvicorn runs in a daemon thread with its own event loop; the socket is bound before the thread
starts, so the port is known at once and no other program can take it meanwhile.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import uvicorn
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from cmdesk.server import db
from cmdesk.server.settings import Settings

log = logging.getLogger(__name__)


# The migrations' own files (cmdesk.server.migrations imports Alembic; this path does not).
VERSIONS = Path(db.__file__).resolve().parent / "migrations" / "versions"
_REVISION = re.compile(r"""^revision\s*(?::[^=\n]*)?=\s*["']([^"'\n]+)["']\s*$""", re.MULTILINE)
_DOWN_REVISION = re.compile(
    r"""^down_revision\s*(?::[^=\n]*)?=\s*(?:None|["']([^"'\n]+)["'])\s*$""", re.MULTILINE
)


def head_revision(folder: Path | None = None) -> str | None:
    """The one head of the migrations in `folder` (`VERSIONS`), read from their text (no Alembic).
    None unless the history is a plain line every file of which states `revision = "…"` and
    `down_revision = "…"` (or None) as the template writes them: a merge, a branch or anything else
    is left to Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for file in (folder or VERSIONS).glob("*.py"):
        if file.name.startswith("__"):
            continue
        try:
            source = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        revision, down = _REVISION.findall(source), _DOWN_REVISION.findall(source)
        if len(revision) != 1 or len(down) != 1 or revision[0] in revisions:
            return None
        revisions.add(revision[0])
        if down[0]:
            parents.add(down[0])
    heads = revisions - parents
    if len(heads) != 1 or not parents <= revisions:
        return None
    return heads.pop()


def database_revision(engine: Engine) -> str | None:
    """The revision Alembic recorded in the database (`alembic_version`); None when there is none
    (a new file) or it can't be read."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).fetchall()
    except SQLAlchemyError:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def migrate(engine: Engine) -> None:
    """Bring the database to the current schema with the Alembic migrations (a fresh file, or one an
    older version created). A database already at the head revision, the usual start, is left as it
    is without importing Alembic (a tenth of a second of the desktop's start)."""
    head = head_revision()
    if head is not None and database_revision(engine) == head:
        log.debug("database already at revision %s", head)
        return
    from cmdesk.server import migrations

    migrations.upgrade(engine.url.render_as_string(hide_password=False))


class EmbeddedServer:
    def __init__(
        self,
        database_url: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        settings: Settings | None = None,
        engine: Engine | None = None,
        prepare: Callable[[Engine], None] | None = migrate,
        log_level: str = "warning",
        background_delay: float = 0.0,
    ) -> None:
        self.database_url = database_url
        self.host = host
        self.port = port
        self._settings = settings
        self._engine = engine
        self._prepare = prepare
        self._log_level = log_level
        # The mail sender's and the alert evaluator's first round wait this long (seconds).
        self._background_delay = background_delay
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._app: Any = None
        self._owns_engine = engine is None
        # What the desktop should tell the user about this server (e.g. where its key is kept).
        self.notice: str | None = None

    @property
    def url(self) -> str:
        if self._socket is None:
            raise RuntimeError("the embedded server is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 30.0) -> str:
        """Start serving and wait until `/v1/health` answers; returns the base URL."""
        if self.running:
            return self.url
        from cmdesk.server.app import create_app

        # The embedded default shows its API documentation (/docs): it listens on loopback only.
        settings = self._settings or Settings(database_url=self.database_url, api_docs=True)
        if not settings.smtp_host:
            # No SMTP: mails go to .eml files (`mail` beside the database) and the desktop lists
            # them through /v1/demo/mails (or reads that folder itself).
            settings = settings.model_copy(update={"mail_viewer": True})
        if self._engine is None:
            self._engine = db.create_db_engine(self.database_url)
        if self._prepare is not None:
            self._prepare(self._engine)
        app = create_app(settings, engine=self._engine)

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        self._socket = sock
        self.port = sock.getsockname()[1]

        # Our protocol sets TCP_NODELAY: this socket's `proto` is 0, so asyncio would not (see
        # cmdesk.server.http_protocol), and every answer would wait ~40 ms for a delayed ACK.
        config = uvicorn.Config(
            app,
            log_level=self._log_level,
            access_log=False,
            lifespan="off",
            http="cmdesk.server.http_protocol:NoDelayHTTPProtocol",
            ws="none",  # the API has no websockets: don't import websockets/wsproto at each start
        )
        # uvicorn leaves signals alone outside the main thread: they stay the host application's.
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="cmdesk-embedded-server", daemon=True
        )
        self._thread.start()
        # lifespan is off (the host owns signals and the loop): start the mail sender here, with
        # this server's own address in the links when no public one is configured.
        self._app = app
        if settings.mail_sender:
            app.state.mail.start(base_url=settings.public_base_url or self.url, delay=self._background_delay)
        # ...and the low-balance alert evaluator, so alerts are raised offline too (the desktop's own
        # server is where its data is authoritative).
        if app.state.alert_evaluator is not None:
            app.state.alert_evaluator.start(delay=self._background_delay)

        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        with requests.Session() as http:
            http.trust_env = False  # never through a proxy: this is loopback
            while time.monotonic() < deadline:
                if not self._thread.is_alive():
                    self._close_socket()
                    raise RuntimeError("the embedded server stopped while starting; see the log")
                try:
                    if http.get(self.url + "/v1/health", timeout=2).status_code == 200:
                        log.info("embedded server listening on %s", self.url)
                        return self.url
                except requests.RequestException as exc:
                    last_error = exc
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"the embedded server did not answer within {timeout:.0f} s ({last_error})")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (open connections get `timeout` seconds to finish)."""
        if self._app is not None:
            if self._app.state.alert_evaluator is not None:
                self._app.state.alert_evaluator.stop()
            self._app.state.mail.stop()
            self._app = None
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout)
        self._thread = None
        self._server = None
        self._close_socket()
        if self._owns_engine and self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _close_socket(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
