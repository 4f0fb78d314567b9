"""Where a rendered message goes: an SMTP server (STARTTLS, implicit TLS or plain, with login), or
a folder of `.eml` files (the embedded default and the demo, with no SMTP configured).

Standard library `smtplib`: it speaks STARTTLS, implicit TLS and AUTH, and the sender is a plain
thread, so nothing async is needed. A `Connection` is opened once per round of the sender and
reused for every mail of the round.

Failures are sorted for the queue: `TemporaryFailure` (connection refused or lost, timeouts, 4xx
answers, a refused login — the mail waits and is tried again) and `PermanentFailure` (the server
refused the recipient with a 5xx: retrying can't help). The text kept is the server's answer; the
password never appears in it (smtplib does not echo it) and is never logged.
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import ssl
import tempfile
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Protocol

from cmdesk.server.settings import Settings

DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class TemporaryFailure(Exception):
    """Try again later (the text says why, in the server's words when it answered)."""


class PermanentFailure(Exception):
    """Never going to work for this mail (e.g. 550 the mailbox does not exist)."""


class Connection(Protocol):
    def send(self, msg: EmailMessage, to_address: str, file_stem: str) -> None: ...

    def close(self) -> None: ...


class Transport(Protocol):
    description: str

    def open(self) -> Connection: ...


def _answer(exc: smtplib.SMTPResponseException) -> str:
    text = (
        exc.smtp_error.decode("utf-8", "replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    return f"{exc.smtp_code} {text}".strip()[:1000]


class SmtpConnection:
    def __init__(self, client: smtplib.SMTP, mail_from: str) -> None:
        self._client = client
        self._envelope_from = _envelope_address(mail_from)

    def send(self, msg: EmailMessage, to_address: str, file_stem: str) -> None:
        try:
            refused = self._client.send_message(msg, from_addr=self._envelope_from, to_addrs=[to_address])
        except smtplib.SMTPRecipientsRefused as exc:
            code, answer = next(iter(exc.recipients.values()), (0, b""))
            text = f"{code} {answer.decode('utf-8', 'replace')}".strip()[:1000]
            if 500 <= code < 600:
                raise PermanentFailure(f"El servidor de correo rechazó al destinatario: {text}") from None
            raise TemporaryFailure(
                f"El servidor de correo no aceptó al destinatario por ahora: {text}"
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise TemporaryFailure(f"El servidor de correo respondió: {_answer(exc)}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(
                f"Se perdió la conexión con el servidor de correo ({_describe(exc)})."
            ) from None
        if refused:
            code, answer = next(iter(refused.values()))
            raise PermanentFailure(
                f"El servidor de correo rechazó al destinatario: {code} {answer.decode('utf-8', 'replace')}"
            )

    def close(self) -> None:
        try:
            self._client.quit()
        except (smtplib.SMTPException, OSError):
            self._client.close()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}"[:500] if text else type(exc).__name__


def _envelope_address(mail_from: str) -> str:
    from email.utils import parseaddr

    return parseaddr(mail_from)[1]


class SmtpTransport:
    def __init__(self, settings: Settings) -> None:
        assert settings.smtp_host
        self.host = settings.smtp_host
        self.security = settings.smtp_security
        self.port = settings.smtp_port or DEFAULT_PORTS[self.security]
        self.user = settings.smtp_user
        self._password = settings.smtp_password
        self.timeout = settings.smtp_timeout_seconds
        self.ca_file = settings.smtp_ca_file
        self.mail_from = settings.mail_from
        self.description = f"SMTP {self.host}:{self.port} ({self.security})"

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.ca_file is not None:
            context.load_verify_locations(cafile=str(self.ca_file))
        return context

    def open(self) -> Connection:
        client: smtplib.SMTP | None = None
        try:
            if self.security == "tls":
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            client.ehlo()
            if self.security == "starttls":
                client.starttls(context=self._context())
                client.ehlo()
            if self.user:
                password = self._password.get_secret_value() if self._password else ""
                client.login(self.user, password)
        except smtplib.SMTPAuthenticationError as exc:
            _close_quietly(client)
            raise TemporaryFailure(
                f"El servidor de correo no aceptó el usuario y la contraseña configurados: {_answer(exc)}"
            ) from None
        except smtplib.SMTPResponseException as exc:
            _close_quietly(client)
            raise TemporaryFailure(f"El servidor de correo respondió: {_answer(exc)}") from None
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            _close_quietly(client)
            raise TemporaryFailure(
                f"No se pudo conectar con el servidor de correo {self.host}:{self.port} ({_describe(exc)})."
            ) from None
        return SmtpConnection(client, self.mail_from)


def _close_quietly(client: smtplib.SMTP | None) -> None:
    if client is not None:
        with contextlib.suppress(OSError):
            client.close()


class FolderConnection:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, msg: EmailMessage, to_address: str, file_stem: str) -> None:
        """Write `<file_stem>.eml` atomically (a temporary file renamed over it): writing the same
        mail again after a crash replaces the file, never adds a second one."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            data = msg.as_bytes(policy=SMTP_POLICY)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.folder / f"{file_stem}.eml")
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise TemporaryFailure(
                f"No se pudo escribir el correo en {self.folder} ({_describe(exc)})."
            ) from None

    def close(self) -> None:
        pass


class FolderTransport:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.description = f"archivos .eml en {folder}"

    def open(self) -> Connection:
        return FolderConnection(self.folder)


def default_mail_folder(settings: Settings) -> Path:
    """`CMDESK_MAIL_FOLDER`, else `mail` beside a SQLite database file, else in the data folder."""
    if settings.mail_folder is not None:
        return settings.mail_folder
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    if url.drivername.startswith("sqlite") and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / "mail"
    from platformdirs import user_data_path

    return user_data_path("cmdesk", "Induxsoft", roaming=False) / "server" / "mail"


def transport_for(settings: Settings) -> Transport:
    if settings.smtp_host:
        return SmtpTransport(settings)
    return FolderTransport(default_mail_folder(settings))
