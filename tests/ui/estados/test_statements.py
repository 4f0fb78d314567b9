"""Estado de cuenta over the real embedded server: the Cuenta Maestra's page and a client's window
show the statement the cache gives (the server's numbers), and save it to Excel (numbers and dates read
back with openpyxl) and to PDF (pages rendered with pdftoppm)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from PySide6.QtCore import QDate

from cmdesk.domain import statements as st
from cmdesk.ui.estados import StatementDialog, StatementsPage
from cmdesk.ui.main_window import MainWindow
from tests.ui.portal_helpers import click, show_page


def page(window: MainWindow) -> StatementsPage:
    found = show_page(window, "herramientas.estados")
    assert isinstance(found, StatementsPage)
    return found


def show(qtbot: Any, panel: Any, asset: str, days: int = 120) -> None:
    panel.asset.setCurrentIndex(panel.asset.findData(asset))
    today = st.local_day(dt.datetime.now(dt.UTC))
    first = today - dt.timedelta(days=days)
    panel.first.setDate(QDate(first.year, first.month, first.day))
    with qtbot.waitSignal(panel.shown, timeout=30_000):
        click(qtbot, panel.show_button)
    qtbot.waitUntil(lambda: panel.model.rowCount() == min(panel.view.count, panel.model.page_size))


def test_the_account_statement_shows_and_saves(qtbot: Any, started_window: MainWindow, tmp_path: Path) -> None:
    statements = page(started_window)
    panel = statements.panel
    started_window.resize(1366, 768)
    show(qtbot, panel, "stamps")
    view = panel.view
    assert view is not None and view.rows and view.closing == view.live
    # The table pages the statement in: its last row, read by scrolling down, has the closing balance.
    while panel.model.canFetchMore():
        panel.model.fetchMore()
        qtbot.waitUntil(lambda: not panel.model.busy)
    assert panel.model.rowCount() == view.count
    assert panel.model.record(view.count - 1)["balance"] == view.closing
    assert "Saldo final" in panel.summary.text()
    started_window.grab().save("/tmp/i18b-statement-account.png")
    # Excel: a title block, then real numbers and dates.
    with qtbot.waitSignal(panel.saved, timeout=30_000) as saved:
        panel.save_xlsx(tmp_path / "estado.xlsx")
    assert saved.args == [str(tmp_path / "estado.xlsx")]
    sheet = load_workbook(tmp_path / "estado.xlsx").active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = next(i for i, r in enumerate(values) if r[0] == "Fecha")
    body = values[header + 1 :]
    assert len(body) == len(view.rows)
    assert all(isinstance(r[0], dt.datetime) for r in body)
    assert [r[6] for r in body] == [r.balance for r in view.rows]
    assert any(r[0] == "Saldo final" and r[1] == view.closing for r in values[:header])
    # PDF: rendered to images.
    with qtbot.waitSignal(panel.saved, timeout=60_000):
        panel.save_pdf(tmp_path / "estado.pdf")
    assert (tmp_path / "estado.pdf").read_bytes()[:5] == b"%PDF-"
    render(tmp_path / "estado.pdf", "/tmp/i18b-statement")
    assert Path("/tmp/i18b-statement-1.png").stat().st_size > 10_000


def render(pdf: Path, prefix: str) -> None:
    """The PDF's first two pages as PNG images (pdftoppm, or Ghostscript where poppler is missing)."""
    if shutil.which("pdftoppm"):
        command = ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "2", str(pdf), prefix]
        subprocess.run(command, check=True)
        for produced in Path(prefix).parent.glob(Path(prefix).name + "-0*.png"):
            produced.rename(produced.with_name(produced.name.replace("-0", "-")))
    elif shutil.which("gs"):
        command = ["gs", "-q", "-dBATCH", "-dNOPAUSE", "-sDEVICE=png16m", "-r80", "-dLastPage=2"]
        subprocess.run([*command, f"-sOutputFile={prefix}-%d.png", str(pdf)], check=True)
    else:
        pytest.skip("neither pdftoppm nor gs to render the PDF")


def test_money_statement_shows_pesos(qtbot: Any, started_window: MainWindow) -> None:
    panel = page(started_window).panel
    show(qtbot, panel, "money", days=400)
    assert panel.model.columns[6].kind == "money"
    if panel.view is not None and panel.view.count:
        assert panel.model.data(panel.model.index(0, 6)).startswith("$")


def test_a_clients_statement_opens_from_the_clients_menu(qtbot: Any, started_window: MainWindow) -> None:
    clients = show_page(started_window, "clientes.clientes")
    qtbot.waitUntil(lambda: clients.model.rowCount() > 0)
    row = clients.model.row(0)
    menu = clients.context_menu_for([row])
    action = next(a for a in menu.actions() if a.objectName() == "statement")
    action.trigger()
    dialog = clients.dialog
    assert isinstance(dialog, StatementDialog)
    qtbot.waitUntil(lambda: dialog.panel.view is not None, timeout=30_000)
    assert dialog.panel.view is not None and dialog.panel.view.party_id == row.id
    dialog.resize(1366, 700)
    dialog.grab().save("/tmp/i18b-statement-client.png")
    dialog.close()


@pytest.mark.parametrize("asset", ["stamps", "points"])
def test_statement_the_same_offline(qtbot: Any, started_window: MainWindow, asset: str) -> None:
    panel = page(started_window).panel
    show(qtbot, panel, asset)
    online = panel.view
    with qtbot.waitSignal(panel.shown, timeout=30_000):
        panel.load(offline=True)
    assert panel.view is not None and online is not None
    assert (panel.view.opening, panel.view.closing) == (online.opening, online.closing)
    assert [r.balance for r in panel.view.rows] == [r.balance for r in online.rows]


def test_a_clients_window_opens_its_statement_and_history(qtbot: Any, started_window: MainWindow) -> None:
    from cmdesk.ui.bitacora import HistoryDialog

    clients = show_page(started_window, "clientes.clientes")
    qtbot.waitUntil(lambda: clients.model.rowCount() > 0)
    row = clients.model.row(0)
    window = clients.open_detail(row.id)
    qtbot.waitUntil(lambda: bool(window.data.get("client")), timeout=30_000)
    statement = window.open_statement()
    assert isinstance(statement, StatementDialog)
    qtbot.waitUntil(lambda: statement.panel.view is not None, timeout=30_000)
    assert statement.panel.view.party_id == row.id
    assert statement.windowTitle().endswith(str(row.data.get("name")))
    statement.close()
    history = window.open_history()
    assert isinstance(history, HistoryDialog) and history.panel.filters.entity_id == row.id
    history.close()
    window.close()
