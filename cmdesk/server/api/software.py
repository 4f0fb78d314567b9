"""Software (API.md, last section): the catalog of Induxsoft's products and the download of their files.

`GET /v1/software/files/{id}` serves a stored file for download managers that resume: `ETag` is the
file's SHA-256 (strong: the bytes never change under an id), `Accept-Ranges: bytes`, one `Range`
(`bytes=a-b`, `bytes=a-`, `bytes=-n`) answers 206 with `Content-Range`, an unsatisfiable one 416 with
`Content-Range: bytes */size`; `If-Range` with another validator gets the whole file (200);
`If-None-Match` with the ETag answers 304. A malformed or multi-part `Range` is ignored (the whole
file), as RFC 9110 allows. HEAD answers the same headers without the body. The file is streamed in
chunks, never read whole into memory.

Starlette's `FileResponse` does ranges, but answers 416 and malformed ranges in plain text (not
problem+json), ignores `If-None-Match` and makes its own ETag from the file's mtime; hence this
small response of our own.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Annotated, Any, BinaryIO
from urllib.parse import quote

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import StreamingResponse

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.server import db
from cmdesk.server.api import schemas_tools as st
from cmdesk.server.api.deps import CurrentActor, Db, Pagination
from cmdesk.server.api.errors import http_problem, problem_response
from cmdesk.server.api.schemas_common import problem_responses
from cmdesk.server.operations import software

log = logging.getLogger(__name__)

router = APIRouter(tags=["software"])

CHUNK_SIZE = 256 * 1024
MEDIA_TYPE = "application/octet-stream"
# A byte position longer than this is no real file's: the header is treated as malformed (ignored).
_RANGE_RE = re.compile(r"\s*bytes\s*=\s*(\d{0,30})\s*-\s*(\d{0,30})\s*", re.IGNORECASE)


class Unsatisfiable(Exception):
    """The `Range` asks for no byte of the file: 416."""


@router.get("/v1/software", response_model=st.SoftwareCatalog, responses=problem_responses(401, 422))
def catalog(actor: CurrentActor, factory: Db, page: Pagination) -> dict[str, Any]:
    """El menú Software: cada producto con sus opciones de descarga, la versión más nueva primero."""
    return st.paged(db.run(factory, software.list_catalog), page)


# ---- Download ---------------------------------------------------------------------------------------


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The (first, last) byte positions, inclusive, of a single-range `Range` header; None to ignore
    it (malformed, several ranges, another unit). Raises `Unsatisfiable` when no byte is asked for."""
    match = _RANGE_RE.fullmatch(header)
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:  # the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - n), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # invalid, hence ignored
    if start >= size:
        raise Unsatisfiable
    return start, min(int(last), size - 1) if last else size - 1


def _tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


def none_match(header: str, etag: str) -> bool:
    """`If-None-Match` (weak comparison): does one of its tags, or `*`, name our representation?"""
    return any(t == "*" or t.removeprefix("W/") == etag for t in _tags(header))


def range_applies(if_range: str | None, etag: str, last_modified: str) -> bool:
    """`If-Range`: the range is served only if the client's validator is still ours (strong ETag or
    the exact date); otherwise the whole file is."""
    if if_range is None:
        return True
    value = if_range.strip()
    return value in (etag, last_modified)


def _content_disposition(name: str) -> str:
    quoted = quote(name)
    if quoted == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename*=utf-8''{quoted}"


