"""The Software menu: Induxsoft's products and their download options (installers, fixes,
improvements, documentation, tools), stored in the server's file store.

Files live under the store at a relative, Windows-safe path `<product_code>/<kind>/<file name>`
(no reserved names or characters, so the same tree works on NTFS); the database keeps that path,
the size and the SHA-256, computed while copying (streamed, never the whole file in memory). The
download endpoint serves the file with its SHA-256 as ETag.

The catalog is global, not an account's: `Synced.feed_audience()` is empty for these rows, so this
module writes their feed changes for every account itself (`broadcast`: one INSERT ... SELECT over
the accounts). An account created later has none of those rows: account creation (or its first sync)
must call `record_catalog_for_account` once, so the new account's feed lists the whole catalog.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
import re
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import insert, literal, select
from sqlalchemy.orm import Session

import cmdesk
from cmdesk.domain import contact
from cmdesk.domain.enums import SoftwareFileKind
from cmdesk.domain.errors import DomainError, ErrorCode, not_found, validation_error
from cmdesk.domain.files import safe_file_name as clean_file_name
from cmdesk.domain.files import version_key
from cmdesk.domain.names import SOFTWARE_FILE_KINDS
from cmdesk.models import Account, ChangeLog, SoftwareFile, SoftwareProduct, utcnow
from cmdesk.models.base import UTCDateTime
from cmdesk.server.feed import current_txid

CHUNK_SIZE = 1024 * 1024
KIND_ORDER = {k.value: i for i, k in enumerate(SoftwareFileKind)}
KIND_LABEL = SOFTWARE_FILE_KINDS

_PRODUCT_CODE_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?", re.ASCII)
_FILE_VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,39}", re.ASCII)


# ---- Views ---------------------------------------------------------------------------------------


def file_view(f: SoftwareFile) -> dict[str, Any]:
    return {
        "id": f.id,
        "version": f.version,
        "product_id": f.product_id,
        "kind": f.kind,
        "kind_label": KIND_LABEL.get(f.kind, f.kind),
        "title": f.title,
        "file_version": f.file_version,
        "file_name": f.file_name,
        "size": f.size,
        "sha256": f.sha256,
        "published_at": f.published_at,
        "active": f.active,
        # cmdesk's own releases: the signed manifest the desktop verifies before updating itself.
        "manifest": f.manifest,
        "signature": f.signature,
    }


def product_view(p: SoftwareProduct, files: list[SoftwareFile] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p.id,
        "version": p.version,
        "code": p.code,
        "name": p.name,
        "description": p.description,
        "sort_order": p.sort_order,
    }
    if files is not None:
        newest_first = sorted(
            files, key=lambda f: (version_key(f.file_version), f.published_at), reverse=True
        )
        out["files"] = [file_view(f) for f in newest_first]
    return out


# ---- Feed ----------------------------------------------------------------------------------------


def broadcast(session: Session, entity: str, entity_id: str, *, deleted: bool = False) -> None:
    """Record a change of a global catalog row for every account (one INSERT ... SELECT)."""
    session.execute(
        insert(ChangeLog).from_select(
            ["account_id", "entity", "entity_id", "txid", "deleted", "created_at"],
            select(
                Account.id,
                literal(entity),
                literal(entity_id),
                current_txid(),
                literal(deleted),
                literal(utcnow(), UTCDateTime()),
            ),
        )
    )


def record_catalog_for_account(session: Session, account_id: str) -> None:
    """Put the whole catalog in one account's feed (call once when an account is created)."""
    from cmdesk.server import feed

    products = session.scalars(select(SoftwareProduct.id)).all()
    files = session.scalars(select(SoftwareFile.id)).all()
    feed.record_many(
        session,
        [(account_id, "software_product", i) for i in products]
        + [(account_id, "software_file", i) for i in files],
    )


# ---- Publishing ----------------------------------------------------------------------------------


def safe_file_name(name: str) -> str:
    """`name` made safe for every file system the store may live on (Windows included)."""
    return clean_file_name(name, strict=True)


