"""The sync snapshot (`GET /v1/sync/snapshot`): what it holds is what replaying the whole feed leaves,
its cursor neither skips a change nor hands one out twice (PostgreSQL: with real concurrent writers,
a slow one committing after a fast one), a cut stream resumes, and every encoding says the same."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text, update

from cmdesk.domain import usage
from cmdesk.domain.enums import Asset
from cmdesk.models import Client, Profile, StampingAccount
from cmdesk.server import db, feed, snapshot
from cmdesk.server.api.sync import _fallback, feed_loaders, read_changes
from cmdesk.server.app import create_app
from cmdesk.server.operations import clients, contracts, distributors, ledger, records, tools
from cmdesk.server.operations import usage as usage_ops
from cmdesk.server.operations.context import Actor
from cmdesk.server.settings import Settings
from tests.server.helpers import give, make_client, make_distributor

if snapshot.sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

State = dict[tuple[str, str], Any]


# ---- helpers ---------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """As JSON carries it (datetimes as text)."""
    return orjson.loads(orjson.dumps(value, default=_fallback))


def replay(factory: db.SessionFactory, actor: Actor, cursor: str | None = None, state: State | None = None):
    """Apply the feed from `cursor` to `state` (a copy): what a desktop's cache would hold. Returns
    (state, final cursor)."""
    out = dict(state or {})
    while True:
        with db.transaction(factory) as s:
            page = read_changes(s, actor, cursor, 7)
        for change in page["changes"]:
            key = (change["entity"], change["id"])
            if change["deleted"]:
                out.pop(key, None)
            else:
                out[key] = _plain(change["data"])
        cursor = page["cursor"]
        if not page["has_more"]:
            return out, cursor


def decode(body: bytes, encoding: str = "identity") -> list[Any]:
    if encoding == "zstd":
        body = zstd.decompress(body)
    elif encoding == "gzip":
        body = gzip.decompress(body)
    assert body.endswith(b"\n")
    return [orjson.loads(line) for line in body.split(b"\n")[:-1]]


def take(engine: Engine, actor: Actor, **kw: Any) -> list[Any]:
    body = b"".join(snapshot.stream(engine, actor.account_id, feed_loaders(), default=_fallback, **kw))
    return decode(body, kw.get("encoding", "identity"))


def apply(lines: list[Any], state: State | None = None) -> State:
    """The entities and the tail of a snapshot's lines, laid over `state`."""
    out = dict(state or {})
    for line in lines:
        if isinstance(line, list):
            out[(line[0], line[1]["id"])] = line[1]
        elif "change" in line:
            change = line["change"]
            key = (change["entity"], change["id"])
            if change["deleted"]:
                out.pop(key, None)
            else:
                out[key] = change["data"]
    return out


def end_of(lines: list[Any]) -> dict[str, Any]:
    assert isinstance(lines[-1], dict) and lines[-1].get("end") is True, "the stream must end with `end`"
    return lines[-1]


@pytest.fixture
def portfolio(factory: db.SessionFactory) -> dict[str, Any]:
    """A distributor with one of nearly everything the feed carries, some of it deleted again; and
    another distributor whose data must never show."""
    a = make_distributor(factory)
    give(factory, a, Asset.STAMPS, 300)
    give(factory, a, Asset.POINTS, 5000)
    made = [make_client(factory, a, name=f"Cliente {n}") for n in range(5)]
    first = made[0]["client"]["id"]
    cti = made[1]["stamping_account"]["id"]
    db.run(
        factory, ledger.transfer, a, asset="stamps", target_type="stamping_account", target_id=cti, quantity=7
    )
    db.run(factory, clients.set_auto_sale, a, cti, minimum=2, credit=10, amount_cents=500)
    db.run(factory, clients.create_stamping_account, a, first, kind="unlimited", password="Clave2024x")
    db.run(factory, clients.update_client, a, first, {"trade_name": "Otro nombre", "favorite": True})
    with db.transaction(factory) as s:
        s.add(Profile(email="cliente@a.mx", mobile="5599999990", password_hash="x"))
    db.run(
        factory,
        clients.set_admin_profile,
        a,
        made[2]["client"]["id"],
        email="cliente@a.mx",
        mobile="5599999990",
    )
    package = db.run(factory, tools.create_price_package, a, quantity=10, price_cents=1000)
    db.run(factory, tools.create_price_package, a, quantity=20, price_cents=1800)
    db.run(factory, tools.delete_price_package, a, package["id"])
    user = db.run(factory, tools.add_user, a, email="usuario@a.mx", mobile="5520000100")
    user_id = (user.get("user") or user.get("profile") or user)["id"]
    db.run(factory, tools.remove_user, a, user_id)
    db.run(factory, records.add_interaction, a, first, text="Llamada")
    db.run(factory, contracts.contract, a, "multinivel")
    db.run(
        factory,
        distributors.create_sub_distributor,
        a,
        email="sub@a.mx",
        mobile="5520000101",
        name="Sub de A",
        rfc="EKU9003173C9",
    )
    b = make_distributor(factory)
    other = make_client(factory, b)
    return {"actor": a, "clients": [m["client"]["id"] for m in made], "cti": cti, "foreign": other}


