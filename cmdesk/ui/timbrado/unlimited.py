"""The yearly fee of an unlimited CTI (CTI Ilimitada), paid in points: who pays it, what it costs, until
when it is paid, and the dialog that pays or renews it.

- `FeePayerBox`: the fee of a year (from the cached catalog, downloaded again when the cache does not
  say it) and who pays it — the client's points or the distributor's — with both balances; the create
  dialog charges it in the same operation, `UnlimitedFeeDialog` pays it for an existing CTI.
- `fee_text(kind, paid_until)`: what the tables show in «Pagada hasta» (a date, «Sin pagar», «Vencida
  el …»); `fee_problem`: whether the row must say the CTI can't stamp.
- `UnlimitedFeeDialog`: «Pagar cuota anual» of an unpaid or expired CTI, or «Renovar» before it expires
  (each paid year extends it from its current date); online, like the server's answer it shows.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QLabel,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from cmdesk.domain.unlimited import MAX_YEARS, fee_state
from cmdesk.services.api_client import ApiError, OfflineError
from cmdesk.services.server_info import server_now
from cmdesk.ui import locale as fmt
from cmdesk.ui.kit.forms import FieldMessage, FormGrid, fit_later, hbox, vbox
from cmdesk.ui.timbrado import actions
from cmdesk.ui.timbrado.common import tr

if TYPE_CHECKING:
    from cmdesk.ui.kit.actions import AppContext


def fee_text(
    kind: str, paid_until: dt.datetime | str | None, now: dt.datetime | None = None, *, short: bool = False
) -> str:
    """«Pagada hasta» of a table row: empty for a standard CTI; `short` (a narrow column): «Vencida»
    without its date, which the tooltip says."""
    state = fee_state(kind, paid_until, now or server_now())
    if state == "none":
        return ""
    if state == "unpaid":
        return tr("Sin pagar")
    if state == "expired":
        return tr("Vencida") if short else tr("Vencida el {date}").format(date=fmt.date(paid_until))
    return fmt.date(paid_until)


def fee_problem(kind: str, paid_until: dt.datetime | str | None, now: dt.datetime | None = None) -> str:
    """Why the CTI can't stamp for its fee (empty when it can), and what to do."""
    state = fee_state(kind, paid_until, now or server_now())
    if state == "unpaid":
        return tr("La cuota anual no está pagada: no puede timbrar. Clic derecho → «Pagar cuota anual».")
    if state == "expired":
        return tr(
            "La cuota anual venció el {date}: no puede timbrar. Clic derecho → «Pagar cuota anual»."
        ).format(date=fmt.date(paid_until))
    if state == "due_soon":
        return tr("La cuota anual vence el {date}: puede renovarla desde ahora.").format(
            date=fmt.date(paid_until)
        )
    return ""


class FeePayerBox(QGroupBox):
    """Cuota anual: what a year costs in points and who pays it (the client or the distributor)."""

    changed = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(tr("Cuota anual (en puntos)"), parent)
        self.setObjectName("feePayer")
        self.context = context
        self.client_id: str | None = None
        self.info: dict[str, Any] = {}
        self.years = 1
        self._fetched_catalog = False
        self.fee_label = QLabel(self)
        self.fee_label.setObjectName("feeText")
        self.fee_label.setWordWrap(True)
        self.by_client = QRadioButton(self)
        self.by_client.setObjectName("payerClient")
        self.by_account = QRadioButton(self)
        self.by_account.setObjectName("payerAccount")
        self.by_account.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.by_client)
        group.addButton(self.by_account)
        self.by_client.toggled.connect(lambda _on: self._show())
        self.message = FieldMessage(self, "payerMessage")
        vbox(self, self.fee_label, self.by_account, self.by_client, self.message)
        self._show()

    @property
    def payer(self) -> str:
        return "client" if self.by_client.isChecked() else "account"

    @property
    def fee_points(self) -> int | None:
        fee = self.info.get("fee_points")
        return fee if isinstance(fee, int) else None

    def load(self, client_id: str | None) -> None:
        self.client_id = client_id
        actions.unlimited_fee_info(self.context, client_id).success(self._loaded).failure(
            lambda e: self.message.set_error(str(e))
        ).run()

    def set_years(self, years: int) -> None:
        self.years = years
        self._show()

    def _loaded(self, info: dict[str, Any]) -> None:
        self.info = info
        if info.get("fee_points") is None and not self._fetched_catalog and self.context.is_online():
            # A catalog cached by an older version does not say the fee: ask the server once.
            self._fetched_catalog = True
            actions.fetch_catalog(self.context).success(lambda _c: self.load(self.client_id)).failure(
                lambda _e: self._show()
            ).run()
        self._show()

    def _show(self) -> None:
        fee = self.fee_points
        total = fee * self.years if fee is not None else None
        if fee is None:
            self.fee_label.setText(
                tr(
                    "La cuota anual se cobra en puntos al pagarla (1 punto = $1.00); el catálogo guardado "
                    "en este equipo no dice cuánto es."
                )
            )
        elif self.years == 1:
            self.fee_label.setText(
                tr("Un año cuesta <b>{n} puntos</b> (1 punto = $1.00), que se descuentan al aceptar.").format(
                    n=fmt.number(fee)
                )
            )
        else:
            self.fee_label.setText(
                tr(
                    "{years} años cuestan <b>{n} puntos</b> (1 punto = $1.00), que se descuentan al aceptar."
                ).format(years=self.years, n=fmt.number(total))
            )

        def balance(key: str) -> str:
            value = self.info.get(key)
            return fmt.number(value) if isinstance(value, int) else tr("desconocido")

        self.by_account.setText(
            tr("La paga la Cuenta Maestra con sus puntos (saldo: {n})").format(n=balance("account_points"))
        )
        self.by_client.setText(
            tr("La paga el cliente con sus puntos (saldo: {n})").format(n=balance("client_points"))
        )
        self.by_client.setEnabled(bool(self.client_id))
        self.message.clear()
        key = "client_points" if self.payer == "client" else "account_points"
        points = self.info.get(key)
        if total is not None and isinstance(points, int) and points < total:
            self.message.set_warning(
                tr(
                    "Según los datos guardados no alcanzan los puntos ({n} de {total}); si el servidor "
                    "tampoco los tiene, no se hará nada."
                ).format(n=fmt.number(points), total=fmt.number(total))
            )
        self.changed.emit()


