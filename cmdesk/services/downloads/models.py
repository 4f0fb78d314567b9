"""What the download manager works with: a file to download (`FileInfo`), the state of its download
(`DownloadState`, `DownloadStatus`) and the Spanish errors it raises (`DownloadError`).

A `FileInfo` is built from the server's view of a Software file (`GET /v1/software` or the synced
`software_file` entity): its id (the download address), its SHA-256 (what the bytes must hash to,
and the server's ETag) and its size are all the manager needs; the rest is for people.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from cmdesk.domain.files import safe_file_name

_SHA256_RE = re.compile(r"[0-9a-f]{64}")
# The store's folder of a file is named after the start of its SHA-256: 96 bits tell files apart
# while keeping paths short (a network share's path plus the name must stay under Windows' 260).
KEY_LENGTH = 24


@dataclass(frozen=True)
class FileInfo:
    """One download option of the Software menu."""

    id: str
    sha256: str
    size: int
    file_name: str
    title: str = ""
    file_version: str = ""
    kind: str = ""
    product_id: str = ""
    product_name: str = ""
    published_at: str = ""

    def __post_init__(self) -> None:
        sha = self.sha256.strip().lower()
        if not _SHA256_RE.fullmatch(sha):
            raise ValueError(f"not a SHA-256: {self.sha256!r}")
        if not isinstance(self.size, int) or self.size < 0:
            raise ValueError(f"not a file size: {self.size!r}")
        if not re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", self.id):
            raise ValueError(f"not a file id: {self.id!r}")
        object.__setattr__(self, "sha256", sha)
        object.__setattr__(self, "file_name", safe_file_name(self.file_name))

    @classmethod
    def from_view(cls, data: Mapping[str, Any], product_name: str = "") -> FileInfo:
        """From the server's `software_file` view (or `to_json()`'s output)."""
        published = data.get("published_at") or ""
        return cls(
            id=str(data["id"]),
            sha256=str(data["sha256"]),
            size=int(data["size"]),
            file_name=str(data.get("file_name") or data["id"]),
            title=str(data.get("title") or ""),
            file_version=str(data.get("file_version") or ""),
            kind=str(data.get("kind") or ""),
            product_id=str(data.get("product_id") or ""),
            product_name=str(data.get("product_name") or product_name),
            published_at=published if isinstance(published, str) else published.isoformat(),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def key(self) -> str:
        """The name of this file's folder in the store (content-addressed: the same bytes published
        on two servers, or under two ids, are kept once)."""
        return self.sha256[:KEY_LENGTH]

    @property
    def etag(self) -> str:
        return f'"{self.sha256}"'

    @property
    def url_path(self) -> str:
        return f"/v1/software/files/{self.id}"


class DownloadState(StrEnum):
    NOT_DOWNLOADED = "not_downloaded"
    QUEUED = "queued"
    WAITING = "waiting"  # another desk sharing the folder is downloading it
    DOWNLOADING = "downloading"
    VERIFYING = "verifying"
    PAUSED = "paused"
    AVAILABLE = "available"  # verified, in the store: usable offline
    FAILED = "failed"


STATE_LABELS: dict[DownloadState, str] = {
    DownloadState.NOT_DOWNLOADED: "No descargado",
    DownloadState.QUEUED: "En cola",
    DownloadState.WAITING: "Otro equipo lo está descargando",
    DownloadState.DOWNLOADING: "Descargando",
    DownloadState.VERIFYING: "Verificando",
    DownloadState.PAUSED: "En pausa",
    DownloadState.AVAILABLE: "Disponible sin conexión",
    DownloadState.FAILED: "Falló",
}

# The states of a download the manager is working on (queued or running).
ACTIVE_STATES = frozenset(
    {DownloadState.QUEUED, DownloadState.WAITING, DownloadState.DOWNLOADING, DownloadState.VERIFYING}
)


@dataclass(frozen=True)
class DownloadStatus:
    """Where a file's download stands. `speed` in bytes per second (0 when unknown), `eta` the
    seconds left (None when unknown), `error` the Spanish reason of a failure, `path` the verified
    file when AVAILABLE, `other_host` the desk downloading it while WAITING."""

    file_id: str
    state: DownloadState
    received: int = 0
    total: int = 0
    speed: float = 0.0
    eta: float | None = None
    error: str | None = None
    path: Path | None = None
    other_host: str | None = None
    pinned: bool = False

    @property
    def fraction(self) -> float:
        return min(1.0, self.received / self.total) if self.total > 0 else 0.0

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]


class DownloadError(Exception):
    """A download that cannot go on; `str()` is the Spanish reason, fit to show."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable

    def __str__(self) -> str:
        return self.message


class Stopped(Exception):
    """The download was asked to stop (pause, cancel or shutdown); `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Spanish messages (one place, so the UI and the tests agree).
MSG_OFFLINE = "Se perdió la conexión con el servidor; reintente cuando vuelva la línea."
MSG_MISMATCH = (
    "El archivo descargado no coincide con su huella SHA-256 publicada y se descartó; "
    "reintente más tarde o avise al administrador."
)
MSG_CHANGED = "El archivo cambió en el servidor; sincronice y vuelva a intentarlo."
MSG_NO_SPACE = "No hay espacio suficiente en la carpeta de descargas."
MSG_FOLDER = "No se pudo escribir en la carpeta de descargas: {error}."
MSG_IN_USE = "El archivo está en uso; ciérrelo e intente de nuevo."
MSG_BAD_ANSWER = "El servidor envió una respuesta inesperada; reintente más tarde."


_ERRNO_TEXTS = {
    errno.ENOENT: "la carpeta o una parte de la ruta no existe",
    errno.EACCES: "no tiene permiso para escribir en ella",
    errno.EPERM: "no tiene permiso para escribir en ella",
    errno.ENOTDIR: "una parte de la ruta no es una carpeta",
    errno.EROFS: "es de solo lectura",
    errno.ENOSPC: "no hay espacio suficiente",
    errno.EEXIST: "ya existe un archivo con ese nombre",
    errno.EINVAL: "la ruta no es válida",
    errno.ENAMETOOLONG: "la ruta es demasiado larga",
}


def os_error_text(exc: BaseException) -> str:
    """What went wrong with a file operation, in Spanish (the OS's own text is English on most systems).
    Windows network errors (no share, no server) have no errno of their own: they read as a path that
    does not exist or cannot be reached."""
    if isinstance(exc, ValueError):
        return "la ruta no es válida"
    if isinstance(exc, OSError):
        if exc.errno in _ERRNO_TEXTS:
            return _ERRNO_TEXTS[exc.errno]
        if getattr(exc, "winerror", None) in (53, 67, 64, 1231):  # no network path / name / connection
            return "no se puede llegar a la carpeta de red"
    return "no se pudo escribir en ella"
