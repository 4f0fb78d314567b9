"""Imports every page package, so each registers itself (`tabs.register`) before the window is built."""

from cmdesk.ui import (
    alertas,  # noqa: F401
    ayuda,  # noqa: F401
    clientes,  # noqa: F401
    compras,  # noqa: F401
    distribuidores,  # noqa: F401
    facturacion,  # noqa: F401
    herramientas,  # noqa: F401
    software,  # noqa: F401
    timbrado,  # noqa: F401
)
