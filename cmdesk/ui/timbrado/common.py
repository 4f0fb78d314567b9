"""What the Timbrado tab's pieces share: texts, the C.P.D./D.R. figures, field messages and pushing.

C.P.D. (consumo promedio diario) and D.R. (días restantes) come from the daily series of
`GET /v1/stamping-accounts/{id}/usage?days=90`, kept in the cache (`Cache.stamping_usage`): the C.P.D.
is the mean of the last 30 days of that series (as `cmdesk.domain.usage` defines it) and the D.R. is
worked out against the balance the cache holds now, so a transfer moves the D.R. at once. A stored
series is *fresh* while the CTI's `issued` count is the one it was fetched with and it was fetched on
the same day (Mexico City); otherwise it is shown (marked as not current) and fetched again when online.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtWidgets import QDialog, QGridLayout, QLabel, QLayout, QWidget

from cmdesk.domain import clock, usage
from cmdesk.services.connectivity import ConnectionState
from cmdesk.ui import QT_TRANSLATE_NOOP
from cmdesk.ui import locale as fmt

if TYPE_CHECKING:
    from cmdesk.services.outbox import Command
    from cmdesk.ui.tabs import AppContext

CONTEXT = "timbrado"


def tr(text: str) -> str:
    return QCoreApplication.translate(CONTEXT, text)


KIND_NAMES = {
    "standard": QT_TRANSLATE_NOOP(CONTEXT, "Estándar"),
    "unlimited": QT_TRANSLATE_NOOP(CONTEXT, "Ilimitada"),
}

USAGE_DAYS = 90  # what is fetched (the chart's longest view)
CPD_DAYS = usage.CPD_WINDOW_DAYS  # what the C.P.D. of the tables averages

ERROR_STYLE = "color: #d32f2f;"
WARNING_STYLE = "color: #b26a00;"


mx_today = clock.today  # the business day (the server counts its days the same way)


@dataclass(frozen=True)
class UsageFigures:
    """C.P.D. and D.R. of one CTI, and the series they come from."""

    cpd: Decimal | None  # None: never fetched
    days_remaining: int | None  # None: unlimited, no consumption, or unknown
    fresh: bool
    fetched_at: dt.datetime | None = None
    daily: list[tuple[dt.date, int]] = field(default_factory=list)

    @property
    def known(self) -> bool:
        return self.cpd is not None


def series_of(stored: Mapping[str, Any] | None) -> list[tuple[dt.date, int]]:
    out: list[tuple[dt.date, int]] = []
    for item in (stored or {}).get("daily") or []:
        try:
            out.append((dt.date.fromisoformat(str(item.get("date"))), int(item.get("issued") or 0)))
        except (TypeError, ValueError):
            continue
    return out


def usage_figures(
    stored: Mapping[str, Any] | None,
    *,
    kind: str,
    balance: int | None,
    issued: int | None,
    window: int = CPD_DAYS,
    today: dt.date | None = None,
) -> UsageFigures:
    """The figures of a CTI from its stored usage (`Cache.stamping_usage`) and its current row."""
    if not stored:
        return UsageFigures(None, None, False)
    daily = series_of(stored)
    cpd = usage.average_daily_use([n for _, n in daily[-window:]])
    remaining = usage.days_remaining(balance if kind == "standard" else None, cpd)
    fetched_at = stored.get("fetched_at")
    fresh = (
        isinstance(fetched_at, dt.datetime)
        and stored.get("issued") == issued
        and mx_today(fetched_at) == (today or mx_today())
    )
    return UsageFigures(
        cpd, remaining, fresh, fetched_at if isinstance(fetched_at, dt.datetime) else None, daily
    )


def cpd_text(figures: UsageFigures) -> str:
    if figures.cpd is None:
        return "—"
    return fmt.locale().toString(float(figures.cpd), "f", 2)


def dr_text(figures: UsageFigures, kind: str) -> str:
    if kind != "standard":
        return "—"
    if figures.cpd is None:
        return "—"
    if figures.days_remaining is None:
        return "∞"
    return fmt.number(figures.days_remaining)


def usage_tooltip(figures: UsageFigures, kind: str) -> str:
    if figures.cpd is None:
        return tr("El consumo se consulta al servidor cuando hay conexión.")
    lines = [tr("Consumo promedio diario de los últimos {n} días.").format(n=CPD_DAYS)]
    if kind != "standard":
        lines.append(tr("Cuenta ilimitada: no tiene saldo que se agote."))
    elif figures.days_remaining is None:
        lines.append(tr("Sin consumo: el saldo no se agota a este ritmo."))
    if figures.fetched_at is not None:
        lines.append(tr("Consultado el {when}.").format(when=fmt.date_time(figures.fetched_at)))
    if not figures.fresh:
        lines.append(tr("Puede no estar al día; se actualizará al haber conexión."))
    return "\n".join(lines)


def client_text(nic: Any, name: Any) -> str:
    """`[200070] Empresa de Pruebas` (as the portal shows a client), or just the name."""
    name = str(name or "").strip()
    nic = str(nic or "").strip()
    return f"[{nic}] {name}" if nic else name


def online(context: AppContext) -> bool:
    session = context.session
    return session is not None and session.api is not None and session.state != ConnectionState.OFFLINE


def request_push(widget: QWidget | None, context: AppContext) -> bool:
    """Send the outbox now when online (the main window's `sync_now`, so its status bar follows);
    returns False when offline (the command waits for the next sync)."""
    if not online(context):
        return False
    window = widget.window() if widget is not None else None
    owner = window.parentWidget() if window is not None else None
    if owner is not None:
        window = owner.window()  # a dialog: its main window
    sync = getattr(window, "sync_now", None)
    if callable(sync):
        sync()
        return True
    session = context.session
    if session is None:
        return False
    context.ops.run(session.sync_now, on_error=lambda _e: None, pool="net", label=tr("Sincronizando"))
    return True


def queued_text(commands: Sequence[Command], pushed: bool) -> str:
    n = len(commands)
    if pushed:
        return tr("Operación enviada al servidor.") if n == 1 else tr("{n} operaciones enviadas.").format(n=n)
    return (
        tr("Sin conexión: la operación quedó pendiente y se enviará al sincronizar.")
        if n == 1
        else tr("Sin conexión: {n} operaciones quedaron pendientes y se enviarán al sincronizar.").format(n=n)
    )


class FieldMessage(QLabel):
    """The Spanish message shown beside a field: an error (red) or a warning (amber); hidden when empty."""

    def __init__(self, parent: QWidget | None = None, name: str = "") -> None:
        super().__init__(parent)
        if name:
            self.setObjectName(name)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.level = ""
        self.hide()

    def set_error(self, text: str | None) -> None:
        self._set(text, ERROR_STYLE, "error")

    def set_warning(self, text: str | None) -> None:
        self._set(text, WARNING_STYLE, "warning")

    def clear(self) -> None:
        self._set(None, "", "")

    def _set(self, text: str | None, style: str, level: str) -> None:
        self.setText(text or "")
        self.setStyleSheet(style if text else "")
        self.level = level if text else ""
        self.setVisible(bool(text))
        if text:
            fit_later(self)


def fit_window(widget: QWidget) -> None:
    """Grow a dialog to the height its wrapped texts need at its width (never shrink it, so it does not
    jump while the user types); Qt leaves a shown dialog at its size when messages appear in it."""
    window = widget.window()
    if not isinstance(window, QDialog) or not window.isVisible():
        return
    layout = window.layout()
    if layout is None:
        return
    layout.activate()
    width = window.width()
    needed = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else layout.sizeHint().height()
    needed = max(needed, layout.totalMinimumSize().height())
    if window.height() < needed:
        window.resize(width, needed)


def fit_later(widget: QWidget) -> None:
    """`fit_window` once the layout has taken in the change."""
    QTimer.singleShot(0, widget, lambda: fit_window(widget))


class FormGrid(QGridLayout):
    """`QFormLayout`'s `addRow` over a grid. A form layout sizes word-wrapped labels (the messages
    beside the fields) by their size hint instead of their height at the width they get, so a dialog
    would open up gaps or clip them; a grid sizes them right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnStretch(1, 1)
        self._next = 0

    def addRow(self, label: str | QWidget | QLayout, field: QWidget | QLayout | None = None) -> None:
        row = self._next
        self._next += 1
        if field is None:  # one item across both columns
            if isinstance(label, QLayout):
                self.addLayout(label, row, 0, 1, 2)
            elif isinstance(label, QWidget):
                self.addWidget(label, row, 0, 1, 2)
            return
        if isinstance(label, str):
            label = QLabel(label, self.parentWidget()) if label else None  # type: ignore[assignment]
        if isinstance(label, QWidget):
            self.addWidget(label, row, 0, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if isinstance(field, QLayout):
            self.addLayout(field, row, 1)
        else:
            self.addWidget(field, row, 1)
