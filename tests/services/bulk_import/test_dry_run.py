"""The dry run: each row checked (target, quantity, amount, comment, repeats) with Spanish reasons and
the spreadsheet's row numbers, the balances row by row, the totals, and exclusions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cmdesk.services.bulk_import import Column, ColumnMapping, MappingError, dry_run, read_sheet

MAPPING = ColumnMapping(
    {
        Column.CTI: "CTI",
        Column.CLIENT: "Cliente",
        Column.QUANTITY: "Cantidad",
        Column.AMOUNT: "Importe",
        Column.COMMENT: "Comentario",
    }
)


class FakeDirectory:
    """A distributor's cache in miniature."""

    def __init__(self, available: int = 1000) -> None:
        self.available = available
        self.clients = {
            "c1": {"id": "c1", "nic": "101", "rfc": "EKU9003173C9", "name": "Uno"},
            "c2": {"id": "c2", "nic": "102", "rfc": "GODE561231GR8", "name": "Dos"},
            "c3": {"id": "c3", "nic": "103", "rfc": "GODE561231GR8", "name": "Tres"},
            "c4": {"id": "c4", "nic": "104", "rfc": "XAXX010101000", "name": "Cuatro"},
            "c5": {"id": "c5", "nic": "105", "rfc": "MOSA800101AB1", "name": "Cinco"},
        }
        self.ctis = {
            "CTI1": {"id": "CTI1", "client_id": "c1", "kind": "standard", "active": True, "balance": 10},
            "CTI2": {"id": "CTI2", "client_id": "c2", "kind": "standard", "active": True, "balance": 0},
            "ILIM": {"id": "ILIM", "client_id": "c2", "kind": "unlimited", "active": True, "balance": None},
            "BLOQ": {"id": "BLOQ", "client_id": "c3", "kind": "standard", "active": False, "balance": 5},
            "C4A": {"id": "C4A", "client_id": "c4", "kind": "standard", "active": True, "balance": 0},
            "C4B": {"id": "C4B", "client_id": "c4", "kind": "standard", "active": True, "balance": 0},
        }
        self.applied: set[tuple[str, int, int]] = set()

    def stamping_account(self, cti_id: str) -> dict[str, Any] | None:
        return self.ctis.get(cti_id)

    def client(self, client_id: str) -> dict[str, Any] | None:
        return self.clients.get(client_id)

    def clients_by_nic(self, nic: str) -> list[dict[str, Any]]:
        return [c for c in self.clients.values() if c["nic"] == nic]

    def clients_by_rfc(self, rfc: str) -> list[dict[str, Any]]:
        return [c for c in self.clients.values() if c["rfc"] == rfc]

    def stamping_accounts_of(self, client_id: str) -> list[dict[str, Any]]:
        return [c for c in self.ctis.values() if c["client_id"] == client_id]

    def available_stamps(self) -> int:
        return self.available

    def applied_before(self, cti_id: str, quantity: int, amount_cents: int) -> str | None:
        return (
            "«octubre.xlsx» el 31/10/2026 12:00" if (cti_id, quantity, amount_cents) in self.applied else None
        )


def sheet_of(tmp_path: Path, rows: list[list[str]]) -> Any:
    lines = ["CTI;Cliente;Cantidad;Importe;Comentario"] + [";".join(r) for r in rows]
    path = tmp_path / "recargas.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return read_sheet(path)


def errors_by_row(run: Any) -> dict[int, list[str]]:
    return {c.row: c.problems for c in run.rows if c.problems}


