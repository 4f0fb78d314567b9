"""Save PNGs of Clientes → Timbrado and each of its dialogs to `docs/screenshots/timbrado/`.

    python scripts/screenshots_timbrado.py [--out docs/screenshots/timbrado]

Offscreen, against the embedded default in a temporary CMDESK_HOME (the demo distributor's data), like
`scripts/screenshots.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from screens_kit import ROOT, Shots, run


def main(argv: list[str] | None = None) -> int:
    return run(__doc__, ROOT / "docs" / "screenshots" / "timbrado", "cmdesk-timbrado-shots-", _shoot, argv)


def _shoot(out: Path, _home: Path) -> int:
    from PySide6.QtWidgets import QTabWidget, QWidget

    from cmdesk.services.connectivity import ConnectionState
    from cmdesk.ui.timbrado.page import TimbradoPage

    kit = Shots(out)
    pump, wait, save = kit.pump, kit.wait, kit.save
    window = kit.main_window(1366, 860)
    page = window.page("clientes.timbrado")
    assert isinstance(page, TimbradoPage)
    window.tabs.setCurrentIndex(0)
    inner = window.tabs.widget(0)
    assert isinstance(inner, QTabWidget)
    inner.setCurrentWidget(page)
    wait(lambda: page.model.rowCount() > 0)
    page.view.selectRow(0)
    for _ in range(2):  # the visible rows' usage is asked for a moment after they show
        pump(0.6)
        wait(lambda: window.ops.busy == 0 and not page.fetcher.busy)
    pump(0.5)
    save(window, "timbrado-tab")

    # A CTI with consumption, for the chart.
    busiest = max(range(page.model.rowCount()), key=lambda r: page.model.row(r).data.get("issued") or 0)
    page.view.selectRow(busiest)
    wait(lambda: window.ops.busy == 0 and not page.fetcher.busy)
    pump(0.5)
    save(window, "timbrado-tab-chart")
    page.chart_panel.set_days(90)
    save(page.chart_panel, "timbrado-chart-90")
    page.chart_panel.set_days(30)

    def shoot_dialog(
        open_it: Callable[[], QWidget | None], name: str, prepare: Callable[[QWidget], None] | None = None
    ) -> None:
        dialog = open_it()
        assert dialog is not None, name
        wait(lambda: window.ops.busy == 0)
        if prepare is not None:
            prepare(dialog)
        pump(0.3)
        save(dialog, name)
        dialog.close()
        pump(0.2)

    standard = next(r for r in range(page.model.rowCount()) if page.model.row(r).kind == "standard")
    page.view.selectRow(standard)
    pump()
    shoot_dialog(page.transfer_stamps, "timbrado-transfer", lambda d: d.quantity.setValue(100))  # type: ignore[attr-defined]
    shoot_dialog(page.transfer_points, "timbrado-transfer-points", lambda d: d.quantity.setValue(500))  # type: ignore[attr-defined]

    def weak(dialog: QWidget) -> None:
        dialog.choose_id.setChecked(True)  # type: ignore[attr-defined]
        dialog.cti_id.setText("mi cuenta")  # type: ignore[attr-defined]
        dialog.passwords.password.setText("abc")  # type: ignore[attr-defined]
        dialog.passwords.confirm.setText("abd")  # type: ignore[attr-defined]
        dialog.validate()  # type: ignore[attr-defined]

    shoot_dialog(page.create_account, "timbrado-create")
    shoot_dialog(page.create_account, "timbrado-create-errors", weak)

    def unlimited(dialog: QWidget) -> None:
        dialog.unlimited.setChecked(True)  # type: ignore[attr-defined]
        dialog.rfc.setText("GODE561231GR8")  # type: ignore[attr-defined]

    shoot_dialog(page.create_account, "timbrado-create-unlimited", unlimited)
    shoot_dialog(page.reset_password, "timbrado-reset-password")
    shoot_dialog(lambda: page.set_active(False), "timbrado-confirm-block")

    # Several rows for the bulk dialogs.
    rows = [r for r in range(page.model.rowCount()) if page.model.row(r).kind == "standard"][:4]
    page.select_ids([page.model.row(r).id for r in rows])
    pump()

    def fill_bulk(dialog: QWidget) -> None:
        model = dialog.model  # type: ignore[attr-defined]
        for i in range(model.rowCount()):
            model.set_value(i, "quantity", 100 * (i + 1))
        model.setData(model.index(model.rowCount() - 1, 0), True, 10)  # exclude the last one

    shoot_dialog(page.bulk_transfer, "timbrado-bulk-transfer", fill_bulk)

    def fill_auto_sale(dialog: QWidget) -> None:
        model = dialog.model  # type: ignore[attr-defined]
        for i in range(model.rowCount()):
            model.set_value(i, "minimum", 50 * (i + 1))
            model.set_value(i, "credit", 500)

    shoot_dialog(page.auto_sale, "timbrado-auto-sale", fill_auto_sale)

    # More than the distributor has: warned in the dialog, refused by the server with its reason.
    page.view.selectRow(standard)
    pump()
    session = window.session
    assert session is not None and session.cache is not None
    too_many = int(session.cache.account()["balances"]["stamps"]) + 1000  # type: ignore[index]

    def too_much(dialog: QWidget) -> None:
        dialog.quantity.setValue(too_many)  # type: ignore[attr-defined]

    dialog = page.transfer_stamps()
    assert dialog is not None
    wait(lambda: dialog.loaded)
    too_much(dialog)
    save(dialog, "timbrado-transfer-too-many")
    watcher = window.context.watcher
    dialog.ok_button.click()
    wait(lambda: watcher.last_message is not None and watcher.last_message.isVisible())
    save(watcher.last_message, "timbrado-rejected")
    watcher.last_message.close()
    pump()

    # Offline: the transfer waits, and its row is marked pending.
    session._set_state(ConnectionState.OFFLINE)
    dialog = page.transfer_stamps()
    assert dialog is not None
    wait(lambda: dialog.loaded)
    dialog.quantity.setValue(150)
    dialog.ok_button.click()
    wait(lambda: page.model.row(page.model.row_of(page.model.row(standard).id) or 0).is_pending)
    page.view.clearSelection()
    pump(0.5)
    save(window, "timbrado-tab-pending")
    return kit.finish(window)


if __name__ == "__main__":
    raise SystemExit(main())
