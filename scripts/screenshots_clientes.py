"""Save PNGs of the Clientes tab and its windows to `docs/screenshots/` (clientes_*.png).

    python scripts/screenshots_clientes.py [--out docs/screenshots]

Offscreen, against the embedded default in a temporary CMDESK_HOME (the demo distributor's data): the
tab, the tab filtered and sorted, the Agregar cliente form with its errors, the edit form, the admin
profile dialog with the server's refusal, the transfer dialog and every tab of the client's window.
"""

from __future__ import annotations

from pathlib import Path

from screens_kit import ROOT, Shots, run


def main(argv: list[str] | None = None) -> int:
    return run(__doc__, ROOT / "docs" / "screenshots", "cmdesk-shots-clientes-", _shoot, argv)


def _shoot(out: Path, _home: Path) -> int:
    from PySide6.QtWidgets import QTabWidget

    from cmdesk.ui.clientes.admin_profile import AdminProfileDialog
    from cmdesk.ui.clientes.client_form import ClientForm
    from cmdesk.ui.clientes.detail import TABS, ClientDetailWindow
    from cmdesk.ui.clientes.page import ClientsPage
    from cmdesk.ui.timbrado.transfer_dialog import TransferDialog

    kit = Shots(out, name_prefix="clientes_", logging=False)
    wait, save = kit.wait, kit.save
    window = kit.main_window()
    inner = window.tabs.widget(0)
    assert isinstance(inner, QTabWidget)
    inner.setCurrentIndex(0)
    page = window.page("clientes.clientes")
    assert isinstance(page, ClientsPage)
    wait(lambda: page.model.rowCount() > 0)
    context = window.context
    cache = window.session.cache if window.session else None
    assert cache is not None
    save(window, "tab")

    page.set_sort("stamps_desc")
    wait(lambda: not page.model.busy)
    page.view.selectRow(1)
    page.view.selectRow(2)
    save(window, "tab_sorted")

    form = ClientForm(context, None, page)
    form.open()
    form.editors["name"].setText("")  # type: ignore[attr-defined]
    form.editors["rfc"].setText("ABC12")  # type: ignore[attr-defined]
    form.editors["email"].setText("ventas@empresa")  # type: ignore[attr-defined]
    form.editors["phone"].setText("961 12")  # type: ignore[attr-defined]
    form.editors["address.postal_code"].setText("2900")  # type: ignore[attr-defined]
    form.save()
    save(form, "form_errors")
    form.tabs.setCurrentIndex(4)
    save(form, "form_otros")
    form.reject()

    client = page.model.row(0).data
    full = cache.get("client", page.model.row(0).id)
    edit = ClientForm(context, full, page)
    edit.open()
    save(edit, "form_edit")
    edit.tabs.setCurrentIndex(1)
    save(edit, "form_edit_legal")
    edit.reject()

    admin = AdminProfileDialog(context, full or client, page)
    admin.open()
    admin.email.setText("demo@cmdesk.mx")
    admin.mobile.setText("9611000000")
    admin.save()
    wait(lambda: admin.message.isVisible() or not admin.isVisible(), 30)
    save(admin, "admin_refused")
    admin.reject()

    transfer = TransferDialog.for_client(context, "points", page.model.row(0).id, parent=page)
    wait(lambda: transfer.loaded, 30)
    save(transfer, "transfer_points")
    transfer.reject()

    with_records = next(
        (row["client_id"] for row in cache.all("license") if row.get("client_id")), page.model.row(0).id
    )
    detail = ClientDetailWindow(context, with_records, page)
    detail.show()
    wait(lambda: bool(detail.data))
    for index, (key, _title) in enumerate(TABS):
        detail.tabs.setCurrentIndex(index)
        save(detail, f"detail_{key}")
    detail.close()
    return kit.finish(window)


if __name__ == "__main__":
    raise SystemExit(main())
