"""Logs: rotating files in log_dir, and no secret ever written to them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmdesk.services import logs
from cmdesk.services.logs import MASK, RedactingFilter, redact, setup_logging

REFRESH = "Xq3v9Zr1T0kPz8mWc7Ls5Nd4Fb2Hj6Ga1Ye0Ru9Io8U"  # 43 URL-safe characters, like a real one
ACCESS = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhYmMiLCJleHAiOjE3MDB9.c2lnbmF0dXJlLXRoYXQtaXMtbG9uZw"
)


@pytest.fixture
def logged(home: Path) -> Iterator[Path]:
    root = logging.getLogger()
    level = root.level
    path = setup_logging(logging.DEBUG)
    try:
        yield path
    finally:
        for handler in [h for h in root.handlers if isinstance(h, logs._Handler)]:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)


def written(path: Path) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return path.read_text(encoding="utf-8")


def test_writes_to_the_log_folder(logged: Path, home: Path) -> None:
    assert logged == home / "logs" / "cmdesk.log"
    logging.getLogger("cmdesk.test").info("sincronización terminada: %d cambios", 12)
    text = written(logged)
    assert "INFO" in text and "cmdesk.test: sincronización terminada: 12 cambios" in text
    assert "Z " in text.splitlines()[0]  # UTC times


def test_rotates_at_two_megabytes_keeping_five(logged: Path) -> None:
    handler = next(h for h in logging.getLogger().handlers if isinstance(h, logs._Handler))
    assert (handler.maxBytes, handler.backupCount) == (2 * 1024 * 1024, 5)
    handler.maxBytes = 2000  # rotate quickly for the test
    log = logging.getLogger("cmdesk.test")
    for i in range(400):
        log.info("línea %04d %s", i, "x" * 60)
    files = sorted(p.name for p in logged.parent.iterdir())
    assert files == ["cmdesk.log", *(f"cmdesk.log.{i}" for i in range(1, 6))]


def test_calling_it_again_does_not_duplicate_lines(logged: Path) -> None:
    setup_logging(logging.DEBUG)
    logging.getLogger("cmdesk.test").warning("una vez")
    assert written(logged).count("una vez") == 1


@pytest.mark.parametrize(
    ("message", "args", "secret"),
    [
        ("headers: %s", ({"Authorization": f"Bearer {ACCESS}"},), ACCESS),
        ("Authorization: Bearer %s", ("abc.def-ghi",), "abc.def-ghi"),
        ("stamping with Basic %s", ("QTMxMTMwNzU6c2VjcmV0bw==",), "QTMxMTMwNzU6c2VjcmV0bw=="),
        ("login body %s", ({"login": "ana@example.mx", "password": "MiClave#2024"},), "MiClave#2024"),
        ("form: login=ana&password=%s&x=1", ("hunter22",), "hunter22"),
        ("cti password=%s", ("S3creto!",), "S3creto!"),
        ("nueva contraseña: %s", ("Tacos123",), "Tacos123"),
        ("refresh %s", ({"refresh_token": "corto"},), "corto"),
        ("saved token %s for ana", (REFRESH,), REFRESH),
        ("answer %s", ({"access_token": ACCESS, "token_type": "bearer"},), ACCESS),
        ("GET %s", ("https://ana:PaseSecreto@cm.example.mx/v1/me",), "PaseSecreto"),
        ("nip=%s", ("4821",), "4821"),
    ],
)
def test_secrets_are_never_written(logged: Path, message: str, args: tuple[object, ...], secret: str) -> None:
    logging.getLogger("cmdesk.services.api_client").info(message, *args)
    text = written(logged)
    assert secret not in text
    assert MASK in text


def test_secrets_in_tracebacks_are_hidden(logged: Path) -> None:
    try:
        raise ValueError(f"token rechazado: refresh_token={REFRESH}")
    except ValueError:
        logging.getLogger("cmdesk").exception("falló con Bearer %s", ACCESS)
    text = written(logged)
    assert REFRESH not in text and ACCESS not in text
    assert "ValueError: token rechazado" in text


def test_ordinary_text_is_untouched() -> None:
    for text in [
        "cliente 3f2a9c0e1b7d4e5f8a6b2c1d0e9f8a7b actualizado (versión 4)",
        "CTI A3113075036B40AC8774BFADACEF00D2: 1,500 timbres",
        "GET https://cm.example.mx/v1/sync/changes?cursor=abc&limit=500 -> 200",
        "token_type=bearer expires_in=900",
        "archivo C:\\Users\\ana\\AppData\\Local\\Induxsoft\\cmdesk\\cmdesk.log",
    ]:
        assert redact(text) == text


def test_the_filter_works_on_any_handler() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "password=%s", ("abc",), None)
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == f"password={MASK}"
