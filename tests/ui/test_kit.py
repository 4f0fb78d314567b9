"""The screens' kit (`cmdesk.ui.kit`): the one paged table model, the actions and their command watcher,
the Spanish names and messages — over stand-in sessions, so each behaviour is seen alone."""

from __future__ import annotations

import datetime as dt
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from cmdesk.domain.errors import validation_error
from cmdesk.services.api_client import ApiError, OfflineError
from cmdesk.services.connectivity import ConnectionState
from cmdesk.services.outbox import Command, CommandState
from cmdesk.ui.kit import labels, messages
from cmdesk.ui.kit.actions import AppContext, command, online, read, task
from cmdesk.ui.kit.table import Column, PagedTableModel, Query, date_text
from cmdesk.ui.operations import Operations

RECORDS = [{"id": f"r{i:03d}", "name": f"Cliente {i}", "stamps": i * 1000, "day": None} for i in range(250)]


class Source:
    """A stand-in for the cache: the loader reads `records`, counting its calls (and can be held)."""

    def __init__(self) -> None:
        self.records = list(RECORDS)
        self.calls: list[tuple[str, int, int]] = []
        self.counts: list[str] = []
        self.gate = threading.Event()
        self.gate.set()

    def load(self, _cache: object, query: Query, limit: int, offset: int) -> list[dict[str, Any]]:
        self.gate.wait(10)
        self.calls.append((query.q, limit, offset))
        rows = [r for r in self.records if query.q in str(r["name"])]
        rows.sort(key=lambda r: r["stamps"], reverse=query.descending)
        return rows[offset : offset + limit]

    def count(self, _cache: object, query: Query) -> int:
        self.counts.append(query.q)
        return len([r for r in self.records if query.q in str(r["name"])])


COLUMNS = (
    Column("name", "Nombre"),
    Column("stamps", "Timbres", "number", sort="stamps"),
    Column("pick", "Elegir", "check", value=lambda _r: ""),
)


@pytest.fixture
def source() -> Source:
    return Source()


@pytest.fixture
def model(qtbot: Any, ops: Operations, source: Source) -> PagedTableModel:
    context = AppContext(ops, SimpleNamespace(cache=object()))  # type: ignore[arg-type]
    return PagedTableModel(
        context,
        COLUMNS,
        source.load,
        counter=source.count,
        page_size=100,
        checkable=lambda r: r["stamps"] > 0,
    )


def test_pages_in_and_counts_after_the_first_page(
    qtbot: Any, qtmodeltester: Any, model: PagedTableModel, source: Source
) -> None:
    with qtbot.waitSignal(model.counted, timeout=5000) as counted:
        model.set_query(Query())
    assert counted.args == [250] and model.exact and model.rowCount() == 100
    assert model.row_texts(1) == ["Cliente 1", "1,000", ""]  # formatted off the UI thread
    while model.canFetchMore():
        with qtbot.waitSignal(model.page_loaded, timeout=5000):
            model.fetchMore()
    assert model.rowCount() == 250 and not model.canFetchMore()
    qtmodeltester.check(model)
    assert [c[2] for c in source.calls] == [0, 100, 200]


def test_a_search_typed_letter_by_letter_is_counted_once(
    qtbot: Any, model: PagedTableModel, source: Source
) -> None:
    """The count waits for the query to stay the same: the letters typed before are never counted."""
    source.records = [{**r, "name": f"Cliente {i % 3}"} for i, r in enumerate(RECORDS)]
    for text in ("C", "Cl", "Cli"):
        with qtbot.waitSignal(model.loaded, timeout=5000):
            model.set_query(Query(q=text))
        assert not model.exact and model.total == 101  # the rows loaded, and one more
    with qtbot.waitSignal(model.counted, timeout=5000) as counted:
        pass
    assert counted.args == [250] and model.exact and source.counts == ["Cli"]


def test_another_order_of_the_same_rows_keeps_the_count(
    qtbot: Any, model: PagedTableModel, source: Source
) -> None:
    with qtbot.waitSignal(model.counted, timeout=5000):
        model.set_query(Query())
    with qtbot.waitSignal(model.counted, timeout=5000) as counted:
        model.sort(1, Qt.SortOrder.DescendingOrder)
    assert counted.args == [250] and model.exact and source.counts == [""]
    with qtbot.waitSignal(model.counted, timeout=5000) as counted:
        model.set_query(model.query.with_(q="Cliente 1"))  # another search: counted again
    assert counted.args == [111] and source.counts == ["", "Cliente 1"]


