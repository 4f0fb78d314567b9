"""The Clientes menu's first sub-tab (page `clientes.clientes`): the client portfolio.

`page` (the tab), `model` (the clients table), `delegates` (name with CTI ids, color tag, row actions),
`client_form` (Agregar / Editar cliente), `admin_profile` (Asignar Perfil Admin), `detail` and
`general` (the client's window and its tabs), `actions` (what they do). Transfers use the Timbrado
tab's `TransferDialog`. Importing the package registers the page.
"""

from cmdesk.ui import tabs
from cmdesk.ui.clientes.page import ClientsPage

tabs.register("clientes.clientes", ClientsPage)

__all__ = ["ClientsPage"]
