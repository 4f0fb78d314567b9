"""Estados de cuenta: the Cuenta Maestra's (Herramientas → Estado de cuenta) and those of a client or
a CTI (their context menus). Importing the package registers the page."""

from cmdesk.ui import tabs
from cmdesk.ui.estados.panel import StatementDialog, StatementPanel, StatementsPage, open_statement

__all__ = ["StatementDialog", "StatementPanel", "StatementsPage", "open_statement"]

tabs.register("herramientas.estados", StatementsPage)
