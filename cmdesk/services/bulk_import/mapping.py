"""Which column of the file is which: the CTI (or the client's NIC or RFC), the quantity of stamps, the
amount, «Sin cargo» (a transfer that is no sale: nothing to invoice) and the comment.

`guess` reads the column titles (the template's, and the usual Spanish ways of naming them); the user
corrects the guess once, and the mapping is remembered for files of the same layout (the same column
titles), through the desktop's settings (`desktop.MappingStore`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Column(StrEnum):
    CTI = "cti"
    CLIENT = "client"
    QUANTITY = "quantity"
    AMOUNT = "amount"
    NO_CHARGE = "no_charge"
    COMMENT = "comment"


COLUMN_LABELS: dict[Column, str] = {
    Column.CTI: "Cuenta de timbrado (CTI)",
    Column.CLIENT: "Cliente (NIC o RFC)",
    Column.QUANTITY: "Cantidad de timbres",
    Column.AMOUNT: "Importe con IVA",
    Column.NO_CHARGE: "Sin cargo (no es una venta)",
    Column.COMMENT: "Comentario",
}

# The titles of the template (`template.write_template`), in its order.
TEMPLATE_TITLES: dict[Column, str] = {
    Column.CTI: "CTI",
    Column.CLIENT: "NIC o RFC del cliente",
    Column.QUANTITY: "Cantidad",
    Column.AMOUNT: "Importe",
    Column.NO_CHARGE: "Sin cargo",
    Column.COMMENT: "Comentario",
}

# Folded titles (see `fold_title`) each column is recognised by, the best first.
_TITLES: dict[Column, tuple[str, ...]] = {
    Column.CTI: (
        "cti",
        "cuenta de timbrado",
        "id cti",
        "id de la cti",
        "cuenta timbrado",
        "id cuenta de timbrado",
        "cuenta",
    ),
    Column.CLIENT: (
        "nic o rfc del cliente",
        "nic o rfc",
        "cliente",
        "nic",
        "rfc",
        "rfc del cliente",
        "nic del cliente",
    ),
    Column.QUANTITY: ("cantidad", "timbres", "cantidad de timbres", "cant", "piezas", "unidades"),
    Column.AMOUNT: ("importe", "importe con iva", "monto", "total", "precio", "importe total", "venta"),
    Column.NO_CHARGE: ("sin cargo", "sin cargo no es una venta", "no charge", "cortesia", "obsequio"),
    Column.COMMENT: (
        "comentario",
        "comentarios",
        "concepto",
        "nota",
        "notas",
        "observaciones",
        "descripcion",
    ),
}


def fold_title(title: str) -> str:
    """A title as it is compared: lower case, no accents, no punctuation, single spaces."""
    text = unicodedata.normalize("NFKD", title.casefold())
    text = "".join(c if c.isalnum() else " " for c in text if not unicodedata.combining(c))
    return " ".join(text.split())


def layout_key(headers: Sequence[str]) -> str:
    """What files of one layout share: their folded column titles, in order."""
    return "|".join(fold_title(h) for h in headers)


class MappingError(Exception):
    def __init__(self, messages: list[str]) -> None:
        super().__init__(" ".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class ColumnMapping:
    """Column → the title of the file's column that holds it (a title, not a position: the same
    mapping serves a file whose columns were reordered)."""

    columns: Mapping[Column, str] = field(default_factory=dict)

    def title(self, column: Column) -> str | None:
        return self.columns.get(column)

    def problems(self, headers: Sequence[str]) -> list[str]:
        """What keeps this mapping from reading a file with `headers`, in Spanish (empty: usable)."""
        out = []
        if Column.QUANTITY not in self.columns:
            out.append("Indique la columna con la cantidad de timbres.")
        if Column.CTI not in self.columns and Column.CLIENT not in self.columns:
            out.append("Indique la columna de la cuenta de timbrado (CTI) o la del cliente (NIC o RFC).")
        for column, title in self.columns.items():
            if title not in headers:
                out.append(f"El archivo no tiene la columna «{title}» ({COLUMN_LABELS[column]}).")
        seen: dict[str, Column] = {}
        for column, title in self.columns.items():
            if title in seen:
                out.append(
                    f"La columna «{title}» está asignada a {COLUMN_LABELS[seen[title]]} "
                    f"y a {COLUMN_LABELS[column]}."
                )
            seen[title] = column
        return out

    def check(self, headers: Sequence[str]) -> None:
        problems = self.problems(headers)
        if problems:
            raise MappingError(problems)

    def to_json(self) -> dict[str, str]:
        return {column.value: title for column, title in self.columns.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> ColumnMapping:
        known = {c.value for c in Column}
        return cls({Column(k): v for k, v in data.items() if k in known})


def guess(headers: Sequence[str]) -> ColumnMapping:
    """The mapping the titles suggest; each column of the file serves one field at most."""
    folded = [fold_title(h) for h in headers]
    taken: set[int] = set()
    found: dict[Column, str] = {}
    for column in Column:
        for candidate in _TITLES[column]:
            index = next((i for i, f in enumerate(folded) if f == candidate and i not in taken), None)
            if index is not None:
                found[column] = headers[index]
                taken.add(index)
                break
    return ColumnMapping(found)
