"""The `cmdesk` command (a gui-script): composes the application and hands over to the Qt interface.

It is the one place that knows both halves: the desktop (`cmdesk.ui` over `cmdesk.services`) and the
reference server that runs in this process as the embedded default (`embedded_default()`, given to the
session: `cmdesk.services` never imports `cmdesk.server`). Both are imported here late, so the core can
be imported (and tested) without PySide6, and a start on a central server never loads the server.
A Windows gui-script has no console; `--version` and `--self-test` write to the console of the
command prompt that started them when there is one.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cmdesk.services.session import EmbeddedDefault, LocalServer

_CONSOLE_FLAGS = ("--version", "--self-test", "--measure-startup", "-h", "--help")


def _attach_console() -> None:
    """pythonw has no stdout: borrow the parent's console (cmd.exe) for the text answers."""
    if sys.platform != "win32" or sys.stdout is not None:
        return
    try:
        import ctypes

        attach_parent_process = -1
        if ctypes.windll.kernel32.AttachConsole(attach_parent_process):
            sys.stdout = open("CONOUT$", "w", encoding="utf-8", errors="replace")  # noqa: SIM115
            sys.stderr = sys.stdout
    except (AttributeError, OSError):
        pass


SEEDED_MARK = "seeded"
# The embedded server's mail sender and alert evaluator start their work this long after the server:
# the desktop's start (its own imports, the sign-in, the first sync) goes first.
BACKGROUND_DELAY = 5.0


# The name of the embedded server's token signing key among the user's secrets (the keyring).
SIGNING_KEY_NAME = "embedded-server"


def embedded_signing_secret(url: str) -> tuple[str | None, bool]:
    """The embedded server's token signing key, kept with the user's other secrets (the keyring; with
    none, a file only the user reads): (the key, whether it is in the keyring). The key an older
    version kept in the server's database moves there, so its tokens and mail links stay valid.
    Nowhere to keep it (no keyring, the file can't be written): (None, False), and the server keeps
    its key in its database as before."""
    import logging

    from cmdesk.server import db
    from cmdesk.server.embedded import migrate
    from cmdesk.server.operations import auth
    from cmdesk.services.credentials import CredentialStore, secret_file

    engine = db.create_db_engine(url)
    try:
        migrate(engine)
        factory = db.session_factory(engine)
        stored = auth.stored_signing_secret(factory)
        try:
            kept = CredentialStore().local_secret(
                SIGNING_KEY_NAME, secret_file(SIGNING_KEY_NAME), adopt=stored
            )
        except OSError:
            logging.getLogger(__name__).warning(
                "nowhere to keep the embedded server's signing key: it stays in its database", exc_info=True
            )
            return None, False
        if stored is not None:
            auth.forget_stored_signing_secret(factory)
    finally:
        engine.dispose()
    return kept.value, kept.in_keyring


def start_reference_server(folder: Path) -> LocalServer:
    """The reference server on `folder/server.sqlite3` (migrated), its software files in `folder/files`,
    seeded with the demo distributor, catalog and software the first time. Its token signing key is
    among the user's secrets (`embedded_signing_secret`); where no keyring exists the server says so
    (`notice`) and works with the key in a file."""
    from pydantic import SecretStr

    from cmdesk.server import db
    from cmdesk.server.embedded import EmbeddedServer
    from cmdesk.server.mail import links
    from cmdesk.server.settings import Settings
    from cmdesk.services import paths
    from cmdesk.services.credentials import SECRET_IN_FILE_MESSAGE

    url = f"sqlite:///{(folder / 'server.sqlite3').as_posix()}"
    store = folder / "files"
    paths.private_folder(folder)  # its database holds the accounts
    secret, in_keyring = embedded_signing_secret(url)
    # No cache images (cmdesk.server.cache_images): the server runs in the program's own process, so a
    # build would share the windows' Python for ~20 s, to save a first sync that reads this computer.
    settings = Settings(
        database_url=url,
        software_store=store,
        secret_key=SecretStr(secret) if secret else None,
        cache_images=False,
    )
    server = EmbeddedServer(url, settings=settings, background_delay=BACKGROUND_DELAY)
    server.notice = None if in_keyring else SECRET_IN_FILE_MESSAGE
    server.start()
    paths.private_file(folder / "server.sqlite3")
    if not (folder / SEEDED_MARK).exists():
        from cmdesk.server.seed import seed_demo  # the first start only

        engine = db.create_db_engine(url)
        try:
            factory = db.session_factory(engine)
            # Its mails' links signed with the server's key (else one would be stored in the database).
            links.configure_factory(factory, secret)
            seed_demo(factory, software_store=store)
        finally:
            engine.dispose()
        (folder / SEEDED_MARK).write_text(dt.datetime.now(dt.UTC).isoformat(), encoding="utf-8")
    return server


def demo_login() -> tuple[str, str]:
    from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD

    return DEMO_EMAIL, DEMO_PASSWORD


def migrations_head() -> tuple[str | None, Path]:
    """The head revision of the server's migrations and their folder (the self-test checks they ship:
    they are found through their package, `sys._MEIPASS/cmdesk/server/migrations` when frozen)."""
    from cmdesk.server import migrations

    return migrations.current_head(), migrations.HERE


def embedded_default() -> EmbeddedDefault:
    """The embedded default the desktop session starts when no central server is configured."""
    from cmdesk.services.session import EmbeddedDefault

    return EmbeddedDefault(start=start_reference_server, demo_login=demo_login, migrations=migrations_head)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in _CONSOLE_FLAGS or a.startswith("--server") for a in args):
        _attach_console()
    try:
        from cmdesk.ui.app import main as ui_main

        return ui_main(args, embedded=embedded_default())
    except SystemExit as exit_:  # argparse's --version / --help / usage errors
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    except BaseException as exc:
        # The windowed app has no console: leave the traceback where the user can send it from.
        if not isinstance(exc, KeyboardInterrupt):
            from cmdesk.services.frozen import record_crash

            record_crash(exc)
        raise


if __name__ == "__main__":
    sys.exit(main())
