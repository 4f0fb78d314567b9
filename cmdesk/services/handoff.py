"""The credential hand-off sheet (hoja de entrega): what a distributor gives a client when a CTI is
created or its password is reset — the client, the CTI id and its password, the stamping service's
address, how to enter them in Induxsoft's products, and whom to ask for help.

The password lives only in the `HandoffSheet` the screen holds while its window is open: cmdesk never
writes it to the cache, the outbox, a log or a setting. Only the PDF the user chooses to save (or
print) carries it. No Qt here: the PDF is drawn by `cmdesk.ui.timbrado.handoff`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cmdesk.services.api_client import ApiClient
from cmdesk.services.cache import Cache
from cmdesk.services.server_info import server_now

STAMPING_PATH = "/v1/stamping/consume"

# How to enter the CTI in Induxsoft's invoicing products (the manual's "Cuenta de Timbrado": the id
# and the password go in the stamping settings of the emitter).
STEPS = (
    "Abra su sistema de facturación de Induxsoft y entre a la configuración del emisor (Configuración → "
    "Timbrado / PAC).",
    "En «Cuenta de timbrado» escriba el Id de la cuenta (CTI) y en «Contraseña» la contraseña de esta hoja.",
    "Si el sistema pide la dirección del servicio de timbrado, escriba la que aparece en esta hoja.",
    "Guarde la configuración y timbre un comprobante de prueba: cada CFDI timbrado descuenta un timbre "
    "de la cuenta (las cuentas ilimitadas no tienen saldo).",
    "Si tenía configurada una contraseña anterior de esta cuenta, reemplácela: ya no funciona.",
)


@dataclass(frozen=True)
class HandoffSheet:
    event: str  # "created" · "reset"
    cti_id: str
    password: str = field(repr=False)  # never printed in a log
    kind: str  # standard · unlimited
    client_name: str
    client_nic: str
    client_rfc: str
    service_url: str
    distributor_name: str
    distributor_nic: str
    distributor_phone: str
    distributor_email: str
    at: dt.datetime


def handoff_sheet(
    api: ApiClient | None, cache: Cache, cti_id: str, password: str, *, event: str = "created"
) -> HandoffSheet:
    """The sheet of a CTI just created or reset, from the cache (the client, the distributor) and the
    server's address (the stamping service the desktop talks to)."""
    if event not in ("created", "reset"):
        raise ValueError(event)
    cti = cache.get("stamping_account", cti_id) or {}
    client = cache.get("client", str(cti.get("client_id") or "")) or {}
    account = cache.account() or {}
    base = api.base_url if api is not None else ""
    return HandoffSheet(
        event=event,
        cti_id=cti_id,
        password=password,
        kind=str(cti.get("kind") or "standard"),
        client_name=str(client.get("name") or ""),
        client_nic=str(client.get("nic") or ""),
        client_rfc=str(client.get("rfc") or ""),
        service_url=base + STAMPING_PATH if base else "",
        distributor_name=str(account.get("trade_name") or account.get("name") or ""),
        distributor_nic=str(account.get("nic") or ""),
        distributor_phone=str(account.get("phone") or ""),
        distributor_email=str(account.get("email") or ""),
        at=server_now(),
    )