def _check_publish(
    *, product_code: str, product_name: str, kind: str, title: str, file_version: str
) -> dict[str, str]:
    v = contact.Validator()
    if not isinstance(product_code, str) or _PRODUCT_CODE_RE.fullmatch(product_code) is None:
        v.add("product_code", "El código del producto admite minúsculas, dígitos y guiones (máximo 60).")
    name = v.run("product_name", contact.check_required, product_name, "Producto")
    if name is not None and len(name) > 200:
        v.add("product_name", "El nombre del producto admite como máximo 200 caracteres.")
    if kind not in KIND_ORDER:
        v.add("kind", "El tipo debe ser instalador, corrección, mejora, documentación o herramienta.")
    clean_title = v.run("title", contact.check_required, title, "Título")
    if clean_title is not None and len(clean_title) > 200:
        v.add("title", "El título admite como máximo 200 caracteres.")
    if not isinstance(file_version, str) or _FILE_VERSION_RE.fullmatch(file_version.strip()) is None:
        v.add("file_version", "La versión admite letras, dígitos, puntos y guiones (máximo 40).")
    v.raise_if_any()
    assert name is not None and clean_title is not None
    return {"product_name": name, "title": clean_title, "file_version": file_version.strip()}


def _check_release(
    manifest: str | None,
    signature: str | None,
    *,
    product_code: str,
    file_version: str,
    sha256: str,
    size: int,
) -> None:
    """A manifest given with a file must be well formed, signed, and describe that very file (the
    server has no key to verify the signature: the desktop does; this catches publishing mistakes)."""
    if manifest is None and signature is None:
        return
    from cmdesk.domain import releases  # (cryptography: imported only when there is one to check)

    if not manifest or not signature:
        raise validation_error(
            {"manifest" if not manifest else "signature": "El manifiesto y su firma van juntos."}
        )
    if releases.decode_signature(signature) is None:
        raise validation_error({"signature": "La firma debe ser Ed25519 (64 bytes) en base64."})
    try:
        parsed = releases.parse_manifest(manifest, file_version)
        releases.check_matches(
            parsed,
            {"file_version": file_version, "sha256": sha256, "size": size},
            product_code,
        )
    except releases.ReleaseRefused as refused:
        raise validation_error({"manifest": str(refused)}) from None


def _product(session: Session, code: str, name: str, description: str = "") -> SoftwareProduct:
    product = session.scalar(select(SoftwareProduct).where(SoftwareProduct.code == code))
    if product is None:
        count = len(session.scalars(select(SoftwareProduct.id)).all())
        product = SoftwareProduct(code=code, name=name, description=description, sort_order=count)
        session.add(product)
        session.flush()
        broadcast(session, "software_product", product.id)
    return product


def _publish_stream(
    session: Session,
    store: Path,
    *,
    product_code: str,
    product_name: str,
    kind: str,
    title: str,
    file_version: str,
    file_name: str,
    chunks: Iterable[bytes],
    description: str = "",
    now: dt.datetime | None = None,
    manifest: str | None = None,
    signature: str | None = None,
) -> dict[str, Any]:
    values = _check_publish(
        product_code=product_code,
        product_name=product_name,
        kind=kind,
        title=title,
        file_version=file_version,
    )
    name = safe_file_name(file_name)
    relative = f"{product_code}/{kind}/{name}"
    final = store / relative
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.with_name(f".{name}.{secrets.token_hex(4)}.part")
    digest = hashlib.sha256()
    size = 0
    try:
        with temp.open("wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        _check_release(
            manifest,
            signature,
            product_code=product_code,
            file_version=values["file_version"],
            sha256=sha,
            size=size,
        )
        existing = session.scalar(select(SoftwareFile).where(SoftwareFile.storage_path == relative))
        if existing is not None:
            if existing.sha256 != sha:
                raise DomainError(
                    ErrorCode.DUPLICATE,
                    f"Ya se publicó «{name}» con otro contenido; publíquelo con otra versión.",
                )
            if not final.exists() or final.stat().st_size != existing.size:
                # The store lost the file (restored database, new disk): put it back.
                os.replace(temp, final)
            if manifest is not None and (existing.manifest, existing.signature) != (manifest, signature):
                # Signing a release already published (or signing it again): the file stays.
                existing.manifest, existing.signature = manifest, signature
                session.flush()
                broadcast(session, "software_file", existing.id)
            return file_view(existing)
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)
    product = _product(session, product_code, values["product_name"], description)
    row = SoftwareFile(
        product_id=product.id,
        kind=kind,
        title=values["title"],
        file_version=values["file_version"],
        file_name=name,
        size=size,
        sha256=sha,
        storage_path=relative,
        published_at=now or utcnow(),
        manifest=manifest,
        signature=signature,
    )
    session.add(row)
    session.flush()
    broadcast(session, "software_file", row.id)
    return file_view(row)


def _read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            yield chunk


