"""Alertas: the low-balance alerts (and their notification) and the renewal calendar. Importing the
package registers the pages; the rules are edited in Herramientas → Reglas de alerta."""

from cmdesk.ui import tabs
from cmdesk.ui.alertas.calendar_page import CalendarPage
from cmdesk.ui.alertas.page import AlertsPage

__all__ = ["AlertsPage", "CalendarPage"]

tabs.register("alertas.alertas", AlertsPage)
tabs.register("alertas.calendario", CalendarPage)
