"""`cmdesk-server`: run the central server and administer its database.

    cmdesk-server run [--db URL] [--host 127.0.0.1] [--port 8080] [--workers N]
    cmdesk-server demo [--db URL] [--port 8080]     migrate + seed --demo + run (the embedded default)
    cmdesk-server migrate [--db URL]
    cmdesk-server seed --demo [--db URL] [--clients N]
    cmdesk-server create-distributor --email E --mobile M --password P --name N [--db URL]
    cmdesk-server maintenance [--db URL]
    cmdesk-server software add --product CODE --product-name NAME --kind KIND --title T --version V FILE

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

from cmdesk.domain.errors import DomainError


def _db_url(args: argparse.Namespace) -> str:
    from cmdesk.server.db import default_database_url

    url: str = args.db or default_database_url()
    return url


def _factory(url: str) -> Any:
    from cmdesk.server import db

    return db.session_factory(db.create_db_engine(url))


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
    from cmdesk.server import db, migrations
    from cmdesk.server.operations import accounts

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
    out = db.run(factory, maintenance.run_maintenance)
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
    if args.manifest:
        kwargs["manifest"] = Path(args.manifest).read_text(encoding="utf-8")
        kwargs["signature"] = args.signature
    out = db.run(_factory(_db_url(args)), software.publish_file, **kwargs)
    print(f"Publicado {out['file_name']} ({out['size']:,} bytes, SHA-256 {out['sha256']}).")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import uvicorn

    from cmdesk.server import migrations

    url = _db_url(args)
    if not args.no_migrate:
        migrations.upgrade(url)
    os.environ["CMDESK_DATABASE_URL"] = url
    if args.workers > 1 and url.startswith("sqlite"):
        print(
            "Con SQLite use un solo proceso (--workers 1); varios procesos requieren PostgreSQL.",
            file=sys.stderr,
        )
        return 2
    print(f"cmdesk-server escuchando en http://{args.host}:{args.port} (documentación en /docs)", flush=True)
    uvicorn.run(
        "cmdesk.server.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    args.demo, args.clients = True, args.clients or 36
    rc = cmd_seed(args)
    if rc:
        return rc
    args.workers, args.no_migrate = 1, True
    return cmd_run(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
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
    sa.add_argument("--signature", help="Firma Ed25519 del manifiesto, en base64")
    sa.add_argument("file")
    return p


COMMANDS = {
    "run": cmd_run,
    "demo": cmd_demo,
    "migrate": cmd_migrate,
    "seed": cmd_seed,
    "create-distributor": cmd_create_distributor,
    "maintenance": cmd_maintenance,
}


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    handler = cmd_software_add if args.command == "software" else COMMANDS[args.command]
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
