"""`cmdesk-server`: run the central server and administer its database.

    cmdesk-server run [--db URL] [--host 127.0.0.1] [--port 8080] [--workers N]
    cmdesk-server demo [--db URL] [--port 8080]     migrate + seed --demo + run (the embedded default)
    cmdesk-server migrate [--db URL]
    cmdesk-server seed --demo [--db URL] [--clients N]
    cmdesk-server create-distributor --email E --mobile M --password P --name N [--db URL]
    cmdesk-server maintenance [--db URL]          also queues the 30/7/1-day expiry reminders
    cmdesk-server mail run|send|status|retry|test  the mail sender and its queue (docs/deploy.md)
    cmdesk-server cache-images [--account ID] [--min-entities N] [--folder DIR]
                                                  builds the large accounts' cache images (docs/api.md)
    cmdesk-server software add --product CODE --product-name NAME --kind KIND --title T --version V FILE
                                [--manifest FILE.manifest.json --signature FILE.manifest.sig]
    cmdesk-server software sign-manifest --key PRIVATE.pem --version V [--product cmdesk] FILE
    cmdesk-server software keygen --private PRIVATE.pem --public PUBLIC.pub

Every command takes `--db URL` (default `CMDESK_DATABASE_URL`, else a SQLite file in the user's
data folder). Messages are in Spanish; a failure exits with status 1 and says why.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cmdesk.argparse_es import SpanishArgumentParser
from cmdesk.domain.errors import DomainError


def _db_url(args: argparse.Namespace) -> str:
    from cmdesk.server.db import default_database_url

    url: str = args.db or default_database_url()
    return url


def _factory(url: str) -> Any:
    from cmdesk.server import db
    from cmdesk.server.mail import links
    from cmdesk.server.settings import Settings

    factory = db.session_factory(db.create_db_engine(url))
    # Mail links made here (seed, reminders) derive from CMDESK_SECRET_KEY like the server's.
    secret = Settings(database_url=url).secret_key
    links.configure_factory(factory, secret.get_secret_value() if secret else None)
    return factory


def cmd_migrate(args: argparse.Namespace) -> int:
    from cmdesk.server import migrations

    url = _db_url(args)
    migrations.upgrade(url)
    print(f"Base de datos al día (revisión {migrations.current_head()}).")
    return 0


def _software_store(args: argparse.Namespace) -> Path:
    from cmdesk.server.settings import Settings

    if getattr(args, "store", None):
        return Path(args.store)
    return Settings(database_url=_db_url(args)).software_store


def cmd_seed(args: argparse.Namespace) -> int:
    from cmdesk.server import migrations, seed

    if not args.demo:
        print("Indique --demo: por ahora sólo existe la siembra de datos de demostración.", file=sys.stderr)
        return 2
    url = _db_url(args)
    migrations.upgrade(url)
    out = seed.seed_demo(_factory(url), clients_count=args.clients, software_store=_software_store(args))
    if out["created"]:
        print(f"Datos de demostración creados: {out['clients']} clientes.")
        print(f"Acceso: {seed.DEMO_EMAIL} / {seed.DEMO_PASSWORD}")
    else:
        print("La distribuidora de demostración ya existía; catálogo actualizado.")
    return 0


def cmd_create_distributor(args: argparse.Namespace) -> int:
    from cmdesk.domain import passwords
    from cmdesk.server import db, migrations
    from cmdesk.server.operations import accounts

    passwords.check_password(args.password)  # the API's policy: refused before touching the database
    url = _db_url(args)
    migrations.upgrade(url)
    out = db.run(
        _factory(url),
        accounts.create_distributor,
        name=args.name,
        email=args.email,
        mobile=args.mobile,
        password=args.password,
        rfc=args.rfc or "",
    )
    account, profile = out["account"], out["profile"]
    print(f"Distribuidor creado: NIC {account['nic']} ({account['name']}).")
    print(f"Usuario maestro: {profile['email']}.")
    return 0


def cmd_maintenance(args: argparse.Namespace) -> int:
    from cmdesk.server import db, idempotency
    from cmdesk.server.operations import maintenance

    factory = _factory(_db_url(args))
    from cmdesk.server import audit

    # Expired and purged sub-distributors: a record in each parent's bitácora, by the system.
    with audit.context(
        "distributor.maintenance", "Mantenimiento: vencimiento o depuración", "distributor",
        device="cmdesk-server maintenance", per_owner=True,
    ):
        out = db.run(factory, maintenance.run_maintenance)
    from cmdesk.server.operations import renewal

    out["expiry_reminders_queued"] = db.run(factory, renewal.enqueue_expiry_reminders)
    from cmdesk.server.mail import queue

    out.update(db.run(factory, queue.purge))
    out["idempotency_records_purged"] = db.run(factory, idempotency.purge)
    from cmdesk.server.operations import auth

    out["attempts_purged"] = db.run(factory, auth.purge_attempts)
    out["refresh_tokens_purged"] = db.run(factory, auth.purge_refresh_tokens)
    print(json.dumps(out, ensure_ascii=False))
    return 0


def cmd_software_add(args: argparse.Namespace) -> int:
    from cmdesk.server import db
    from cmdesk.server.operations import software

    source = Path(args.file)
    if not source.is_file():
        print(f"No existe el archivo {source}.", file=sys.stderr)
        return 1
    store = _software_store(args)
    kwargs: dict[str, Any] = dict(
        store=store,
        product_code=args.product,
        product_name=args.product_name or args.product,
        kind=args.kind,
        title=args.title,
        file_version=args.version,
        source=source,
    )
    if args.manifest or args.signature:
        if not (args.manifest and args.signature):
            print("--manifest y --signature van juntos (vea «software sign-manifest»).", file=sys.stderr)
            return 2
        kwargs["manifest"] = Path(args.manifest).read_text(encoding="utf-8").strip()
        kwargs["signature"] = _signature_argument(args.signature)
    out = db.run(_factory(_db_url(args)), software.publish_file, **kwargs)
    print(f"Publicado {out['file_name']} ({out['size']:,} bytes, SHA-256 {out['sha256']}).")
    if out.get("manifest"):
        print("Con manifiesto firmado: cmdesk lo ofrecerá como actualización.")
    return 0


def _signature_argument(value: str) -> str:
    """`--signature`: the base64 text itself, or the path of a file holding it (`.sig`)."""
    path = Path(value)
    if len(value) < 400 and path.is_file():
        return path.read_text(encoding="ascii").strip()
    return value.strip()


def _read_private_key(path: str) -> Any:
    from cmdesk.domain import releases

    passphrase = os.environ.get(SIGNING_PASSPHRASE_ENV)
    return releases.load_private_key(
        Path(path).read_bytes(), passphrase.encode("utf-8") if passphrase else None
    )


SIGNING_PASSPHRASE_ENV = "CMDESK_SIGNING_PASSPHRASE"


def cmd_software_sign_manifest(args: argparse.Namespace) -> int:
    """Write FILE.manifest.json and FILE.manifest.sig: the signed manifest of a cmdesk release."""
    import hashlib

    from cmdesk.domain import releases

    source = Path(args.file)
    if not source.is_file():
        print(f"No existe el archivo {source}.", file=sys.stderr)
        return 1
    try:
        key = _read_private_key(args.key)
    except (OSError, ValueError, TypeError) as exc:
        print(f"No se pudo leer la llave privada {args.key}: {exc}", file=sys.stderr)
        return 1
    digest = hashlib.sha256()
    with source.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    text = releases.manifest_text(
        product=args.product,
        version=args.version,
        file_name=source.name,
        sha256=digest.hexdigest(),
        size=source.stat().st_size,
    )
    signature = releases.sign(key, text)
    manifest_path = Path(args.out or f"{source}.manifest.json")
    signature_path = manifest_path.with_suffix(".sig")
    manifest_path.write_text(text + "\n", encoding="utf-8")
    signature_path.write_text(signature + "\n", encoding="ascii")
    print(f"Manifiesto: {manifest_path}")
    print(f"Firma:      {signature_path}")
    print(
        f"Publíquelo con: cmdesk-server software add --product {args.product} --kind installer "
        f"--title Instalador --version {args.version} --manifest {manifest_path} "
        f"--signature {signature_path} {source}"
    )
    return 0


def cmd_software_keygen(args: argparse.Namespace) -> int:
    """A new Ed25519 key pair for signing cmdesk releases (the private one stays off the repository)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from cmdesk.domain import releases

    private, public = Path(args.private), Path(args.public)
    if private.exists() and not args.force:
        print(f"{private} ya existe; no se sobrescribe (use --force).", file=sys.stderr)
        return 1
    key = Ed25519PrivateKey.generate()
    passphrase = os.environ.get(SIGNING_PASSPHRASE_ENV)
    private.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(releases.private_key_pem(key, passphrase.encode("utf-8") if passphrase else None))
    public.parent.mkdir(parents=True, exist_ok=True)
    public.write_bytes(releases.public_key_pem(key.public_key()))
    print(f"Llave privada: {private} (guárdela fuera del repositorio)")
    print(f"Llave pública: {public}")
    return 0


