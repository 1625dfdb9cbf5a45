"""Live dashboards, reader side: which villages changed, told to every open dashboard stream.

The writers' side is fieldapp/changefeed.py: every write transaction adds DashboardEvent rows for
the villages it changed, committed with the change. Here those rows are read and fanned out; the
database is the only channel that needs no extra service, Redis (when configured) only speeds the
fan-out up.

Fan-out (Hub): per process ONE poller thread reads the DashboardEvent rows after the last id it saw
every DASHBOARD_POLL_SECONDS and wakes every waiting stream (threading.Condition). 200 open
dashboards therefore cost one indexed query per process per tick, not 200. With FIELDAPP_REDIS_URL
set, writers also publish a wake-up on commit and the poller listens for it, so changes travel at
once and the database poll becomes a slow safety net. Each stream ends after DASHBOARD_STREAM_SECONDS
(the browser's EventSource reconnects with Last-Event-ID, which re-runs sign-in and scope checks),
and a process serves at most DASHBOARD_MAX_STREAMS at once: the rest are told to retry later, so the
threads that serve collectors' sync requests are never all taken by dashboards (gunicorn.conf.py).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import create_engine, delete, func, select

from .changefeed import CHANNEL, redis_client
from .database import configure_engine, set_write_intent, write_transaction
from .extensions import db
from .models import DashboardEvent

log = logging.getLogger(__name__)

DEFAULTS = {
    "DASHBOARD_POLL_SECONDS": 0.5,       # database poll per process (the 2 s budget: poll + refetch)
    "DASHBOARD_REDIS_POLL_SECONDS": 5.0,  # with Redis wake-ups the poll is only a safety net
    "DASHBOARD_STREAM_SECONDS": 45,      # then the browser reconnects (and is checked again)
    "DASHBOARD_KEEPALIVE_SECONDS": 15,   # a comment line keeps proxies from closing an idle stream
    "DASHBOARD_RECHECK_SECONDS": 10,     # re-check the viewer's sign-in and scope while streaming
    "DASHBOARD_MAX_STREAMS": 48,         # per process; see gunicorn.conf.py for the thread budget
    "DASHBOARD_RETRY_MS": 500,           # EventSource reconnect delay after a normal end (Last-Event-ID
                                         # means nothing is lost meanwhile; short keeps latency low)
    "DASHBOARD_BUSY_RETRY_MS": 15000,    # ... and when this process has no stream slot free
    "DASHBOARD_EVENTS_KEEP_HOURS": 24,   # older DashboardEvent rows are pruned
    "DASHBOARD_POLLER_IDLE_SECONDS": 30,  # the poller stops this long after the last stream ended
}


TESTING_DEFAULTS = {
    # Tests read streams to the end through the test client: there a stream lasts about a second,
    # and a test app's poller does not outlive its test by long.
    "DASHBOARD_STREAM_SECONDS": 1.0,
    "DASHBOARD_POLLER_IDLE_SECONDS": 2.0,
}


def setting(app, name: str):
    if name not in app.config and app.testing and name in TESTING_DEFAULTS:
        return TESTING_DEFAULTS[name]
    return app.config.get(name, DEFAULTS[name])


# --- readers: one poller per process --------------------------------------------------------------

def latest_event_id() -> int:
    """The cursor a freshly rendered dashboard starts from (its stream sends what came after)."""
    return db.session.scalar(select(func.max(DashboardEvent.id))) or 0


class Hub:
    """This process's view of the event feed: recent (id, village_id) pairs and a Condition that
    wakes every stream when new ones arrive. The poller thread stops when no stream has been open for
    DASHBOARD_POLLER_IDLE_SECONDS and starts again with the next stream."""

    BUFFER = 10_000

    def __init__(self, app):
        self.app = app
        self.cond = threading.Condition()
        self.events: deque[tuple[int, int]] = deque(maxlen=self.BUFFER)
        self.floor = 0  # every event with id > floor is in self.events
        self.last_id = 0
        self.streams = 0
        self.last_stream_at = time.monotonic()
        self.thread: threading.Thread | None = None
        self.ready = threading.Event()

    # streams call these
    def acquire(self) -> bool:
        with self.cond:
            if self.streams >= setting(self.app, "DASHBOARD_MAX_STREAMS"):
                return False
            self.streams += 1
            self.last_stream_at = time.monotonic()
            if self.thread is None or not self.thread.is_alive():
                self.ready.clear()
                self.thread = threading.Thread(target=self._run, name="fieldapp-live-poller", daemon=True)
                self.thread.start()
        self.ready.wait(5)
        return True

    def release(self) -> None:
        with self.cond:
            self.streams -= 1
            self.last_stream_at = time.monotonic()

    def wake(self) -> None:
        """Let every waiting stream look again (a re-check of its viewer has answered)."""
        with self.cond:
            self.cond.notify_all()

    def since(self, cursor: int) -> tuple[int, list[int] | None]:
        """(newest id, villages changed after `cursor`); None for the villages when the cursor is
        older than this process's buffer (the caller reads the database instead)."""
        with self.cond:
            if cursor < self.floor:
                return self.last_id, None
            return self.last_id, [v for i, v in self.events if i > cursor]

    # the poller thread
    def _run(self) -> None:
        pubsub = _redis_subscribe(self.app)
        poll = setting(self.app, "DASHBOARD_REDIS_POLL_SECONDS" if pubsub else "DASHBOARD_POLL_SECONDS")
        next_prune = time.monotonic() + 60  # not at once: a starting process has better things to do
        # This thread mostly reads: its polls begin deferred like GET requests and never take
        # SQLite's write lock; prune() asks for it explicitly.
        set_write_intent("GET")
        with self.app.app_context():
            engine = _poller_engine(self.app)
            with engine.connect() as connection:
                start = connection.scalar(select(func.max(DashboardEvent.id))) or 0
            with self.cond:
                # (Re)start from the newest event: a stream with an older cursor reads its
                # backlog from the database once (_events_after), nobody waits for a replay.
                self.events.clear()
                self.floor = self.last_id = start
            self.ready.set()
            while True:
                with self.cond:
                    if (self.streams == 0 and time.monotonic() - self.last_stream_at
                            > setting(self.app, "DASHBOARD_POLLER_IDLE_SECONDS")):
                        # Decided under the lock: the next acquire() sees no poller and starts one.
                        self.thread = None
                        break
                try:
                    self._poll_once(engine)
                    if time.monotonic() >= next_prune:
                        prune(setting(self.app, "DASHBOARD_EVENTS_KEEP_HOURS"))
                        next_prune = time.monotonic() + 600
                except Exception:  # a locked or restarting database must not kill the poller
                    log.exception("dashboard poll failed")
                finally:
                    db.session.remove()
                _wait_for_wakeup(pubsub, poll)
            if engine is not db.engine:
                engine.dispose()
        if pubsub is not None:
            pubsub.close()

    def _poll_once(self, engine) -> None:
        # The connection goes back at once, its read transaction ended (SQLite WAL checkpoints).
        with engine.connect() as connection:
            rows = connection.execute(select(DashboardEvent.id, DashboardEvent.village_id)
                                      .where(DashboardEvent.id > self.last_id)
                                      .order_by(DashboardEvent.id).limit(self.BUFFER)).all()
        if not rows:
            return
        with self.cond:
            for row in rows:
                if len(self.events) == self.events.maxlen:
                    self.floor = self.events[0][0]
                self.events.append((row[0], row[1]))
            self.last_id = rows[-1][0]
            self.cond.notify_all()