def test_a_reload_of_the_same_rows_keeps_the_selection(
    qtbot: Any, model: PagedTableModel, source: Source
) -> None:
    with qtbot.waitSignal(model.loaded, timeout=5000):
        model.set_query(Query())
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    source.records[0] = {**source.records[0], "name": "Cliente 0 renombrado"}
    with qtbot.waitSignal(model.dataChanged, timeout=5000):
        model.reload()
    assert not resets and model.row_texts(0)[0] == "Cliente 0 renombrado"
    source.records.pop(1)
    with qtbot.waitSignal(model.modelReset, timeout=5000):
        model.reload()
    assert model.row_of("r001") == -1


def test_one_read_at_a_time_and_the_latest_query_wins(
    qtbot: Any, model: PagedTableModel, source: Source
) -> None:
    source.gate.clear()
    for text in ("1", "12", "123"):
        model.set_query(Query(q=text))
    assert model.busy
    source.gate.set()
    qtbot.waitUntil(lambda: not model.busy, timeout=5000)
    assert [r["name"] for r in model.records()] == ["Cliente 123"]
    assert [c[0] for c in source.calls] == ["1", "123"]  # the one under way, then the latest only


def test_sorting_is_a_new_query_and_unsortable_columns_are_ignored(
    qtbot: Any, model: PagedTableModel
) -> None:
    with qtbot.waitSignal(model.loaded, timeout=5000):
        model.sort(1, Qt.SortOrder.DescendingOrder)
    assert model.query.sort == "stamps" and model.query.descending
    assert model.sort_column() == (1, Qt.SortOrder.DescendingOrder)
    assert model.records()[0]["id"] == "r249"
    model.sort(0, Qt.SortOrder.AscendingOrder)
    assert model.query.sort == "stamps" and not model.busy