def _mail_settings(args: argparse.Namespace) -> Any:
    from cmdesk.server.settings import Settings

    return Settings(database_url=_db_url(args))


def cmd_mail_run(args: argparse.Namespace) -> int:
    """The sender alone, in the foreground, until Ctrl+C or SIGTERM (for deployments that turn it off
    in the API workers with CMDESK_MAIL_SENDER=false)."""
    import signal
    import threading

    from cmdesk.server.mail.sender import MailService
    from cmdesk.server.mail.transport import transport_for

    settings = _mail_settings(args)
    if settings.smtp_host and not settings.public_base_url:
        print("Indique CMDESK_PUBLIC_BASE_URL: los enlaces de los correos la necesitan.", file=sys.stderr)
        return 2
    service = MailService(_factory(settings.database_url), settings, reminders=not args.no_reminders)
    stopped = threading.Event()

    def stop(_signum: int, _frame: Any) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    print(f"Enviando correos ({transport_for(settings).description}); Ctrl+C para terminar.", flush=True)
    service.start()
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    service.stop(timeout=settings.smtp_timeout_seconds * 2)
    return 0


def cmd_mail_send(args: argparse.Namespace) -> int:
    """One round: send every mail due now, then exit (cron-friendly)."""
    from cmdesk.server.mail.sender import Sender

    settings = _mail_settings(args)
    sender = Sender(_factory(settings.database_url), settings)
    report = sender.run_once()
    print(
        f"Enviados: {report.sent}; en espera de reintento: {report.retrying}; fallidos: {report.failed}; "
        f"no enviados (enlace ya usado): {report.cancelled}."
    )
    for error in dict.fromkeys(report.errors):
        print(f"  {error}")
    return 1 if report.failed or report.retrying else 0


