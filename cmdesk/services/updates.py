"""Self-update: cmdesk finds its newer releases in the server's Software catalog, downloads them through
the installer cache, checks Induxsoft's signature, and hands over to the installer. No Qt here.

    updater = Updater(session.api, manager)        # manager: the Software tab's DownloadManager kind
    check = updater.check()                        # UpdateCheck: up to date, available, refused, …
    if check.status is UpdateStatus.AVAILABLE:
        installer = updater.download(check.release)   # resumed, SHA-256 verified, signature checked
        updater.install(installer)                 # Windows: the installer runs silently, relaunches

cmdesk is the product `cmdesk` of the catalog (the demo seed already lists it); each release is an
installer whose `file_version` is a PEP 440 version, published with a signed manifest
(`cmdesk.domain.releases`; `cmdesk-server software sign-manifest` and `software add --manifest
--signature`, docs/release.md). The newest installer of the product is compared with
`cmdesk.__version__` (`packaging.version`); when it is newer, its manifest must verify with the
publisher's public key built into cmdesk (`cmdesk/resources/update_key.pub`; the environment variable
`CMDESK_UPDATE_PUBLIC_KEY` names another key file — tests and staging servers) and describe that
very file (product, version, SHA-256, size). Otherwise the release is refused with a Spanish reason
and nothing is downloaded; an older, signed release is never offered instead.

The installer comes through the download manager's `fetch` (the office's installer cache: resumed
after a cut, verified by SHA-256, shared by the office's desks), is copied to this computer's
`data_dir()/updates` and hashed again there against the signed manifest — so what runs is exactly
what was signed, whatever happens to the shared folder meanwhile.

When: at start at most once a day (`due()` / `record_check()`, a small JSON in the data folder) and
whenever the user asks (Ayuda → Buscar actualizaciones). An offline check is not an error: its
status is OFFLINE and the automatic check simply tries again next time.

Installing is Windows-only: the Inno Setup installer runs with `/VERYSILENT /SUPPRESSMSGBOXES
/NORESTART /CLOSEAPPLICATIONS` plus `/relaunch=1`, which makes it start cmdesk again when it is done
(installer/cmdesk.iss); cmdesk quits right after starting it. Elsewhere `install` raises
`UpdateError` saying so, with the path of the verified installer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from packaging.version import InvalidVersion, Version

import cmdesk
from cmdesk.domain import releases
from cmdesk.domain.releases import ReleaseRefused
from cmdesk.services import paths
from cmdesk.services.api_client import ApiError, OfflineError
from cmdesk.services.downloads.models import DownloadError, DownloadStatus, FileInfo

log = logging.getLogger(__name__)

PRODUCT_CODE = "cmdesk"
INSTALLER_KIND = "installer"
PUBLIC_KEY_ENV = "CMDESK_UPDATE_PUBLIC_KEY"
PUBLIC_KEY_RESOURCE = "update_key.pub"
CHECK_INTERVAL = dt.timedelta(days=1)
STATE_FILE = "updates.json"
UPDATES_FOLDER = "updates"
CATALOG_PAGE = 200
# Inno Setup's command line for an unattended upgrade (installer/cmdesk.iss reads /relaunch).
SILENT_ARGUMENTS = ("/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART", "/CLOSEAPPLICATIONS")
RELAUNCH_ARGUMENT = "/relaunch=1"
INSTALLER_LOG = "cmdesk-setup.log"

MSG_UP_TO_DATE = "cmdesk está al día (versión {version})."
MSG_AVAILABLE = "Hay una nueva versión de cmdesk: {version} (usted tiene la {current})."
MSG_OFFLINE = "No hay conexión con el servidor; se buscarán actualizaciones más tarde."
MSG_NOT_PUBLISHED = "El servidor no publica versiones de cmdesk; no hay actualizaciones que buscar."
MSG_NOT_SIGNED_IN = "Inicie sesión para buscar actualizaciones."
MSG_SERVER_ERROR = "El servidor no pudo informar las versiones de cmdesk: {error}"
MSG_NO_KEY = (
    "Esta copia de cmdesk no tiene la llave pública de Induxsoft para verificar actualizaciones; "
    "reinstálela desde el instalador oficial."
)
MSG_DOWNLOAD = "No se pudo descargar la actualización: {error}"
MSG_COPY = "No se pudo preparar el instalador en {folder}: {error}"
MSG_CHANGED = (
    "El instalador descargado no coincide con el manifiesto firmado de la versión {version}; "
    "por seguridad no se instalará."
)
MSG_WINDOWS_ONLY = (
    "La instalación automática sólo está disponible en Windows. El instalador verificado quedó en "
    "{path}."
)
MSG_START_FAILED = "No se pudo iniciar el instalador: {error}"


class UpdateStatus(StrEnum):
    UP_TO_DATE = "up_to_date"
    AVAILABLE = "available"
    REFUSED = "refused"  # a newer release whose signature or manifest is wrong
    OFFLINE = "offline"
    NOT_PUBLISHED = "not_published"  # the server's catalog has no cmdesk installer
    UNAVAILABLE = "unavailable"  # not signed in, or the server answered with an error


class UpdateError(Exception):
    """Downloading or starting the installer failed; `str()` is the Spanish reason."""


class Fetcher(Protocol):
    """What `Updater.download` needs of `cmdesk.services.downloads.DownloadManager`."""

    def fetch(
        self,
        info: FileInfo,
        *,
        on_status: Callable[[DownloadStatus], None] | None = None,
        lease_seconds: float | None = None,
        cancel: threading.Event | None = None,
    ) -> Path: ...


class CatalogSource(Protocol):
    """What `Updater.check` needs of the API client."""

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any: ...


@dataclass(frozen=True)
class Release:
    """A newer cmdesk, signed: the catalog's file and its verified manifest."""

    version: str
    file: FileInfo
    manifest: releases.Manifest
    view: Mapping[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class UpdateCheck:
    status: UpdateStatus
    current: str
    message: str
    release: Release | None = None
    newest: str | None = None  # the newest version published (signed or not)

    @property
    def available(self) -> bool:
        return self.status is UpdateStatus.AVAILABLE and self.release is not None


# ---- the publisher's key --------------------------------------------------------------------------------


def public_key_path() -> Path:
    """The key file that signs releases: `CMDESK_UPDATE_PUBLIC_KEY`, else the one built into cmdesk."""
    override = os.environ.get(PUBLIC_KEY_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    from cmdesk.resources import resource_path

    return resource_path(PUBLIC_KEY_RESOURCE)


def load_public_key(path: Path | None = None) -> Ed25519PublicKey:
    """The publisher's Ed25519 public key; `UpdateError` when it is missing or unreadable."""
    source = path or public_key_path()
    try:
        return releases.load_public_key(source.read_bytes())
    except (OSError, ValueError) as exc:
        log.error("the update signing key %s could not be read: %s", source, exc)
        raise UpdateError(MSG_NO_KEY) from exc


# ---- the catalog ----------------------------------------------------------------------------------------


def parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except (InvalidVersion, TypeError):
        return None


def fetch_catalog(api: CatalogSource) -> list[dict[str, Any]]:
    """Every product of `GET /v1/software`, following `next_cursor`."""
    products: list[dict[str, Any]] = []
    cursor: str | None = None
    for _page in range(100):  # a catalog of 20,000 products is not one; stop rather than loop
        params: dict[str, Any] = {"limit": CATALOG_PAGE}
        if cursor:
            params["cursor"] = cursor
        answer = api.get("/v1/software", params=params)
        if not isinstance(answer, dict):
            break
        products.extend(p for p in answer.get("items") or [] if isinstance(p, dict))
        cursor = answer.get("next_cursor")
        if not cursor:
            break
    return products


def installer_files(
    products: Iterable[Mapping[str, Any]], product_code: str = PRODUCT_CODE
) -> list[dict[str, Any]]:
    """The active installers of `product_code` whose version is a PEP 440 version."""
    out: list[dict[str, Any]] = []
    for product in products:
        if product.get("code") != product_code:
            continue
        for f in product.get("files") or []:
            if (
                isinstance(f, dict)
                and f.get("kind") == INSTALLER_KIND
                and f.get("active", True)
                and parse_version(str(f.get("file_version") or "")) is not None
            ):
                out.append({**f, "product_name": product.get("name") or ""})
    return out


def newest_installer(files: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The installer with the highest version (the latest published among equals)."""
    best: Mapping[str, Any] | None = None
    best_key: tuple[Version, str] | None = None
    for f in files:
        version = parse_version(str(f.get("file_version") or ""))
        if version is None:
            continue
        key = (version, str(f.get("published_at") or ""))
        if best_key is None or key > best_key:
            best, best_key = f, key
    return best


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def installer_command(installer: Path, *, relaunch: bool = True, log_file: Path | None = None) -> list[str]:
    """The command line of a silent upgrade with the Inno Setup installer."""
    command = [str(installer), *SILENT_ARGUMENTS]
    if log_file is not None:
        command.append(f"/LOG={log_file}")
    if relaunch:
        command.append(RELAUNCH_ARGUMENT)
    return command


# ---- the updater ----------------------------------------------------------------------------------------


class Updater:
    """Checks, downloads and installs cmdesk's releases (see the module docstring). Blocking: the UI
    calls it from its network pool. `public_key` defaults to `load_public_key()`, read on first use."""

    def __init__(
        self,
        api: CatalogSource | None,
        fetcher: Fetcher | None = None,
        *,
        public_key: Ed25519PublicKey | None = None,
        current_version: str | None = None,
        state_path: Path | None = None,
        updates_folder: Path | None = None,
        now: Callable[[], dt.datetime] | None = None,
        platform: str | None = None,
        product_code: str = PRODUCT_CODE,
    ) -> None:
        self.api = api
        self.product_code = product_code
        self.fetcher = fetcher
        self._public_key = public_key
        self.current_version = current_version or cmdesk.__version__
        self._state_path = state_path
        self._updates_folder = updates_folder
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        self.platform = platform or sys.platform

    @property
    def public_key(self) -> Ed25519PublicKey:
        if self._public_key is None:
            self._public_key = load_public_key()
        return self._public_key

    # ---- when ---------------------------------------------------------------------------------------

    @property
    def state_path(self) -> Path:
        return self._state_path or paths.data_dir() / STATE_FILE

    def _state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def last_check(self) -> dt.datetime | None:
        value = self._state().get("last_check")
        try:
            when = dt.datetime.fromisoformat(str(value))
        except ValueError:
            return None
        return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)

    def due(self) -> bool:
        """Whether the automatic check should run now (none in the last `CHECK_INTERVAL`)."""
        last = self.last_check()
        now = self.now()
        # A clock set back (last check "in the future") counts as due.
        return last is None or last > now or now - last >= CHECK_INTERVAL

    def record_check(self, check: UpdateCheck) -> None:
        """Remember that a check reached the server (`check_if_due` records no offline one)."""
        data = {
            "last_check": self.now().isoformat(),
            "status": str(check.status),
            "newest": check.newest,
            "current": check.current,
        }
        path = self.state_path
        temp = path.with_name(path.name + ".tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(temp, path)
        except OSError as exc:
            log.warning("could not save %s: %s", path, exc)

    def check_if_due(self) -> UpdateCheck | None:
        """The automatic check at start: None when one ran in the last day."""
        if not self.due():
            return None
        check = self.check()
        # Offline or not signed in: the server was not asked, so the next start tries again.
        if check.status not in (UpdateStatus.OFFLINE, UpdateStatus.UNAVAILABLE):
            self.record_check(check)
        return check

    # ---- check --------------------------------------------------------------------------------------

    def check(self) -> UpdateCheck:
        """Compare this cmdesk with the newest release in the catalog. Never raises for the line or
        the server: the answer's status says what happened, and `message` says it in Spanish."""
        current = self.current_version
        if self.api is None:
            return UpdateCheck(UpdateStatus.UNAVAILABLE, current, MSG_NOT_SIGNED_IN)
        try:
            products = fetch_catalog(self.api)
        except OfflineError:
            return UpdateCheck(UpdateStatus.OFFLINE, current, MSG_OFFLINE)
        except ApiError as exc:
            log.warning("the update check failed: %s", exc)
            return UpdateCheck(UpdateStatus.UNAVAILABLE, current, MSG_SERVER_ERROR.format(error=exc))
        newest = newest_installer(installer_files(products, self.product_code))
        if newest is None:
            return UpdateCheck(UpdateStatus.NOT_PUBLISHED, current, MSG_NOT_PUBLISHED)
        version = str(newest["file_version"])
        newest_version = parse_version(version)
        current_version = parse_version(current)
        if newest_version is None or current_version is None or newest_version <= current_version:
            return UpdateCheck(
                UpdateStatus.UP_TO_DATE, current, MSG_UP_TO_DATE.format(version=current), newest=version
            )
        try:
            release = self.verify(newest)
        except ReleaseRefused as refused:
            log.warning("release %s of cmdesk refused: %s", version, refused)
            return UpdateCheck(UpdateStatus.REFUSED, current, str(refused), newest=version)
        except UpdateError as exc:
            return UpdateCheck(UpdateStatus.REFUSED, current, str(exc), newest=version)
        log.info("cmdesk %s is available (this is %s)", version, current)
        return UpdateCheck(
            UpdateStatus.AVAILABLE,
            current,
            MSG_AVAILABLE.format(version=version, current=current),
            release=release,
            newest=version,
        )

    def verify(self, file: Mapping[str, Any]) -> Release:
        """The release of a catalog file view, once its manifest verifies; `ReleaseRefused` otherwise."""
        version = str(file.get("file_version") or "")
        manifest = releases.verify(self.public_key, file.get("manifest"), file.get("signature"), version)
        releases.check_matches(manifest, file, self.product_code)
        try:
            info = FileInfo.from_view(file, str(file.get("product_name") or ""))
        except (KeyError, ValueError) as exc:
            raise ReleaseRefused(
                releases.MSG_BAD_MANIFEST.format(version=version, why="archivo inválido en el catálogo")
            ) from exc
        return Release(version=version, file=info, manifest=manifest, view=dict(file))

    # ---- download -----------------------------------------------------------------------------------

    @property
    def updates_folder(self) -> Path:
        return self._updates_folder or paths.data_dir() / UPDATES_FOLDER

    def download(
        self,
        release: Release,
        *,
        on_status: Callable[[DownloadStatus], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Path:
        """The verified installer of `release`, on this computer: fetched through the installer cache
        (resumed, SHA-256 checked), copied to `updates_folder` and hashed again against the signed
        manifest. Raises `UpdateError` (download failed) or `ReleaseRefused` (bytes not the signed ones)."""
        if self.fetcher is None:
            raise UpdateError(MSG_DOWNLOAD.format(error="no hay gestor de descargas"))
        try:
            cached = self.fetcher.fetch(release.file, on_status=on_status, lease_seconds=3600, cancel=cancel)
        except DownloadError as exc:
            raise UpdateError(MSG_DOWNLOAD.format(error=exc)) from exc
        folder = self.updates_folder
        target = folder / release.file.file_name
        temp = folder / f".{release.file.file_name}.part"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._remove_old_installers(folder, keep=target.name)
            if target.is_file() and sha256_of(target) == release.manifest.sha256:
                return target  # copied (and checked) by an earlier attempt
            shutil.copyfile(cached, temp)
            os.replace(temp, target)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise UpdateError(MSG_COPY.format(folder=folder, error=exc.strerror or exc)) from exc
        # What runs is what was signed, whatever happened to the (maybe shared) cache meanwhile.
        if sha256_of(target) != release.manifest.sha256:
            target.unlink(missing_ok=True)
            raise ReleaseRefused(MSG_CHANGED.format(version=release.version))
        return target

    @staticmethod
    def _remove_old_installers(folder: Path, keep: str) -> None:
        for old in folder.iterdir():
            if old.is_file() and old.name != keep:
                # Still open by an installer that is running: removed next time.
                with contextlib.suppress(OSError):
                    old.unlink()

    # ---- install ------------------------------------------------------------------------------------

    def install(
        self, installer: Path, *, relaunch: bool = True, log_folder: Path | None = None
    ) -> subprocess.Popen[bytes]:
        """Start the installer silently, detached from cmdesk (which must quit right after, so the
        installer can replace its files). Windows only: elsewhere `UpdateError` says where the
        verified installer is."""
        if not self.platform.startswith("win"):
            raise UpdateError(MSG_WINDOWS_ONLY.format(path=installer))
        log_file = (log_folder or paths.log_dir()) / INSTALLER_LOG
        command = installer_command(installer, relaunch=relaunch, log_file=log_file)
        flags = 0
        if sys.platform == "win32":
            flags = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
        try:
            process = subprocess.Popen(
                command,
                close_fds=True,
                creationflags=flags,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError as exc:
            raise UpdateError(MSG_START_FAILED.format(error=exc.strerror or exc)) from exc
        log.info("installer started: %s", " ".join(command))
        return process


def updater_for(session: Any) -> Updater:
    """The updater of a started `DesktopSession`: its API client and an installer-cache fetcher (the
    Software tab's folder and limits, without its queue: a blocking `fetch` needs none)."""
    from cmdesk.services import downloads

    api = getattr(session, "api", None)
    fetcher: Fetcher | None = None
    if api is not None:
        folder = downloads.folder_for(session.config, session)
        fetcher = downloads.DownloadManager(api, downloads.FileStore(folder))
    home = getattr(session, "home", None)
    data = Path(home) / "data" if home is not None else None
    return Updater(
        api,
        fetcher,
        state_path=data / STATE_FILE if data is not None else None,
        updates_folder=data / UPDATES_FOLDER if data is not None else None,
    )


__all__ = [
    "CHECK_INTERVAL",
    "PRODUCT_CODE",
    "PUBLIC_KEY_ENV",
    "Release",
    "ReleaseRefused",
    "UpdateCheck",
    "UpdateError",
    "UpdateStatus",
    "Updater",
    "installer_command",
    "load_public_key",
    "updater_for",
]