def publish_file(
    session: Session,
    *,
    store: Path,
    product_code: str,
    product_name: str,
    kind: str | SoftwareFileKind,
    title: str,
    file_version: str,
    source: Path,
    description: str = "",
    now: dt.datetime | None = None,
    manifest: str | None = None,
    signature: str | None = None,
) -> dict[str, Any]:
    """Publish `source` as a download option of a product (created if new). Publishing the same file
    again changes nothing (except adding or replacing its signed manifest); another content under the
    same name is a `duplicate`. `manifest` and `signature` (cmdesk's own releases, see
    `cmdesk.domain.releases`) are stored as given, once they match the file."""
    source = Path(source)
    if not source.is_file():
        raise validation_error({"source": f"No existe el archivo «{source}»."})
    kind_value = kind.value if isinstance(kind, SoftwareFileKind) else str(kind)
    return _publish_stream(
        session,
        Path(store),
        product_code=product_code,
        product_name=product_name,
        kind=kind_value,
        title=title,
        file_version=file_version,
        file_name=source.name,
        chunks=_read_chunks(source),
        description=description,
        now=now,
        manifest=manifest,
        signature=signature,
    )


# ---- Reading -------------------------------------------------------------------------------------


def list_catalog(session: Session) -> list[dict[str, Any]]:
    """Every product with its active files, newest version first (the Software menu)."""
    products = session.scalars(
        select(SoftwareProduct).order_by(SoftwareProduct.sort_order, SoftwareProduct.name)
    )
    files = session.scalars(select(SoftwareFile).where(SoftwareFile.active.is_(True)))
    by_product: dict[str, list[SoftwareFile]] = {}
    for f in files:
        by_product.setdefault(f.product_id, []).append(f)
    return [product_view(p, by_product.get(p.id, [])) for p in products]


def file_for_download(session: Session, file_id: str) -> tuple[dict[str, Any], Path]:
    """The file's view and its path relative to the store (an inactive file is not offered)."""
    row = session.get(SoftwareFile, file_id)
    if row is None or not row.active:
        raise not_found("El archivo")
    return file_view(row), Path(*row.storage_path.split("/"))


