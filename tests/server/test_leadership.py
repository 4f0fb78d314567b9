"""Several workers on one PostgreSQL run ONE alert evaluator and ONE mail sender between them (an
advisory lock held by the leader's connection); another worker takes over when the leader stops or
its connection dies (what a SIGKILL does), and a mail queued in a follower still goes out at once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from cmdesk.server import db
from cmdesk.server.app import create_app
from cmdesk.server.mail import queue
from cmdesk.server.settings import Settings

pytestmark = pytest.mark.postgres_only


def _wait(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _jobs_running(app: FastAPI) -> tuple[bool, bool]:
    evaluator = app.state.alert_evaluator
    alive = evaluator._thread is not None and evaluator._thread.is_alive()
    return alive, app.state.mail.running


@pytest.fixture
def apps(engine, tmp_path: Path) -> Iterator[Callable[[], tuple[FastAPI, ExitStack]]]:
    url = engine.url.render_as_string(hide_password=False)
    stacks: list[ExitStack] = []

    def start() -> tuple[FastAPI, ExitStack]:
        settings = Settings(
            database_url=url,
            software_store=tmp_path / "files",
            mail_folder=tmp_path / "mail",
            mail_poll_seconds=600,  # only a NOTIFY can wake the leader's sender in time
            alerts_interval_seconds=0.2,
        )
        app = create_app(settings, engine=db.create_db_engine(url))
        stack = ExitStack()
        stack.enter_context(TestClient(app))  # runs the lifespan: the worker's start
        stack.callback(app.state.engine.dispose)
        stacks.append(stack)
        return app, stack

    yield start
    for stack in reversed(stacks):
        stack.close()


def test_two_workers_run_one_evaluator_and_one_sender(apps, engine, factory, tmp_path: Path) -> None:
    first, first_stack = apps()
    second, _ = apps()
    assert first.state.leadership.leader and not second.state.leadership.leader
    assert _jobs_running(first) == (True, True)
    assert _jobs_running(second) == (False, False)

    # A mail queued in the follower goes out through the leader's sender, woken by NOTIFY.
    mails = tmp_path / "mail"

    def queue_one(session) -> None:
        queue.enqueue(
            session, "notice", to_address="persona@cm.test",
            params={"title": "Aviso", "paragraphs": ["Texto."], "facts": [], "account_name": "A", "account_nic": "1"},
        )

    db.run(second.state.session_factory, queue_one)
    _wait(lambda: mails.is_dir() and any(mails.glob("*.eml")), "the leader did not send the follower's mail", 15)

    # The leader stops (a worker shut down): the other takes over within its interval.
    first_stack.close()
    assert _jobs_running(first) == (False, False)
    _wait(lambda: second.state.leadership.leader, "no worker took over after the leader stopped")
    _wait(lambda: _jobs_running(second) == (True, True), "the new leader did not start the jobs")

    # The leader's connection dies (a SIGKILLed worker's does): PostgreSQL frees the lock, a
    # follower takes over, and the old leader stops its jobs at its next check.
    third, _ = apps()
    assert not third.state.leadership.leader
    with engine.connect() as c:
        c.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks"
                " WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
            )
        )
    _wait(lambda: third.state.leadership.leader, "no worker took over after the leader's connection died")
    _wait(lambda: _jobs_running(third) == (True, True), "the new leader did not start the jobs")
    _wait(lambda: _jobs_running(second) == (False, False), "the old leader kept running its jobs")
    # ...and it competes again as a follower.
    time.sleep(0.6)
    assert not second.state.leadership.leader
