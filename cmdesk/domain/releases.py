"""Signed release manifests: how cmdesk knows an installer it downloads is one Induxsoft published.

A release of cmdesk is an installer in the server's Software catalog (product `cmdesk`, kind
`installer`) plus a **manifest**, a small JSON text:

    {"product": "cmdesk", "version": "0.2.0", "file_name": "cmdesk-setup-0.2.0.exe",
     "sha256": "<64 hex>", "size": 48213504, "published_at": "2026-05-01T12:00:00Z"}

and an **Ed25519 signature** of the manifest's exact UTF-8 bytes, in base64. The publisher signs with
a private key that never leaves the release machine (docs/release.md); cmdesk carries the public key
(`cmdesk/resources/update_key.pub`) and refuses any release whose manifest is missing, does not
verify, or does not describe the very file the catalog offers (product, version, SHA-256, size).
The server stores both texts as they are (it cannot sign, and does not need the key); it only checks
that a manifest it is given matches the file it stores, to catch a publishing mistake early.

Pure functions over bytes and texts; `cryptography` does the Ed25519 arithmetic.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MANIFEST_FIELDS = ("product", "version", "file_name", "sha256", "size", "published_at")
MAX_MANIFEST_LENGTH = 4000
SIGNATURE_LENGTH = 64  # bytes of an Ed25519 signature

_SHA256_RE = re.compile(r"[0-9a-f]{64}")

MSG_UNSIGNED = (
    "La actualización {version} no trae la firma de Induxsoft; por seguridad no se instalará. "
    "Avise a su proveedor."
)
MSG_BAD_SIGNATURE = (
    "La firma de la actualización {version} no es válida: el archivo pudo haber sido alterado. "
    "Por seguridad no se instalará."
)
MSG_BAD_MANIFEST = "El manifiesto de la actualización {version} está dañado ({why}); no se instalará."
MSG_MISMATCH = (
    "La actualización {version} no coincide con su manifiesto firmado ({why}); por seguridad no se "
    "instalará."
)


class ReleaseRefused(Exception):
    """A release that must not be installed; `str()` is the Spanish reason shown to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Manifest:
    product: str
    version: str
    file_name: str
    sha256: str
    size: int
    published_at: str

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in MANIFEST_FIELDS}


# ---- building and signing (the publisher) ---------------------------------------------------------


def manifest_text(
    *,
    product: str,
    version: str,
    file_name: str,
    sha256: str,
    size: int,
    published_at: dt.datetime | None = None,
) -> str:
    """The manifest of a release, as the text to sign (keys sorted, compact, UTF-8)."""
    when = (published_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    data = {
        "product": product,
        "version": version,
        "file_name": file_name,
        "sha256": sha256.lower(),
        "size": int(size),
        "published_at": when.isoformat().replace("+00:00", "Z"),
    }
    parse_manifest(json.dumps(data))  # the same rules the readers apply
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sign(private_key: Ed25519PrivateKey, text: str) -> str:
    """The base64 Ed25519 signature of `text`'s UTF-8 bytes."""
    return base64.b64encode(private_key.sign(text.encode("utf-8"))).decode("ascii")


def load_private_key(data: bytes, password: bytes | None = None) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8, optionally encrypted)."""
    key = serialization.load_pem_private_key(data, password=password)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the key is not an Ed25519 private key")
    return key


def private_key_pem(key: Ed25519PrivateKey, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


# ---- reading and verifying (the desktop; the server checks the structure) -------------------------


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (SubjectPublicKeyInfo) or its raw 32 bytes in base64."""
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(text)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the key is not an Ed25519 public key")
        return key
    raw = base64.b64decode(text, validate=True)
    return Ed25519PublicKey.from_public_bytes(raw)


def parse_manifest(text: str, version_hint: str = "") -> Manifest:
    """The manifest in `text`, checked field by field; `ReleaseRefused` when it is not one."""
    label = version_hint or "?"

    def bad(why: str) -> ReleaseRefused:
        return ReleaseRefused(MSG_BAD_MANIFEST.format(version=label, why=why))

    if not isinstance(text, str) or len(text) > MAX_MANIFEST_LENGTH:
        raise bad("demasiado largo")
    try:
        data = json.loads(text)
    except ValueError:
        raise bad("no es JSON") from None
    if not isinstance(data, dict):
        raise bad("no es un objeto JSON")
    missing = [name for name in MANIFEST_FIELDS if name not in data]
    if missing:
        raise bad("faltan " + ", ".join(missing))
    strings = ("product", "version", "file_name", "sha256", "published_at")
    if any(not isinstance(data[name], str) or not data[name].strip() for name in strings):
        raise bad("un campo de texto está vacío")
    size = data["size"]
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise bad("tamaño inválido")
    if not _SHA256_RE.fullmatch(data["sha256"]):
        raise bad("SHA-256 inválido")
    return Manifest(
        product=data["product"],
        version=data["version"],
        file_name=data["file_name"],
        sha256=data["sha256"],
        size=size,
        published_at=data["published_at"],
    )


def decode_signature(signature: str) -> bytes | None:
    """The signature's 64 bytes, or None when it is not base64 of that length."""
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError, AttributeError):
        return None
    return raw if len(raw) == SIGNATURE_LENGTH else None


def verify(public_key: Ed25519PublicKey, text: str | None, signature: str | None, version: str) -> Manifest:
    """The manifest of release `version` once its signature checks out; `ReleaseRefused` otherwise."""
    if not text or not signature:
        raise ReleaseRefused(MSG_UNSIGNED.format(version=version))
    raw = decode_signature(signature)
    if raw is None:
        raise ReleaseRefused(MSG_BAD_SIGNATURE.format(version=version))
    try:
        public_key.verify(raw, text.encode("utf-8"))
    except InvalidSignature:
        raise ReleaseRefused(MSG_BAD_SIGNATURE.format(version=version)) from None
    return parse_manifest(text, version)


def check_matches(manifest: Manifest, file: Mapping[str, Any], product: str) -> None:
    """`ReleaseRefused` unless the signed manifest describes `file` (a catalog file view) of `product`."""
    version = str(file.get("file_version") or "")
    problems = []
    if manifest.product != product:
        problems.append(f"producto «{manifest.product}»")
    if manifest.version != version:
        problems.append(f"versión {manifest.version}")
    if manifest.sha256 != str(file.get("sha256") or "").lower():
        problems.append("SHA-256")
    if manifest.size != file.get("size"):
        problems.append("tamaño")
    if problems:
        raise ReleaseRefused(MSG_MISMATCH.format(version=version, why=", ".join(problems)))
