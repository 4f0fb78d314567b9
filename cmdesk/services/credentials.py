"""The saved session: each server's refresh token in the operating system's keyring, never in a file.

On Windows that is the Credential Manager (one generic credential per server and login). Where no real
keyring exists (`keyring.backends.fail`, `keyring.backends.null`, or a backend that errors), the store
is *unavailable*: saving raises `CredentialStoreUnavailable` with a Spanish message the desktop shows,
loading finds nothing, deleting does nothing, and the user signs in each time the app opens.

A credential is named after the server's normalized URL (`cmdesk:https://cm.example.mx`) so one token
never goes to another server; the login is the user name. Values must fit Windows' credential blob
(2,560 bytes, stored as UTF-16): larger ones are refused, never cut.

`local_secret(name, fallback)` keeps a random secret of this computer's user (the key that seals the
top-up codes' NIPs in the cache, the embedded server's token signing key) in the same keyring; where
none is usable it goes to the file `fallback`, readable only by the user, and the answer says so
(`KeptSecret.in_keyring`) for the desktop to tell. A secret found in the file once the keyring works
again moves into the keyring and the file is deleted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import keyring
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.errors import PasswordDeleteError

from cmdesk.services import paths
from cmdesk.services.paths import normalize_url

log = logging.getLogger(__name__)

SERVICE_PREFIX = "cmdesk:"
# CRED_MAX_CREDENTIAL_BLOB_SIZE of Windows; keyring stores the text as UTF-16.
MAX_SECRET_BYTES = 2560

UNAVAILABLE_MESSAGE = (
    "No hay un almacén seguro de contraseñas en este equipo; cmdesk no puede recordar la sesión y "
    "le pedirá iniciar sesión cada vez que lo abra."
)
TOO_LARGE_MESSAGE = "El dato es demasiado grande para el almacén de contraseñas del sistema."


# The keyring's user name of the local secrets (`local_secret`); their service is `service_name(name)`.
SECRET_USER = "clave"
SECRET_IN_FILE_MESSAGE = (
    "No hay un almacén seguro de contraseñas en este equipo: las claves de cmdesk se guardan en "
    "archivos que sólo su usuario puede leer."
)


@dataclass(frozen=True)
class KeptSecret:
    value: str
    # False: no usable keyring, the secret is in its fallback file (readable only by the user).
    in_keyring: bool


def new_secret() -> str:
    """256 random bits as URL-safe text (43 characters)."""
    return secrets.token_urlsafe(32)


def _read_secret_file(path: Path) -> str | None:
    try:
        value = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return value or None


def _write_secret_file(path: Path, value: str) -> str:
    """Write `value` to a new file readable only by the user; when another process made it first,
    its value wins (returned)."""
    paths.private_folder(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, paths.PRIVATE_FILE_MODE)
    except FileExistsError:
        existing = _read_secret_file(path)
        if existing is not None:
            return existing
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, paths.PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(value)
        out.flush()
        os.fsync(out.fileno())
    paths.private_file(path)
    return value


class CredentialStoreUnavailable(Exception):
    """The session cannot be remembered on this computer."""

    def __init__(self, message: str = UNAVAILABLE_MESSAGE) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class SecretTooLarge(CredentialStoreUnavailable):
    """The value does not fit a Windows credential (over `MAX_SECRET_BYTES` as UTF-16)."""

    def __init__(self, message: str = TOO_LARGE_MESSAGE) -> None:
        super().__init__(message)


def service_name(server_url: str) -> str:
    """The keyring service of a server: its normalized URL (or a bare key such as `embedded`)."""
    value = server_url.strip()
    return SERVICE_PREFIX + (normalize_url(value) if "://" in value else value)


def user_name(login: str) -> str:
    value = login.strip()
    return value.lower() if "@" in value else value


def secret_size(value: str) -> int:
    """Bytes the value takes in a Windows credential."""
    return len(value.encode("utf-16-le"))


def _usable(backend: KeyringBackend) -> bool:
    if isinstance(backend, fail.Keyring | null.Keyring):
        return False
    if isinstance(backend, chainer.ChainerBackend):
        return any(_usable(b) for b in backend.backends)
    return True


class CredentialStore:
    """Refresh tokens per (server, login). `backend` fixes the keyring backend (default: keyring's
    current one, read on every call so `keyring.set_keyring` takes effect)."""

    def __init__(self, backend: KeyringBackend | None = None) -> None:
        self._fixed = backend

    def _backend(self) -> KeyringBackend:
        return self._fixed if self._fixed is not None else keyring.get_keyring()

    def available(self) -> bool:
        try:
            return _usable(self._backend())
        except Exception:
            log.warning("the keyring backend could not be loaded", exc_info=True)
            return False

    def save_refresh_token(self, server_url: str, login: str, token: str) -> None:
        """Remember `token`; raises `CredentialStoreUnavailable` (or `SecretTooLarge`)."""
        if secret_size(token) > MAX_SECRET_BYTES:
            raise SecretTooLarge()
        if not self.available():
            raise CredentialStoreUnavailable()
        try:
            self._backend().set_password(service_name(server_url), user_name(login), token)
        except Exception as exc:
            # Any failure of the OS store (keyring errors, Windows API errors) means "unavailable".
            log.warning("the keyring refused to save a credential (%s)", type(exc).__name__)
            raise CredentialStoreUnavailable() from exc

    def load_refresh_token(self, server_url: str, login: str) -> str | None:
        """The saved token, or None (nothing saved, or no usable keyring)."""
        if not self.available():
            return None
        try:
            value = self._backend().get_password(service_name(server_url), user_name(login))
        except Exception as exc:
            log.warning("the keyring could not be read (%s)", type(exc).__name__)
            return None
        return value or None

    def delete(self, server_url: str, login: str) -> None:
        """Forget the saved token (nothing saved is fine)."""
        if not self.available():
            return
        try:
            self._backend().delete_password(service_name(server_url), user_name(login))
        except PasswordDeleteError:
            pass
        except Exception as exc:
            log.warning("the keyring could not delete a credential (%s)", type(exc).__name__)

    def local_secret(self, name: str, fallback: Path, *, adopt: str | None = None) -> KeptSecret:
        """The secret `name` of this computer's user, made the first time (see the module docstring).
        `adopt`: the value to keep when none is stored yet (a secret moved here from elsewhere).
        Raises OSError only when neither the keyring nor the fallback file can keep it."""
        if self.available():
            backend, service = self._backend(), local_secret_service(name)
            try:
                value = backend.get_password(service, SECRET_USER)
                if not value:
                    value = _read_secret_file(fallback) or adopt or new_secret()
                    backend.set_password(service, SECRET_USER, value)
                    if backend.get_password(service, SECRET_USER) != value:
                        raise OSError("the keyring did not keep the secret")
                with contextlib.suppress(OSError):
                    fallback.unlink(missing_ok=True)
                return KeptSecret(value, True)
            except Exception as exc:
                log.warning("the keyring could not keep the secret %s (%s)", name, type(exc).__name__)
        value = _read_secret_file(fallback) or _write_secret_file(fallback, adopt or new_secret())
        log.warning("no usable keyring: the secret %s is kept in %s", name, fallback)
        return KeptSecret(value, False)


def local_secret_service(name: str) -> str:
    """The keyring service of a local secret (`cmdesk:key:cache`): never a server's URL."""
    return SERVICE_PREFIX + "key:" + name


def secret_file(name: str) -> Path:
    """Where `local_secret` keeps `name` when no keyring is usable."""
    return paths.config_dir() / "keys" / f"{name}.key"