def test_every_kind_of_row_error_in_spanish(tmp_path: Path) -> None:
    rows = [
        ["CTI1", "", "100", "$1,160.00", "noviembre"],  # 2: fine
        ["NOPE", "", "1", "", ""],  # 3
        ["", "999", "1", "", ""],  # 4
        ["", "GODE-561231-GR8", "1", "", ""],  # 5: two clients share the RFC
        ["", "104", "1", "", ""],  # 6: two standard CTIs
        ["ILIM", "", "1", "", ""],  # 7
        ["BLOQ", "", "1", "", ""],  # 8
        ["CTI1", "102", "1", "", ""],  # 9: not that client's CTI
        ["", "", "1", "", ""],  # 10
        ["CTI2", "", "0", "", ""],  # 11
        ["CTI2", "", "1.5", "", ""],  # 12
        ["CTI2", "", "", "", ""],  # 13
        ["CTI2", "", "2", "1,23", ""],  # 14
        ["CTI2", "", "2", "10.999", ""],  # 15
        ["CTI2", "", "2", "-5", ""],  # 16
        ["CTI2", "", "3", "", "x" * 501],  # 17
        ["", "EKU9003173C9", "1,000", "", ""],  # 18: by RFC; 1,000 stamps is over the balance left
    ]
    run = dry_run(sheet_of(tmp_path, rows), MAPPING, FakeDirectory(available=1000))
    assert errors_by_row(run) == {
        3: ["La cuenta de timbrado NOPE no existe entre las de sus clientes."],
        4: ["No hay un cliente con el NIC 999."],
        5: [
            "2 clientes tienen el RFC GODE561231GR8; escriba su NIC o la cuenta de timbrado (CTI) en su lugar."
        ],
        6: [
            "El cliente 104 tiene 2 cuentas de timbrado estándar (C4A, C4B); escriba en la columna CTI a cuál "
            "transferir."
        ],
        7: ["La cuenta de timbrado ILIM es ilimitada: no tiene saldo de timbres que recargar."],
        8: ["La cuenta de timbrado BLOQ está bloqueada; reactívela o excluya la fila."],
        9: ["La cuenta de timbrado CTI1 no es del cliente 102."],
        10: ["Falta la cuenta de timbrado (CTI) o el NIC o RFC del cliente."],
        11: ["La cantidad debe ser un número entero de timbres mayor que cero."],
        12: ["La cantidad debe ser un número entero de timbres mayor que cero."],
        13: ["Falta la cantidad de timbres."],
        14: ["Escriba un importe válido, por ejemplo 1,234.50."],
        15: ["El importe admite como máximo 2 decimales."],
        16: ["El importe no puede ser negativo."],
        17: ["El comentario tiene 501 caracteres; el máximo es 500."],
        18: ["Saldo insuficiente: quedan 900 timbres disponibles y la fila pide 1,000."],
    }
    first = run.rows[0]
    assert (first.cti_id, first.client_name, first.client_nic) == ("CTI1", "Uno", "101")
    assert (first.quantity, first.amount_cents, first.comment) == (100, 116000, "noviembre")
    assert (first.balance_before, first.balance_after, first.cti_before, first.cti_after) == (
        1000,
        900,
        10,
        110,
    )
    assert not run.ready
    assert run.why_not_ready().startswith("16 filas tienen errores (filas 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 …)")
    # Excluding the rows in error: the rest can go.
    assert run.exclude_errors() == list(range(3, 19))
    assert run.ready and run.why_not_ready() == ""
    totals = run.totals()
    assert (totals.rows, totals.to_send, totals.excluded, totals.stamps) == (17, 1, 16, 100)
    assert (totals.amount_cents, totals.available, totals.remaining) == (116000, 1000, 900)


def test_balances_run_row_by_row_and_exclusions_free_them(tmp_path: Path) -> None:
    rows = [["CTI1", "", "60", "100", ""], ["CTI2", "", "50", "", ""], ["", "101", "30", "", "otra"]]
    run = dry_run(sheet_of(tmp_path, rows), MAPPING, FakeDirectory(available=100))
    assert [(c.balance_before, c.balance_after) for c in run.rows] == [(100, 40), (None, None), (40, 10)]
    assert errors_by_row(run) == {3: ["Saldo insuficiente: quedan 40 timbres disponibles y la fila pide 50."]}
    # The CTI repeated: its balance goes on from the first row; a warning, not an error.
    assert [c.cti_before for c in run.rows] == [10, None, 70] and run.rows[2].cti_after == 100
    assert run.rows[2].warnings == ["La cuenta de timbrado CTI1 también recibe en la fila 2."]
    run.exclude([2])
    assert errors_by_row(run) == {}
    assert [(c.balance_before, c.balance_after) for c in run.rows] == [(None, None), (100, 50), (50, 20)]
    assert run.ready and run.totals().stamps == 80
    run.exclude([2], excluded=False)
    assert not run.ready