def _poller_engine(app):
    """The poller reads through a connection of its own, not the request pool: under a burst of
    pushes every pooled connection can be held by a push queued for the database's write lock
    (SQLite's, for up to its busy timeout), and a poller queued behind them stalled every dashboard
    of its process for that long (bench: polls 6-20 s late, so Redis wake-ups came to nothing)."""
    engine = db.engine
    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        return engine  # an in-memory database lives in its pool's connections: share them
    own = create_engine(engine.url, pool_size=1, max_overflow=0, pool_pre_ping=True)
    configure_engine(own, app.config["SQLITE_BUSY_TIMEOUT_MS"], strict=app.config.get("STRICT_READ_REQUESTS", False))
    return own


_HUB_LOCK = threading.Lock()
_RECHECKS: ThreadPoolExecutor | None = None


def _rechecks() -> ThreadPoolExecutor:
    """The few threads per process that re-check streaming viewers (a handful of connections at
    most, however many streams are open)."""
    global _RECHECKS
    with _HUB_LOCK:
        if _RECHECKS is None:
            _RECHECKS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fieldapp-live-recheck")
        return _RECHECKS


def hub_for(app) -> Hub:
    with _HUB_LOCK:
        hub = app.extensions.get("fieldapp.live")
        if hub is None:
            hub = app.extensions["fieldapp.live"] = Hub(app)
        return hub


def prune(keep_hours: float) -> int:
    """Delete feed rows older than `keep_hours` (indexed on `at`). A dashboard older than that just
    refetches everything when it reconnects."""
    cutoff = datetime.utcnow() - timedelta(hours=keep_hours)
    with write_transaction():
        result = db.session.execute(delete(DashboardEvent).where(DashboardEvent.at < cutoff))
    return result.rowcount or 0


def _events_after(cursor: int, limit: int = 2000) -> list[int] | None:
    # A cursor older than the process's buffer: read the feed itself (primary-key range).
    oldest = db.session.scalar(select(func.min(DashboardEvent.id)))
    if oldest is not None and cursor < oldest - 1:
        return None  # pruned meanwhile: the client must refetch everything
    villages = list(db.session.scalars(select(DashboardEvent.village_id).where(DashboardEvent.id > cursor)
                                       .order_by(DashboardEvent.id).limit(limit)))
    return None if len(villages) == limit else villages


