"""Secrets the server sends that the cache must not keep in plain text: the NIPs of top-up codes.

The distributor's list of codes shows each code's NIP (the manual's columns), also offline, so the
cache keeps it, sealed: AES-256-GCM under a key of this computer's user kept in the OS keyring
(`CredentialStore.local_secret("cache", …)`; where no keyring is usable, in a file of the user's
configuration folder readable only by the user, never beside the cache). The entity's JSON holds
`sealed: {"nip": "<nonce+ciphertext, base64>"}` instead of `nip`, bound to the entity and its id
(a sealed value copied to another row does not open). Reading the codes opens it again
(`BillingQueries.query_top_up_codes`); a value that does not open (the key was lost: another
Windows profile, a reset keyring) is left out and named in the row's `unopened` list, and the list
shows «No disponible en este equipo» instead of the NIP until the code changes again on the server.
No key at all (neither the keyring nor the file can keep one): the NIP is not stored, only that there
was one (`sealed: {"nip": null}`), so it reads as unopened too.

A cache written before sealing has its NIPs sealed when it opens (`seal_stored`).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cmdesk.services.cache.rows import dumps
from cmdesk.services.credentials import CredentialStore, secret_file

log = logging.getLogger(__name__)

# entity → the fields kept sealed.
FIELDS: dict[str, tuple[str, ...]] = {"top_up_code": ("nip",)}
SEALED = "sealed"
# The opened row's list of the secret fields this computer holds but cannot open (the key was lost).
UNOPENED = "unopened"
KEY_NAME = "cache"
_NONCE_BYTES = 12


def load_key() -> bytes | None:
    """The sealing key of this user (made the first time), or None when nowhere can keep it."""
    try:
        kept = CredentialStore().local_secret(KEY_NAME, secret_file(KEY_NAME))
    except OSError:
        log.warning("no key to seal the cache's secrets: they are not stored", exc_info=True)
        return None
    raw = base64.urlsafe_b64decode(kept.value + "=" * (-len(kept.value) % 4))
    return raw if len(raw) == 32 else None


# Where a store gets its key (tests replace it).
key_source: Callable[[], bytes | None] = load_key


class Sealer:
    """Seals and opens the `FIELDS` of an entity's data with one key (None: drops them)."""

    def __init__(self, key: bytes | None) -> None:
        self._aead = AESGCM(key) if key is not None else None

    @staticmethod
    def _bound(entity: str, ident: str, name: str) -> bytes:
        return f"cmdesk cache {entity} {ident} {name}".encode()

    def seal(self, entity: str, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """`data` with its secret fields sealed (the same object when it has none)."""
        names = [n for n in FIELDS.get(entity, ()) if n in data]
        if not names:
            return data
        out = dict(data)
        sealed = dict(out.get(SEALED) or {})
        ident = str(out.get("id"))
        for name in names:
            value = out.pop(name)
            if value is None:
                sealed.pop(name, None)
                continue
            if self._aead is None:
                sealed[name] = None  # there is one, not kept here: it reads as unopened
                continue
            nonce = os.urandom(_NONCE_BYTES)
            box = self._aead.encrypt(nonce, str(value).encode(), self._bound(entity, ident, name))
            sealed[name] = base64.b64encode(nonce + box).decode("ascii")
        if sealed:
            out[SEALED] = sealed
        else:
            out.pop(SEALED, None)
        return out

    def open(self, entity: str, data: dict[str, Any]) -> dict[str, Any]:
        """`data` with its sealed fields opened in place; what does not open is left out and named in
        `data[UNOPENED]`."""
        sealed = data.pop(SEALED, None)
        if not isinstance(sealed, dict):
            return data
        ident = str(data.get("id"))
        unopened = [name for name in FIELDS.get(entity, ()) if name in sealed]
        for name in list(unopened):
            value = sealed[name]
            if not isinstance(value, str) or self._aead is None:
                continue
            try:
                raw = base64.b64decode(value)
                plain = self._aead.decrypt(
                    raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], self._bound(entity, ident, name)
                )
                data[name] = plain.decode()
                unopened.remove(name)
            except (InvalidTag, ValueError):
                log.warning("a sealed %s of a cached %s does not open (another key)", name, entity)
        if unopened:
            data[UNOPENED] = unopened
        return data


class Sealing:
    """What the cache's store seals on writing and opens on reading (the key is read on first use)."""

    _sealer: Sealer | None = None
    _sealer_lock = threading.Lock()

    def sealer(self) -> Sealer:
        if self._sealer is None:
            with self._sealer_lock:
                if self._sealer is None:
                    self._sealer = Sealer(key_source())
        return self._sealer

    def seal(self, entity: str, data: Mapping[str, Any]) -> Mapping[str, Any]:
        return self.sealer().seal(entity, data) if entity in FIELDS else data

    def unseal(self, entity: str, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        sealer = self.sealer()
        return [sealer.open(entity, row) for row in rows]

    def sealed_params(
        self, entity: str, rows: Iterable[tuple[Mapping[str, Any], str]]
    ) -> list[tuple[str, str, int | None, str]]:
        """The `entities` upsert parameters of snapshot lines ((data, JSON text)), sealed."""
        out = []
        for data, _text in rows:
            sealed = self.seal(entity, data)
            version = v if isinstance(v := sealed.get("version"), int) else None
            out.append((entity, str(sealed["id"]), version, dumps(sealed)))
        return out

    @staticmethod
    def _plain(conn: sqlite3.Connection, entity: str, names: tuple[str, ...]) -> list[tuple[str, str]]:
        conditions = " OR ".join(f"json_type(data, '$.{name}') IS NOT NULL" for name in names)
        sql = f"SELECT id, data FROM entities WHERE entity = ? AND ({conditions})"
        return list(conn.execute(sql, (entity,)).fetchall())

    def plain_rows(self, conn: sqlite3.Connection) -> int:
        """How many rows keep a secret field in plain text (a cache an older version wrote)."""
        return sum(len(self._plain(conn, entity, names)) for entity, names in FIELDS.items())

    def seal_stored(self, conn: sqlite3.Connection) -> int:
        """Seal what a cache written before sealing keeps in plain text; returns how many rows."""
        count = 0
        for entity, names in FIELDS.items():
            rows = self._plain(conn, entity, names)
            if not rows:
                continue
            updates = [
                (dumps(self.seal(entity, json.loads(data))), entity, ident)
                for ident, data in rows
            ]
            conn.executemany("UPDATE entities SET data = ? WHERE entity = ? AND id = ?", updates)
            count += len(updates)
        return count
