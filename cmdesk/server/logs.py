"""What the server's logs may hold: never SQL parameters, passwords, hashes, tokens, NIPs or CTI
passwords (docs/security.md).

- Engines are created with `hide_parameters=True` (`db.create_db_engine`): SQLAlchemy's errors show
  the statement with placeholders only.
- An exception in a log record is replaced by `describe_for_log`: frames and exception types, no
  messages (a database error quotes the value it refused, a validation error the body it read). This
  also covers uvicorn's own "Exception in ASGI application".
- The access log shows paths without their query string.

`install()` sets this up for the process (a log record factory); `create_app` calls it.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

_installed = False


def describe_for_log(exc: BaseException) -> str:
    """Where and what kind of error, without any value: the stack frames, the exception types of the
    chain, and for a database error its SQLSTATE and statement text (placeholders, never parameters)."""
    from sqlalchemy.exc import StatementError

    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = "".join(traceback.format_tb(current.__traceback__))
        line = f"{type(current).__module__}.{type(current).__qualname__}"
        if isinstance(current, StatementError):
            orig = current.orig
            sqlstate = getattr(orig, "sqlstate", None)
            line += f" ({type(orig).__qualname__}, sqlstate {sqlstate}) statement: {current.statement}"
        parts.append(f"Traceback (most recent call last):\n{frames}{line}")
        current = current.__cause__ or current.__context__
    return "\n\nDuring or because of:\n".join(reversed(parts))


# The loggers of the server's stack. The desktop that embeds the server keeps its own logs as they are.
SERVER_LOGGERS = ("cmdesk.server", "uvicorn", "fastapi", "starlette", "sqlalchemy", "psycopg", "asyncio")


def _scrub(record: logging.LogRecord) -> None:
    if not record.name.startswith(SERVER_LOGGERS):
        return
    exc_info = record.exc_info
    if exc_info and isinstance(exc_info, tuple) and exc_info[1] is not None:
        record.msg = f"{record.getMessage()}\n{describe_for_log(exc_info[1])}"
        record.args = None
        record.exc_info = None
        record.exc_text = None
    if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
        args = list(record.args)
        if isinstance(args[2], str):
            args[2] = args[2].split("?", 1)[0]
        record.args = tuple(args)


def install() -> None:
    """Scrub every log record of this process (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _scrub(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
