"""Self-update against the REAL server: signed releases of a small fake installer published in its
Software catalog, found, downloaded through the installer cache, verified; tampered and unsigned ones
refused; nothing offered when up to date; offline is no error.

The tests make their own Ed25519 key pair (the publisher's private key is never in the repository)
and give the updater the public half, as `CMDESK_UPDATE_PUBLIC_KEY` does for a whole desktop.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update

from cmdesk.domain import releases
from cmdesk.domain.errors import DomainError
from cmdesk.models import SoftwareFile
from cmdesk.server import cli, db
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.operations import software
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD, seed_demo
from cmdesk.server.settings import Settings
from cmdesk.services import updates
from cmdesk.services.api_client import ApiClient
from cmdesk.services.downloads import DownloadManager, FileStore
from cmdesk.services.updates import UpdateError, Updater, UpdateStatus

PRODUCT = "cmdesk"
NAME = "cmdesk (Cuenta Maestra de escritorio)"
# Fake installer: a shell script, so the "install" step can run it here and record its arguments.
INSTALLER_SCRIPT = '#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/arguments.txt"\nexit 0\n'


@dataclass
class ReleaseServer:
    server: EmbeddedServer
    url: str
    database_url: str
    store: Path
    sources: Path
    key: Ed25519PrivateKey

    def factory(self) -> db.SessionFactory:
        return db.session_factory(db.create_db_engine(self.database_url))

    def installer(self, name: str, size: int = 300_000, salt: str = "") -> Path:
        path = self.sources / name
        head = INSTALLER_SCRIPT.encode()
        path.write_bytes(head + hashlib.sha256((name + salt).encode()).digest() * ((size - len(head)) // 32))
        return path

    def publish(
        self,
        product: str,
        version: str,
        *,
        signed: bool = True,
        key: Ed25519PrivateKey | None = None,
        manifest_version: str | None = None,
    ) -> dict:
        source = self.installer(f"{product}-setup-{version}.exe")
        manifest = signature = None
        if signed:
            text = releases.manifest_text(
                product=product,
                version=manifest_version or version,
                file_name=source.name,
                sha256=hashlib.sha256(source.read_bytes()).hexdigest(),
                size=source.stat().st_size,
            )
            manifest, signature = text, releases.sign(key or self.key, text)
        engine = db.create_db_engine(self.database_url)
        try:
            return db.run(
                db.session_factory(engine),
                software.publish_file,
                store=self.store,
                product_code=product,
                product_name=NAME,
                kind="installer",
                title="Instalador",
                file_version=version,
                source=source,
                manifest=manifest,
                signature=signature,
            )
        finally:
            engine.dispose()

    def set_columns(self, file_id: str, **values: object) -> None:
        """What a compromised server (or database) could serve: rows the publishing checks never saw."""
        engine = db.create_db_engine(self.database_url)
        try:
            with engine.begin() as c:
                c.execute(update(SoftwareFile).where(SoftwareFile.id == file_id).values(**values))
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def release_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReleaseServer]:
    folder = tmp_path_factory.mktemp("releases")
    url = f"sqlite:///{(folder / 'server.db').as_posix()}"
    store = folder / "store"
    server = EmbeddedServer(url, settings=Settings(database_url=url, software_store=store))
    server.start()
    engine = db.create_db_engine(url)
    try:
        seed_demo(db.session_factory(engine), clients_count=3, software_store=None)
    finally:
        engine.dispose()
    sources = folder / "sources"
    sources.mkdir()
    rs = ReleaseServer(server, server.url, url, store, sources, Ed25519PrivateKey.generate())
    # The releases most tests look at: cmdesk 0.5.0 (older) and 1.2.0 (newest), both signed.
    rs.publish(PRODUCT, "0.5.0")
    rs.publish(PRODUCT, "1.2.0")
    try:
        yield rs
    finally:
        server.stop()


@pytest.fixture
def api(release_server: ReleaseServer) -> Iterator[ApiClient]:
    client = ApiClient(release_server.url, retries=1, backoff=0.01)
    client.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    try:
        yield client
    finally:
        client.close()


def make_updater(api: ApiClient, release_server: ReleaseServer, tmp_path: Path, **kw) -> Updater:
    kw.setdefault("public_key", release_server.key.public_key())
    kw.setdefault("current_version", "1.0.0")
    return Updater(
        api,
        DownloadManager(api, FileStore(tmp_path / "installers")),
        state_path=tmp_path / "updates.json",
        updates_folder=tmp_path / "updates",
        **kw,
    )


# ---- found, downloaded, verified ----------------------------------------------------------------------


def test_newer_signed_release_is_found_downloaded_and_verified(api, release_server, tmp_path):
    updater = make_updater(api, release_server, tmp_path)
    check = updater.check()
    assert check.status is UpdateStatus.AVAILABLE, check.message
    assert check.available and check.newest == "1.2.0"
    assert check.message == "Hay una nueva versión de cmdesk: 1.2.0 (usted tiene la 1.0.0)."
    release = check.release
    assert release is not None and release.version == "1.2.0"
    assert release.manifest.product == PRODUCT and release.manifest.size == release.file.size

    seen: list[int] = []
    installer = updater.download(release, on_status=lambda s: seen.append(s.received))
    source = release_server.sources / "cmdesk-setup-1.2.0.exe"
    assert installer.read_bytes() == source.read_bytes()
    assert installer.parent == tmp_path / "updates"
    # Through the installer cache: the verified copy is there too, for the office's other desks.
    cached = list((tmp_path / "installers").rglob("cmdesk-setup-1.2.0.exe"))
    assert cached and cached[0].read_bytes() == source.read_bytes()
    assert seen and max(seen) == release.file.size

    # A second download takes the cached copy (nothing fetched again) and hashes it again.
    again = updater.download(release)
    assert again == installer
    # A local copy changed since (by anything) is replaced by the verified one before it could run.
    installer.write_bytes(b"MZ not the signed installer")
    assert updater.download(release).read_bytes() == source.read_bytes()


def test_install_runs_the_installer_silently_and_asks_for_a_relaunch(api, release_server, tmp_path):
    updater = make_updater(api, release_server, tmp_path, platform="win32")
    check = updater.check()
    assert check.release is not None
    installer = updater.download(check.release)
    installer.chmod(installer.stat().st_mode | stat.S_IXUSR)
    if sys.platform == "win32":
        pytest.skip("the fake installer is a shell script")
    process = updater.install(installer, log_folder=tmp_path / "logs")
    assert process.wait(timeout=30) == 0
    arguments = (installer.parent / "arguments.txt").read_text().split("\n")
    assert arguments[:4] == ["/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART", "/CLOSEAPPLICATIONS"]
    assert f"/LOG={tmp_path / 'logs' / updates.INSTALLER_LOG}" in arguments
    assert "/relaunch=1" in arguments


def test_install_elsewhere_says_it_is_windows_only(api, release_server, tmp_path):
    updater = make_updater(api, release_server, tmp_path, platform="linux")
    check = updater.check()
    assert check.release is not None
    installer = updater.download(check.release)
    with pytest.raises(UpdateError) as refused:
        updater.install(installer)
    assert "sólo está disponible en Windows" in str(refused.value)
    assert str(installer) in str(refused.value)


# ---- refused ------------------------------------------------------------------------------------------


def test_unsigned_release_is_refused(api, release_server, tmp_path):
    release_server.publish("cmdesk-unsigned", "2.0.0", signed=False)
    check = make_updater(api, release_server, tmp_path, product_code="cmdesk-unsigned").check()
    assert check.status is UpdateStatus.REFUSED and check.release is None
    assert check.message == (
        "La actualización 2.0.0 no trae la firma de Induxsoft; por seguridad no se instalará. "
        "Avise a su proveedor."
    )


def test_release_signed_with_another_key_is_refused(api, release_server, tmp_path):
    release_server.publish("cmdesk-otherkey", "2.0.0", key=Ed25519PrivateKey.generate())
    check = make_updater(api, release_server, tmp_path, product_code="cmdesk-otherkey").check()
    assert check.status is UpdateStatus.REFUSED
    assert "La firma de la actualización 2.0.0 no es válida" in check.message


def test_manifest_altered_after_signing_is_refused(api, release_server, tmp_path):
    view = release_server.publish("cmdesk-altered", "2.0.0")
    data = json.loads(view["manifest"])
    data["size"] += 1
    release_server.set_columns(view["id"], manifest=json.dumps(data, sort_keys=True, separators=(",", ":")))
    check = make_updater(api, release_server, tmp_path, product_code="cmdesk-altered").check()
    assert check.status is UpdateStatus.REFUSED
    assert "no es válida" in check.message


def test_signed_manifest_of_another_file_is_refused(api, release_server, tmp_path):
    """A valid signature on a manifest that does not describe the offered file (another build)."""
    view = release_server.publish("cmdesk-swapped", "2.0.0")
    other = release_server.installer("other-build.exe", salt="x")
    text = releases.manifest_text(
        product="cmdesk-swapped",
        version="2.0.0",
        file_name=other.name,
        sha256=hashlib.sha256(other.read_bytes()).hexdigest(),
        size=view["size"],
    )
    release_server.set_columns(view["id"], manifest=text, signature=releases.sign(release_server.key, text))
    check = make_updater(api, release_server, tmp_path, product_code="cmdesk-swapped").check()
    assert check.status is UpdateStatus.REFUSED
    assert "no coincide con su manifiesto firmado (SHA-256)" in check.message


def test_installer_replaced_on_the_server_is_never_handed_over(api, release_server, tmp_path):
    view = release_server.publish("cmdesk-replaced", "2.0.0")
    stored = release_server.store / "cmdesk-replaced" / "installer" / view["file_name"]
    data = bytearray(stored.read_bytes())
    data[-1] ^= 0xFF  # same size, other bytes: only the hash tells
    stored.write_bytes(bytes(data))
    updater = make_updater(api, release_server, tmp_path, product_code="cmdesk-replaced")
    check = updater.check()
    assert check.release is not None  # the catalog and the signature still agree...
    with pytest.raises((UpdateError, releases.ReleaseRefused)):
        updater.download(check.release)  # ...the bytes do not
    assert not list((tmp_path / "updates").glob("*.exe")) if (tmp_path / "updates").exists() else True


def test_newer_bad_release_is_refused_not_replaced_by_an_older_signed_one(api, release_server, tmp_path):
    release_server.publish("cmdesk-mixed", "1.5.0")
    release_server.publish("cmdesk-mixed", "3.0.0", signed=False)
    check = make_updater(api, release_server, tmp_path, product_code="cmdesk-mixed").check()
    assert check.status is UpdateStatus.REFUSED and check.newest == "3.0.0"


# ---- nothing to do -------------------------------------------------------------------------------------


@pytest.mark.parametrize("current", ["1.2.0", "1.3.0", "2.0.0rc1"])
def test_no_update_offered_when_up_to_date(api, release_server, tmp_path, current):
    check = make_updater(api, release_server, tmp_path, current_version=current).check()
    assert check.status is UpdateStatus.UP_TO_DATE and check.release is None
    assert check.message == f"cmdesk está al día (versión {current})."


def test_pre_release_is_older_than_its_release(api, release_server, tmp_path):
    check = make_updater(api, release_server, tmp_path, current_version="1.2.0rc2").check()
    assert check.status is UpdateStatus.AVAILABLE and check.newest == "1.2.0"


def test_no_release_published(api, release_server, tmp_path):
    check = make_updater(api, release_server, tmp_path, product_code="cmdesk-nothing").check()
    assert check.status is UpdateStatus.NOT_PUBLISHED


def test_offline_is_no_error_and_tries_again_next_start(release_server, tmp_path):
    from cmdesk.devtools.postgres import free_port

    offline = ApiClient(f"http://127.0.0.1:{free_port()}", retries=0, connect_timeout=0.5)
    updater = make_updater(offline, release_server, tmp_path)
    check = updater.check_if_due()
    assert check is not None and check.status is UpdateStatus.OFFLINE
    assert check.message == "No hay conexión con el servidor; se buscarán actualizaciones más tarde."
    assert updater.due() and not (tmp_path / "updates.json").exists()


def test_automatic_check_at_most_daily(api, release_server, tmp_path):
    now = [dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC)]
    updater = make_updater(api, release_server, tmp_path, now=lambda: now[0])
    assert updater.due()
    first = updater.check_if_due()
    assert first is not None and first.status is UpdateStatus.AVAILABLE
    now[0] += dt.timedelta(hours=23)
    assert updater.check_if_due() is None
    now[0] += dt.timedelta(hours=1)
    assert updater.check_if_due() is not None


# ---- publishing: the CLI and the server's checks -------------------------------------------------------


def test_cli_signs_and_publishes_a_release(api, release_server, tmp_path, capsys):
    key_file, public_file = tmp_path / "private.pem", tmp_path / "public.pub"
    assert cli.main(["software", "keygen", "--private", str(key_file), "--public", str(public_file)]) == 0
    assert key_file.stat().st_mode & 0o077 == 0 or sys.platform == "win32"
    source = release_server.installer("cmdesk-setup-4.0.0.exe")
    assert cli.main(["software", "sign-manifest", "--key", str(key_file), "--product", "cmdesk-cli",
                     "--version", "4.0.0", str(source)]) == 0
    manifest, signature = Path(f"{source}.manifest.json"), Path(f"{source}.manifest.sig")
    assert json.loads(manifest.read_text())["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    code = cli.main([
        "software", "add", "--db", release_server.database_url, "--store", str(release_server.store),
        "--product", "cmdesk-cli", "--kind", "installer", "--title", "Instalador", "--version", "4.0.0",
        "--manifest", str(manifest), "--signature", str(signature), str(source),
    ])
    assert code == 0, capsys.readouterr().err
    assert "Con manifiesto firmado" in capsys.readouterr().out

    public = releases.load_public_key(public_file.read_bytes())
    check = make_updater(api, release_server, tmp_path, product_code="cmdesk-cli", public_key=public).check()
    assert check.status is UpdateStatus.AVAILABLE and check.newest == "4.0.0"


def test_server_refuses_a_manifest_that_does_not_match_the_file(release_server):
    source = release_server.installer("cmdesk-setup-5.0.0.exe")
    text = releases.manifest_text(
        product=PRODUCT, version="5.0.0", file_name=source.name, sha256="0" * 64, size=source.stat().st_size
    )
    engine = db.create_db_engine(release_server.database_url)
    try:
        with pytest.raises(DomainError) as error:
            db.run(
                db.session_factory(engine),
                software.publish_file,
                store=release_server.store,
                product_code=PRODUCT,
                product_name=NAME,
                kind="installer",
                title="Instalador",
                file_version="5.0.0",
                source=source,
                manifest=text,
                signature=releases.sign(release_server.key, text),
            )
        assert "manifest" in {e.field for e in error.value.errors}
        with pytest.raises(DomainError):  # a signature alone, or one that is not Ed25519 base64
            db.run(
                db.session_factory(engine),
                software.publish_file,
                store=release_server.store,
                product_code=PRODUCT,
                product_name=NAME,
                kind="installer",
                title="Instalador",
                file_version="5.0.0",
                source=source,
                signature=base64.b64encode(b"short").decode(),
            )
    finally:
        engine.dispose()


# ---- the publisher's key --------------------------------------------------------------------------------


def test_built_in_public_key_and_its_override(tmp_path, monkeypatch):
    monkeypatch.delenv(updates.PUBLIC_KEY_ENV, raising=False)
    built_in = updates.load_public_key()
    assert updates.public_key_path().name == "update_key.pub"
    other = Ed25519PrivateKey.generate().public_key()
    path = tmp_path / "test.pub"
    path.write_bytes(releases.public_key_pem(other))
    monkeypatch.setenv(updates.PUBLIC_KEY_ENV, str(path))
    assert updates.load_public_key().public_bytes_raw() == other.public_bytes_raw()
    assert built_in.public_bytes_raw() != other.public_bytes_raw()
    monkeypatch.setenv(updates.PUBLIC_KEY_ENV, str(tmp_path / "missing.pub"))
    with pytest.raises(UpdateError) as missing:
        updates.load_public_key()
    assert "llave pública de Induxsoft" in str(missing.value)
