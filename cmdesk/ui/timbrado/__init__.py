"""Clientes → Timbrado: the stamping accounts (CTI) of the portfolio (see `page`).

Importing the package registers the page as `clientes.timbrado`. `TransferDialog` (transferir timbres o
puntos) is shared with the Clientes and Distribuidores tabs.
"""

from cmdesk.ui import tabs
from cmdesk.ui.timbrado.account_dialogs import CreateStampingAccountDialog, ResetPasswordDialog
from cmdesk.ui.timbrado.chart import ConsumptionChart, ConsumptionPanel
from cmdesk.ui.timbrado.model import StampingAccountsModel
from cmdesk.ui.timbrado.page import TimbradoPage
from cmdesk.ui.timbrado.sales_dialogs import AutoSaleDialog, BulkTransferDialog
from cmdesk.ui.timbrado.transfer_dialog import TransferDialog
from cmdesk.ui.timbrado.watch import watcher_for

tabs.register("clientes.timbrado", TimbradoPage)

__all__ = [
    "AutoSaleDialog",
    "BulkTransferDialog",
    "ConsumptionChart",
    "ConsumptionPanel",
    "CreateStampingAccountDialog",
    "ResetPasswordDialog",
    "StampingAccountsModel",
    "TimbradoPage",
    "TransferDialog",
    "watcher_for",
]
