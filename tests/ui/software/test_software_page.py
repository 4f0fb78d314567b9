"""The Software tab over the real embedded server and the real download manager: products that expand
into their download options, the queue, progress, pause and resume, a failure explained in Spanish,
filters, the options of the download folder."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from cmdesk.services import paths
from cmdesk.services.downloads import DownloadState
from cmdesk.services.downloads.store import sha256_file
from cmdesk.ui.main_window import MainWindow
from cmdesk.ui.software import SoftwarePage
from cmdesk.ui.software.model import (
    KIND_COLUMN,
    NAME_COLUMN,
    PROGRESS_ROLE,
    SIZE_COLUMN,
    STATUS_COLUMN,
    VERSION_COLUMN,
    FileRow,
)
from tests.ui.portal_helpers import click, show_page

MB = 1024 * 1024


def page_of(window: MainWindow) -> SoftwarePage:
    page = window.page("software")
    assert isinstance(page, SoftwarePage)
    return page


@pytest.fixture
def page(qtbot: Any, started_window: MainWindow) -> Iterator[SoftwarePage]:
    page = page_of(started_window)
    show_page(started_window, "software")
    qtbot.waitUntil(lambda: page.catalog_loaded and page.manager is not None, timeout=30_000)
    qtbot.waitUntil(lambda: len(page.model.statuses) >= len(page.model.files()), timeout=30_000)
    yield page
    manager = page.manager
    if manager is not None:  # leave the manager as the next test expects it
        manager.set_rate_limit(None)
        manager.set_parallel(2)
    page.search.clear()
    page.kind_filter.setCurrentIndex(0)
    page.product_filter.setCurrentIndex(0)


def row_of(page: SoftwarePage, product: str, title: str) -> FileRow:
    return next(
        f for p in page._catalog if p.name.startswith(product) for f in p.files if f.info.title == title
    )


def cell(page: SoftwarePage, row: FileRow, column: int, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
    return page.model.file_index(row.info.id, column).data(role)


def state(page: SoftwarePage, row: FileRow) -> DownloadState | None:
    status = page.status_of(row.info.id)
    return status.state if status is not None else None


def server_copy(row: FileRow) -> Path:
    store = paths.server_dir(paths.EMBEDDED_KEY) / "files"
    return next(store.rglob(row.info.file_name))


def test_products_expand_into_their_download_options(
    qtbot: Any, page: SoftwarePage, qtmodeltester: Any
) -> None:
    model = page.model
    qtmodeltester.check(model)
    names = [p.name for p in model.products]
    assert names[:3] == ["MaxiComercio ERP 2014", "FactuDesk 2014", "NomiCloud"]
    first = model.index(0, 0)
    assert model.rowCount(first) == 4 and not page.view.isExpanded(first)
    assert model.index(0, STATUS_COLUMN).data() == "4 opciones de descarga"
    # "Dar clic sobre el nombre de la aplicación y se expandirán las opciones de descargas."
    qtbot.mouseClick(
        page.view.viewport(), Qt.MouseButton.LeftButton, pos=page.view.visualRect(first).center()
    )
    assert page.view.isExpanded(first)
    installer = row_of(page, "MaxiComercio ERP", "Instalador")
    assert cell(page, installer, NAME_COLUMN) == "Instalador"
    assert cell(page, installer, KIND_COLUMN) == "Instalable"
    assert cell(page, installer, VERSION_COLUMN) == "10.2.1"
    assert cell(page, installer, SIZE_COLUMN).endswith(" MB")
    assert cell(page, installer, STATUS_COLUMN) == "No descargado"
    actions = page.actions_by_file[installer.info.id]
    assert actions.visible_buttons() == ["download"]
    assert actions.buttons["download"].text() == "Descargar"
    kinds = [cell(page, f, KIND_COLUMN) for f in model.products[0].files]
    assert kinds == ["Instalable", "Instalable", "Corrección", "Documentación"]
    # The older installer says a newer one is published.
    older = row_of(page, "MaxiComercio ERP", "Instalador (versión anterior)")
    assert cell(page, older, STATUS_COLUMN) == "No descargado · versión más reciente: 10.2.1"
    qtbot.mouseClick(
        page.view.viewport(), Qt.MouseButton.LeftButton, pos=page.view.visualRect(first).center()
    )
    assert not page.view.isExpanded(first)


def test_download_with_progress_pause_and_resume(qtbot: Any, page: SoftwarePage) -> None:
    assert page.manager is not None
    page.expand_all()
    row = max(page.model.files(), key=lambda f: f.info.size)
    assert row.info.size > 2 * MB
    page.manager.set_rate_limit(1 * MB)
    actions = page.actions_by_file[row.info.id]
    click(qtbot, actions.buttons["download"])
    qtbot.waitUntil(
        lambda: (
            state(page, row) == DownloadState.DOWNLOADING and page.status_of(row.info.id).received > 300_000
        ),
        timeout=30_000,
    )
    qtbot.waitUntil(lambda: "quedan" in cell(page, row, STATUS_COLUMN), timeout=10_000)
    text = cell(page, row, STATUS_COLUMN)
    assert "%" in text and "/s" in text  # e.g. "12 % · 1.0 MB/s · quedan 4 s"
    assert 0 < cell(page, row, STATUS_COLUMN, PROGRESS_ROLE) < 1
    assert actions.visible_buttons() == ["pause", "cancel"]

    click(qtbot, actions.buttons["pause"])
    qtbot.waitUntil(lambda: state(page, row) == DownloadState.PAUSED, timeout=10_000)
    assert cell(page, row, STATUS_COLUMN).startswith("En pausa · ")
    assert actions.visible_buttons() == ["resume", "cancel"]
    kept = page.manager.store.partial_size(row.info)
    assert kept > 300_000

    page.manager.set_rate_limit(None)
    click(qtbot, actions.buttons["resume"])
    qtbot.waitUntil(lambda: state(page, row) == DownloadState.AVAILABLE, timeout=30_000)
    assert cell(page, row, STATUS_COLUMN) == "Disponible sin conexión (verificado)"
    assert actions.visible_buttons() == ["openFolder", "run", "copyPath", "more"]
    run = actions.buttons["run"]
    assert run.text() == "Ejecutar" or row.info.kind != "installer"
    if sys.platform != "win32":
        assert not run.isEnabled() and run.toolTip() == "Solo disponible en Windows."
    click(qtbot, actions.buttons["copyPath"])
    path = Path(QGuiApplication.clipboard().text())
    assert path.name == row.info.file_name and sha256_file(path) == row.info.sha256
    assert page.notice.text().startswith("Ruta copiada: ")
    qtbot.waitUntil(lambda: page.usage_bytes is not None and page.usage_bytes >= row.info.size)
    assert "Carpeta de descargas (de este equipo)" in page.folder_label.text()


def test_files_beyond_the_parallel_limit_wait_in_the_queue(qtbot: Any, page: SoftwarePage) -> None:
    assert page.manager is not None
    page.expand_all()
    page.manager.set_parallel(1)
    page.manager.set_rate_limit(512 * 1024)
    first = row_of(page, "FactuDesk", "Instalador")
    second = row_of(page, "NomiCloud", "Instalador del sincronizador")
    click(qtbot, page.actions_by_file[first.info.id].buttons["download"])
    qtbot.waitUntil(lambda: state(page, first) == DownloadState.DOWNLOADING, timeout=10_000)
    click(qtbot, page.actions_by_file[second.info.id].buttons["download"])
    qtbot.waitUntil(lambda: state(page, second) == DownloadState.QUEUED, timeout=10_000)
    assert cell(page, second, STATUS_COLUMN) == "En cola"
    assert page.actions_by_file[second.info.id].visible_buttons() == ["pause", "cancel"]
    # Cancelling the first lets the second start; cancelling that one forgets its bytes too.
    click(qtbot, page.actions_by_file[first.info.id].buttons["cancel"])
    qtbot.waitUntil(lambda: state(page, first) == DownloadState.NOT_DOWNLOADED, timeout=10_000)
    qtbot.waitUntil(lambda: state(page, second) == DownloadState.DOWNLOADING, timeout=10_000)
    click(qtbot, page.actions_by_file[second.info.id].buttons["cancel"])
    qtbot.waitUntil(lambda: state(page, second) == DownloadState.NOT_DOWNLOADED, timeout=10_000)
    assert cell(page, first, STATUS_COLUMN) == "No descargado"
    assert not page.manager.store.partial_path(first.info).exists()


def test_a_failure_is_shown_in_spanish_and_can_be_retried(qtbot: Any, page: SoftwarePage) -> None:
    page.expand_all()
    row = row_of(page, "Contablink", "Importador de XML")
    original = server_copy(row)
    aside = original.with_name(original.name + ".aside")
    shutil.move(original, aside)  # the server lost the file
    try:
        click(qtbot, page.actions_by_file[row.info.id].buttons["download"])
        qtbot.waitUntil(lambda: state(page, row) == DownloadState.FAILED, timeout=30_000)
    finally:
        shutil.move(aside, original)
    assert cell(page, row, STATUS_COLUMN) == (
        "Falló: El archivo no está disponible en el servidor; avise al administrador."
    )
    assert cell(page, row, STATUS_COLUMN, Qt.ItemDataRole.ForegroundRole).name() == "#c62828"
    actions = page.actions_by_file[row.info.id]
    assert actions.visible_buttons() == ["retry", "cancel"]
    click(qtbot, actions.buttons["retry"])
    qtbot.waitUntil(lambda: state(page, row) == DownloadState.AVAILABLE, timeout=30_000)


def test_filter_by_product_and_kind_and_search(qtbot: Any, page: SoftwarePage) -> None:
    docs = page.kind_filter.findText("Documentación")
    page.kind_filter.setCurrentIndex(docs)
    files = page.model.files()
    assert files and {f.info.kind for f in files} == {"documentation"}
    assert all(page.view.isExpanded(page.model.index(i, 0)) for i in range(page.model.rowCount()))
    page.kind_filter.setCurrentIndex(0)
    page.product_filter.setCurrentIndex(page.product_filter.findText("Dóminus"))
    assert [p.name for p in page.model.products] == ["Dóminus"]
    assert len(page.model.files()) == 3
    page.product_filter.setCurrentIndex(0)
    qtbot.keyClicks(page.search, "respaldo 9.9")  # no such version
    assert page.model.files() == [] and page.empty.isVisible()
    assert page.empty.text() == "Ningún archivo coincide con la búsqueda."
    page.search.clear()
    page.search.setText("RESPALDO dóminus")  # case and accents do not matter (keyClicks is ASCII-only)
    assert [f.info.title for f in page.model.files()] == ["Herramienta de respaldo"]


def test_the_download_options_are_saved_in_the_config(qtbot: Any, page: SoftwarePage, tmp_path: Path) -> None:
    session = page.context.session
    assert session is not None and page.manager is not None
    dialog = page.show_options()
    assert dialog is not None
    blocker = tmp_path / "un-archivo"
    blocker.write_text("no es una carpeta")
    dialog.folder.setText(str(blocker / "descargas"))
    click(qtbot, dialog.buttons.button(dialog.buttons.StandardButton.Save))
    qtbot.waitUntil(lambda: dialog.folder_error.isVisible(), timeout=10_000)
    assert dialog.folder_error.text().startswith("No se puede usar la carpeta «")
    assert dialog.isVisible()
    click(
        qtbot, dialog.findChild(type(dialog.buttons.button(dialog.buttons.StandardButton.Save)), "useLocal")
    )
    dialog.parallel.setValue(3)
    dialog.rate.setValue(512)
    dialog.limit.setValue(2)
    click(qtbot, dialog.buttons.button(dialog.buttons.StandardButton.Save))
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10_000)
    qtbot.waitUntil(lambda: page.notice.text() == "Se guardaron las opciones de descarga.", timeout=10_000)
    assert page.manager.parallel == 3 and page.manager.limiter.rate == 512 * 1024
    assert session.config.software_folder is None and session.config.software_limit_mb == 2048
    saved = json.loads((paths.config_dir() / "config.json").read_text(encoding="utf-8"))
    assert saved["download_parallel"] == 3 and saved["download_rate_kbps"] == 512
    assert "3 descargas a la vez" in page.folder_label.text()
    assert "máximo 512.0 KB/s" in page.folder_label.text()
    # Back to the defaults for the other tests.
    session.config.download_parallel, session.config.download_rate_kbps = 2, 0
    page.manager.set_parallel(2)
    page.manager.set_rate_limit(None)


def test_a_shared_office_folder_takes_the_downloads(qtbot: Any, page: SoftwarePage, tmp_path: Path) -> None:
    session = page.context.session
    assert session is not None
    shared = tmp_path / "oficina"
    dialog = page.show_options()
    assert dialog is not None
    dialog.folder.setText(str(shared))
    click(qtbot, dialog.buttons.button(dialog.buttons.StandardButton.Save))
    qtbot.waitUntil(lambda: page.manager is not None and page.manager.store.root == shared, timeout=20_000)
    assert session.config.software_folder == str(shared)
    assert page.folder_label.text().startswith(f"Carpeta de descargas (compartida): {shared}")
    page.expand_all()
    row = row_of(page, "CFDI Explorer", "Manual de usuario")
    qtbot.waitUntil(lambda: state(page, row) == DownloadState.NOT_DOWNLOADED, timeout=10_000)
    click(qtbot, page.actions_by_file[row.info.id].buttons["download"])
    qtbot.waitUntil(lambda: state(page, row) == DownloadState.AVAILABLE, timeout=30_000)
    path = page.status_of(row.info.id).path
    assert path is not None and path.is_relative_to(shared) and sha256_file(path) == row.info.sha256
    # Back to this desk's own folder.
    dialog = page.show_options()
    assert dialog is not None
    click(
        qtbot, dialog.findChild(type(dialog.buttons.button(dialog.buttons.StandardButton.Save)), "useLocal")
    )
    click(qtbot, dialog.buttons.button(dialog.buttons.StandardButton.Save))
    qtbot.waitUntil(lambda: page.manager is not None and page.manager.store.root != shared, timeout=20_000)
    assert session.config.software_folder is None
    qtbot.waitUntil(lambda: state(page, row) == DownloadState.NOT_DOWNLOADED, timeout=10_000)
