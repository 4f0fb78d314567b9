"""How the screens show a forecast (C.P.D., D.R., the risk band) the cache computed, and the Riesgo
filter both tabs offer. The figures are columns of the cache (`cmdesk.services.cache.forecasts`):
nothing here computes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QWidget

from cmdesk.domain import names
from cmdesk.domain.forecast import RiskBand
from cmdesk.domain.usage import CPD_WINDOW_DAYS
from cmdesk.ui import locale as fmt
from cmdesk.ui import translator
from cmdesk.ui.kit import labels

if TYPE_CHECKING:
    from cmdesk.services.cache.risk import Purchase

tr = translator("pronosticos")

# The D.R. of a row in a band, in the colors of urgency (readable over light and dark rows).
RISK_COLORS: dict[str, QColor] = {
    RiskBand.LE7: QColor("#d32f2f"),
    RiskBand.LE15: QColor("#ef6c00"),
    RiskBand.LE30: QColor("#b8860b"),
}


def cpd_text(centi: Any) -> str:
    """C.P.D. from hundredths, with two decimals; "—" without a forecast."""
    if not isinstance(centi, int):
        return "—"
    return fmt.locale().toString(centi / 100, "f", 2)


def dr_text(days_left: Any, risk: Any, cpd: Any) -> str:
    """D.R.: whole days; "∞" when nothing is consumed; "—" when it does not apply (unlimited, blocked,
    a client without active standard CTIs)."""
    if isinstance(days_left, int):
        return fmt.number(days_left)
    if risk == RiskBand.NO_USE or (isinstance(cpd, int) and cpd == 0 and risk is not None):
        return "∞"
    return "—"


def dr_tooltip(days_left: Any, risk: Any) -> str:
    lines = [
        tr("Días restantes: cuánto dura el saldo al consumo promedio de los últimos {n} días.").format(
            n=CPD_WINDOW_DAYS
        )
    ]
    if isinstance(days_left, int) and risk:
        lines.append(labels.name(names.RISK_BANDS, risk) + ".")
    elif risk == RiskBand.NO_USE:
        lines.append(
            tr("Sin consumo en los últimos {n} días: el saldo no se agota.").format(n=CPD_WINDOW_DAYS)
        )
    elif not isinstance(days_left, int):
        lines.append(tr("No aplica: cuenta ilimitada o bloqueada, o sin cuentas estándar activas."))
    return "\n".join(lines)


def purchase_lines(purchase: Purchase | None) -> list[str]:
    """The usual purchase of a client that runs out soon, and what a refill of that size costs."""
    if purchase is None:
        return []
    if purchase.usual is None:
        return [tr("Aún no ha comprado timbres.")]
    lines = [tr("Compra habitual: {n} timbres.").format(n=fmt.number(purchase.usual))]
    if purchase.refill is not None:
        lines.append(
            tr("Recargarle {n} timbres cuesta {amount} (IVA incluido).").format(
                n=fmt.number(purchase.refill.quantity), amount=fmt.money(purchase.refill.amount_cents)
            )
        )
    else:
        lines.append(tr("Sin precio para calcular la recarga (configure el precio a granel o paquetes)."))
    return lines


def risk_color(risk: Any) -> QColor | None:
    return RISK_COLORS.get(str(risk)) if risk else None


def risk_combo(parent: QWidget, object_name: str = "risk") -> QComboBox:
    """The Riesgo filter: every row, "se agotan en ≤ 7 / 15 / 30 días", "sin consumo" (its data: the
    cache's `risk` filter, None for every row)."""
    combo = QComboBox(parent)
    combo.setObjectName(object_name)
    combo.addItem(tr("Todos (sin filtro de riesgo)"), None)
    for value, text in labels.items(names.RISK_BANDS):
        combo.addItem(text, value)
    combo.setToolTip(tr("Riesgo: las que se agotan pronto, según su consumo promedio diario"))
    return combo