# ---- what it holds ---------------------------------------------------------------------------------


def test_a_snapshot_holds_what_replaying_the_whole_feed_leaves(engine, factory, portfolio):
    a = portfolio["actor"]
    lines = take(engine, a)
    header = lines[0]
    assert header["format"] == snapshot.FORMAT
    held = apply(lines)
    truth, _ = replay(factory, a)
    assert held == truth
    assert {e for e, _ in held} >= {
        "account",
        "client",
        "stamping_account",
        "movement",
        "price_package",
        "profile",
        "interaction",
        "distributor",
        "settings",
    }
    # What the loaders add to the rows: a client's admin profile and balances from its CTIs, an
    # unlimited CTI, an auto-sale rule.
    shown = [d for (e, _i), d in held.items() if e == "client" and d["admin_profile"]]
    assert [d["admin_profile"]["email"] for d in shown] == ["cliente@a.mx"]
    assert any(d["kind"] == "unlimited" for (e, _i), d in held.items() if e == "stamping_account")
    assert any(d["auto_sale"] for (e, _i), d in held.items() if e == "stamping_account")
    foreign = portfolio["foreign"]
    assert ("client", foreign["client"]["id"]) not in held
    assert ("stamping_account", foreign["stamping_account"]["id"]) not in held
    # The header's counts are those of the entities sent; the end line counts them too.
    sent = [line for line in lines if isinstance(line, list)]
    assert header["total"] == len(sent) == end_of(lines)["count"]
    for entity, count in header["counts"].items():
        assert count == sum(1 for line in sent if line[0] == entity)
    # Nothing changed since: the feed from the snapshot's cursor is empty.
    assert replay(factory, a, end_of(lines)["cursor"], held)[0] == truth


def test_each_client_and_cti_line_is_byte_for_byte_the_feed_loaders_json(engine, factory, portfolio):
    """The snapshot builds clients and CTIs from plain driver rows (their aggregates summed from the
    CTIs' rows, SQLite's datetimes written without parsing them): the same bytes the feed's loaders
    give, for every case the views have (admin profile, unlimited CTI, auto-sale rule, usage summary,
    a datetime on a whole second, text that JSON escapes)."""
    a = portfolio["actor"]
    first, cti = sorted(portfolio["clients"])[0], portfolio["cti"]
    whole_second = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    with db.transaction(factory) as s:
        s.execute(
            update(Client)
            .where(Client.id == first)
            .values(comments='Línea 1\nTab\t"comillas" \\ \x01 ñ \u2028 😀', color=None)
        )
        s.execute(
            update(StampingAccount)
            .where(StampingAccount.id == cti)
            .values(last_credit_at=whole_second, first_issue_at=whole_second + dt.timedelta(microseconds=10))
        )
        usage_ops.count_usage(s, [(cti, usage.mx_day(dt.datetime.now(dt.UTC)), 3)])
    body = b"".join(snapshot.stream(engine, a.account_id, feed_loaders(), default=_fallback))
    lines = [
        line for line in body.split(b"\n") if line.startswith(b'["client"') or line.startswith(b'["stamping')
    ]
    assert len(lines) == 11  # 5 clients, 6 CTIs
    loaders = feed_loaders()
    seen = set()
    with db.transaction(factory) as s:
        for line in lines:
            entity, data = orjson.loads(line)
            seen.add((entity, data["id"]))
            expected = loaders[entity](s, [data["id"]])[data["id"]]
            assert (
                line == b"[" + orjson.dumps(entity) + b"," + orjson.dumps(expected, default=_fallback) + b"]"
            )
    assert ("client", first) in seen and ("stamping_account", cti) in seen
    held = dict(((e, d["id"]), d) for e, d in map(orjson.loads, lines))
    assert held[("stamping_account", cti)]["usage"] is not None
    assert held[("stamping_account", cti)]["last_purchase_at"] == "2026-03-04T05:06:07+00:00"
    # The client's aggregates are summed from its CTIs' rows: its last purchase is its CTI's.
    owner = held[("client", held[("stamping_account", cti)]["client_id"])]
    assert owner["last_purchase_at"] == "2026-03-04T05:06:07+00:00"
    assert owner["balances"]["stamps"] == 7
    assert held[("client", first)]["other"]["comments"].startswith("Línea 1\n")


