"""The sync engine: push the outbox in order, pull the change feed in pages, check the counts.

Push. Commands go strictly in queue order. Each is marked `sent` before its request leaves, and is
sent with its idempotency key (the same on every retry), so a crash or a lost answer never applies it
twice. The server's answer settles it:

- success → `done` (its answer is stored in the cache at once, so the view needs no pull to show it);
- `412 version_conflict` on an edit → merged: each field the user changed is compared with the value
  the edit started from (`base`) and with the server's current one. Fields the server did not change
  are sent again on top of the server's version; a field both changed to different values makes the
  command a `conflict`, kept with both values for the user to settle. Nothing is lost either way;
- another refusal (`insufficient_balance`, `not_found`, a validation error, …) → `rejected`, with the
  server's code and Spanish reason, until the user retries it with a new key or discards it;
- the line dropping, the server busy (5xx, 429) or the key still in progress → the push stops and
  the command stays `sent`, to be sent again with the same key next time.

Pull. `/v1/sync/changes` pages are applied to the cache in transactions that store the cursor of their
last page, so the cursor never gets ahead of the data. Pages are fetched (a few) ahead while others are
written, and decoded by the writer (the next request leaves as soon as a page has arrived). Pages are
written together, up to `BATCH_CHANGES` changes in one transaction, when several are waiting, and
always while an empty cache is filled: each commit rewrites every index page it touched, and with
random ids that is most of them, so a commit per page wrote several times the data. After a pull the
engine compares the cache's counts with `/v1/sync/counts`; when they differ even after pulling again,
the cache is rebuilt from scratch (the outbox keeps every pending change, laid over it again).

Snapshot. An empty cache (the first sync) takes the server's cache image of the account when it has
one ready (cmdesk.services.cache_image: the cache's files, built by the server, downloaded whole),
else is filled from the server's snapshot at once (cmdesk.services.snapshot), then pulled from the
image's or the snapshot's cursor as above; a server without snapshots (404) is paged from the
beginning instead. A rebuild, and a cache last synced more than
`STALE_AFTER` ago (its cursor too old: what changed since may be more than the whole portfolio), fill
a cache of their own from the snapshot, which takes the old one's place once complete.
A server without the counts endpoint (404: an older one) is synced without the comparison, and the
user is told once (`cmdesk.services.server_info`).

Faults. A full disk stops the sync with `DiskFull` (Spanish) and loses nothing: each outbox change and
each cache page is its own transaction, so the outbox keeps its commands and the cursor stays with
the data it covers; the next sync goes on from there. A damaged cache raises `CacheDamaged` (the
session makes it anew and syncs again). The time of the last sync is the server's.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import re
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cmdesk.domain.errors import ErrorCode
from cmdesk.domain.field_paths import flatten, unflatten, value_at
from cmdesk.services import cache_image, overlays, storage
from cmdesk.services.api_client import ApiClient, ApiError, OfflineError, decode_json, invalid_response
from cmdesk.services.cache import Cache
from cmdesk.services.cache.files import delete_files
from cmdesk.services.outbox import Command, Outbox
from cmdesk.services.server_info import server_now
from cmdesk.services.snapshot import Progress, SnapshotFill, SnapshotUnavailable

# A cache not synced for this long is filled again from a snapshot rather than paged from its cursor.
STALE_AFTER = dt.timedelta(days=30)

log = logging.getLogger(__name__)

PAGE_SIZE = 1000
# Pages fetched ahead of the writer, and how many changes it writes at most in one transaction.
PREFETCH_PAGES = 16
BATCH_CHANGES = 5000
# An edit re-based this many times in one push (someone else keeps editing the same record) waits.
MAX_MERGES = 5
# Pulls and counts again at most this many times while the counts differ (see `_verify_counts`).
COUNT_ATTEMPTS = 4

# Answers after which the command stays `sent` and is sent again, with the same key, next time.
_TRANSIENT_CODES = {ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS.value, ErrorCode.TOO_MANY_ATTEMPTS.value}
_TRANSIENT_STATUSES = {408, 429, 502, 503, 504}

# The Spanish name of the client fields a conflict may show.
FIELD_LABELS: dict[str, str] = {
    "name": "Nombre",
    "trade_name": "Nombre comercial",
    "rfc": "RFC",
    "phone": "Teléfono",
    "email": "Correo electrónico",
    "favorite": "Favorito",
    "dropped": "Baja",
    "color": "Color",
}


def field_label(path: str) -> str:
    return FIELD_LABELS.get(path, path)


class SessionExpired(Exception):
    """The server no longer accepts the session: the user has to sign in again."""

    def __init__(self, message: str = "La sesión terminó; inicie sesión de nuevo.") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass
class PushReport:
    done: int = 0
    rejected: int = 0
    conflicts: int = 0
    merged: int = 0
    # Still to send after this push (the line dropped, or the server asked to wait).
    remaining: int = 0
    offline: bool = False
    changed: set[str] = field(default_factory=set)
    # command id → the password the server generated for the CTI of a client created by that command
    # (shown once to the user; never written to the outbox).
    secrets: dict[str, str] = field(default_factory=dict)


@dataclass
class PullReport:
    changed: set[str] = field(default_factory=set)
    pages: int = 0
    changes: int = 0
    # Entities that came in a snapshot (a first sync, a rebuild; cmdesk.services.snapshot), and when
    # its phases ended, in seconds from its start (`SnapshotReport.phases`).
    snapshot: int = 0
    snapshot_phases: dict[str, float] = field(default_factory=dict)
    # The cache came from the server's cache image (cmdesk.services.cache_image): its entities.
    image: int = 0


@dataclass
class SyncReport:
    push: PushReport
    pull: PullReport
    counts_ok: bool = True
    # False when the account changed through every comparison of the counts (compared next time).
    counts_verified: bool = True
    rebuilt: bool = False
    seconds: float = 0.0

    @property
    def changed(self) -> set[str]:
        return self.push.changed | self.pull.changed


# The end of a feed page as the server writes it: the next request can leave before the page (~1 MB)
# is decoded. Anything else (another key order, an escaped cursor) is decoded first.
_PAGE_TAIL = re.compile(rb'"cursor":"([^"\\]*)","has_more":(true|false)}\s*$')


def _decoded(raw: bytes) -> dict[str, Any]:
    try:
        page = decode_json(raw)
    except ValueError:
        raise invalid_response() from None
    if not isinstance(page, dict):
        raise invalid_response()
    return page


@dataclass
class _Fetched:
    """A fetched feed page: its body, decoded or not yet, and the cursor and `has_more` its end told
    (checked against the decoded page before anything is written)."""

    raw: bytes
    decoded: dict[str, Any] | None
    cursor: str | None
    has_more: bool

    def page(self) -> dict[str, Any]:
        page = self.decoded if self.decoded is not None else _decoded(self.raw)
        if page.get("cursor") != self.cursor or bool(page.get("has_more")) != self.has_more:
            raise invalid_response()
        return page


def _answer_entities(command: Command, answer: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """The records a command's answer carries, to store in the cache right away."""
    if not isinstance(answer, Mapping | list):
        return []
    if command.kind == "create_client" and isinstance(answer, Mapping):
        out: list[tuple[str, Mapping[str, Any]]] = []
        if isinstance(answer.get("client"), Mapping):
            out.append(("client", answer["client"]))
        if isinstance(answer.get("stamping_account"), Mapping):
            out.append(("stamping_account", answer["stamping_account"]))
        return out
    if command.kind == "set_alert_state" and isinstance(answer, Mapping):
        return [("alert", a) for a in answer.get("items") or [] if isinstance(a, Mapping) and "id" in a]
    if command.kind == "set_tags" and isinstance(answer, list):
        return [("client", c) for c in answer if isinstance(c, Mapping) and "id" in c]
    entity = {
        "update_client": "client",
        "set_admin_profile": "client",
        "set_cti_active": "stamping_account",
        "set_auto_sale": "stamping_account",
        "transfer": "movement",
    }.get(command.kind)
    if entity and isinstance(answer, Mapping) and "id" in answer:
        return [(entity, answer)]
    return []