def cmd_mail_status(args: argparse.Namespace) -> int:
    from cmdesk.server import db
    from cmdesk.server.mail import queue
    from cmdesk.server.mail.transport import transport_for

    settings = _mail_settings(args)
    out = db.run(_factory(settings.database_url), queue.queue_status)
    if args.json:
        print(json.dumps(out, ensure_ascii=False, default=str))
        return 0
    c = out["counts"]
    print(f"Transporte: {transport_for(settings).description}")
    print(
        f"En cola: {c['queued']} · enviando: {c['sending']} · enviados: {c['sent']} · "
        f"fallidos: {c['failed']} · no enviados: {c['cancelled']}"
    )
    if out["oldest_waiting_seconds"] is not None:
        print(f"El más antiguo espera desde hace {out['oldest_waiting_seconds'] // 60} min.")
    if out["last_error"]:
        print(f"Último error: {out['last_error']}")
    for mail in out["failed"]:
        print(
            f"  FALLÓ {mail['id']} {mail['kind']} → {mail['to']} "
            f"({mail['attempts']} intentos): {mail['last_error']}"
        )
    return 0


def cmd_mail_retry(args: argparse.Namespace) -> int:
    from cmdesk.server import db
    from cmdesk.server.mail import queue

    count = db.run(_factory(_db_url(args)), queue.retry, args.id or None)
    print(f"Correos fallidos en cola de nuevo: {count}.")
    return 0


def cmd_mail_test(args: argparse.Namespace) -> int:
    """Queue a notice to --to and send it now: checks the SMTP settings end to end."""
    from cmdesk.server import db
    from cmdesk.server.mail import queue
    from cmdesk.server.mail.sender import Sender

    settings = _mail_settings(args)
    factory = _factory(settings.database_url)
    mail_id = db.run(
        factory,
        lambda s: queue.enqueue(
            s,
            "notice",
            to_address=args.to,
            params={
                "title": "Correo de prueba de Cuenta Maestra",
                "paragraphs": ["Si lee esto, cmdesk-server puede enviar correos con su configuración."],
                "facts": [],
                "account_name": "",
                "account_nic": "",
                "profile_name": "",
            },
        ),
    )
    report = Sender(factory, settings).run_once()
    from cmdesk.models import OutboundMail

    status = db.run(factory, lambda s: s.get(OutboundMail, mail_id))
    if status is not None and status.status == "sent":
        print(f"Enviado a {args.to}.")
        return 0
    print(f"No se envió: {status.last_error if status else report.errors}", file=sys.stderr)
    return 1


MAIL_COMMANDS = {
    "run": cmd_mail_run,
    "send": cmd_mail_send,
    "status": cmd_mail_status,
    "retry": cmd_mail_retry,
    "test": cmd_mail_test,
}