def test_clients_come_with_their_ctis_and_each_chunk_ends_with_a_resume_point(
    engine, factory, portfolio, monkeypatch
):
    monkeypatch.setattr(snapshot, "CHUNK", 2)
    lines = take(engine, portfolio["actor"])
    order = [line[0] for line in lines if isinstance(line, list)]
    assert order[:2] == ["account", "settings"]
    ats = [line["at"] for line in lines if isinstance(line, dict) and "at" in line]
    assert len(ats) >= 5
    assert len(ats) == len(set(ats))
    # Between two resume points: clients, then the CTIs of exactly those clients.
    chunk: list[Any] = []
    for line in lines[1:]:
        if isinstance(line, list):
            chunk.append(line)
            continue
        if "at" in line and chunk and chunk[0][0] == "client":
            client_ids = {d["id"] for e, d in chunk if e == "client"}
            kinds = [e for e, _d in chunk]
            assert kinds == sorted(kinds, key=lambda e: e != "client"), "clients first, then their CTIs"
            assert all(d["client_id"] in client_ids for e, d in chunk if e == "stamping_account")
            assert line["at"] == "client:" + max(client_ids)
        if "at" in line:
            chunk = []


def test_a_cut_stream_resumes_with_a_later_snapshot(engine, factory, portfolio, monkeypatch):
    """The part received, the rest from a later snapshot (`after`), then the feed from the FIRST
    snapshot's resume cursor: the server's state, whatever changed in between."""
    monkeypatch.setattr(snapshot, "CHUNK", 2)
    a = portfolio["actor"]
    first = take(engine, a)
    resume_cursor = first[0]["resume_cursor"]
    ats = [i for i, line in enumerate(first) if isinstance(line, dict) and "at" in line]
    for cut in (ats[2], ats[len(ats) // 2], ats[-1]):
        part = first[: cut + 1]
        # Meanwhile: a client before the cut changes, one after it too, a new one comes, one CTI goes
        # inactive, a price package is deleted.
        a_client, z_client = sorted(portfolio["clients"])[0], sorted(portfolio["clients"])[-1]
        db.run(factory, clients.update_client, a, a_client, {"trade_name": f"Antes {cut}"})
        db.run(factory, clients.update_client, a, z_client, {"trade_name": f"Después {cut}"})
        make_client(factory, a)
        db.run(factory, clients.set_stamping_account_active, a, portfolio["cti"], active=cut % 2 == 0)
        rest = take(engine, a, after=snapshot.parse_after(part[-1]["at"]))
        assert rest[0]["format"] == snapshot.FORMAT
        end_of(rest)
        held = apply(rest, apply(part))
        state, _ = replay(factory, a, resume_cursor, held)
        assert state == replay(factory, a)[0]


def test_every_encoding_carries_the_same_lines_and_the_route_checks_its_caller(
    engine, factory, portfolio, tmp_path
):
    app = create_app(Settings(database_url="sqlite://", software_store=tmp_path / "files"), engine=engine)
    a = portfolio["actor"]
    with db.transaction(factory) as s:
        email = s.execute(text("select email from profiles where id = :p"), {"p": a.profile_id}).scalar_one()
    with TestClient(app) as client:
        token = client.post("/v1/auth/token", json={"login": email, "password": "secreto123"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        bodies = {}
        for encoding in ("zstd", "gzip", "identity"):
            with client.stream(
                "GET", "/v1/sync/snapshot", headers={**headers, "Accept-Encoding": encoding}
            ) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith(snapshot.MEDIA_TYPE)
                assert response.headers.get("content-encoding", "identity") == encoding
                assert response.headers["cache-control"] == "no-store"
                raw = b"".join(response.iter_raw())
            lines = decode(raw, encoding)
            end_of(lines)
            bodies[encoding] = [line for line in lines if isinstance(line, list)]
        assert bodies["zstd"] == bodies["gzip"] == bodies["identity"]
        assert apply(bodies["zstd"]) == replay(factory, a)[0]
        assert client.get("/v1/sync/snapshot").status_code == 401
        bad = client.get("/v1/sync/snapshot", params={"after": "client"}, headers=headers)
        assert bad.status_code == 422 and bad.json()["code"] == "validation_error"


def test_the_database_lost_midway_cuts_the_stream_as_an_expected_fault(
    engine, portfolio, tmp_path, monkeypatch, caplog
):
    """A database restart in the middle of a snapshot ends the stream without its `end` line (the
    client resumes it), and the server's log tells an expected fault, not an unexpected error."""
    from sqlalchemy.exc import OperationalError

    real = snapshot.stream

    def lost_midway(*args: Any, **kwargs: Any) -> Iterator[bytes]:
        body = real(*args, **kwargs)
        yield next(body)  # the header
        yield next(body)
        body.close()
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(snapshot, "CHUNK", 1)
    monkeypatch.setattr(snapshot, "stream", lost_midway)
    settings = Settings(database_url="sqlite://", software_store=tmp_path / "files", mail_sender=False)
    app = create_app(settings, engine=engine)
    with TestClient(app) as client:
        a = portfolio["actor"]
        with engine.connect() as c:
            email = c.execute(
                text("select email from profiles where id = :p"), {"p": a.profile_id}
            ).scalar_one()
        answer = client.post("/v1/auth/token", json={"login": email, "password": "secreto123"}).json()
        headers = {"Authorization": f"Bearer {answer['access_token']}", "Accept-Encoding": "identity"}
        with (
            caplog.at_level("WARNING"),
            client.stream("GET", "/v1/sync/snapshot", headers=headers) as response,
        ):
            assert response.status_code == 200
            raw = b"".join(response.iter_raw())
    lines = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
    assert lines and isinstance(lines[0], dict) and "resume_cursor" in lines[0]
    assert not any(isinstance(line, dict) and line.get("end") for line in lines)
    assert "unexpected error" not in caplog.text
    assert "database connection lost in the middle of a snapshot" in caplog.text


def test_a_stream_dropped_midway_gives_its_connection_back(engine, portfolio, monkeypatch):
    monkeypatch.setattr(snapshot, "CHUNK", 1)
    body = snapshot.stream(engine, portfolio["actor"].account_id, feed_loaders(), default=_fallback)
    next(body)
    next(body)
    assert engine.pool.checkedout() >= 1  # type: ignore[attr-defined]
    body.close()
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


# ---- consistency under writers ---------------------------------------------------------------------


def _writer(
    factory: db.SessionFactory, a: Actor, ids: list[str], cti: str, stop: threading.Event
) -> Iterator[int]:
    """One write after another (each its own transaction), until `stop`."""
    for n in itertools.count():
        if stop.is_set():
            return
        match n % 5:
            case 0:
                db.run(factory, clients.update_client, a, ids[n % len(ids)], {"trade_name": f"Cambio {n}"})
            case 1:
                db.run(
                    factory,
                    ledger.transfer,
                    a,
                    asset="stamps",
                    target_type="stamping_account",
                    target_id=cti,
                    quantity=1,
                )
            case 2:
                made = make_client(factory, a, name=f"Nuevo {n}")
                ids.append(made["client"]["id"])
            case 3:
                db.run(factory, clients.set_tags, a, ids[-3:], favorite=n % 2 == 0)
            case 4:
                db.run(factory, records.add_interaction, a, ids[n % len(ids)], text=f"Nota {n}")
        yield n


def test_snapshots_taken_while_a_writer_keeps_changing_entities(engine, factory, portfolio, monkeypatch):
    """Each snapshot, then the feed from its cursor once the writer stopped: the server's state."""
    monkeypatch.setattr(snapshot, "CHUNK", 1)  # a query per entity: the writer commits in between
    a = portfolio["actor"]
    ids = list(portfolio["clients"])
    stop = threading.Event()
    writes: list[int] = []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for n in _writer(factory, a, ids, portfolio["cti"], stop):
                writes.append(n)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    taken = []
    try:
        while len(taken) < 6:
            before = len(writes)
            taken.append(take(engine, a))
            if len(writes) == before:
                time.sleep(0.05)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
    assert len(writes) > 10
    truth, _ = replay(factory, a)
    for lines in taken:
        state, _ = replay(factory, a, end_of(lines)["cursor"], apply(lines))
        assert state == truth


@pytest.mark.postgres_only
def test_a_slow_writer_comes_in_the_tail_and_no_change_is_handed_out_twice(engine, factory, portfolio):
    """A takes its transaction id and writes, then stalls; B writes and commits; the snapshot is
    taken; A commits while the snapshot waits at its end. A's changes come in the tail; the feed from
    the snapshot's cursor hands out neither A's nor B's rows (the snapshot covered them), and does
    hand out what C writes afterwards."""
    a = portfolio["actor"]
    ids = portfolio["clients"]
    a_wrote, release_a = threading.Event(), threading.Event()

    def slow_writer() -> None:
        with db.transaction(factory) as s:
            ledger.transfer(
                s,
                a,
                asset="stamps",
                target_type="stamping_account",
                target_id=portfolio["cti"],
                quantity=2,
                comments="lento",
            )
            a_wrote.set()
            release_a.wait(20)

    slow = threading.Thread(target=slow_writer)
    slow.start()
    assert a_wrote.wait(10)
    db.run(factory, clients.update_client, a, ids[0], {"trade_name": "rápido"})

    with snapshot.read_session(engine) as s:
        point = feed.snapshot_point(s)
    assert point.pending, "A was running when the snapshot was taken"
    threading.Timer(0.5, release_a.set).start()
    lines = take(engine, a)  # waits for A at its end
    slow.join()
    end = end_of(lines)
    tail = [line["change"] for line in lines if isinstance(line, dict) and "change" in line]
    assert any(c["entity"] == "movement" and c["data"]["comments"] == "lento" for c in tail)
    assert end["cursor"] != lines[0]["resume_cursor"], "an exact cursor, not the resume one"

    # Row by row: every change row of the account is covered once.
    xmax = feed.Cursor.decode(end["cursor"]).txid
    xmin = feed.Cursor.decode(lines[0]["resume_cursor"]).txid
    with db.transaction(factory) as s:
        rows = s.execute(
            text("select id, txid from change_log where account_id = :a"), {"a": a.account_id}
        ).all()
        after = feed.read(s, a.account_id, end["cursor"], 100000)
    assert after.changes == [], "nothing changed after the snapshot: the feed from its cursor is empty"
    assert all(txid < xmax for _id, txid in rows)
    assert any(xmin <= txid for _id, txid in rows), "A's rows lie between the two cursors"

    db.run(factory, clients.update_client, a, ids[1], {"trade_name": "después"})
    with db.transaction(factory) as s:
        later = feed.read(s, a.account_id, end["cursor"], 100000)
    assert {(c.entity, c.entity_id) for c in later.changes} == {("client", ids[1])}
    state, _ = replay(factory, a, end["cursor"], apply(lines))
    assert state == replay(factory, a)[0]


@pytest.mark.postgres_only
def test_a_writer_that_does_not_end_in_time_makes_the_snapshot_end_at_its_resume_cursor(
    engine, factory, portfolio
):
    a = portfolio["actor"]
    a_wrote, release_a = threading.Event(), threading.Event()

    def stuck_writer() -> None:
        with db.transaction(factory) as s:
            clients.update_client(s, a, portfolio["clients"][2], {"trade_name": "tarde"})
            a_wrote.set()
            release_a.wait(20)

    stuck = threading.Thread(target=stuck_writer)
    stuck.start()
    assert a_wrote.wait(10)
    try:
        lines = take(engine, a, tail_wait=0.2)
    finally:
        release_a.set()
        stuck.join()
    end = end_of(lines)
    assert end["cursor"] == lines[0]["resume_cursor"]
    assert not any(isinstance(line, dict) and "change" in line for line in lines)
    state, _ = replay(factory, a, end["cursor"], apply(lines))
    truth, _ = replay(factory, a)
    assert state == truth
    assert truth[("client", portfolio["clients"][2])]["trade_name"] == "tarde"
