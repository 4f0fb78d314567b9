"""Roles on the desktop (issue 15): signed in as an Operador, the pages hide what only an
Administrador may do — users, prices, settings, purchases, sub-distributors' lifecycle — and say why;
the master sees all of it. Real widgets over a real server holding an operator and an administrator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cmdesk.domain.enums import Role
from cmdesk.models import Account, Membership, Profile
from cmdesk.server import db
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD
from cmdesk.services.config import DesktopConfig
from cmdesk.services.session import DesktopSession
from cmdesk.ui.compras.page import PurchasesPage
from cmdesk.ui.distribuidores.page import DistributorsPage
from cmdesk.ui.herramientas import PricesPage, RulesPage, SettingsPage, UsersPage
from cmdesk.ui.herramientas.usuarios import NewUserDialog
from cmdesk.ui.kit.actions import AppContext
from cmdesk.ui.operations import Operations
from cmdesk.ui.tabs import EVERYTHING
from tests.server.helpers import make_member

PASSWORD = "Operadora2026"


@pytest.fixture(scope="module")
def members(central_server: EmbeddedServer) -> dict[str, str]:
    """An operator and an administrator of the demo distributor, with passwords."""
    engine = db.create_db_engine(central_server.database_url)
    try:
        with db.transaction(db.session_factory(engine)) as s:
            account_id = s.scalar(
                select(Membership.account_id)
                .join(Profile, Profile.id == Membership.profile_id)
                .where(Profile.email == DEMO_EMAIL, Membership.role == Role.MASTER.value)
            )
            assert s.get(Account, account_id) is not None
        factory = db.session_factory(engine)
        for email, mobile, role in (
            ("operadora@demo.mx", "5590000001", Role.OPERATOR),
            ("admin@demo.mx", "5590000002", Role.ADMIN),
        ):
            make_member(factory, account_id, email, mobile, role, PASSWORD)
    finally:
        engine.dispose()
    return {"operator": "operadora@demo.mx", "admin": "admin@demo.mx", "master": DEMO_EMAIL}


def signed_in(url: str, home: Path, login: str, password: str) -> DesktopSession:
    session = DesktopSession(DesktopConfig(server_url=url), home=home)
    assert session.start(sync=False).needs_sign_in
    session.sign_in(login, password, sync=False)
    return session


@pytest.fixture
def as_operator(
    central_server: EmbeddedServer, members: dict[str, str], tmp_path: Path
) -> Iterator[DesktopSession]:
    session = signed_in(central_server.url, tmp_path, members["operator"], PASSWORD)
    try:
        yield session
    finally:
        session.close()


def pages(context: AppContext) -> dict[str, Any]:
    return {
        "users": UsersPage(context),
        "prices": PricesPage(context),
        "settings": SettingsPage(context),
        "rules": RulesPage(context),
        "purchases": PurchasesPage(context),
        "distributors": DistributorsPage(context),
    }


def gated(built: dict[str, Any]) -> list[Any]:
    return [
        built["users"].new_button,
        built["users"].resend_button,
        built["users"].delete_button,
        built["rules"].add_button,
        built["rules"].edit_button,
        built["rules"].delete_button,
        built["prices"].add_button,
        built["prices"].edit_button,
        built["prices"].delete_button,
        built["settings"].edit_button,
        built["settings"].save_button,
        built["purchases"].stamps.buy_button,
        built["purchases"].points.buy_button,
        built["purchases"].renew_button,
        built["distributors"].add_button,
        *built["distributors"].buttons.values(),
    ]


def test_an_operator_does_not_see_what_it_cannot_do(
    qtbot: Any, ops: Operations, as_operator: DesktopSession, tmp_path: Path
) -> None:
    assert as_operator.role() == "operator"
    built = pages(AppContext(ops, as_operator))
    for page in built.values():
        qtbot.addWidget(page)
        page.resize(1366, 768)
        page.show()
    for widget in gated(built):
        assert widget.isHidden(), widget.objectName()
    note = built["prices"].role_note
    assert note.isVisible()
    assert note.text() == (
        "Sólo un administrador de la cuenta puede cambiar los precios. Su rol en esta cuenta: Operador."
    )
    assert "administrar a los usuarios" in built["users"].role_note.text()
    assert "compras y contrataciones" in built["purchases"].role_note.text()
    # Transfers to sub-distributors stay an operator's work.
    assert not built["distributors"].transfer_button.isHidden()
    assert built["distributors"]._allowed({"suspend", "transfer_stamps"}) == {"transfer_stamps"}
    built["prices"].grab().save(str(tmp_path / "precios-operador.png"))


def test_the_role_saved_with_the_account_holds_offline(
    central_server: EmbeddedServer, members: dict[str, str], tmp_path: Path
) -> None:
    session = signed_in(central_server.url, tmp_path, members["operator"], PASSWORD)
    session.close()
    again = DesktopSession(DesktopConfig(server_url=central_server.url), home=tmp_path)
    try:
        assert again.open_saved_account()
        assert again.role() == "operator"  # before any server answer: session.json
    finally:
        again.close()


@pytest.mark.parametrize("who", ["master", "admin"])
def test_administrators_see_everything(
    qtbot: Any,
    ops: Operations,
    central_server: EmbeddedServer,
    members: dict[str, str],
    tmp_path: Path,
    who: str,
) -> None:
    password = DEMO_PASSWORD if who == "master" else PASSWORD
    session = signed_in(central_server.url, tmp_path, members[who], password)
    try:
        built = pages(AppContext(ops, session))
        for page in built.values():
            qtbot.addWidget(page)
            page.refresh(EVERYTHING)
        for widget in gated(built):
            assert not widget.isHidden(), widget.objectName()
        assert all(not page.role_note.isVisibleTo(page) for page in built.values())
        dialog = NewUserDialog(AppContext(ops, session))
        qtbot.addWidget(dialog)
        assert [dialog.role.itemText(i) for i in range(dialog.role.count())] == ["Administrador", "Operador"]
        assert dialog.role.currentData() == "operator"
    finally:
        session.close()