SOFTWARE_COMMANDS = {
    "add": cmd_software_add,
    "sign-manifest": cmd_software_sign_manifest,
    "keygen": cmd_software_keygen,
}


def cmd_cache_images(args: argparse.Namespace) -> int:
    """Build the cache images of the large accounts (or of one) now: after an upgrade, or nightly."""
    import time

    from cmdesk.server import cache_images, db
    from cmdesk.server.settings import Settings

    url = _db_url(args)
    settings = Settings(database_url=url)
    folder = Path(args.folder) if args.folder else settings.cache_image_folder
    folder = folder or cache_images.default_folder(url)
    engine = db.create_db_engine(url)
    try:
        if args.account:
            accounts = [args.account]
        else:
            minimum = settings.cache_image_min_entities if args.min_entities is None else args.min_entities
            with db.session_factory(engine)() as session:
                accounts = cache_images.large_accounts(session, minimum)
        if not accounts:
            print("Ninguna cuenta es tan grande como para prepararle una imagen de la caché.")
        for account in accounts:
            with cache_images.build_lock(folder, account) as mine:
                if not mine:
                    print(f"La imagen de la cuenta {account} ya se está preparando en otro proceso.")
                    continue
                started = time.perf_counter()
                image = cache_images.build(engine, account, folder)
            size = image.path.stat().st_size / 1e6
            print(
                f"Imagen de la caché de la cuenta {account}: {image.header['entities']:,} registros, "
                f"{size:,.0f} MB, en {time.perf_counter() - started:,.1f} s ({image.path})."
            )
    finally:
        engine.dispose()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import uvicorn

    from cmdesk.server import migrations

    url = _db_url(args)
    if not args.no_migrate:
        migrations.upgrade(url)
    os.environ["CMDESK_DATABASE_URL"] = url
    if not os.environ.get("CMDESK_PUBLIC_BASE_URL"):
        # Links in mails need the address people reach this server at; without one, this one.
        host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
        os.environ["CMDESK_PUBLIC_BASE_URL"] = f"http://{host}:{args.port}"
        if os.environ.get("CMDESK_SMTP_HOST"):
            print(
                "Aviso: falta CMDESK_PUBLIC_BASE_URL; los enlaces de los correos apuntarán a "
                f"{os.environ['CMDESK_PUBLIC_BASE_URL']}.",
                file=sys.stderr,
            )
    if getattr(args, "mail_viewer", False):
        os.environ["CMDESK_MAIL_VIEWER"] = "true"
    if args.workers > 1 and url.startswith("sqlite"):
        print(
            "Con SQLite use un solo proceso (--workers 1); varios procesos requieren PostgreSQL.",
            file=sys.stderr,
        )
        return 2
    from cmdesk.server.settings import Settings

    docs = " (documentación en /docs)" if Settings(database_url=url).api_docs else ""
    print(f"cmdesk-server escuchando en http://{args.host}:{args.port}{docs}", flush=True)
    uvicorn.run(
        "cmdesk.server.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        http="cmdesk.server.http_protocol:NoDelayHTTPProtocol",
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    # A demonstration shows its API documentation (/docs); `run` leaves it off unless CMDESK_API_DOCS.
    os.environ.setdefault("CMDESK_API_DOCS", "true")
    args.demo, args.clients = True, args.clients or 36
    # The demo sends nothing: mails are .eml files, listed at /v1/demo/mails.
    args.mail_viewer = not os.environ.get("CMDESK_SMTP_HOST")
    rc = cmd_seed(args)
    if rc:
        return rc
    args.workers, args.no_migrate = 1, True
    return cmd_run(args)


def build_parser() -> argparse.ArgumentParser:
    p = SpanishArgumentParser(
        prog="cmdesk-server", description="Servidor central de cmdesk (Cuenta Maestra)."
    )
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_)
        sp.add_argument(
            "--db", help="URL de la base de datos (predeterminada: CMDESK_DATABASE_URL o SQLite local)"
        )
        return sp

    for name, help_ in (
        ("run", "Ejecuta el servidor"),
        ("demo", "Migra, siembra datos demo y ejecuta el servidor"),
    ):
        sp = add(name, help_)
        sp.add_argument("--host", default="127.0.0.1")
        sp.add_argument("--port", type=int, default=8080)
        sp.add_argument("--workers", type=int, default=1)
        sp.add_argument("--log-level", default="info")
        sp.add_argument("--forwarded-allow-ips", default="127.0.0.1")
        sp.add_argument("--no-migrate", action="store_true")
        sp.add_argument("--clients", type=int, default=0)
        sp.add_argument("--store", help="Carpeta de archivos de software")
    add("migrate", "Crea o actualiza el esquema de la base de datos")
    sp = add("seed", "Carga datos")
    sp.add_argument("--demo", action="store_true", help="Catálogo y distribuidora de demostración")
    sp.add_argument("--clients", type=int, default=36)
    sp.add_argument("--store", help="Carpeta de archivos de software")
    sp = add("create-distributor", "Crea un distribuidor con su perfil maestro")
    sp.add_argument("--email", required=True)
    sp.add_argument("--mobile", required=True)
    sp.add_argument("--password", required=True)
    sp.add_argument("--name", required=True)
    sp.add_argument("--rfc")
    add("maintenance", "Marca cuentas vencidas y depura canceladas con más de 30 días")
    sp = add("cache-images", "Prepara las imágenes de la caché de las cuentas grandes")
    sp.add_argument("--account", help="Sólo esta cuenta (su id)")
    sp.add_argument("--min-entities", type=int, help="Registros mínimos de la cuenta (20000)")
    sp.add_argument("--folder", help="Carpeta de las imágenes (predeterminada: CMDESK_CACHE_IMAGE_FOLDER)")
    ml = sub.add_parser("mail", help="Correo saliente: el remitente y su cola")
    mlsub = ml.add_subparsers(dest="mail_command", required=True)

    def mail_cmd(name: str, help_: str) -> argparse.ArgumentParser:
        sp = mlsub.add_parser(name, help=help_)
        sp.add_argument("--db", help="URL de la base de datos")
        return sp

    mail_cmd("run", "Envía los correos de la cola hasta que se detenga").add_argument(
        "--no-reminders", action="store_true", help="No encolar los avisos de vencimiento"
    )
    mail_cmd("send", "Envía los correos pendientes una vez y termina")
    mail_cmd("status", "Cuántos correos hay en cola, enviados y fallidos, y por qué").add_argument(
        "--json", action="store_true"
    )
    mail_cmd("retry", "Vuelve a poner en cola los correos fallidos").add_argument(
        "--id", action="append", help="Sólo este correo (puede repetirse)"
    )
    mail_cmd("test", "Envía un correo de prueba").add_argument("--to", required=True)
    sw = sub.add_parser("software", help="Catálogo de software")
    swsub = sw.add_subparsers(dest="software_command", required=True)
    sa = swsub.add_parser("add", help="Publica un archivo de software")
    sa.add_argument("--db")
    sa.add_argument("--store", help="Carpeta de archivos de software")
    sa.add_argument("--product", required=True, help="Código del producto")
    sa.add_argument("--product-name")
    sa.add_argument(
        "--kind", required=True, choices=["installer", "fix", "improvement", "documentation", "tool"]
    )
    sa.add_argument("--title", required=True)
    sa.add_argument("--version", required=True)
    sa.add_argument("--manifest", help="Manifiesto de la versión (actualizaciones de cmdesk)")
    sa.add_argument(
        "--signature", help="Firma Ed25519 del manifiesto, en base64 (o el archivo .sig que la contiene)"
    )
    sa.add_argument("file")
    sm = swsub.add_parser("sign-manifest", help="Firma el manifiesto de una versión de cmdesk")
    sm.add_argument("--key", required=True, help="Llave privada Ed25519 (PEM)")
    sm.add_argument("--product", default="cmdesk", help="Código del producto (cmdesk)")
    sm.add_argument("--version", required=True)
    sm.add_argument("--out", help="Dónde escribir el manifiesto (por omisión ARCHIVO.manifest.json)")
    sm.add_argument("file", help="El instalador")
    sk = swsub.add_parser("keygen", help="Crea el par de llaves para firmar versiones de cmdesk")
    sk.add_argument("--private", required=True)
    sk.add_argument("--public", required=True)
    sk.add_argument("--force", action="store_true")
    return p


COMMANDS = {
    "run": cmd_run,
    "demo": cmd_demo,
    "migrate": cmd_migrate,
    "seed": cmd_seed,
    "create-distributor": cmd_create_distributor,
    "maintenance": cmd_maintenance,
    "cache-images": cmd_cache_images,
}


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if args.command == "software":
        handler = SOFTWARE_COMMANDS[args.software_command]
    elif args.command == "mail":
        handler = MAIL_COMMANDS[args.mail_command]
    else:
        handler = COMMANDS[args.command]
    try:
        return handler(args)
    except DomainError as err:
        fields = "; ".join(f"{e.field}: {e.message}" for e in err.errors)
        print(
            f"Error: {err.detail}" + (f" ({fields})" if fields and fields not in err.detail else ""),
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
