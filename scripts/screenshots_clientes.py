"""Save PNGs of the Clientes tab and its windows to `docs/screenshots/` (clientes_*.png).

    python scripts/screenshots_clientes.py [--out docs/screenshots]

Offscreen, against the embedded default in a temporary CMDESK_HOME (the demo distributor's data): the
tab, the tab filtered and sorted, the Agregar cliente form with its errors, the edit form, the admin
profile dialog with the server's refusal, the transfer dialog and every tab of the client's window.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ["QT_QPA_PLATFORM"] = "offscreen"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="cmdesk-shots-clientes-"))
    os.environ["CMDESK_HOME"] = str(home)
    try:
        return _shoot(out)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _shoot(out: Path) -> int:
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QTabWidget, QWidget

    from cmdesk.services.config import DesktopConfig
    from cmdesk.services.session import DesktopSession
    from cmdesk.ui.app import create_application
    from cmdesk.ui.clientes.admin_profile import AdminProfileDialog
    from cmdesk.ui.clientes.client_form import ClientForm
    from cmdesk.ui.clientes.detail import TABS, ClientDetailWindow
    from cmdesk.ui.clientes.page import ClientsPage
    from cmdesk.ui.clientes.transfer import ClientTransferDialog
    from cmdesk.ui.main_window import MainWindow

    app = create_application([sys.argv[0]])

    def pump(seconds: float = 0.2) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.01)

    def wait(predicate: Callable[[], object], timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > end:
                raise TimeoutError(str(predicate))
            pump(0.05)

    def save(widget: QWidget, name: str) -> None:
        pump(0.3)
        path = out / f"clientes_{name}.png"
        widget.grab().save(str(path))
        print(path)

    window = MainWindow(DesktopSession(DesktopConfig()))
    window.resize(1280, 800)
    ready: list[object] = []
    window.session_ready.connect(ready.append)
    window.show()
    window.start_session()
    wait(lambda: ready and window.ops.busy == 0)
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

    client = page.model.rows[0].data
    full = cache.get("client", page.model.rows[0].id)
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

    transfer = ClientTransferDialog(context, "points", full or client, page)
    transfer.open()
    wait(lambda: transfer.ok_button.isEnabled() or transfer.error.isVisible(), 30)
    save(transfer, "transfer_points")
    transfer.reject()

    with_records = next(
        (row["client_id"] for row in cache.all("license") if row.get("client_id")), page.model.rows[0].id
    )
    detail = ClientDetailWindow(context, with_records, page)
    detail.show()
    wait(lambda: bool(detail.data))
    for index, (key, _title) in enumerate(TABS):
        detail.tabs.setCurrentIndex(index)
        save(detail, f"detail_{key}")
    detail.close()
    window.close()
    pump(0.5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