def test_the_check_column(qtbot: Any, model: PagedTableModel) -> None:
    with qtbot.waitSignal(model.loaded, timeout=5000):
        model.set_query(Query())
    assert not model.flags(model.index(0, 2)) & Qt.ItemFlag.ItemIsUserCheckable  # 0 stamps
    with qtbot.waitSignal(model.checks_changed):
        model.set_checked("r002", True)
    assert model.checked_ids() == ["r002"]
    assert model.data(model.index(2, 2), Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked


def test_without_a_session_the_model_is_empty(qtbot: Any, ops: Operations, source: Source) -> None:
    model = PagedTableModel(AppContext(ops, None), COLUMNS, source.load)
    with qtbot.waitSignal(model.loaded, timeout=1000):
        model.set_query(Query())
    assert model.rowCount() == 0 and not source.calls


def test_date_text_is_mexico_city_by_the_hour() -> None:
    assert date_text("2026-11-29T05:59:59Z") == "28/11/2026"
    assert date_text("2026-11-29T06:00:00.123+00:00") == "29/11/2026"
    assert date_text(None) == ""


# ---- actions ----------------------------------------------------------------------------------------------


class FakeSession:
    """What the actions use of a session: command, online, the cache, the state, events."""

    def __init__(self) -> None:
        self.cache = SimpleNamespace(name="cache")
        self.outbox = SimpleNamespace(get=lambda _i: None)
        self.api = object()
        self.state = ConnectionState.ONLINE
        self.queued: list[tuple[Any, ...]] = []
        self.listeners: list[Any] = []

    def command(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return fn("outbox", self.cache, *args, **kwargs)

    def online(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return fn("api", self.cache, *args, **kwargs)

    def subscribe(self, listener: Any) -> Any:
        self.listeners.append(listener)
        return lambda: None


def made(outbox: str, cache: Any, name: str) -> Command:
    return Command(
        seq=1,
        id=f"c-{name}",
        kind="transfer",
        method="POST",
        path="/",
        body={},
        idempotency_key="k",
        if_match=None,
        entity=None,
        entity_id=None,
        base=None,
        state=CommandState.PENDING,
        attempts=0,
        created_at=dt.datetime.now(dt.UTC),
        sent_at=None,
        done_at=None,
        error_code=None,
        error_detail=None,
        result=None,
        description=name,
    )


@pytest.fixture
def context(ops: Operations) -> AppContext:
    return AppContext(ops, FakeSession())  # type: ignore[arg-type]


def test_a_queued_command_is_watched_and_a_sync_asked_for(qtbot: Any, context: AppContext) -> None:
    syncs: list[int] = []
    context.sync_hook = lambda: syncs.append(1)
    results: list[Command] = []
    command(context, made, "uno").success(results.append).run()
    qtbot.waitUntil(lambda: bool(results))
    assert results[0].id == "c-uno" and "c-uno" in context.watcher.ids and syncs == [1]
    context.session.state = ConnectionState.OFFLINE  # type: ignore[union-attr]
    command(context, made, "dos").success(results.append).run()
    qtbot.waitUntil(lambda: len(results) == 2)
    assert syncs == [1]  # offline: it waits for the next sync


def test_online_read_and_task_run_their_service(qtbot: Any, context: AppContext) -> None:
    got: list[Any] = []
    online(context, lambda api, cache, x: (api, cache.name, x), 3).success(got.append).run()
    read(context, lambda cache, x: (cache.name, x), 4).success(got.append).run()
    task(context, lambda x: x * 2, 5).success(got.append).run()
    qtbot.waitUntil(lambda: len(got) == 3)
    assert sorted(map(str, got)) == sorted(map(str, [("api", "cache", 3), ("cache", 4), 10]))


def test_a_failure_without_a_handler_is_told_in_spanish(qtbot: Any, context: AppContext) -> None:
    def refuse(_api: object, _cache: object) -> None:
        raise ApiError(409, "insufficient_balance", "Saldo insuficiente", "No hay timbres.")

    handle = online(context, refuse, label="Transferir").run()
    assert handle is not None
    qtbot.waitUntil(lambda: handle.is_finished)

    def boxes() -> list[QMessageBox]:
        return [
            w
            for w in _top_levels()
            if isinstance(w, QMessageBox) and w.isVisible() and w.windowTitle() == "Transferir"
        ]

    qtbot.waitUntil(lambda: bool(boxes()))
    box = boxes()[0]
    assert box.text() == "No hay timbres."
    box.close()


def test_without_a_session_the_failure_says_sign_in(ops: Operations) -> None:
    errors: list[BaseException] = []
    assert command(AppContext(ops, None), made, "x").failure(errors.append).run() is None
    assert messages.error_text(errors[0]) == "Inicie sesión para trabajar con su Cuenta Maestra."


def test_progress_reaches_the_ui(qtbot: Any, context: AppContext) -> None:
    seen: list[tuple[int, int]] = []

    def work(progress: Any) -> str:
        for i in range(3):
            progress(i + 1, 3)
        return "listo"

    done: list[str] = []
    task(context, work).progress(lambda d, t, _x: seen.append((d, t))).success(done.append).run()
    qtbot.waitUntil(lambda: done == ["listo"])
    qtbot.waitUntil(lambda: seen == [(1, 3), (2, 3), (3, 3)])


def _top_levels() -> list[Any]:
    from PySide6.QtWidgets import QApplication

    return list(QApplication.topLevelWidgets())


# ---- messages and names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (
            OfflineError(),
            "Esta operación necesita conexión con el servidor; inténtelo de nuevo cuando haya conexión.",
        ),
        (
            validation_error({"quantity": "La cantidad debe ser un número entero mayor que cero."}),
            "La cantidad debe ser un número entero mayor que cero.",
        ),
        (
            ApiError(403, "feature_not_contracted", "x", "Requiere Multinivel."),
            "Requiere Multinivel.\n\nPuede contratarla en Compras → Suscripciones (o Compras → MKL).",
        ),
        (RuntimeError("falló"), "falló"),
    ],
)
def test_error_text(error: BaseException, text: str) -> None:
    assert messages.error_text(error) == text


def test_labels_translate_every_name_once() -> None:
    assert labels.asset("stamps") == "Timbres" and labels.asset_word("points") == "puntos"
    assert labels.status("inactive") == "Sin activar" and labels.cti_kind("unlimited") == "Ilimitada"
    assert labels.color("purple") == "Morado" and labels.product("stamps") == "Timbres CFDI"
    assert (
        labels.command_state("rejected") == "Rechazado" and labels.command_kind("algo_nuevo") == "Algo nuevo"
    )
    assert labels.name({}, "desconocido") == "desconocido"
