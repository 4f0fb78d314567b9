"""How a command names what it is about, in its description (the pending-commands panel and the
rejection messages show it): people recognise clients by name, not by their ids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cmdesk.domain.names import ASSET_WORDS
from cmdesk.services.cache import Cache


def client_label(cache: Cache, client_id: str) -> str:
    """«Name» (NIC n) of a client in the cache, or «el cliente» when the cache does not know it."""
    client = cache.get("client", client_id) or {}
    name = str(client.get("name") or "").strip()
    if not name:
        return "el cliente"
    nic = str(client.get("nic") or "").strip()
    return f"«{name}» (NIC {nic})" if nic else f"«{name}»"


def clients_label(cache: Cache, client_ids: Sequence[str]) -> str:
    """One client by name; a few by name; many as a count with the first names."""
    if len(client_ids) == 1:
        return "a " + client_label(cache, client_ids[0])
    names = [str((cache.get("client", i) or {}).get("name") or "").strip() for i in client_ids[:3]]
    names = [f"«{n}»" for n in names if n]
    if not names:
        return f"{len(client_ids)} clientes"
    rest = len(client_ids) - len(names)
    listed = ", ".join(names) + (f" y {rest} más" if rest > 0 else "")
    return f"{len(client_ids)} clientes: {listed}"


def target_label(cache: Cache, target_type: str, target_id: str) -> str:
    """What a transfer or a CTI command is about, by name: a client, a CTI of a client, a
    sub-distributor."""
    if target_type == "client":
        return client_label(cache, target_id)
    if target_type == "stamping_account":
        cti = cache.get("stamping_account", target_id) or {}
        owner = client_label(cache, str(cti.get("client_id") or ""))
        return f"la cuenta de timbrado {target_id}" + (f" de {owner}" if owner != "el cliente" else "")
    if target_type in ("distributor", "account"):
        distributor = cache.get("distributor", target_id) or {}
        name = str(distributor.get("name") or "").strip()
        return f"el distribuidor «{name}»" if name else f"el distribuidor {target_id}"
    return target_id


def to(label: str) -> str:
    """«a» before a label, contracted before «el» (al distribuidor)."""
    return "al " + label[3:] if label.startswith("el ") else "a " + label


def bulk_transfer_label(cache: Cache, items: Sequence[Mapping[str, Any]], total: int) -> str:
    """«Transferencia masiva: 1,200 timbres a 3 cuentas de timbrado (Pruebas de «Empresa», …)»: the
    CTIs by id with their client's name, the first three."""
    assets = {str(i.get("asset")) for i in items}
    what = ASSET_WORDS.get(assets.pop(), "") if len(assets) == 1 else ""
    n = len(items)
    named = []
    for item in items[:3]:
        target = item.get("target") or {}
        ident = str(target.get("id") or "")
        if target.get("type") == "stamping_account":
            owner = (cache.get("stamping_account", ident) or {}).get("client_id")
            name = str((cache.get("client", str(owner or "")) or {}).get("name") or "").strip()
            named.append(f"{ident} de «{name}»" if name else ident)
        else:
            label = target_label(cache, str(target.get("type") or ""), ident)
            named.append(label[3:] if label.startswith("el ") else label)
    listed = ", ".join(named) + (f" y {n - len(named)} más" if n > len(named) else "")
    accounts = "cuenta de timbrado" if n == 1 else "cuentas de timbrado"
    if any((i.get("target") or {}).get("type") != "stamping_account" for i in items):
        accounts = "destino" if n == 1 else "destinos"
    return f"Transferencia masiva: {total:,} {what} a {n} {accounts} ({listed})".replace("  ", " ")
