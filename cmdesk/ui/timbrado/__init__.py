"""Clientes → Timbrado: the stamping accounts (CTI) of the portfolio (see `page`).

Importing the package registers the page as `clientes.timbrado`. `TransferDialog` (transferir timbres o
puntos) is the one transfer dialog of every screen (Clientes and Distribuidores use it too).
"""

from cmdesk.ui import tabs
from cmdesk.ui.timbrado.account_dialogs import CreateStampingAccountDialog, ResetPasswordDialog
from cmdesk.ui.timbrado.chart import ConsumptionChart, ConsumptionPanel
from cmdesk.ui.timbrado.model import StampingAccountsModel
from cmdesk.ui.timbrado.page import TimbradoPage
from cmdesk.ui.timbrado.sales_dialogs import AutoSaleDialog, BulkTransferDialog
from cmdesk.ui.timbrado.transfer_dialog import TransferDialog

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
]
