"""The desktop's files are readable only by the user (issue 15): on POSIX the folders are 0700 and the
cache, its search index, the outbox, session.json and config.json 0600. (On Windows the folders live
in the user's own %LOCALAPPDATA%, which Windows already restricts: nothing is changed there.)"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cmdesk.services import paths
from cmdesk.services.cache import Cache
from cmdesk.services.config import DesktopConfig, save_config
from cmdesk.services.outbox import Outbox

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_folders_and_files_are_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    old_umask = os.umask(0o022)  # what most systems use: files 0644, readable by everyone
    try:
        server = paths.server_dir("cm.ejemplo.mx-1a2b3c")
        account = server / "accounts" / "cuenta1"
        cache = Cache(account / "cache.sqlite3")
        outbox = Outbox(account / "outbox.sqlite3")
        try:
            config = save_config(DesktopConfig(), paths.config_dir() / "config.json")
        finally:
            cache.close()
            outbox.close()
    finally:
        os.umask(old_umask)
    for folder in (paths.data_dir(), paths.config_dir(), paths.log_dir(), server, account):
        assert mode(folder) == 0o700, folder
    for made in (account / "cache.sqlite3", account / "outbox.sqlite3", config):
        assert mode(made) == 0o600, made
    assert not [p for p in account.iterdir() if mode(p) & 0o077], "every file of the account is private"


def test_existing_files_are_closed_up(tmp_path: Path) -> None:
    """A folder and a file made by an older version (0755 / 0644) become private when next used."""
    folder = tmp_path / "viejo"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    old = folder / "cache.sqlite3"
    old.write_text("x")
    old.chmod(0o644)
    paths.private_folder(folder)
    paths.private_file(old)
    assert mode(folder) == 0o700 and mode(old) == 0o600