# --- the stream -----------------------------------------------------------------------------------

def sse(event_name: str | None = None, data=None, event_id: int | None = None, retry: int | None = None) -> str:
    lines = []
    if retry is not None:
        lines.append(f"retry: {retry}")
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event_name:
        lines.append(f"event: {event_name}")
    if data is not None:
        lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


def stream(app, cursor: int, villages: frozenset[int], still_allowed):
    """Yield Server-Sent Events: `change` with the changed villages in scope (id = feed cursor),
    `reset` when the cursor is too old to tell (refetch all), `revoked` when the viewer's sign-in or
    scope ended, `busy` when this process has no stream slot (retry later). Ends after
    DASHBOARD_STREAM_SECONDS. `still_allowed()` re-checks the viewer in an app context."""
    hub = hub_for(app)
    if not hub.acquire():
        yield sse("busy", {}, retry=setting(app, "DASHBOARD_BUSY_RETRY_MS"))
        return
    try:
        # The id sets the browser's Last-Event-ID at once: a stream that ends before any event
        # still reconnects from here, not from whatever is newest then (that would lose changes).
        yield sse(retry=setting(app, "DASHBOARD_RETRY_MS"), event_id=cursor) + ": " + " " * 2048 + "\n\n"  # flush buffers
        end = time.monotonic() + setting(app, "DASHBOARD_STREAM_SECONDS")
        keepalive = setting(app, "DASHBOARD_KEEPALIVE_SECONDS")
        recheck_every = setting(app, "DASHBOARD_RECHECK_SECONDS")
        next_recheck = time.monotonic() + recheck_every
        check = None  # the re-check of the viewer under way
        last_write = time.monotonic()
        first = True
        while True:
            now = time.monotonic()
            if not first:
                if now >= end:
                    return
                wake_at = min(end, now + keepalive, next_recheck if check is None else end)
                with hub.cond:
                    hub.cond.wait_for(lambda seen=cursor, check=check: hub.last_id > seen
                                      or (check is not None and check.done()),
                                      timeout=max(0.01, wake_at - now))
            first = False
            # The re-check runs beside the stream, not in it: it needs a database connection,
            # which a burst of pushes can keep busy for seconds, and deliveries must not wait for
            # that (bench: one dashboard 6 s late). Until it answers, the stream goes on as before.
            if check is None and time.monotonic() >= next_recheck:
                check = _rechecks().submit(still_allowed)
                check.add_done_callback(lambda _done: hub.wake())
            if check is not None and check.done():
                allowed, check = check.result(), None
                next_recheck = time.monotonic() + recheck_every
                if not allowed:
                    yield sse("revoked", {})
                    return
            newest, changed = hub.since(cursor)
            if changed is None:
                with app.app_context():
                    try:
                        changed = _events_after(cursor)
                        newest = max(newest, latest_event_id())
                    finally:
                        db.session.remove()
                if changed is None:
                    cursor = newest
                    yield sse("reset", {}, event_id=cursor)
                    last_write = time.monotonic()
                    continue
            if newest > cursor:
                cursor = newest
                mine = sorted({v for v in changed if v in villages})
                # An id-only message moves the browser's Last-Event-ID without waking the page.
                yield sse("change", {"villages": mine}, event_id=cursor) if mine else sse(event_id=cursor)
                last_write = time.monotonic()
            elif time.monotonic() - last_write >= keepalive:
                yield ": keep-alive\n\n"
                last_write = time.monotonic()
    finally:
        hub.release()


# --- optional Redis fan-out -----------------------------------------------------------------------

def _redis_subscribe(app, confirm_seconds: float = 2.0):
    """Subscribe to the writers' wake-ups (changefeed.CHANNEL), or None: poll the database only.
    Returns once Redis has confirmed the subscription: the poller reads its starting point after
    that, so no commit can fall between the two unannounced."""
    client = redis_client(app)
    if client is None:
        return None
    try:
        pubsub = client.pubsub()
        pubsub.subscribe(CHANNEL)
        deadline = time.monotonic() + confirm_seconds
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
            if message is not None and message["type"] == "subscribe":
                return pubsub
        raise TimeoutError("no subscription confirmed")
    except Exception:
        log.warning("Redis subscribe failed: polling the database", exc_info=True)
        return None


def _wait_for_wakeup(pubsub, timeout: float) -> None:
    """Return after `timeout` or as soon as a wake-up arrives (any message: after a reconnect redis-py
    re-subscribes, and that confirmation is worth a poll too, since wake-ups were lost meanwhile)."""
    if pubsub is None:
        time.sleep(timeout)
        return
    try:
        deadline = time.monotonic() + timeout
        message = pubsub.get_message(timeout=timeout)
        # Coalesce a burst of wake-ups into one poll.
        while message is not None and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0)
            if message is None:
                break
    except Exception:
        time.sleep(timeout)