def _stream(handle: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(start)
        left = length
        while left > 0:
            chunk = handle.read(min(CHUNK_SIZE, left))
            if not chunk:
                log.error("a software file ended %d bytes before its recorded size", left)
                return
            left -= len(chunk)
            yield chunk
    finally:
        handle.close()


def _unavailable() -> DomainError:
    return DomainError(
        ErrorCode.NOT_FOUND, "El archivo no está disponible en el servidor; avise al administrador."
    )


def _locate(store: Path, relative: Path, size: int) -> Path:
    """The stored file, checked to be inside the store and of its recorded size."""
    path = store / relative
    try:
        inside = path.resolve().is_relative_to(store.resolve())
        actual = path.stat().st_size if inside and path.is_file() else None
    except OSError:
        actual = None
    if actual != size:
        log.error("software file %s is missing from the store or has another size", relative.as_posix())
        raise _unavailable()
    return path


def _serve(
    file_id: str,
    request: Request,
    factory: db.SessionFactory,
    *,
    head: bool,
    range_header: str | None,
    if_range: str | None,
    if_none_match: str | None,
) -> Response:
    view, relative = db.run(factory, software.file_for_download, file_id)
    size: int = view["size"]
    path = _locate(Path(request.app.state.settings.software_store), relative, size)
    etag = f'"{view["sha256"]}"'
    last_modified = formatdate(view["published_at"].timestamp(), usegmt=True)
    headers = {
        "ETag": etag,
        "Last-Modified": last_modified,
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-cache",
    }
    if if_none_match is not None and none_match(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    headers["Content-Disposition"] = _content_disposition(view["file_name"])
    status, start, length = 200, 0, size
    if range_header is not None and range_applies(if_range, etag, last_modified):
        try:
            wanted = parse_range(range_header, size)
        except Unsatisfiable:
            body = http_problem(416, f"El rango solicitado no existe en el archivo ({size:,} bytes).")
            return problem_response(body, headers={"Content-Range": f"bytes */{size}", **headers})
        if wanted is not None:
            status, start, length = 206, wanted[0], wanted[1] - wanted[0] + 1
            headers["Content-Range"] = f"bytes {wanted[0]}-{wanted[1]}/{size}"
    headers["Content-Length"] = str(length)
    if head or length == 0:
        return Response(status_code=status, headers=headers, media_type=MEDIA_TYPE)
    handle = path.open("rb")
    return StreamingResponse(
        _stream(handle, start, length), status_code=status, headers=headers, media_type=MEDIA_TYPE
    )


_FILE = {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}
DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "El archivo completo.", "content": _FILE},
    206: {"description": "La parte pedida con `Range` (`Content-Range` dice cuál).", "content": _FILE},
    304: {"description": "No cambió (`If-None-Match` con su ETag)."},
    **problem_responses(401, 404, 416),
}

RangeHeader = Annotated[
    str | None, Header(alias="Range", description="Un solo rango: `bytes=a-b`, `bytes=a-` o `bytes=-n`.")
]
IfRangeHeader = Annotated[
    str | None, Header(alias="If-Range", description="El ETag del archivo: si cambió, se envía completo.")
]
IfNoneMatchHeader = Annotated[
    str | None, Header(alias="If-None-Match", description="ETag conocido: 304 si no cambió.")
]


@router.get("/v1/software/files/{file_id}", response_class=Response, responses=DOWNLOAD_RESPONSES)
def download(
    file_id: str,
    request: Request,
    actor: CurrentActor,
    factory: Db,
    range_header: RangeHeader = None,
    if_range: IfRangeHeader = None,
    if_none_match: IfNoneMatchHeader = None,
) -> Response:
    """Descargar un archivo del menú Software, con reanudación (`Range`, `If-Range`). `ETag` es su SHA-256."""
    return _serve(
        file_id,
        request,
        factory,
        head=False,
        range_header=range_header,
        if_range=if_range,
        if_none_match=if_none_match,
    )


@router.head("/v1/software/files/{file_id}", response_class=Response, responses=DOWNLOAD_RESPONSES)
def download_head(
    file_id: str,
    request: Request,
    actor: CurrentActor,
    factory: Db,
    range_header: RangeHeader = None,
    if_range: IfRangeHeader = None,
    if_none_match: IfNoneMatchHeader = None,
) -> Response:
    """Los encabezados de la descarga (tamaño, ETag) sin el contenido."""
    return _serve(
        file_id,
        request,
        factory,
        head=True,
        range_header=range_header,
        if_range=if_range,
        if_none_match=if_none_match,
    )