class SyncEngine:
    """Push, pull and count checks of one account's cache and outbox. One sync at a time."""

    def __init__(
        self,
        api: ApiClient,
        cache: Cache,
        outbox: Outbox,
        *,
        page_size: int = PAGE_SIZE,
        snapshot: bool = True,
        image: bool = True,
    ) -> None:
        self.api = api
        self.cache = cache
        self.outbox = outbox
        self.page_size = page_size
        # Fill an empty cache from the server's snapshot (False: page the feed from the beginning).
        self.snapshot = snapshot
        # …and from its cache image first, when it has one ready (cmdesk.services.cache_image).
        self.image = image
        self._lock = threading.Lock()
        self._overlays_settled = False

    # ---- push ---------------------------------------------------------------------------------------

    def push(self) -> PushReport:
        """Send every pending command, in order (see the module docstring)."""
        report = PushReport()
        finished: set[tuple[str, str]] = set()
        merges: dict[str, int] = {}
        if not self._overlays_settled:
            report.changed.update(self.settle_overlays())
            self._overlays_settled = True
        try:
            while (command := self.outbox.next_to_push()) is not None:
                self.outbox.mark_sent(command.id)
                try:
                    answer = self._send(command)
                except OfflineError:
                    report.offline = True
                    break
                except ApiError as error:
                    if not self._refused(command, error, report, merges):
                        break
                else:
                    self._done(command, answer, report)
                finished.update((e, i) for e, i, _ in overlays.touched(command))
        finally:
            if finished:
                overlays.refresh(self.outbox, self.cache, finished)
                report.changed.update(e for e, _ in finished)
            report.remaining = self.outbox.pending_count()
        return report

    def settle_overlays(self) -> set[str]:
        """Set the optimistic values right against the outbox, once per engine (at the first push):
        see `overlays.settle`."""
        return overlays.settle(self.outbox, self.cache)

    def _send(self, command: Command) -> Any:
        method, path, body, key = command.method, command.path, command.body, command.idempotency_key
        reason = str(command.extra.get("reason") or "") or None  # the user's, for the bitácora
        if method == "POST":
            return self.api.post(path, body, idempotency_key=key, if_match=command.if_match, reason=reason)
        if method == "PATCH":
            # PATCH is applied once by nature (it sets values); the key lets the client retry it.
            return self.api.patch(path, body, if_match=command.if_match, idempotency_key=key, reason=reason)
        if method == "PUT":
            return self.api.put(path, body, reason=reason)
        if method == "DELETE":
            return self.api.delete(path, reason=reason)
        raise ValueError(f"unknown method {method!r}")

    def _done(self, command: Command, answer: Any, report: PushReport) -> None:
        result = answer
        if isinstance(answer, Mapping) and isinstance(answer.get("password"), str):
            # A generated CTI password is shown once and never kept on disk.
            report.secrets[command.id] = answer["password"]
            result = {**answer, "password": None}
        for entity, data in _answer_entities(command, answer):
            report.changed.update(self.cache.apply_answer(entity, data))
        self.outbox.mark_done(command.id, result)
        report.done += 1

    def _refused(self, command: Command, error: ApiError, report: PushReport, merges: dict[str, int]) -> bool:
        """Settle a command the server refused; returns whether the push goes on."""
        if error.status == 401:
            raise SessionExpired() from error
        if error.code in _TRANSIENT_CODES or error.status in _TRANSIENT_STATUSES or error.status >= 500:
            log.info("push of %s stopped: %s %s", command.kind, error.status, error.code)
            return False
        if error.code == ErrorCode.VERSION_CONFLICT.value and command.base is not None:
            merges[command.id] = merges.get(command.id, 0) + 1
            if merges[command.id] > MAX_MERGES:
                return False
            self._merge(command, error, report)
            return True
        self.outbox.mark_rejected(command.id, error.code, error.detail, error.body)
        report.rejected += 1
        return True

    def _merge(self, command: Command, error: ApiError, report: PushReport) -> None:
        current = error.body.get("current")
        if not isinstance(current, Mapping):
            self.outbox.mark_rejected(command.id, error.code, error.detail, error.body)
            report.rejected += 1
            return
        if command.entity and "id" in current:
            report.changed.update(self.cache.apply_answer(command.entity, current))
        base = command.base or {}
        resend: dict[str, Any] = {}
        conflicts: dict[str, Any] = {}
        for path, mine in flatten(command.body or {}).items():
            theirs = value_at(current, path)
            if theirs == mine:
                continue  # already so (another user made the same change, or our earlier send)
            if path in base and theirs == base[path]:
                resend[path] = mine
            else:
                conflicts[path] = {"mine": mine, "server": theirs, "base": base.get(path)}
        if conflicts:
            names = ", ".join(field_label(p) for p in conflicts)
            detail = (
                f"Otra persona cambió {names} mientras usted editaba este registro; "
                "elija qué valor conservar."
            )
            self.outbox.mark_conflict(command.id, detail, conflicts, current)
            report.conflicts += 1
        elif not resend:
            self.outbox.mark_done(command.id, dict(current))
            report.done += 1
        else:
            version = current.get("version")
            self.outbox.rebase(
                command.id,
                unflatten(resend),
                if_match=version if isinstance(version, int) else None,
                base={p: value_at(current, p) for p in resend},
            )
            report.merged += 1

    # ---- pull ---------------------------------------------------------------------------------------

    def _fetch(self, cursor: str | None) -> _Fetched:
        """One page of the feed, undecoded when its end tells the next cursor (see `_Fetched`)."""
        params: dict[str, Any] = {"limit": self.page_size}
        if cursor:
            params["cursor"] = cursor
        raw = self.api.get_raw("/v1/sync/changes", params=params)
        tail = _PAGE_TAIL.search(raw, max(0, len(raw) - 512))
        if tail is not None:
            return _Fetched(raw, None, tail[1].decode("ascii"), tail[2] == b"true")
        page = _decoded(raw)
        cursor = page.get("cursor")
        return _Fetched(raw, page, cursor if isinstance(cursor, str) else None, bool(page.get("has_more")))

    def _fetch_ahead(self, cursor: str | None, pages: queue.Queue[Any], stop: threading.Event) -> None:
        """Fetch page after page into `pages`, up to its size ahead of the writer; an error goes into
        the queue in the place of the page, and ends the fetching."""
        item: _Fetched | BaseException
        while not stop.is_set():
            try:
                item = self._fetch(cursor)
            except BaseException as error:
                item = error
            while not stop.is_set():
                try:
                    pages.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if isinstance(item, BaseException) or not item.has_more:
                return
            cursor = item.cursor

    @staticmethod
    def _page(item: _Fetched | BaseException) -> dict[str, Any]:
        if isinstance(item, BaseException):
            raise item
        return item.page()

    def pull(self, progress: Progress | None = None) -> PullReport:
        """Bring the cache up to date with the feed. Pages are fetched while others are written; the
        pages waiting when the writer is free are written together (see the module docstring). An
        empty cache is filled from the server's snapshot first, when it has one."""
        report = PullReport()
        if self.snapshot and self.cache.cursor is None:
            self._pull_snapshot(report, progress)
        pages: queue.Queue[_Fetched | BaseException] = queue.Queue(maxsize=PREFETCH_PAGES)
        stop = threading.Event()
        cursor = self.cache.cursor
        # Filling an empty cache (the first sync, a rebuild): wait for pages to write them together.
        filling = cursor is None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cmdesk-pull") as pool:
            fetching = pool.submit(self._fetch_ahead, cursor, pages, stop)
            try:
                more = True
                while more:
                    batch = [self._page(pages.get())]
                    size = len(batch[0].get("changes") or [])
                    while batch[-1].get("has_more") and size < BATCH_CHANGES:
                        try:
                            item = pages.get() if filling else pages.get_nowait()
                        except queue.Empty:
                            break
                        batch.append(self._page(item))
                        size += len(batch[-1].get("changes") or [])
                    last = batch[-1]
                    more = bool(last.get("has_more"))
                    changes = [c for page in batch for c in page.get("changes") or []]
                    report.changed |= self.cache.apply_page(changes, last.get("cursor"))
                    report.pages += len(batch)
                    report.changes += len(changes)
            finally:
                stop.set()
                fetching.cancel()
                self.cache.finish_pull()
        return report

    # ---- counts -------------------------------------------------------------------------------------

    def count_differences(self) -> dict[str, tuple[int, int]]:
        """entity → (server, cache) for every entity whose counts differ (none when the server cannot
        count: an older server without `/v1/sync/counts`)."""
        if not self.api.server.available("sync_counts"):
            return {}
        # The cache counts its rows (~50 ms at 250,000) while the server counts its own.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cmdesk-counts") as pool:
            counting = pool.submit(self.cache.counts)
            try:
                server: dict[str, Any] = self.api.get("/v1/sync/counts")
            except ApiError as error:
                if error.status != 404:
                    raise
                self.api.server.missing("sync_counts")
                return {}
            local = counting.result()
        return {
            entity: (int(count), local.get(entity, 0))
            for entity, count in server.items()
            if isinstance(count, int) and local.get(entity, 0) != count
        }

    def _pull_snapshot(self, report: PullReport, progress: Progress | None) -> None:
        """Fill the empty cache from the server's cache image when it has one ready, else from the
        snapshot; the feed then goes on from its cursor."""
        if cache_image.pending(self.cache):  # an image adopted, what it left out still to come
            report.changed |= cache_image.complete(self.api, self.cache)
            return
        if self.image and self.cache.get_meta("snapshot") is None and self._from_image(report, progress):
            return
        try:
            filled = SnapshotFill(self.api, self.cache, progress).run()
        except SnapshotUnavailable:
            log.info("the server has no snapshot; paging the feed from the beginning")
            self.snapshot = False
            if self.cache.get_meta("snapshot") is not None:
                self.cache.reset()  # what a snapshot brought is not completed by the feed
                overlays.reapply_all(self.outbox, self.cache)
            return
        if filled.restarted:
            overlays.reapply_all(self.outbox, self.cache)
        report.changed |= filled.changed
        report.snapshot += filled.entities
        report.snapshot_phases = dict(filled.phases)

    def rebuild(self, progress: Progress | None = None) -> PullReport:
        """Fill the cache again. From a snapshot: into a cache of its own, which takes this one's place
        once complete (the views read the old one meanwhile, and a snapshot cut short leaves it as it
        was), then the feed from the snapshot's cursor. From the beginning of the feed (a server
        without snapshots): emptied, then filled in place. The queued changes are laid again."""
        report = PullReport()
        if not (self.snapshot and self._rebuild_from_snapshot(report, progress)):
            self.cache.reset()
        return self._pull_after_rebuild(report, progress)

    def refresh_if_stale(self, progress: Progress | None = None) -> PullReport | None:
        """A cache last synced more than `STALE_AFTER` ago is filled again from a snapshot, beside it
        (see `rebuild`); None when it is not stale, or the server has no snapshots (then the feed
        goes on from its cursor as usual)."""
        last = self.cache.last_sync_at
        if not self.snapshot or self.cache.cursor is None or last is None:
            return None
        if server_now() - last < STALE_AFTER:
            return None
        log.info("the cache was last synced on %s; it is filled again from a snapshot", last.isoformat())
        report = PullReport()
        if not self._rebuild_from_snapshot(report, progress):
            return None
        return self._pull_after_rebuild(report, progress)

    def _pull_after_rebuild(self, report: PullReport, progress: Progress | None) -> PullReport:
        pulled = self.pull(progress)
        report.changed |= pulled.changed
        report.pages += pulled.pages
        report.changes += pulled.changes
        report.snapshot += pulled.snapshot
        report.image += pulled.image
        overlays.reapply_all(self.outbox, self.cache)
        return report

    def _from_image(self, report: PullReport, progress: Progress | None) -> bool:
        """Whether the cache was replaced by the server's cache image (False: it has none ready). The
        queued changes are laid again over it; what it left out comes before its cursor is set."""
        path = self.cache.rebuild_path()
        started = time.perf_counter()
        try:
            header = cache_image.download(self.api, path, progress)
        except cache_image.ImageUnavailable:
            return False
        except ApiError as error:
            if error.code != "invalid_response":
                raise
            # A damaged image (its checksum or sizes do not match): never a cache; the snapshot then.
            log.warning("the server's cache image arrived damaged; filling from the snapshot")
            return False
        downloaded = time.perf_counter() - started
        self.cache.adopt(path)
        if not cache_image.pending(self.cache):  # not what an image is: the snapshot, from nothing
            log.warning("the server's cache image came without its cursor; filling from the snapshot")
            self.cache.reset()
            overlays.reapply_all(self.outbox, self.cache)
            return False
        overlays.reapply_all(self.outbox, self.cache)
        report.changed |= cache_image.complete(self.api, self.cache)
        report.changed |= {"client", "stamping_account", "account"}
        report.image = int(header.get("entities") or 0)
        report.snapshot_phases = {"downloaded": downloaded, "complete": time.perf_counter() - started}
        return True

    def _rebuild_from_snapshot(self, report: PullReport, progress: Progress | None) -> bool:
        """Whether the cache was replaced by the server's cache image, or one filled from the snapshot
        (False: no snapshots)."""
        if self.image and self._from_image(report, progress):
            return True
        path = self.cache.rebuild_path()
        delete_files(path)  # a rebuild stopped before starts over
        fresh: Cache | None = None
        try:
            fresh = Cache(path)  # a full disk may stop it here already
            filled = SnapshotFill(self.api, fresh, progress).run()
        except BaseException as error:
            if fresh is not None:
                fresh.close()
            delete_files(path)  # its room is given back
            if not isinstance(error, SnapshotUnavailable):
                raise
            log.info("the server has no snapshot; the cache is rebuilt paging the feed")
            self.snapshot = False
            return False
        fresh.close()
        self.cache.adopt(path)
        report.changed |= filled.changed
        report.snapshot += filled.entities
        return True

    def _verify_counts(self, report: SyncReport, progress: Progress | None) -> None:
        """Compare the counts with the server's, and rebuild the cache when they really differ.

        Changes land between the pull and the count whenever the account is busy (another desktop of
        the distributor, clients stamping): the counts then differ for a moment, not the cache. So a
        difference is pulled again and counted again; only one that stays the same while the pull
        brings nothing new rebuilds the cache (a rebuild of a large portfolio costs tens of seconds).
        An account that keeps changing through `COUNT_ATTEMPTS` comparisons is compared at the next
        sync instead (`counts_verified` False)."""
        pull = report.pull
        differences = self.count_differences()
        for _attempt in range(COUNT_ATTEMPTS):
            if not differences:
                return
            more = self.pull()
            pull.changed |= more.changed
            pull.pages += more.pages
            pull.changes += more.changes
            again = self.count_differences()
            if again and again == differences and not more.changes:
                break
            differences = again
        else:
            if differences:
                log.info("counts not compared: the account kept changing meanwhile %s", differences)
                report.counts_verified = False
            return
        log.warning("cache counts differ from the server's %s; rebuilding", differences)
        rebuilt = self.rebuild(progress)
        pull.changed |= rebuilt.changed
        pull.pages += rebuilt.pages
        pull.changes += rebuilt.changes
        pull.snapshot += rebuilt.snapshot
        pull.image += rebuilt.image
        report.rebuilt = True
        report.counts_ok = not self.count_differences()

    # ---- all of it ----------------------------------------------------------------------------------

    def sync_once(self, *, check_counts: bool = True, progress: Progress | None = None) -> SyncReport:
        """Push, then pull, then compare counts (rebuilding the cache when they differ). Raises
        `OfflineError` when the server can't be reached, `SessionExpired` when it wants a sign-in,
        `DiskFull` when the disk is full, `CacheDamaged` when the cache met a damaged page.
        `progress(done, total, text)` follows a snapshot being received."""
        with self._lock:
            if self.cache.damaged:
                raise storage.CacheDamaged("the cache met a damaged page")
            started = time.perf_counter()
            # A new business day moves every C.P.D. window, online or not.
            self.cache.refresh_forecasts()
            push = self.push()
            if push.offline:
                raise OfflineError()
            try:
                pull = self.refresh_if_stale(progress) or self.pull(progress)
                if self.cache.catalog() is None:
                    self.cache.set_catalog(self.api.get("/v1/catalog"))
                report = SyncReport(push=push, pull=pull)
                if check_counts:
                    self._verify_counts(report, progress)
            except ApiError as error:
                if error.status == 401:
                    raise SessionExpired() from error
                raise
            self.cache.mark_synced(self.api.server.clock.now())
            report.seconds = time.perf_counter() - started
            return report
