"""Usuarios → «Rol»: each user's role in the list (from the account's settings in the feed), and
«Cambiar rol…» for an administrator (never for the master, always administrator). Issue 15."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from sqlalchemy import select

from cmdesk.models import Membership
from cmdesk.server import db
from cmdesk.ui.herramientas.usuarios import COLUMNS, RoleDialog
from cmdesk.ui.kit.table import select_id
from cmdesk.ui.main_window import MainWindow
from tests.ui.herramientas.test_tools_pages import find, users
from tests.ui.portal_helpers import click, server_db, sync

SHOTS = Path("/tmp/cmdesk-shots")
ALICIA = "alicia@solucont.mx"  # the demo's operator
ROLE_COLUMN = next(i for i, c in enumerate(COLUMNS) if c.key == "role")


def role_text(page: Any, email: str) -> str:
    row = page.model.row_of(str((find(page, email=email) or {}).get("id")))
    return str(page.model.row_texts(row)[ROLE_COLUMN]) if row >= 0 else ""


def server_role(window: MainWindow, email: str) -> str:
    from cmdesk.models import Profile

    with server_db(window) as factory:
        return db.run(
            factory,
            lambda s: s.scalar(
                select(Membership.role)
                .join(Profile, Profile.id == Membership.profile_id)
                .where(Profile.email == email)
            ),
        )


def test_roles_are_listed_and_an_administrator_changes_one(qtbot: Any, started_window: MainWindow) -> None:
    window = started_window
    page = users(window)
    qtbot.waitUntil(lambda: find(page, email=ALICIA) is not None, timeout=30_000)
    assert page.model.headerData(ROLE_COLUMN, Qt.Orientation.Horizontal) == "Rol"
    master = page.model.row(0)
    assert master["is_master"] and page.model.row_texts(0)[ROLE_COLUMN] == "Usuario maestro"
    qtbot.waitUntil(lambda: role_text(page, ALICIA) == "Operador", timeout=30_000)

    # The master's role can't change: the button is off for that row.
    assert select_id(page.table, master["id"])
    assert page.role_button.isVisible() and not page.role_button.isEnabled()

    alicia = find(page, email=ALICIA)
    assert alicia is not None and select_id(page.table, alicia["id"])
    assert page.role_button.isEnabled()
    click(qtbot, page.role_button)
    dialog = page.dialog
    assert isinstance(dialog, RoleDialog) and dialog.role.currentData() == "operator"
    dialog.role.setCurrentIndex(dialog.role.findData("admin"))
    SHOTS.mkdir(exist_ok=True)
    dialog.grab().save(str(SHOTS / "usuarios-cambiar-rol.png"))
    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: "ahora es Administrador" in page.notice.text(), timeout=30_000)
    # The list shows it at once (the settings came back with the answer), and the server has it.
    qtbot.waitUntil(lambda: role_text(page, ALICIA) == "Administrador", timeout=30_000)
    assert server_role(window, ALICIA) == "admin"
    window.resize(1366, 768)
    window.grab().save(str(SHOTS / "usuarios-roles.png"))

    # A later sync keeps it (the feed's settings carry every member's role).
    sync(qtbot, window)
    assert role_text(page, ALICIA) == "Administrador"
    # And back.
    assert select_id(page.table, alicia["id"])
    click(qtbot, page.role_button)
    dialog = page.dialog
    assert isinstance(dialog, RoleDialog) and dialog.role.currentData() == "admin"
    dialog.role.setCurrentIndex(dialog.role.findData("operator"))
    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: role_text(page, ALICIA) == "Operador", timeout=30_000)
    assert server_role(window, ALICIA) == "operator"
