"""Spanish command lines: `cmdesk --help` and `cmdesk-server --help` (and argparse's errors) in es-MX.

argparse takes its own words (usage, options, help, errors) from `gettext`; no Spanish catalog ships
with Python, so `install()` gives argparse this table before a parser is built. `SpanishArgumentParser`
is what the entry points build: it installs the table and words the help and version options.
"""

from __future__ import annotations

import argparse
from typing import Any

SPANISH: dict[str, str] = {
    "usage: ": "uso: ",
    "options": "opciones",
    "positional arguments": "argumentos",
    "subcommands": "órdenes",
    "show this help message and exit": "mostrar esta ayuda y salir",
    "show program's version number and exit": "mostrar la versión y salir",
    " (default: %(default)s)": " (predeterminado: %(default)s)",
    "%(heading)s:": "%(heading)s:",
    "%(prog)s: error: %(message)s\n": "%(prog)s: error: %(message)s\n",
    "%(prog)s: warning: %(message)s\n": "%(prog)s: aviso: %(message)s\n",
    "ambiguous option: %(option)s could match %(matches)s":
        "opción ambigua: %(option)s puede ser %(matches)s",
    "argument %(argument_name)s: %(message)s": "argumento %(argument_name)s: %(message)s",
    "expected at least one argument": "se esperaba al menos un valor",
    "expected at most one argument": "se esperaba a lo más un valor",
    "expected one argument": "se esperaba un valor",
    "ignored explicit argument %r": "se ignoró el valor %r",
    "invalid %(type)s value: %(value)r": "valor no válido (%(type)s): %(value)r",
    "invalid choice: %(value)r (choose from %(choices)s)":
        "opción no válida: %(value)r (elija entre %(choices)s)",
    "not allowed with argument %s": "no se permite junto con %s",
    "one of the arguments %s is required": "se requiere uno de: %s",
    "the following arguments are required: %s": "faltan estos argumentos obligatorios: %s",
    "unrecognized arguments: %s": "argumentos no reconocidos: %s",
    "unknown parser %(parser_name)r (choices: %(choices)s)":
        "orden desconocida %(parser_name)r (opciones: %(choices)s)",
    "expected %s argument": "se esperaba %s valor",
    "expected %s arguments": "se esperaban %s valores",
}


def _translate(text: str) -> str:
    return SPANISH.get(text, text)


def _ntranslate(singular: str, plural: str, n: int) -> str:
    return _translate(singular if n == 1 else plural)


def install() -> None:
    """Give argparse the Spanish words (before a parser is built: it reads some when built)."""
    argparse._ = _translate  # type: ignore[attr-defined]
    argparse.ngettext = _ntranslate  # type: ignore[attr-defined]


class SpanishArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose help, usage and errors read in Spanish."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        install()
        super().__init__(*args, **kwargs)
