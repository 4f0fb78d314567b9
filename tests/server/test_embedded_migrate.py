"""The embedded server's migration step: Alembic runs when the database is behind (or new), and is
skipped, not even imported, when the database is already at the migrations' one head."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from cmdesk.server import db, embedded, migrations
from cmdesk.server.embedded import database_revision, head_revision, migrate


def write_migration(folder: Path, revision: str, down: str | None, *, typed: bool = True) -> None:
    annotation = (": str", ": str | None") if typed else ("", "")
    (folder / f"{revision}_step.py").write_text(
        f'"""step"""\n\nrevision{annotation[0]} = "{revision}"\n'
        f"down_revision{annotation[1]} = {down!r}\n\n\ndef upgrade() -> None:\n    pass\n",
        encoding="utf-8",
    )


def test_the_head_read_from_the_files_is_alembics() -> None:
    assert head_revision() is not None
    assert head_revision() == migrations.current_head()


def test_head_of_a_plain_line_of_migrations(tmp_path: Path) -> None:
    assert head_revision(tmp_path) is None  # no migrations at all
    write_migration(tmp_path, "0001", None)
    write_migration(tmp_path, "0002", "0001", typed=False)  # the older template, no annotations
    write_migration(tmp_path, "0003", "0002")
    (tmp_path / "__init__.py").write_text("", encoding="utf-8")
    assert head_revision(tmp_path) == "0003"


@pytest.mark.parametrize(
    "extra",
    [
        # Two heads (a branch).
        lambda folder: write_migration(folder, "0003b", "0002"),
        # A merge: down_revision is a tuple, which only Alembic reads.
        lambda folder: (folder / "0004_merge.py").write_text(
            'revision: str = "0004"\ndown_revision = ("0003", "0003b")\n', encoding="utf-8"
        ),
        # A file that does not say its revision the way the template writes it.
        lambda folder: (folder / "0004_odd.py").write_text(
            'REVISION = "0004"\ndown_revision = "0003"\n', encoding="utf-8"
        ),
        # A parent no file defines.
        lambda folder: write_migration(folder, "0009", "0008"),
    ],
)
def test_anything_but_a_plain_line_is_left_to_alembic(tmp_path: Path, extra) -> None:
    write_migration(tmp_path, "0001", None)
    write_migration(tmp_path, "0002", "0001")
    write_migration(tmp_path, "0003", "0002")
    extra(tmp_path)
    assert head_revision(tmp_path) is None


def test_a_database_at_head_is_not_migrated_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{(tmp_path / 'server.db').as_posix()}"
    engine = db.create_db_engine(url)
    calls: list[str] = []
    real_upgrade = migrations.upgrade
    monkeypatch.setattr(
        migrations, "upgrade", lambda u, revision="head": (calls.append(u), real_upgrade(u))[1]
    )
    try:
        assert database_revision(engine) is None  # a new file: no alembic_version yet
        migrate(engine)
        assert len(calls) == 1 and database_revision(engine) == migrations.current_head()
        migrate(engine)  # at head: Alembic is not called
        assert len(calls) == 1

        # Behind (or unknown to this version): Alembic is called, and says what it thinks.
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
        monkeypatch.setattr(migrations, "upgrade", lambda u, revision="head": calls.append(u))
        migrate(engine)
        assert len(calls) == 2
    finally:
        engine.dispose()


def test_with_the_files_unreadable_alembic_decides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{(tmp_path / 'server.db').as_posix()}"
    engine = db.create_db_engine(url)
    try:
        migrations.upgrade(url)
        calls: list[str] = []
        monkeypatch.setattr(migrations, "upgrade", lambda u, revision="head": calls.append(u))
        monkeypatch.setattr(embedded, "VERSIONS", tmp_path / "nowhere")
        migrate(engine)
        assert len(calls) == 1
    finally:
        engine.dispose()


def test_a_start_at_head_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'server.db').as_posix()}"
    migrations.upgrade(url)
    script = (
        "import sys\n"
        "from cmdesk.server import db\n"
        "from cmdesk.server.embedded import migrate\n"
        f"engine = db.create_db_engine({url!r})\n"
        "migrate(engine)\n"
        "engine.dispose()\n"
        "print(sorted(m for m in sys.modules if m == 'alembic' or m.startswith('alembic.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
