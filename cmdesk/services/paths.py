"""Where the desktop keeps its files: data, logs and configuration, and one folder per server.

The folders are the user's *local* (not roaming) platformdirs folders: on Windows
`%LOCALAPPDATA%\\Induxsoft\\cmdesk` (the cache and outbox must not travel with a roaming profile).
When the environment variable `CMDESK_HOME` names a folder, it replaces every root (`data/`, `logs/`,
`config/` inside it): tests and portable installs use it. Every function creates its folder.

Each server the desktop talks to gets its own folder under `data_dir()/servers/<key>`, so the cache and
outbox of one server never mix with another's. The embedded server's key is `EMBEDDED_KEY`; a central
server's is `server_key(url)`: a readable host part plus a short hash of the normalized URL, made only
of characters every Windows file system accepts.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs

APP_NAME = "cmdesk"
APP_AUTHOR = "Induxsoft"
HOME_ENV = "CMDESK_HOME"
EMBEDDED_KEY = "embedded"

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_PART_MAX = 40


def _home() -> Path | None:
    value = os.environ.get(HOME_ENV, "").strip()
    if not value:
        return None
    return Path(value).expanduser().resolve()


def _ensure(path: Path) -> Path:
    return private_folder(path)


# Owner-only (issue 15): the cache holds clients' data, the outbox pending changes, the embedded
# server's database its accounts. On POSIX the folders are 0700 and the files 0600, so no other user
# of the computer can read them. On Windows these functions change nothing: the folders live under
# the user's own %LOCALAPPDATA%, which Windows already lets only that user (and administrators) open.
PRIVATE_FOLDER_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_folder(path: Path) -> Path:
    """Create `path` (and its parents) if needed, readable only by the user (see above)."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER_MODE)
    if os.name != "nt":
        with contextlib.suppress(OSError):  # a folder of someone else's (a shared CMDESK_HOME): leave it
            if path.stat().st_mode & 0o077:
                path.chmod(PRIVATE_FOLDER_MODE)
    return path


def private_file(path: Path) -> Path:
    """Make an existing file readable and writable only by the user (see above)."""
    if os.name != "nt":
        with contextlib.suppress(OSError):
            if path.stat().st_mode & 0o077:
                path.chmod(PRIVATE_FILE_MODE)
    return path


def data_dir() -> Path:
    """The desktop's data folder (caches, outboxes, the embedded server's database)."""
    home = _home()
    if home is not None:
        return _ensure(home / "data")
    return _ensure(platformdirs.user_data_path(APP_NAME, APP_AUTHOR, roaming=False))


def log_dir() -> Path:
    """Where the rotating log files go."""
    home = _home()
    if home is not None:
        return _ensure(home / "logs")
    return _ensure(platformdirs.user_log_path(APP_NAME, APP_AUTHOR))


def config_dir() -> Path:
    """Where `config.json` lives (never a secret: those go to the OS keyring)."""
    home = _home()
    if home is not None:
        return _ensure(home / "config")
    return _ensure(platformdirs.user_config_path(APP_NAME, APP_AUTHOR, roaming=False))


def server_dir(server_key: str) -> Path:
    """The folder of one server (`EMBEDDED_KEY` or a `server_key(url)`)."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{0,80}", server_key) or server_key.endswith("."):
        raise ValueError(f"not a server key: {server_key!r}")
    return _ensure(data_dir() / "servers" / server_key)


def normalize_url(url: str) -> str:
    """The URL as one server is known by: scheme and host in lower case, no default port, no trailing
    slash, no query or fragment (so `HTTPS://Cm.Example.mx:443/` and `https://cm.example.mx` match)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        port = parts.port
    except ValueError:
        port = None
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    return f"{scheme}://{netloc}{path}"


def server_key(url: str) -> str:
    """A short, stable, Windows-safe folder name for the server at `url`, e.g.
    `cm.example.mx-8443-1f2e3d4c5b6a`."""
    normalized = normalize_url(url)
    parts = urlsplit(normalized)
    readable = (parts.hostname or "server").lower()
    with contextlib.suppress(UnicodeError):
        readable = readable.encode("idna").decode("ascii")  # ñandú.mx → xn--and-6ma2c.mx
    if parts.port is not None:
        readable += f"-{parts.port}"
    readable = re.sub(r"[^a-z0-9.\-]+", "-", readable).strip(".-")[:_HOST_PART_MAX].strip(".-") or "server"
    digest = hashlib.sha256(normalized.encode("utf-8")).hexdigest()[:12]
    return f"{readable}-{digest}"
