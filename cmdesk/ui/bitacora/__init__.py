"""Bitácora: Herramientas → Bitácora, and the history of a client or a CTI. Importing the package
registers the page."""

from cmdesk.ui import tabs
from cmdesk.ui.bitacora.page import AuditPanel, BitacoraPage, HistoryDialog, RecordDialog, open_history

__all__ = ["AuditPanel", "BitacoraPage", "HistoryDialog", "RecordDialog", "open_history"]

tabs.register("herramientas.bitacora", BitacoraPage)