class UnlimitedFeeDialog(QDialog):
    """Pagar / renovar la cuota anual de una CTI ilimitada (online)."""

    def __init__(
        self,
        context: AppContext,
        cti: dict[str, Any],
        client_label: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("unlimitedFeeDialog")
        self.context = context
        self.cti_id = str(cti["id"])
        self.answer: dict[str, Any] | None = None
        self.busy = False
        state = fee_state("unlimited", cti.get("paid_until"), server_now())
        renewing = state in ("paid", "due_soon")
        self.setWindowTitle(tr("Renovar cuota anual") if renewing else tr("Pagar cuota anual"))
        heading = QLabel(
            tr("Cuenta de timbrado ilimitada <b>{cti}</b>").format(cti=self.cti_id)
            + (f"<br>{client_label}" if client_label else ""),
            self,
        )
        heading.setObjectName("ctiHeading")
        heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if state == "unpaid":
            status = tr("La cuota anual no se ha pagado: la cuenta no puede timbrar hasta pagarla.")
        elif state == "expired":
            status = tr("La cuota anual venció el {date}: la cuenta no puede timbrar hasta pagarla.").format(
                date=fmt.date(cti.get("paid_until"))
            )
        else:
            status = tr(
                "Pagada hasta el {date}. Renovarla ahora extiende esa fecha: no se pierde el tiempo ya "
                "pagado."
            ).format(date=fmt.date(cti.get("paid_until")))
        self.status = QLabel(status, self)
        self.status.setObjectName("feeStatus")
        self.status.setWordWrap(True)
        self.years = QSpinBox(self)
        self.years.setObjectName("years")
        self.years.setRange(1, MAX_YEARS)
        self.years.setSuffix(tr(" año(s)"))
        self.payer = FeePayerBox(context, self)
        self.years.valueChanged.connect(self.payer.set_years)
        self.payer.changed.connect(self._update_button)
        self.message = FieldMessage(self, "formMessage")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(tr("Cancelar"))
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        form = FormGrid()
        form.addRow(tr("Años a pagar:"), hbox(self.years, None))
        vbox(self, heading, self.status, form, self.payer, self.message, self.buttons)
        self.setMinimumWidth(520)
        if not context.is_online():
            self.message.set_warning(
                tr(
                    "No hay conexión con el servidor: pagar la cuota requiere conexión; intente al "
                    "reconectar."
                )
            )
        self.payer.load(str(cti.get("client_id") or "") or None)
        self._update_button()
        fit_later(self)

    def _update_button(self) -> None:
        fee = self.payer.fee_points
        if self.busy:
            return
        self.ok_button.setText(
            tr("Pagar {n} puntos").format(n=fmt.number(fee * self.years.value())) if fee else tr("Pagar")
        )

    def submit(self) -> None:
        if self.busy:
            return
        self.message.clear()
        self.busy = True
        self.ok_button.setEnabled(False)
        self.ok_button.setText(tr("Pagando…"))
        actions.pay_unlimited_fee(
            self.context, self.cti_id, payer=self.payer.payer, years=self.years.value(), parent=self
        ).success(self._paid).failure(self._failed).run()

    def _paid(self, answer: dict[str, Any]) -> None:
        self.busy = False
        self.answer = answer
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self.busy = False
        self.ok_button.setEnabled(True)
        self._update_button()
        if isinstance(error, OfflineError):
            self.message.set_error(tr("No hay conexión con el servidor: intente de nuevo al reconectar."))
        elif isinstance(error, ApiError):
            self.message.set_error(error.detail)
        else:
            self.message.set_error(tr("No se pudo pagar la cuota: {error}").format(error=str(error)))


def paid_text(answer: dict[str, Any]) -> str:
    """The notice after paying: until when, and how many points it took."""
    return tr("Cuota anual pagada: la cuenta {cti} timbra hasta el {date} ({n} puntos).").format(
        cti=(answer.get("stamping_account") or {}).get("id", ""),
        date=fmt.date(answer.get("paid_until")),
        n=fmt.number(int(answer.get("points_spent") or 0)),
    )
