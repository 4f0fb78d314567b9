"""The link tokens in the pages' URLs never reach the access log."""

from __future__ import annotations

import logging

from cmdesk.server.pages import RedactTokens


def test_tokens_are_redacted_from_access_log_records():
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/cuenta/confirmar?t=SECRETO-abc_123&x=1", "1.1", 200), None,
    )
    assert RedactTokens().filter(record) is True
    line = record.getMessage()
    assert "SECRETO" not in line and "/cuenta/confirmar?t=[oculto]&x=1" in line
