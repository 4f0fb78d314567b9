"""Renovar mi cuenta (manual, "Contratar MKL / Suscripciones": «Cuando renueve su Cuenta Maestra se
incluirá también el cargo anual completo…»): opened from Compras or from the header's warning.

The dialog first asks the server what a renewal charges now (`GET` of the renewal quote, online): when
the account expires, the annual fee and the full year of every active MKL and subscription, the total
and the new expiry; or why it can't renew yet (from 30 days before the expiry, or once expired). «Renovar
por $…» renews it (one idempotency key per dialog: a retry after a cut line charges once); the renewed
account goes into the cache at once (the header shows the new date) and a sync brings the charges.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from cmdesk.services.commands.queue import new_key
from cmdesk.ui import locale as fmt
from cmdesk.ui import translator
from cmdesk.ui.compras import actions
from cmdesk.ui.kit.actions import AppContext
from cmdesk.ui.kit.forms import FormDialog
from cmdesk.ui.kit.messages import error_text

tr = translator("compras")


def expiry_sentence(quote: dict[str, Any]) -> str:
    date = fmt.date(quote.get("expires_at"))
    days = int(quote.get("days_left") or 0)
    if quote.get("status") == "expired" or days == 0:
        return tr("Su Cuenta Maestra venció el {date}.").format(date=date)
    left = tr("falta 1 día") if days == 1 else tr("faltan {n} días").format(n=days)
    return tr("Su Cuenta Maestra vence el {date} ({left}).").format(date=date, left=left)


class RenewalDialog(FormDialog):
    """What renewing charges, and «Renovar por $…»; `done_ok(answer)` once renewed."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, tr("Renovar mi cuenta"), parent, accept_text=tr("Renovar"))
        self.setObjectName("renewalDialog")
        self.key = new_key()
        self.quote: dict[str, Any] | None = None
        self.summary = QLabel(tr("Consultando lo que cuesta renovar…"), self)
        self.summary.setObjectName("summary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.layout_.insertWidget(0, self.summary)
        self.ok_button.setEnabled(False)
        self.fit_width(560)
        actions.renewal_quote(self.context, parent=self).success(self._quoted).failure(
            self._quote_failed
        ).run()

    def _quoted(self, quote: dict[str, Any]) -> None:
        self.quote = quote
        parts = [f"<p>{html.escape(expiry_sentence(quote))}</p>"]
        if quote.get("can_renew"):
            rows = "".join(
                f"<tr><td>{html.escape(str(line.get('description') or ''))}</td>"
                f"<td align='right'>&nbsp;&nbsp;{fmt.money(line.get('amount_cents'))}</td></tr>"
                for line in quote.get("charges") or []
            )
            total = fmt.money(quote.get("total_cents") or 0)
            rows += (
                f"<tr><td><b>{tr('Total (IVA incluido)')}</b></td><td align='right'><b>{total}</b></td></tr>"
            )
            parts.append(f"<p>{tr('Al renovar se cargará a su estado de cuenta:')}</p><table>{rows}</table>")
            parts.append(
                "<p>"
                + html.escape(
                    tr(
                        "Su cuenta y sus MKL y suscripciones quedarán vigentes hasta el {date}. La "
                        "renovación no se puede cancelar."
                    ).format(date=fmt.date(quote.get("new_expires_at")))
                )
                + "</p>"
            )
            self.ok_button.setText(tr("Renovar por {total}").format(total=total))
            self.ok_button.setEnabled(True)
        else:
            reason = str(quote.get("reason") or tr("Por ahora su cuenta no se puede renovar."))
            parts.append(f"<p>{html.escape(reason)}</p>")
            self.ok_button.setEnabled(False)
        self.summary.setText("".join(parts))
        self.fit_width(max(self.width(), 560))

    def _quote_failed(self, error: BaseException) -> None:
        self.summary.setText(html.escape(tr("No se pudo consultar la renovación.")))
        self.show_message(error_text(error))

    def set_busy(self, busy: bool) -> None:
        super().set_busy(busy)
        self.ok_button.setEnabled(not busy and bool(self.quote and self.quote.get("can_renew")))

    def submit(self) -> None:
        if not (self.quote and self.quote.get("can_renew")):
            return
        self.run(actions.renew_account(self.context, self.key, parent=self))


def renewed_text(answer: dict[str, Any]) -> str:
    """What to tell once renewed: until when, and what was charged."""
    account = answer.get("account") or {}
    return tr(
        "Su Cuenta Maestra se renovó hasta el {date}; se cargaron {total} a su estado de cuenta."
    ).format(date=fmt.date(account.get("expires_at")), total=fmt.money(answer.get("total_cents") or 0))