def test_repeated_rows_and_earlier_imports(tmp_path: Path) -> None:
    directory = FakeDirectory()
    directory.applied.add(("CTI2", 5, 0))
    rows = [["CTI1", "", "5", "", "a"], ["CTI1", "", "5", "", "a"], ["CTI2", "", "5", "", "b"]]
    run = dry_run(sheet_of(tmp_path, rows), MAPPING, directory)
    assert errors_by_row(run) == {3: ["Fila repetida: es igual a la fila 2."]}
    assert run.rows[2].warnings == [
        "Una transferencia igual a esta cuenta ya se aplicó desde «octubre.xlsx» el 31/10/2026 12:00."
    ]


def test_an_empty_comment_names_the_file_and_row(tmp_path: Path) -> None:
    run = dry_run(sheet_of(tmp_path, [["CTI1", "", "5", "", ""]]), MAPPING, FakeDirectory())
    assert run.rows[0].comment == "recargas.csv, fila 2"


def test_a_mapping_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    sheet = sheet_of(tmp_path, [["CTI1", "", "5", "", ""]])
    with pytest.raises(MappingError) as e:
        dry_run(sheet, ColumnMapping({Column.CTI: "CTI"}), FakeDirectory())
    assert e.value.messages == ["Indique la columna con la cantidad de timbres."]


def test_sin_cargo_column_makes_a_row_a_transfer_without_sale(tmp_path: Path) -> None:
    """#19: «Sin cargo» mapped: «Sí» takes no amount (no sale), «No» or empty needs one ($0.00 never
    silently); anything else is said in Spanish."""
    from cmdesk.services.bulk_import import guess

    lines = [
        "CTI;Cantidad;Importe;Sin cargo;Comentario",
        "CTI1;10;;Sí;cortesía",  # 2: no charge
        "CTI2;10;116.00;No;venta",  # 3: a sale
        "CTI1;5;;;",  # 4: no amount and not «Sin cargo»
        "CTI2;5;50.00;x;",  # 5: «Sin cargo» with an amount
        "CTI1;7;;quizá;",  # 6: unreadable
    ]
    path = tmp_path / "cortesias.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sheet = read_sheet(path)
    mapping = guess(sheet.headers)
    assert mapping.title(Column.NO_CHARGE) == "Sin cargo"
    run = dry_run(sheet, mapping, FakeDirectory())
    assert errors_by_row(run) == {
        4: ["Falta el importe: escríbalo, o escriba «Sí» en la columna Sin cargo si no es una venta."],
        5: ["Una transferencia sin cargo no lleva importe."],
        6: ["En «Sin cargo» escriba «Sí» o «No» (dice «quizá»)."],
    }
    assert [(c.no_charge, c.amount_cents) for c in run.rows[:2]] == [(True, 0), (False, 11600)]
    run.exclude_errors()
    assert run.totals().amount_cents == 11600  # only the sale is to invoice


def test_without_the_column_an_empty_amount_is_a_transfer_without_sale(tmp_path: Path) -> None:
    """As before the column existed (the review's amount then reads «Sin cargo», not $0.00)."""
    run = dry_run(sheet_of(tmp_path, [["CTI1", "", "10", "", ""]]), MAPPING, FakeDirectory())
    (row,) = run.rows
    assert row.ok and row.no_charge and row.amount_cents == 0 and not row.warnings
