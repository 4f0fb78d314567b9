"""Red de distribuidores: the sub-distributors as a tree — their own below each, as far as the account
may see — with each one's balances, clients and CTIs, the totals of its branch, and the states that
need action highlighted (vencido, por vencer, sin validar for more than N days, sin activar,
cancelado). Read online (`cmdesk.services.network`); "Sólo los que requieren atención" keeps the
branches that lead to one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from cmdesk.domain import network
from cmdesk.ui import locale as fmt
from cmdesk.ui.distribuidores import actions
from cmdesk.ui.kit import labels
from cmdesk.ui.kit.forms import Notice, fit_window, hbox, heading, vbox
from cmdesk.ui.kit.messages import error_text

tr = actions.tr

# The colors of the states that need action (the same in light and dark: a tinted background).
ATTENTION_COLORS = {
    "expired": QColor(229, 115, 115, 110),
    "expiring": QColor(255, 183, 77, 110),
    "unvalidated": QColor(255, 213, 79, 110),
    "inactive": QColor(144, 202, 249, 110),
    "cancelled": QColor(189, 189, 189, 110),
}

HEADERS = (
    "NIC",
    "Nombre",
    "Estado",
    "Requiere atención",
    "Timbres",
    "Puntos",
    "Clientes",
    "CTI",
    "Timbres (rama)",
    "Puntos (rama)",
    "Clientes (rama)",
    "CTI (rama)",
    "Sub-distribuidores",
    "Vence",
)
NUMBERS = frozenset(range(4, 13))


def _texts(item: Mapping[str, Any]) -> list[str]:
    balances = item.get("balances") or {}
    branch = item.get("branch") or {}
    attention = ", ".join(str(a.get("label") or a.get("code")) for a in item.get("attention") or [])
    return [
        str(item.get("nic") or ""),
        str(item.get("name") or ""),
        str(item.get("status_label") or labels.status(item.get("status"))),
        attention,
        fmt.number(int(balances.get("stamps") or 0)),
        fmt.number(int(balances.get("points") or 0)),
        fmt.number(int(item.get("clients") or 0)),
        fmt.number(int(item.get("stamping_accounts") or 0)),
        fmt.number(int(branch.get("stamps") or 0)),
        fmt.number(int(branch.get("points") or 0)),
        fmt.number(int(branch.get("clients") or 0)),
        fmt.number(int(branch.get("stamping_accounts") or 0)),
        fmt.number(int(branch.get("distributors") or 0)),
        fmt.date(item.get("expires_at")),
    ]


class NetworkWindow(QDialog):
    """The network tree (see the module docstring)."""

    loaded = Signal()

    def __init__(self, context: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("networkWindow")
        self.setWindowTitle(tr("Red de distribuidores"))
        self.context = context
        self.items: list[dict[str, Any]] = []
        self.root: dict[str, Any] = {}
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("networkTree")
        self.tree.setColumnCount(len(HEADERS))
        self.tree.setHeaderLabels([tr(h) for h in HEADERS])
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        self.only_attention = QCheckBox(tr("Sólo los que requieren atención"), self)
        self.only_attention.setObjectName("onlyAttention")
        self.only_attention.toggled.connect(lambda *_: self._fill())
        self.unvalidated_days = QSpinBox(self)
        self.unvalidated_days.setObjectName("unvalidatedDays")
        self.unvalidated_days.setRange(1, 365)
        self.unvalidated_days.setValue(network.UNVALIDATED_DAYS)
        self.unvalidated_days.setSuffix(tr(" días"))
        self.expiring_days = QSpinBox(self)
        self.expiring_days.setObjectName("expiringDays")
        self.expiring_days.setRange(1, 365)
        self.expiring_days.setValue(network.EXPIRING_DAYS)
        self.expiring_days.setSuffix(tr(" días"))
        self.refresh_button = QPushButton(tr("Actualizar"), self)
        self.refresh_button.setObjectName("refresh")
        self.refresh_button.clicked.connect(self.load)
        self.totals = QLabel(self)
        self.totals.setObjectName("totals")
        self.notice = Notice(self)
        close = QPushButton(tr("Cerrar"), self)
        close.clicked.connect(self.close)
        vbox(
            self,
            heading(
                tr("Red de distribuidores"),
                self,
                tr(
                    "Sus sub-distribuidores y los de ellos, con los saldos sumados por rama. En color, "
                    "los que requieren atención."
                ),
            ),
            hbox(
                self.only_attention,
                16,
                QLabel(tr("Sin validar por más de"), self),
                self.unvalidated_days,
                12,
                QLabel(tr("Por vencer en"), self),
                self.expiring_days,
                self.refresh_button,
                None,
            ),
            (self.tree, 1),
            hbox(self.totals, None, close),
            self.notice,
        )
        self.resize(1300, 620)
        fit_window(self)
        self.load()

    def load(self) -> None:
        self.refresh_button.setEnabled(False)
        self.notice.show_text(tr("Leyendo la red…"))
        actions.network(
            self.context,
            unvalidated_days=self.unvalidated_days.value(),
            expiring_days=self.expiring_days.value(),
            parent=self,
        ).success(self._loaded).failure(self._failed).run()

    def _failed(self, error: BaseException) -> None:
        self.refresh_button.setEnabled(True)
        self.notice.show_text(error_text(error), error=True)
        self.loaded.emit()

    def _loaded(self, answer: Mapping[str, Any]) -> None:
        self.refresh_button.setEnabled(True)
        self.notice.show_text("")
        self.root = dict(answer.get("root") or {})
        self.items = list(answer.get("items") or [])
        self._fill()
        self.loaded.emit()

    def _fill(self) -> None:
        self.tree.clear()
        only = self.only_attention.isChecked()
        nodes: dict[str, QTreeWidgetItem] = {}
        for item in self.items:  # depth first: a parent comes before its children
            if only and not (item.get("branch") or {}).get("attention"):
                continue
            parent = nodes.get(str(item.get("parent_id") or ""))
            node = QTreeWidgetItem(parent) if parent is not None else QTreeWidgetItem(self.tree)
            for column, text in enumerate(_texts(item)):
                node.setText(column, text)
                if column in NUMBERS:
                    node.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            node.setData(0, Qt.ItemDataRole.UserRole, item.get("id"))
            codes = [str(a.get("code")) for a in item.get("attention") or []]
            if codes:
                brush = QBrush(ATTENTION_COLORS.get(codes[0], QColor(255, 213, 79, 110)))
                for column in range(len(HEADERS)):
                    node.setBackground(column, brush)
                node.setToolTip(3, _texts(item)[3])
            nodes[str(item.get("id"))] = node
        self.tree.expandAll()
        for column in range(len(HEADERS)):
            self.tree.resizeColumnToContents(column)
        totals = (self.root.get("network") or {}) if self.root else {}
        self.totals.setText(
            tr(
                "Red: {d} distribuidores · {c} clientes · {k} CTI · {s} timbres · {p} puntos · "
                "{a} requieren atención"
            ).format(
                d=fmt.number(int(totals.get("distributors") or len(self.items))),
                c=fmt.number(int(totals.get("clients") or 0)),
                k=fmt.number(int(totals.get("stamping_accounts") or 0)),
                s=fmt.number(int(totals.get("stamps") or 0)),
                p=fmt.number(int(totals.get("points") or 0)),
                a=fmt.number(int(totals.get("attention") or 0)),
            )
        )
