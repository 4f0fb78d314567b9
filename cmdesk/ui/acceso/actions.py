"""What the sign-in window does before anybody signs in, as actions (`cmdesk.ui.kit.actions`): the
public calls run on the session's API client (`DesktopSession.public`) in the network pool."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import QWidget

from cmdesk.services import commands
from cmdesk.ui import translator
from cmdesk.ui.kit.actions import Action, AppContext, public

tr = translator("acceso")


def request_password_reset(context: AppContext, login: str, *, parent: QWidget | None = None) -> Action:
    """¿Olvidó su contraseña?: the server's answer, the same whether the account exists or not."""
    return public(
        context, commands.request_password_reset, login, parent=parent, label=tr("Enviando el enlace")
    )


def register(context: AppContext, values: Mapping[str, Any], *, parent: QWidget | None = None) -> Action:
    """Quiero ser distribuidor: the registration under the referrer's NIC (a confirmation mail follows)."""
    return public(
        context, commands.register_distributor, dict(values), parent=parent, label=tr("Registrando")
    )
