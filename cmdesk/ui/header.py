"""The band above the tabs: the signed-in Cuenta Maestra (NIC, name, expiry) and its balances.

Colors come from the platform palette (light or dark); the balances use a larger font, not a color.
From 30 days before the expiry (`cmdesk.domain.expiry`, the server's reminder thresholds) "Vence: …"
says how many days are left, in amber, in red from 7 days on and once expired, with «Renovar…»
(`renew_requested`: the main window opens Renovar mi cuenta). Read from the cache: it warns offline too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QWidget

from cmdesk.domain import expiry as expiry_rule
from cmdesk.ui import QT_TRANSLATE_NOOP, translator
from cmdesk.ui import locale as fmt
from cmdesk.ui.kit.forms import ERROR_STYLE, WARNING_STYLE, dim, hbox, link_button, vbox

tr = translator("header")


_STATUS = {
    "unvalidated": QT_TRANSLATE_NOOP("header", "Sin validar"),
    "inactive": QT_TRANSLATE_NOOP("header", "Sin activar"),
    "active": QT_TRANSLATE_NOOP("header", "Activo"),
    "suspended": QT_TRANSLATE_NOOP("header", "Suspendido"),
    "cancelled": QT_TRANSLATE_NOOP("header", "Cancelado"),
    "expired": QT_TRANSLATE_NOOP("header", "Vencido"),
}


class _Balance(QWidget):
    """A caption over a big number ("Timbres" / "12,500")."""

    def __init__(self, caption: str, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel(caption, self)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignRight)
        dim(self.caption)  # secondary text, readable (not the disabled color)
        self.value = QLabel("—", self)
        self.value.setObjectName(name)
        self.value.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.value.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.value.setFont(font)
        layout = vbox(self, self.caption, self.value)
        layout.setContentsMargins(12, 0, 0, 0)
        layout.setSpacing(0)


def expiry_text(account: Mapping[str, Any]) -> tuple[str, expiry_rule.ExpiryWarning]:
    """ "Vence: …" and how loudly (days left from 30 days before the date)."""
    expires = fmt.date(account.get("expires_at"))
    if not expires:
        return "", expiry_rule.ExpiryWarning.NONE
    level = expiry_rule.warning(str(account.get("status") or ""), account.get("expires_at"))
    if level is expiry_rule.ExpiryWarning.EXPIRED:
        return tr("Venció el {date}").format(date=expires), level
    if level is expiry_rule.ExpiryWarning.NONE:
        return tr("Vence: {date}").format(date=expires), level
    days = expiry_rule.days_left(account.get("expires_at")) or 0
    left = tr("falta 1 día") if days == 1 else tr("faltan {n} días").format(n=days)
    return tr("Vence: {date} ({left})").format(date=expires, left=left), level


class AccountHeader(QFrame):
    """Shows `set_account(account)`: the API's Account dict (nic, name, expires_at, status, balances)."""

    renew_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("accountHeader")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

        self.name = QLabel(self)
        self.name.setObjectName("accountName")
        font = self.name.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.name.setFont(font)
        self.name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.nic = QLabel(self)
        self.nic.setObjectName("accountNic")
        self.nic.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.expiry = QLabel(self)
        self.expiry.setObjectName("accountExpiry")
        self.status = QLabel(self)
        self.status.setObjectName("accountStatus")

        self.renew_button = link_button(tr("Renovar…"), self, "renewAccount", self.renew_requested.emit)
        self.renew_button.setToolTip(tr("Renovar su Cuenta Maestra por un año"))
        self.renew_button.hide()
        self.warning = expiry_rule.ExpiryWarning.NONE

        details = hbox(self.nic, self.expiry, self.renew_button, self.status, None)
        details.setSpacing(18)

        left = QGridLayout()
        left.setVerticalSpacing(2)
        left.addWidget(self.name, 0, 0)
        left.addLayout(details, 1, 0)

        self.stamps = _Balance(tr("Timbres"), "stampsBalance", self)
        self.points = _Balance(tr("Puntos"), "pointsBalance", self)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addLayout(left, 1)
        layout.addWidget(self.stamps)
        layout.addWidget(self.points)
        self.set_account(None)
        # Until the session answers (the embedded default signs in by itself): not «Sin sesión».
        self.name.setText(tr("Cuenta Maestra"))
        self.nic.setText(tr("Abriendo la sesión…"))

    def set_account(self, account: Mapping[str, Any] | None) -> None:
        if not account:
            self.name.setText(tr("Sin sesión"))
            self.nic.setText(tr("Inicie sesión para ver su Cuenta Maestra."))
            self.expiry.clear()
            self._set_warning(expiry_rule.ExpiryWarning.NONE)
            self.status.clear()
            self.stamps.value.setText("—")
            self.points.value.setText("—")
            return
        name = str(account.get("name") or "")
        trade_name = str(account.get("trade_name") or "")
        self.name.setText(name or trade_name)
        self.name.setToolTip(trade_name if trade_name and trade_name != name else "")
        self.nic.setText(tr("NIC {nic}").format(nic=account.get("nic") or "—"))
        text, level = expiry_text(account)
        self.expiry.setText(text)
        self._set_warning(level)
        status = str(account.get("status") or "")
        self.status.setText(
            tr("Estado: {status}").format(status=tr(_STATUS[status])) if status in _STATUS else ""
        )
        balances = account.get("balances") or {}
        self.stamps.value.setText(fmt.number(balances.get("stamps") or 0))
        self.points.value.setText(fmt.number(balances.get("points") or 0))

    def _set_warning(self, level: expiry_rule.ExpiryWarning) -> None:
        self.warning = level
        soon = level is expiry_rule.ExpiryWarning.SOON
        self.expiry.setStyleSheet(
            "" if level is expiry_rule.ExpiryWarning.NONE else (WARNING_STYLE if soon else ERROR_STYLE)
        )
        font = self.expiry.font()
        font.setBold(level is not expiry_rule.ExpiryWarning.NONE)
        self.expiry.setFont(font)
        self.renew_button.setVisible(level is not expiry_rule.ExpiryWarning.NONE)
