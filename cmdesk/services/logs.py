"""The desktop's log: rotating files in the user's log folder (5 files × 2 MB), never a secret.

`setup_logging()` attaches one rotating handler to the root logger (calling it again replaces it) and
returns the file's path, which the Help menu can show. Every record goes through `RedactingFilter`,
which hides what must never reach a file even when some code logs it by mistake: `Authorization`
values (`Bearer …`, `Basic …`), `password=…`/`"password": "…"` and other secret-named fields
(tokens, secrets, keys, NIP), access tokens (three dot-separated base64url parts), refresh tokens
(43 URL-safe characters) and credentials inside URLs. Times are UTC.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import time
from pathlib import Path

from cmdesk.services.paths import log_dir

LOG_FILE = "cmdesk.log"
MAX_BYTES = 2 * 1024 * 1024
BACKUP_COUNT = 5
MASK = "[oculto]"
FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)s [%(threadName)s] %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"

_SECRET_KEY = (
    r"[\w-]*(?:password|passwd|contraseña|secret)[\w-]*|pwd|[\w-]*token|api[_-]?key|authorization|nip"
)
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Credentials inside a URL: https://usuario:clave@servidor
    (re.compile(r"(?<=//)[^/\s:@]+:[^/\s@]+@"), MASK + "@"),
    # Authorization header values (the schemes as HTTP writes them: "token_type": "bearer" is no secret).
    (re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + MASK),
    # key=value, key: value, "key": "value" for secret-named keys.
    (
        re.compile(
            rf"""(?P<key>["']?\b(?:{_SECRET_KEY})\b["']?)(?P<sep>\s*[:=]\s*)"""
            r"""(?P<value>"[^"]*"|'[^']*'|[^\s,;&}\])]+)""",
            re.IGNORECASE,
        ),
        r"\g<key>\g<sep>" + MASK,
    ),
    # Signed access tokens (header.payload.signature).
    (re.compile(r"(?<![\w-])[\w-]{16,}\.[\w-]{16,}\.[\w-]{16,}(?![\w-])"), MASK),
    # Refresh tokens and other 256-bit URL-safe secrets (exactly 43 characters).
    (re.compile(r"(?<![\w-])[A-Za-z0-9_-]{43}(?![\w-])"), MASK),
]


def redact(text: str) -> str:
    """`text` with every secret it seems to contain replaced by `[oculto]`."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record (message, traceback, stack) through `redact` before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as usual
            return True
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class _Handler(logging.handlers.RotatingFileHandler):
    """The handler `setup_logging` installs (so calling it again replaces it, not adds another)."""


def make_formatter() -> logging.Formatter:
    formatter = logging.Formatter(FORMAT, DATE_FORMAT)
    formatter.converter = time.gmtime
    return formatter


def setup_logging(level: int = logging.INFO, folder: Path | None = None) -> Path:
    """Log to `cmdesk.log` in `log_dir()` (or `folder`); returns the file's path."""
    path = (folder or log_dir()) / LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
        old.close()
    handler = _Handler(path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True)
    handler.setLevel(level)
    handler.setFormatter(make_formatter())
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    # Connection-pool chatter would drown the log at INFO.
    logging.getLogger("urllib3").setLevel(max(level, logging.WARNING))
    logging.captureWarnings(True)
    return path
