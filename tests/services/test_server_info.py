"""What the desktop learns from its server's answers: a clock far from the server's (said, and corrected
for), and version skew both ways — an older desktop told once what needs the update while the rest keeps
working, a newer desktop doing without what an older server lacks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

import cmdesk
from cmdesk.domain import compat
from cmdesk.server import db
from cmdesk.server.api.errors import http_problem, problem_response
from cmdesk.server.api.resilience import Resilience
from cmdesk.server.embedded import EmbeddedServer
from cmdesk.server.seed import DEMO_EMAIL, DEMO_PASSWORD, seed_demo
from cmdesk.server.settings import Settings
from cmdesk.services import commands
from cmdesk.services.api_client import ApiClient, ApiError
from cmdesk.services.cache import Cache
from cmdesk.services.config import DesktopConfig
from cmdesk.services.outbox import CommandState, Outbox
from cmdesk.services.server_info import ServerClock, ServerInfo, describe
from cmdesk.services.session import DesktopSession, SessionEvent
from cmdesk.services.sync import SyncEngine
from tests.services.conftest import MemoryKeyring
from tests.services.test_sync import standard_cti


def skewed(offset: dt.timedelta) -> ServerClock:
    return ServerClock(local=lambda: dt.datetime.now(dt.UTC) + offset)


# ---- time ----------------------------------------------------------------------------------------------


def test_the_spanish_of_a_clock_difference() -> None:
    assert describe(dt.timedelta(days=2, hours=3, minutes=5)) == "2 días y 3 horas"
    assert describe(dt.timedelta(days=-1)) == "1 día"
    assert describe(dt.timedelta(minutes=5, seconds=10)) == "5 minutos"
    assert describe(dt.timedelta(hours=1, minutes=1)) == "1 hora y 1 minuto"
    assert describe(dt.timedelta(seconds=40)) == "40 segundos"


@pytest.mark.parametrize(
    ("offset", "words"),
    [
        (dt.timedelta(days=2), "adelantado 2 días"),
        (dt.timedelta(minutes=-7), "atrasado 7 minutos"),
        (dt.timedelta(hours=-5), "atrasado 5 horas"),  # a wrong time zone on the computer
    ],
)
def test_a_clock_far_from_the_servers_is_said_and_corrected(
    embedded_server: EmbeddedServer, offset: dt.timedelta, words: str
) -> None:
    clock = skewed(offset)
    told: list[str] = []
    info = ServerInfo(clock)
    info.subscribe(told.append)
    with ApiClient(embedded_server.url, server=info) as api:
        assert clock.offset is None and clock.notice() is None
        api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)  # the Date header of the answer
        api.get("/v1/me")
        assert api.health()  # `server_time`, to the millisecond
    assert clock.offset is not None
    assert abs((clock.offset + offset).total_seconds()) < 2  # the server's minus this computer's
    assert abs((clock.now() - dt.datetime.now(dt.UTC)).total_seconds()) < 2  # the server's time
    notice = clock.notice()
    assert notice is not None and words in notice and "hora del servidor" in notice
    assert info.notices() == [notice]
    assert told == ["clock"]  # once, not at every answer


def test_a_right_clock_says_nothing(embedded_server: EmbeddedServer) -> None:
    clock = skewed(dt.timedelta(seconds=50))  # within what office clocks drift
    with ApiClient(embedded_server.url, server=ServerInfo(clock)) as api:
        api.health()
    assert clock.notice() is None and not clock.wrong


def test_the_server_time_goes_into_the_last_sync_and_what_is_sent(
    embedded_server: EmbeddedServer, tmp_path: Path
) -> None:
    """A desktop two days ahead still records the server's time: the last sync, a new client's
    provisional date, an interaction's default time."""
    clock = skewed(dt.timedelta(days=2))
    api = ApiClient(embedded_server.url, server=ServerInfo(clock))
    api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    cache, outbox = Cache(tmp_path / "c.sqlite3"), Outbox(tmp_path / "o.sqlite3")
    try:
        SyncEngine(api, cache, outbox).sync_once()
        assert cache.last_sync_at is not None
        assert abs((cache.last_sync_at - dt.datetime.now(dt.UTC)).total_seconds()) < 5
    finally:
        cache.close()
        outbox.close()
        api.close()


# ---- an older desktop ----------------------------------------------------------------------------------


def _server(folder: Path, **settings: Any) -> EmbeddedServer:
    url = f"sqlite:///{(folder / 'server.db').as_posix()}"
    server = EmbeddedServer(url, settings=Settings(database_url=url, software_store=folder / "f", **settings))
    server.start()
    engine = db.create_db_engine(url)
    try:
        seed_demo(db.session_factory(engine), clients_count=5, software_store=None)
    finally:
        engine.dispose()
    return server


@pytest.fixture
def stricter_server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """A server upgraded past this desktop: tags changed their contract (contract phase), and it
    serves in full only desktops from 0.2.0."""
    server = _server(
        tmp_path, min_desktop_version="", desktop_requirements={"POST /v1/clients/tags": "0.2.0"}
    )
    try:
        yield server
    finally:
        server.stop()


