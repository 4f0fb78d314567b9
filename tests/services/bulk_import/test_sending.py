"""Sending an import against the real server: each row applied once however often the file is sent or
imported, refused rows kept with their reason and retried alone, cancellation, a dropped line, and
the results in Excel."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from openpyxl import load_workbook

from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD
from cmdesk.services.api_client import ApiClient
from cmdesk.services.bulk_import import (
    Importer,
    ImportFileError,
    Progress,
    RowState,
    SessionDesktop,
    dry_run,
    guess,
    read_sheet,
)
from cmdesk.services.bulk_import.journal import Journal, row_key
from tests.services.bulk_import.conftest import movements_to, new_clients, open_desk, write_csv


def prepared(server: EmbeddedServer, tmp_path: Path, count: int, quantity: int = 3) -> tuple[list[str], Path]:
    with ApiClient(server.url) as api:
        api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
        ctis = [c["stamping_account"]["id"] for c in new_clients(api, count)]
    path = write_csv(
        tmp_path / "noviembre.csv", [(cti, quantity, f"{i + 1}.50") for i, cti in enumerate(ctis)]
    )
    return ctis, path


def test_a_file_applies_each_row_once_however_often_it_is_sent(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    ctis, path = prepared(server, tmp_path, 23)
    d = open_desk(server.url, tmp_path / "desk")
    try:
        sheet = read_sheet(path)
        run = dry_run(sheet, guess(sheet.headers), d.desk)
        assert (
            run.ready
            and run.totals().stamps == 69
            and run.totals().amount_cents == sum(i * 100 + 50 for i in range(1, 24))
        )
        importer = Importer(d.desk, chunk=5)
        assert importer.warning(sheet) == ""
        seen: list[Progress] = []
        report = importer.send(run, progress=seen.append)
        assert report.progress.applied == 23 and report.progress.waiting == report.progress.not_sent == 0
        assert [p.done for p in seen] == [5, 10, 15, 20, 23]
        assert report.message == "23 de 23 filas enviadas: 23 aplicadas."
        applied = movements_to(d.api, set(ctis))
        assert sorted(m["amount_cents"] for m in applied) == [i * 100 + 50 for i in range(1, 24)]
        # Each row carried the key of its file and row.
        commands = d.desk.import_commands(sheet.digest)
        assert set(commands) == {row_key(sheet.digest, n) for n in range(2, 25)}

        # The same file again: recognised, and nothing moves a second time.
        again = read_sheet(path)
        assert again.digest == sheet.digest
        assert importer.warning(again).startswith("Este archivo ya se importó el ")
        assert "23 de 23 filas aplicadas" in importer.warning(again)
        run2 = dry_run(again, guess(again.headers), d.desk)
        assert all(c.warnings and "ya se aplicó desde «noviembre.csv»" in c.warnings[0] for c in run2.rows)
        assert importer.send(run2).progress.applied == 23
        # Even from a desktop that lost its journal and its outbox: the keys are the file's.
        other = open_desk(server.url, tmp_path / "otra")
        try:
            run3 = dry_run(again, guess(again.headers), other.desk)
            report3 = Importer(other.desk, chunk=50).send(run3)
            assert report3.progress.applied == 23
        finally:
            other.close()
        assert len(movements_to(d.api, set(ctis))) == 23
    finally:
        d.close()


def test_refused_rows_keep_their_reason_and_are_retried_alone(server: EmbeddedServer, tmp_path: Path) -> None:
    ctis, path = prepared(server, tmp_path, 10, quantity=100)
    d = open_desk(server.url, tmp_path / "desk")
    try:
        sheet = read_sheet(path)
        run = dry_run(sheet, guess(sheet.headers), d.desk)
        assert run.ready
        # Another desktop spends the balance meanwhile: only 4 rows still fit.
        available = d.api.get("/v1/me")["balances"]["stamps"]
        d.api.post(
            "/v1/transfers",
            {
                "asset": "stamps",
                "target": {"type": "stamping_account", "id": ctis[0]},
                "quantity": available - 450,
            },
            idempotency_key=uuid.uuid4().hex,
        )
        importer = Importer(d.desk, chunk=3)
        report = importer.send(run)
        assert (report.progress.applied, report.progress.refused) == (4, 6)
        results = importer.results(sheet.digest)
        refused = [r for r in results if r.state == RowState.REFUSED]
        assert [r.row for r in refused] == [6, 7, 8, 9, 10, 11]
        assert refused[0].reason == "Saldo insuficiente: no hay 100 timbres disponibles para esta operación."
        assert refused[0].state_label == "Rechazada"
        # A purchase, then only the refused rows go again (each with a new key).
        d.api.post(
            "/v1/purchases", {"package_id": "stamps_2000", "quantity": 1}, idempotency_key=uuid.uuid4().hex
        )
        again = importer.retry_failed(sheet.digest)
        assert (again.progress.applied, again.progress.refused) == (10, 0)
        rows = {r.row: r for r in d.desk.journal.rows(sheet.digest)}
        assert rows[6].attempt == 2 and rows[6].key == row_key(sheet.digest, 6, 2) and rows[2].attempt == 1
        applied = [m for m in movements_to(d.api, set(ctis)) if m["comments"] == "fila de prueba"]
        assert sorted(m["amount_cents"] for m in applied) == [i * 100 + 50 for i in range(1, 11)]
        # The results, in Excel.
        out = importer.export_results(sheet.digest, tmp_path / "resultado.xlsx")
        book = load_workbook(out)
        table = list(book["Resultado"].iter_rows(values_only=True))
        assert table[0][:7] == (
            "Fila",
            "Cuenta de timbrado",
            "Destino",
            "Timbres",
            "Importe",
            "Comentario",
            "Resultado",
        )
        assert [row[6] for row in table[1:]] == ["Aplicada"] * 10
        assert table[1][4] == 1.5 and all(row[8] for row in table[1:])
    finally:
        d.close()


def test_cancel_then_resume(server: EmbeddedServer, tmp_path: Path) -> None:
    ctis, path = prepared(server, tmp_path, 12)
    d = open_desk(server.url, tmp_path / "desk")
    try:
        sheet = read_sheet(path)
        run = dry_run(sheet, guess(sheet.headers), d.desk)
        importer = Importer(d.desk, chunk=4)
        seen: list[Progress] = []
        report = importer.send(run, progress=seen.append, cancelled=lambda: len(seen) >= 1)
        assert report.cancelled and report.progress.applied == 4 and report.progress.not_sent == 8
        assert report.message.startswith("Envío cancelado. 4 de 12 filas enviadas")
        assert len(movements_to(d.api, set(ctis))) == 4
        assert d.outbox.pending_count() == 0
        assert importer.resume(sheet.digest).progress.applied == 12
        assert len(movements_to(d.api, set(ctis))) == 12
    finally:
        d.close()


def test_a_dropped_line_keeps_the_rows_for_later(server: EmbeddedServer, tmp_path: Path) -> None:
    ctis, path = prepared(server, tmp_path, 9)
    folder = tmp_path / "desk"
    d = open_desk(server.url, folder)
    url, port, database = server.url, server.port, server.database_url
    sheet = read_sheet(path)
    run = dry_run(sheet, guess(sheet.headers), d.desk)
    server.stop()
    back = None
    try:
        report = Importer(d.desk, chunk=4).send(run)
        assert report.offline and report.progress.applied == 0
        assert report.progress.waiting == 4 and report.progress.not_sent == 5
        assert "Sin conexión" in report.message
        d.close()
        back = EmbeddedServer(database, port=port)
        back.start()
        # The app starts again on the same files: its journal and outbox know the import.
        d = open_desk(url, folder)
        assert Importer(d.desk, chunk=4).resume(sheet.digest).progress.applied == 9
        assert len(movements_to(d.api, set(ctis))) == 9
    finally:
        d.close()
        if back is not None:
            back.stop()


def test_the_mapping_is_remembered_per_layout(tmp_path: Path, server: EmbeddedServer) -> None:
    d = open_desk(server.url, tmp_path / "desk")
    try:
        from cmdesk.services.bulk_import import Column, ColumnMapping, layout_key

        headers = ("Cuenta destino", "Piezas", "Dinero")
        layout = layout_key(headers)
        assert d.desk.remembered(layout) is None
        mapping = ColumnMapping(
            {Column.CTI: "Cuenta destino", Column.QUANTITY: "Piezas", Column.AMOUNT: "Dinero"}
        )
        d.desk.remember(layout, mapping)
        again = SessionDesktop(
            d.cache,
            d.outbox,
            push=d.engine.push,
            config_path=d.folder / "config.json",
            journal=Journal(tmp_path / "j.sqlite3"),
        )
        assert again.remembered(layout) == mapping
        again.close()
    finally:
        d.close()


def test_rows_excluded_on_a_later_try_are_not_sent(server: EmbeddedServer, tmp_path: Path) -> None:
    ctis, path = prepared(server, tmp_path, 8)
    d = open_desk(server.url, tmp_path / "desk")
    try:
        sheet = read_sheet(path)
        importer = Importer(d.desk, chunk=3)
        first = importer.send(dry_run(sheet, guess(sheet.headers), d.desk), cancelled=lambda: True)
        assert first.cancelled and first.progress.not_sent == 8
        run = dry_run(sheet, guess(sheet.headers), d.desk)
        run.exclude([5, 6])  # rows 5 and 6 of the spreadsheet (4.50 and 5.50): left out this time
        report = importer.send(run)
        assert (report.progress.total, report.progress.applied) == (6, 6)
        assert sorted(m["amount_cents"] for m in movements_to(d.api, set(ctis))) == [
            150,
            250,
            350,
            650,
            750,
            850,
        ]
    finally:
        d.close()


def test_a_file_that_cannot_be_read_sends_nothing(server: EmbeddedServer, tmp_path: Path) -> None:
    d = open_desk(server.url, tmp_path / "desk")
    try:
        broken = tmp_path / "roto.xlsx"
        broken.write_bytes(b"PK\x03\x04 no es un libro")
        with pytest.raises(ImportFileError) as e:
            read_sheet(broken)
        assert (
            e.value.message
            == "roto.xlsx no es un libro de Excel válido (.xlsx). Ábralo en Excel y guárdelo de nuevo."
        )
        assert d.outbox.list() == []
    finally:
        d.close()


def test_a_sin_cargo_row_goes_as_a_transfer_without_sale(server: EmbeddedServer, tmp_path: Path) -> None:
    """#19: the file's «Sin cargo» column reaches the server as the single transfer dialog's checkbox
    does: `no_charge` true and no amount (nothing to invoice); the other row is a sale."""
    with ApiClient(server.url) as api:
        api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
        ctis = [c["stamping_account"]["id"] for c in new_clients(api, 2)]
    path = tmp_path / "cortesias.csv"
    path.write_text(
        f"CTI,Cantidad,Importe,Sin cargo,Comentario\r\n{ctis[0]},4,,Sí,cortesía\r\n{ctis[1]},6,69.60,No,venta\r\n",
        encoding="utf-8",
    )
    d = open_desk(server.url, tmp_path / "desk")
    try:
        sheet = read_sheet(path)
        run = dry_run(sheet, guess(sheet.headers), d.desk)
        assert run.ready and run.totals().amount_cents == 6960
        report = Importer(d.desk, chunk=5).send(run)
        assert report.progress.applied == 2
        bodies = {
            c.body["target"]["id"]: c.body
            for c in d.outbox.list()
            if c.extra.get("bulk_import") == sheet.digest
        }
        assert (bodies[ctis[0]]["no_charge"], bodies[ctis[0]]["amount_cents"]) == (True, 0)
        assert (bodies[ctis[1]]["no_charge"], bodies[ctis[1]]["amount_cents"]) == (False, 6960)
        applied = {m["target"]["id"]: m for m in movements_to(d.api, set(ctis))}
        assert (applied[ctis[0]]["quantity"], applied[ctis[0]]["amount_cents"]) == (4, 0)
        assert applied[ctis[1]]["amount_cents"] == 6960
    finally:
        d.close()
