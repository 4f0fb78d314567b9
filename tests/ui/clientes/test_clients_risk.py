"""The Clientes tab's forecasts through its real widgets, over the embedded server: C.P.D. and D.R. per
client (from the cache), sorted by the headers, and the Riesgo filter (soonest first, with the usual
purchase and the refill's price in the D.R. tooltip)."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTabWidget

from cmdesk.ui.clientes.model import COLUMN_INDEX
from cmdesk.ui.clientes.page import ClientsPage
from cmdesk.ui.main_window import MainWindow

TIMEOUT = 20_000


@pytest.fixture(scope="module")
def page(started_window: MainWindow) -> ClientsPage:
    inner = started_window.tabs.widget(0)
    assert isinstance(inner, QTabWidget)
    inner.setCurrentIndex(0)
    page = started_window.page("clientes.clientes")
    assert isinstance(page, ClientsPage)
    return page


def settle(qtbot: Any, page: ClientsPage) -> None:
    qtbot.waitUntil(lambda: not page.model.busy and not page.search_timer.isActive(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: page.context.ops.busy == 0, timeout=TIMEOUT)


def all_rows(qtbot: Any, page: ClientsPage) -> list[Any]:
    while page.model.canFetchMore():
        page.model.fetchMore()
        settle(qtbot, page)
    return page.model.rows()


def test_columns_sort_by_the_cache_forecast(qtbot: Any, page: ClientsPage) -> None:
    settle(qtbot, page)
    titles = [page.model.headerData(i, Qt.Orientation.Horizontal) for i in range(page.model.columnCount())]
    assert "C.P.D." in titles and "D.R." in titles
    page._header_clicked(COLUMN_INDEX["days_left"])
    settle(qtbot, page)
    assert page.model.query.sort == "days_left"
    days = [r.data.get("days_left") for r in all_rows(qtbot, page)]
    numbers = [d for d in days if d is not None]
    assert numbers == sorted(numbers) and days == numbers + [None] * (len(days) - len(numbers))
    page._header_clicked(COLUMN_INDEX["cpd"])
    settle(qtbot, page)
    assert page.model.query.sort == "cpd"
    page._header_clicked(COLUMN_INDEX["cpd"])
    settle(qtbot, page)
    assert page.model.query.sort == "cpd_desc"
    top = page.model.rows()[0]
    assert top.data["fc_cpd"] > 0
    assert page.model.index(0, COLUMN_INDEX["cpd"]).data() == f"{top.data['fc_cpd'] / 100:.2f}"
    page.set_sort("name")
    settle(qtbot, page)


def test_the_risk_view(qtbot: Any, page: ClientsPage, started_window: MainWindow) -> None:
    cache = started_window.session.cache
    settle(qtbot, page)
    page.risk_filter.setCurrentIndex(page.risk_filter.findData("le30"))
    settle(qtbot, page)
    # Soonest first, only those within 30 days, the same set the cache's filter gives.
    assert page.model.query.sort == "days_left" and page.model.query.get("risk") == "le30"
    shown = all_rows(qtbot, page)
    expected = [c["id"] for c in cache.query_clients(risk="le30", sort="days_left", limit=100_000)]
    assert [r.id for r in shown] == expected
    assert shown, "the demo data has clients that run out within 30 days"
    days = [r.data["days_left"] for r in shown]
    assert days == sorted(days) and days[-1] <= 30
    assert "(con la búsqueda o el filtro)" in page.summary.text()
    # The D.R. in the band's color, its tooltip with the usual purchase and what a refill costs.
    cell = page.model.index(0, COLUMN_INDEX["days_left"])
    assert cell.data(Qt.ItemDataRole.ForegroundRole) is not None
    tooltip = cell.data(Qt.ItemDataRole.ToolTipRole)
    assert "Días restantes" in tooltip
    assert "Compra habitual" in tooltip or "Aún no ha comprado timbres" in tooltip
    bought = [r for r in shown if r.purchase is not None and r.purchase.usual is not None]
    for row in bought:
        assert row.purchase.refill is None or row.purchase.refill.amount_cents > 0
    # "Sin consumo": C.P.D. 0, the D.R. reads ∞.
    page.risk_filter.setCurrentIndex(page.risk_filter.findData("no_use"))
    settle(qtbot, page)
    assert page.model.query.sort == "name"
    idle = all_rows(qtbot, page)
    assert {r.id for r in idle} == {c["id"] for c in cache.query_clients(risk="no_use", limit=100_000)}
    assert all(r.data["fc_cpd"] == 0 for r in idle)
    if idle:
        assert page.model.index(0, COLUMN_INDEX["days_left"]).data() == "∞"
    # Back to every client.
    page.risk_filter.setCurrentIndex(0)
    settle(qtbot, page)
    assert page.model.query.get("risk") is None
    qtbot.waitUntil(lambda: page.model.total == cache.count_clients(), timeout=TIMEOUT)