def test_an_older_desktop_keeps_working_and_is_told_once_what_needs_the_update(
    stricter_server: EmbeddedServer, tmp_path: Path
) -> None:
    told: list[str] = []
    info = ServerInfo(ServerClock())
    info.subscribe(told.append)
    api = ApiClient(stricter_server.url, server=info, retries=1, backoff=0.01)
    api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    cache, outbox = Cache(tmp_path / "c.sqlite3"), Outbox(tmp_path / "o.sqlite3")
    engine = SyncEngine(api, cache, outbox)
    try:
        engine.sync_once()
        assert info.api_level == compat.API_LEVEL and info.server_version == cmdesk.__version__
        assert not info.outdated and told == []
        cti = standard_cti(cache)
        client_id = cache.query_clients(limit=1)[0]["id"]
        tags = commands.set_tags(outbox, cache, [client_id], favorite=True)
        moved = commands.transfer(
            outbox, cache, asset="stamps", target_type="stamping_account", target_id=cti, quantity=1
        )
        edit = commands.update_client(outbox, cache, client_id, {"trade_name": "Sigue funcionando"})
        report = engine.sync_once()
        # What the server still accepts went through; the refused command waits for the update.
        assert report.push.done == 2 and report.push.rejected == 1
        refused = outbox.get(tags.id)
        assert refused is not None and refused.state == CommandState.REJECTED
        assert refused.error_code == compat.UPDATE_REQUIRED_CODE
        assert "0.2.0" in (refused.error_detail or "") and "Actualice" in (refused.error_detail or "")
        assert outbox.get(moved.id).state == CommandState.DONE  # type: ignore[union-attr]
        assert outbox.get(edit.id).state == CommandState.DONE  # type: ignore[union-attr]
        assert info.outdated
        notice = info.update_notice()
        assert notice is not None and "0.1.0" in notice and "0.2.0" in notice
        assert "sigue funcionando" in notice and "Ayuda → Buscar actualizaciones" in notice
        assert "algunas operaciones" in notice
        # Told once, however many refusals follow.
        commands.retry(outbox, cache, tags.id)
        engine.sync_once()
        assert told == ["update"]
    finally:
        cache.close()
        outbox.close()
        api.close()


def test_a_desktop_below_the_minimum_may_still_sign_in_and_look_for_its_update(tmp_path: Path) -> None:
    server = _server(tmp_path, min_desktop_version="0.2.0")
    try:
        info = ServerInfo(ServerClock())
        with ApiClient(server.url, server=info, retries=0) as api:
            api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
            assert info.outdated  # said by the very first answer's headers
            assert api.get("/v1/me")["account"]
            assert api.get("/v1/software", params={"limit": 10}) is not None
            with pytest.raises(ApiError) as refused:
                api.get("/v1/clients")
            assert refused.value.status == 426 and refused.value.code == compat.UPDATE_REQUIRED_CODE
    finally:
        server.stop()


# ---- a newer desktop -----------------------------------------------------------------------------------


@pytest.fixture
def older_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmbeddedServer]:
    """A server from before version negotiation and the count check: no version headers, no
    `/v1/sync/counts` (404)."""
    from cmdesk.server import app as app_module

    original: Callable[..., FastAPI] = app_module.create_app

    def older(*args: Any, **kwargs: Any) -> Any:
        app = original(*args, **kwargs)
        app.user_middleware = [m for m in app.user_middleware if m.cls is not Resilience]

        class WithoutCounts:
            state = app.state  # the embedded server starts the app's mail sender through it

            async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
                if scope["type"] == "http" and scope["path"] == "/v1/sync/counts":
                    await problem_response(http_problem(404))(scope, receive, send)  # no such route
                    return
                await app(scope, receive, send)

        return WithoutCounts()

    monkeypatch.setattr(app_module, "create_app", older)
    server = _server(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def test_a_newer_desktop_does_without_what_an_older_server_lacks(
    older_server: EmbeddedServer, home: Path, memory_keyring: MemoryKeyring
) -> None:
    events: list[SessionEvent] = []
    session = DesktopSession(DesktopConfig(server_url=older_server.url))
    session.subscribe(events.append)
    try:
        session.start()
        session.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
        assert session.api is not None and session.cache is not None
        info = session.api.server
        assert info.api_level == compat.BASE_API_LEVEL and info.server_version is None
        assert not info.available("sync_counts")
        report = session.sync_now()  # a second sync: the count check is not tried again
        assert report.counts_ok and session.cache.count_clients() > 0
        notices = session.notices()
        assert len(notices) == 1
        assert (
            "no ofrece la verificación de la caché" in notices[0]
            and "cuando el servidor se actualice" in notices[0]
        )
        assert [e.changed for e in events if e.kind == "notice"] == [frozenset({"feature:sync_counts"})]
    finally:
        session.close()
