"""SQLite's writers of a process queue on a lock of their own (`db._configure_sqlite`), given back once
the transaction before them is really over: a writer let in before the COMMIT (SQLAlchemy's "commit"
event comes before it) found SQLite's lock still taken and waited in SQLite's busy handler, in steps
of up to 100 ms (another distributor's stamping, behind a bulk transfer's chunks)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event, text

from cmdesk.server import db


@pytest.mark.parametrize("end", ["commit", "rollback"])
def test_the_next_writer_begins_only_once_the_transaction_before_is_over(tmp_path: Path, end: str) -> None:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    began = threading.Event()
    outcome: list[str] = []

    def second_writer() -> None:
        with engine.connect() as conn:
            # Without the queue this writer would meet SQLite's lock: with no busy wait, an error.
            conn.connection.driver_connection.execute("PRAGMA busy_timeout=0")
            began.set()
            try:
                with conn.begin():
                    conn.execute(text("INSERT INTO t VALUES (2)"))
                outcome.append("written")
            except Exception as exc:  # what SQLite said is the result
                outcome.append(f"refused: {exc}")

    other = threading.Thread(target=second_writer)

    def just_before_the_statement(_conn: object) -> None:
        # Between SQLAlchemy's event (after the engine's own listeners) and the COMMIT (or ROLLBACK)
        # itself: the other writer tries now.
        if not other.is_alive():
            other.start()
            began.wait(5)
            time.sleep(0.2)

    event.listen(engine, end, just_before_the_statement)
    with engine.connect() as conn:
        conn.begin()
        conn.execute(text("INSERT INTO t VALUES (1)"))
        conn.commit() if end == "commit" else conn.rollback()
    other.join(10)
    event.remove(engine, end, just_before_the_statement)
    assert outcome == ["written"]
    with engine.connect() as conn:
        rows = sorted(conn.execute(text("SELECT x FROM t")).scalars())
    assert rows == ([1, 2] if end == "commit" else [2])
    engine.dispose()