def load_products(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = session.scalars(select(SoftwareProduct).where(SoftwareProduct.id.in_(ids)))
    return {p.id: product_view(p) for p in rows}


def load_files(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = session.scalars(select(SoftwareFile).where(SoftwareFile.id.in_(ids)))
    return {f.id: file_view(f) for f in rows}


FEED_LOADERS = {"software_product": load_products, "software_file": load_files}


# ---- Demo catalog --------------------------------------------------------------------------------

_I, _F, _M, _D, _T = (k.value for k in SoftwareFileKind)

# (code, name, description, [(kind, title, version, file name)]). The files are generated bytes.
DEMO_PRODUCTS: list[tuple[str, str, str, list[tuple[str, str, str, str]]]] = [
    (
        "maxicomercio-erp-2014",
        "MaxiComercio ERP 2014",
        "Sistema administrativo y comercial para empresas.",
        [
            (_I, "Instalador", "10.2.1", "MaxiComercio-ERP-2014-setup-10.2.1.exe"),
            (_I, "Instalador (versión anterior)", "10.1.8", "MaxiComercio-ERP-2014-setup-10.1.8.exe"),
            (_F, "Corrección de timbrado CFDI", "10.2.1.3", "MaxiComercio-ERP-2014-fix-10.2.1.3.zip"),
            (_D, "Manual de usuario", "10.2", "MaxiComercio-ERP-2014-manual-10.2.pdf"),
        ],
    ),
    (
        "factudesk-2014",
        "FactuDesk 2014",
        "Facturación electrónica de escritorio.",
        [
            (_I, "Instalador", "7.5.0", "FactuDesk-2014-setup-7.5.0.exe"),
            (_F, "Corrección de complemento de pagos", "7.5.0.2", "FactuDesk-2014-fix-7.5.0.2.zip"),
            (_D, "Guía rápida", "7.5", "FactuDesk-2014-guia-rapida-7.5.pdf"),
        ],
    ),
    (
        "nomicloud",
        "NomiCloud",
        "Nómina y timbrado de recibos de nómina.",
        [
            (_I, "Instalador del sincronizador", "3.8.2", "NomiCloud-setup-3.8.2.exe"),
            (_D, "Manual de usuario", "3.8", "NomiCloud-manual-3.8.pdf"),
        ],
    ),
    (
        "dominus",
        "Dóminus",
        "Punto de venta y control de inventarios.",
        [
            (_I, "Instalador", "5.1.0", "Dominus-setup-5.1.0.exe"),
            (_M, "Mejora de reportes de ventas", "5.1.1", "Dominus-mejora-5.1.1.zip"),
            (_T, "Herramienta de respaldo", "1.4", "Dominus-respaldos-1.4.zip"),
        ],
    ),
    (
        "contablink",
        "Contablink",
        "Contabilidad electrónica enlazada a sus CFDI.",
        [
            (_I, "Instalador", "2.3.4", "Contablink-setup-2.3.4.exe"),
            (_T, "Importador de XML", "1.2", "Contablink-importador-xml-1.2.zip"),
        ],
    ),
    (
        "cfdi-explorer",
        "CFDI Explorer",
        "Consulta, validación y descarga de CFDI.",
        [
            (_I, "Instalador", "1.9.0", "CFDI-Explorer-setup-1.9.0.exe"),
            (_D, "Manual de usuario", "1.9", "CFDI-Explorer-manual-1.9.pdf"),
        ],
    ),
    (
        "maxicomercio-pn",
        "MaxiComercio Pequeños Negocios",
        "Edición de MaxiComercio para pequeños negocios.",
        [
            (_I, "Instalador", "4.0.2", "MaxiComercio-PN-setup-4.0.2.exe"),
            (_F, "Corrección de cortes de caja", "4.0.2.1", "MaxiComercio-PN-fix-4.0.2.1.zip"),
        ],
    ),
    (
        "cmdesk",
        "cmdesk (Cuenta Maestra de escritorio)",
        "La Cuenta Maestra en su escritorio, con trabajo sin conexión.",
        [
            (_I, "Instalador", cmdesk.__version__, f"cmdesk-setup-{cmdesk.__version__}.exe"),
            (_D, "Manual de la Cuenta Maestra", "2016", "cmdesk-manual-cuenta-maestra.pdf"),
        ],
    ),
]

DEMO_SIZES = (1_000_000, 6_000_000)


def _demo_bytes(seed: str, size: int, header: str) -> Iterator[bytes]:
    """`size` deterministic pseudo-random bytes, opening with a text saying what they are."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    head = header.encode("utf-8")[:size]
    yield head
    # AES-CTR's key stream, keyed by `seed`: as incompressible as random.randbytes and a few times
    # faster (a first start of the desktop writes some 70 MB of these).
    key = hashlib.sha256(seed.encode("utf-8")).digest()
    stream = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor()
    zeros = bytes(CHUNK_SIZE)
    left = size - len(head)
    while left > 0:
        n = min(CHUNK_SIZE, left)
        yield stream.update(zeros if n == CHUNK_SIZE else zeros[:n])
        left -= n


def seed_demo_software(
    session: Session, store: Path, rng_seed: int = 0, *, sizes: tuple[int, int] = DEMO_SIZES
) -> list[dict[str, Any]]:
    """The demo Software menu: the manual's products with a few download options each. Their files
    are generated pseudo-random bytes of realistic sizes (deterministic from `rng_seed`), clearly
    marked as demo data — not real installers. Running it again adds only what is missing."""
    store = Path(store)
    rng = random.Random(rng_seed)
    now = utcnow()
    published: list[dict[str, Any]] = []
    for code, name, description, options in DEMO_PRODUCTS:
        for i, (kind, title, file_version, file_name) in enumerate(options):
            size = rng.randint(*sizes)
            relative = f"{code}/{kind}/{safe_file_name(file_name)}"
            existing = session.scalar(select(SoftwareFile).where(SoftwareFile.storage_path == relative))
            if existing is not None and (store / relative).is_file():
                published.append(file_view(existing))
                continue
            header = (
                "CMDESK DEMO FILE - NOT A REAL INSTALLER. Archivo de demostracion generado por cmdesk; "
                f"no es un instalable real.\r\nProducto: {code}\r\nArchivo: {file_name}\r\n"
                f"Version: {file_version}\r\nTamano: {size} bytes\r\n\r\n"
            )
            published.append(
                _publish_stream(
                    session,
                    store,
                    product_code=code,
                    product_name=name,
                    kind=kind,
                    title=title,
                    file_version=file_version,
                    file_name=file_name,
                    chunks=_demo_bytes(f"{rng_seed}:{relative}", size, header),
                    description=description,
                    # Older options first, so "published_at" agrees with the order of the list.
                    now=now - dt.timedelta(days=len(options) - i),
                )
            )
    return published
