"""`cmdesk --help` and `cmdesk-server --help` (and argparse's errors) read in Spanish (issue 14)."""

from __future__ import annotations

import pytest

from cmdesk.server.cli import build_parser as server_parser


def test_server_help_and_errors_in_spanish(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        server_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("uso: cmdesk-server") and "opciones:" in out and "mostrar esta ayuda y salir" in out
    assert "usage:" not in out and "show this help" not in out
    with pytest.raises(SystemExit):
        server_parser().parse_args(["servir"])
    err = capsys.readouterr().err
    assert "opción no válida: 'servir' (elija entre" in err


def test_desktop_help_in_spanish(capsys: pytest.CaptureFixture[str]) -> None:
    from cmdesk.ui.app import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("uso: cmdesk") and "mostrar la versión y salir" in out
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--no-existe"])
    assert "argumentos no reconocidos: --no-existe" in capsys.readouterr().err
