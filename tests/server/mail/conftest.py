"""A real SMTP server in the test process (aiosmtpd), and the reference server on real HTTP over the
test database, sending its mails to it."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import Engine

from cmdesk.devtools.postgres import free_port
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.settings import Settings

SMTP_USER = "remitente@cm.test"
SMTP_PASSWORD = "clave-smtp-secreta-123"


class Recorder:
    """The aiosmtpd handler: keeps every accepted message; can refuse, fail for now, or run a hook
    when a message's data arrives (before answering)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.mode = "accept"  # "accept" | "tempfail" | "reject_rcpt"
        self.on_data: Callable[[EmailMessage], str | None] | None = None
        self.delay = 0.0
        self.logins: list[str] = []
        self._lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.mode == "reject_rcpt":
            return "550 5.1.1 El buzón no existe"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.mode == "tempfail":
            return "451 4.3.0 Servidor ocupado, intente más tarde"
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        if self.on_data is not None:
            answer = self.on_data(msg)
            if answer is not None:
                return answer
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            self.messages.append(msg)
        return "250 2.0.0 Aceptado"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


class SmtpServer:
    def __init__(self, recorder: Recorder, port: int, **kwargs: Any) -> None:
        self.recorder = recorder
        self.port = port
        self._kwargs = kwargs
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port, **self._kwargs)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.recorder.messages


def authenticator(recorder: Recorder) -> Callable[..., AuthResult]:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            if user == SMTP_USER and password == SMTP_PASSWORD:
                recorder.logins.append(user)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    return check


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A plain SMTP server on a free loopback port (no TLS, no login)."""
    server = SmtpServer(Recorder(), free_port())
    server.start()
    yield server
    server.stop()


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def smtp_settings(engine: Engine, smtp: SmtpServer, tmp_path: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": engine.url.render_as_string(hide_password=False),
        "software_store": tmp_path / "files",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_security": "none",
        "mail_from": "Cuenta Maestra <no-responder@cm.test>",
        "mail_poll_seconds": 0.2,
        "mail_retry_seconds": 0.2,
        "consume_fast_path": False,
        **extra,
    }
    return Settings(**values)


@pytest.fixture
def live(engine: Engine, smtp: SmtpServer, tmp_path: Path) -> Iterator[EmbeddedServer]:
    """The server on real HTTP (loopback) over the test database, its sender mailing `smtp`."""
    server = EmbeddedServer(
        "", engine=engine, settings=smtp_settings(engine, smtp, tmp_path), prepare=None
    )
    server.start()
    yield server
    server.stop()


LINK = re.compile(r"(https?://\S+/cuenta/\S+\?t=[A-Za-z0-9_\-]+)")


def link_of(msg: EmailMessage) -> str:
    """The link of a mail, from its plain-text part (what a person copies)."""
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    found = LINK.findall(body.get_content())
    assert found, body.get_content()
    return str(found[0])


def html_of(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())


HIDDEN_TOKEN = re.compile(r'<input type="hidden" name="t" value="([^"]+)">')


def follow(link: str, **fields: str) -> requests.Response:
    """Open the link (GET: changes nothing), then post its form as a browser would."""
    http = requests.Session()
    http.trust_env = False
    page = http.get(link, timeout=30)
    assert page.status_code == 200, page.text
    token = HIDDEN_TOKEN.search(page.text)
    assert token is not None, page.text
    action = link.split("?", 1)[0]
    return http.post(action, data={"t": token.group(1), **fields}, timeout=30)


def sign_in(url: str, login: str, password: str) -> requests.Response:
    return requests.post(f"{url}/v1/auth/token", json={"login": login, "password": password}, timeout=30)


NOW = dt.datetime(2026, 12, 1, 18, 0, tzinfo=dt.UTC)
