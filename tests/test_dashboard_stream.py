"""The dashboard's event stream (Server-Sent Events): cursor and Last-Event-ID, scope, a cursor too
old to tell (reset), a full process (busy), a viewer revoked while streaming, and the poller that
wakes waiting streams when another process writes."""
from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from fieldapp import accounts, changefeed, live
from fieldapp.database import set_write_intent
from fieldapp.extensions import db
from fieldapp.models import Account, DashboardEvent, Village

from .builders import make_account, make_house, make_person, make_town, sign_in

FAST = {"DASHBOARD_STREAM_SECONDS": 0.8, "DASHBOARD_POLL_SECONDS": 0.05, "DASHBOARD_KEEPALIVE_SECONDS": 0.3}


@pytest.fixture
def fast_app(make_app):
    app = make_app(**FAST)
    with app.app_context():
        yield app


def signed_in(app, account):
    """A client of `app` itself (the login fixture serves the default app, not these fast ones)."""
    client = app.test_client()
    sign_in(client, account.collection_id)
    return client


def events_of(body: str) -> list[dict]:
    """Parse an SSE body into messages: {"id", "event", "data"} (comments dropped)."""
    parsed = []
    for block in body.split("\n\n"):
        message = {}
        for line in block.split("\n"):
            if line.startswith(":") or ": " not in line:
                continue
            key, value = line.split(": ", 1)
            message[key] = value
        if message:
            parsed.append(message)
    return parsed


def cursor_now() -> int:
    value = live.latest_event_id()
    db.session.rollback()
    return value


def test_change_after_the_cursor_names_the_village(fast_app):
    town, (east, west) = make_town()
    supervisor = signed_in(fast_app, make_account(town, "supervisor"))
    start = cursor_now()
    make_person(make_house(east, collected=True))
    response = supervisor.get("/progress/events", headers={"Last-Event-ID": str(start)})
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    messages = events_of(response.text)
    assert messages[0]["retry"] == "500"
    changes = [m for m in messages if m.get("event") == "change"]
    assert len(changes) == 1 and f"[{east.id}]" in changes[0]["data"]
    assert int(changes[0]["id"]) == cursor_now()  # the browser resumes from here


def test_after_query_is_the_cursor_when_there_is_no_last_event_id(fast_app):
    town, (east, _west) = make_town()
    supervisor = signed_in(fast_app, make_account(town, "supervisor"))
    start = cursor_now()
    make_house(east, collected=True)
    assert any(m.get("event") == "change" for m in events_of(supervisor.get(f"/progress/events?after={start}").text))
    # Last-Event-ID wins over ?after= (a reconnect carries both; the header is the newer).
    resumed = supervisor.get(f"/progress/events?after={start}", headers={"Last-Event-ID": str(cursor_now())})
    assert not any(m.get("event") == "change" for m in events_of(resumed.text))


def test_an_idle_stream_still_tells_the_browser_where_to_resume(fast_app):
    """The first message carries the start cursor as its id: a stream that ends with no change
    reconnects from there (Last-Event-ID), so a change made during the reconnect gap is not lost."""
    town, (_east, _west) = make_town()
    supervisor = signed_in(fast_app, make_account(town, "supervisor"))
    start = cursor_now()
    messages = events_of(supervisor.get(f"/progress/events?after={start}").text)
    assert messages[0]["id"] == str(start) and messages[0]["retry"] == "500"


def test_events_outside_the_scope_move_the_cursor_but_say_nothing(fast_app):
    town, (east, west) = make_town()
    head = signed_in(fast_app, make_account(town, "village_head", [east]))
    start = cursor_now()
    make_house(west, collected=True)
    messages = events_of(head.get("/progress/events", headers={"Last-Event-ID": str(start)}).text)
    assert not any(m.get("event") == "change" for m in messages)
    assert any(m.get("id") == str(cursor_now()) for m in messages)  # id-only: no data, nothing to fetch
    assert str(west.id) not in "".join(m.get("data", "") for m in messages)


def test_a_cursor_older_than_the_pruned_feed_asks_for_a_full_refetch(fast_app):
    town, (east, _west) = make_town()
    supervisor = signed_in(fast_app, make_account(town, "supervisor"))
    make_house(east, collected=True)
    make_house(east, number="2", collected=True)
    old = db.session.scalar(select(func.min(DashboardEvent.id)))
    db.session.execute(update(DashboardEvent).where(DashboardEvent.id == old)
                       .values(at=datetime.utcnow() - timedelta(days=3)))
    db.session.commit()
    assert live.prune(24) == 1
    messages = events_of(supervisor.get("/progress/events", headers={"Last-Event-ID": str(old - 1)}).text)
    assert [m["event"] for m in messages if "event" in m] == ["reset"]


def test_a_full_process_answers_busy_with_a_retry_hint(make_app):
    app = make_app(DASHBOARD_MAX_STREAMS=0, **FAST)
    with app.app_context():
        town, _villages = make_town()
        messages = events_of(signed_in(app, make_account(town, "supervisor")).get("/progress/events").text)
    assert messages == [{"retry": "15000", "event": "busy", "data": "{}"}]


def test_a_revoked_id_stops_receiving(make_app):
    app = make_app(DASHBOARD_RECHECK_SECONDS=0, **FAST)
    with app.app_context():
        town, (east, _west) = make_town()
        head = make_account(town, "village_head", [east])
        admin = make_account(town, "admin")
        client = signed_in(app, head)
        response = client.get("/progress/events", buffered=False)
        assert response.status_code == 200
        accounts.revoke(db.session.get(Account, head.id), admin.id, "lost phone")
        db.session.commit()
        messages = events_of(b"".join(response.response).decode())
        response.close()
    assert [m["event"] for m in messages if "event" in m] == ["revoked"]


def test_a_narrowed_scope_stops_receiving(make_app):
    app = make_app(DASHBOARD_RECHECK_SECONDS=0, **FAST)
    with app.app_context():
        town, (east, west) = make_town()
        head = make_account(town, "village_head", [east, west])
        response = signed_in(app, head).get("/progress/events", buffered=False)
        account = db.session.get(Account, head.id)
        account.villages = [east]
        db.session.commit()
        messages = events_of(b"".join(response.response).decode())
        response.close()
    assert [m["event"] for m in messages if "event" in m] == ["revoked"]


def test_a_waiting_stream_is_woken_by_a_write_from_elsewhere(make_app):
    app = make_app(**{**FAST, "DASHBOARD_STREAM_SECONDS": 5})
    with app.app_context():
        town, (east, _west) = make_town()
        client = signed_in(app, make_account(town, "supervisor"))
        response = client.get(f"/progress/events?after={cursor_now()}", buffered=False)
        received: list[bytes] = []

        def read():
            for chunk in response.response:
                received.append(chunk)
                if b"event: change" in chunk:
                    return

        reader = threading.Thread(target=read)
        reader.start()
        east_id = east.id
        make_house(east, collected=True)  # another session commits: only the poller can tell the stream
        reader.join(5)
        response.close()
    assert any(b"event: change" in chunk and str(east_id).encode() in chunk for chunk in received)


def test_many_streams_share_one_poller_per_process(make_app):
    app = make_app(**{**FAST, "DASHBOARD_STREAM_SECONDS": 0.5})
    with app.app_context():
        town, _villages = make_town()
        client = signed_in(app, make_account(town, "supervisor"))
        responses = [client.get("/progress/events", buffered=False) for _ in range(5)]
        streams = [iter(r.response) for r in responses]
        for s in streams:
            next(s)  # each stream has started (and taken a slot)
        hub = live.hub_for(app)
        assert hub.streams == 5
        pollers = [t for t in threading.enumerate() if t.name == "fieldapp-live-poller" and t is hub.thread]
        assert len(pollers) == 1
        for r in responses:
            b"".join(r.response)
            r.close()
        assert hub.streams == 0


class FakeRedis:
    """Stands in for redis-py: records what is published; pubsub() hands out what was published."""

    def __init__(self):
        self.published = []
        self.on_publish = lambda: None

    def publish(self, channel, message):
        self.on_publish()
        self.published.append((channel, message))

    def pubsub(self, ignore_subscribe_messages=False):
        return FakePubSub(self)


class FakePubSub:
    def __init__(self, redis):
        self.redis, self.seen, self.channels, self.confirmations = redis, 0, [], []

    def subscribe(self, channel):
        self.channels.append(channel)
        self.confirmations = [{"type": "subscribe", "channel": channel, "data": 1}]

    def get_message(self, timeout=0):
        if self.confirmations:
            return self.confirmations.pop()
        if self.seen < len(self.redis.published):
            self.seen += 1
            return {"type": "message", "data": b"1"}
        return None

    def close(self):
        pass


def app_with_fake_redis(make_app):
    """An app whose Redis client is a FakeRedis that records what is published."""
    app = make_app(REDIS_URL="redis://fake", **FAST)
    fake = FakeRedis()
    app.extensions["fieldapp.redis"] = {"redis://fake": fake}
    return app, fake


def test_with_redis_a_commit_publishes_one_wake_up_and_a_rollback_none(make_app):
    app, fake = app_with_fake_redis(make_app)
    with app.app_context():
        town, (east, west) = make_town()
        fake.published.clear()
        make_house(east, collected=True)
        assert fake.published == [(changefeed.CHANNEL, "1")]
        changefeed.note_village_changed(west.id)
        db.session.rollback()
        assert len(fake.published) == 1
        pubsub = live._redis_subscribe(app)
        assert pubsub.channels == [changefeed.CHANNEL]
        started = datetime.now()
        live._wait_for_wakeup(pubsub, 5)  # a wake-up is waiting: returns at once
        assert (datetime.now() - started).total_seconds() < 1


def _events_seen_elsewhere() -> int:
    """DashboardEvent rows another connection sees now (what another process's poller would read)."""
    set_write_intent("GET")  # a plain read: never queue behind the writer's lock on SQLite
    try:
        with db.engine.connect() as other:
            return other.scalar(select(func.count()).select_from(DashboardEvent))
    finally:
        set_write_intent("POST")


def test_the_wake_up_goes_out_when_the_transaction_commits_not_when_a_savepoint_is_released(make_app):
    # SQLAlchemy fires after_commit for a released SAVEPOINT too. A sync push writes in savepoints
    # (one per item, one per bulk flush): publishing there woke other processes before the row was
    # committed, their poll found nothing, and the real commit published nothing (bench: thousands
    # of dashboard deliveries late by the 5 s safety poll).
    app, fake = app_with_fake_redis(make_app)
    seen_at_publish = []
    fake.on_publish = lambda: seen_at_publish.append(_events_seen_elsewhere())
    with app.app_context():
        town, (east, _west) = make_town()
        db.session.commit()
        fake.published.clear()
        before = _events_seen_elsewhere()
        with db.session.begin_nested():
            changefeed.note_village_changed(east.id)
        assert fake.published == []  # only a savepoint was released: nothing is visible yet
        db.session.commit()
        assert fake.published == [(changefeed.CHANNEL, "1")]
        assert seen_at_publish == [before + 1]  # when the wake-up goes out, the row is there to read


def test_a_rolled_back_item_keeps_the_wake_up_of_the_items_before_it(make_app):
    # A push whose second item is refused (its savepoint rolled back) still commits the first.
    app, fake = app_with_fake_redis(make_app)
    with app.app_context():
        town, (east, west) = make_town()
        db.session.commit()
        fake.published.clear()
        start = cursor_now()
        with db.session.begin_nested():
            changefeed.note_village_changed(east.id)
        with pytest.raises(ZeroDivisionError), db.session.begin_nested():
            changefeed.note_village_changed(west.id)
            db.session.flush()
            raise ZeroDivisionError  # an item that fails inside its savepoint
        db.session.commit()
        assert fake.published == [(changefeed.CHANNEL, "1")]
        assert db.session.scalars(select(DashboardEvent.village_id).where(DashboardEvent.id > start)).all() == [east.id]


def test_a_village_noted_again_after_its_savepoint_rolled_back_still_gets_its_row(fast_app):
    town, (east, _west) = make_town()
    db.session.commit()
    start = cursor_now()
    with pytest.raises(ZeroDivisionError), db.session.begin_nested():
        changefeed.note_village_changed(east.id)
        raise ZeroDivisionError
    changefeed.note_village_changed(east.id)  # the first row went with its savepoint
    changefeed.note_village_changed(east.id)  # ... and this one is the same change again
    db.session.commit()
    assert db.session.scalars(select(DashboardEvent.village_id).where(DashboardEvent.id > start)).all() == [east.id]


def test_without_redis_py_the_database_poll_still_delivers(make_app, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_redis(name, *args, **kwargs):
        if name == "redis":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_redis)
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0", **FAST)
    with app.app_context():
        assert changefeed.redis_client(app) is None
        town, (east, _west) = make_town()
        client = signed_in(app, make_account(town, "supervisor"))
        start = cursor_now()
        make_house(east, collected=True)
        assert any(m.get("event") == "change"
                   for m in events_of(client.get(f"/progress/events?after={start}").text))


@pytest.mark.skipif(not os.environ.get("FIELDAPP_TEST_REDIS_URL"),
                    reason="set FIELDAPP_TEST_REDIS_URL (CI does) to test the Redis wake-up against a real server")
def test_a_real_redis_wakes_another_process_at_once(make_app):
    """Two app instances stand for two worker processes: a commit in one wakes the other's
    subscription through a real Redis server, well before the database poll would."""
    url = os.environ["FIELDAPP_TEST_REDIS_URL"]
    listener, writer = make_app(REDIS_URL=url, **FAST), make_app(REDIS_URL=url, **FAST)
    with writer.app_context():
        _town, (east, _west) = make_town()
        east_id = east.id
    with listener.app_context():
        pubsub = live._redis_subscribe(listener)
        assert pubsub is not None
        while pubsub.get_message(timeout=0.2) is not None:  # drain earlier wake-ups
            pass
    with writer.app_context():
        make_house(db.session.get(Village, east_id), collected=True)
    with listener.app_context():
        got = pubsub.get_message(timeout=2)
        pubsub.close()
    assert got is not None and got["type"] == "message" and got["channel"].decode() == changefeed.CHANNEL


@pytest.mark.skipif(not os.environ.get("FIELDAPP_TEST_REDIS_URL"),
                    reason="set FIELDAPP_TEST_REDIS_URL (CI does) to test the Redis wake-up against a real server")
def test_with_real_redis_a_long_push_reaches_an_open_dashboard_when_it_commits(make_app):
    """The whole fan-out through a real Redis: a writer releases a savepoint (as a push does per
    item) and commits a little later; the open stream must name the village right after the commit,
    not at the safety poll (30 s here), which is what happened when the savepoint's release woke
    the poller before anything was committed."""
    url = os.environ["FIELDAPP_TEST_REDIS_URL"]
    app = make_app(REDIS_URL=url, **{**FAST, "DASHBOARD_REDIS_POLL_SECONDS": 30, "DASHBOARD_STREAM_SECONDS": 4})
    with app.app_context():
        town, (east, _west) = make_town()
        east_id = east.id
        client = signed_in(app, make_account(town, "supervisor"))
        response = client.get(f"/progress/events?after={cursor_now()}", buffered=False)
        chunks = iter(response.response)
        next(chunks)  # the stream is open: its poller is subscribed and has read the feed once
        received: list[tuple[float, bytes]] = []

        def read():
            for chunk in chunks:
                received.append((time.monotonic(), chunk))
                if b"event: change" in chunk:
                    return

        reader = threading.Thread(target=read)
        reader.start()
        with db.session.begin_nested():  # one item of a push
            changefeed.note_village_changed(east_id)
        time.sleep(0.3)  # ... the rest of the push
        db.session.commit()
        committed = time.monotonic()
        reader.join(5)
        response.close()
    changes = [(at, chunk) for at, chunk in received if b"event: change" in chunk]
    assert changes and str(east_id).encode() in changes[0][1]
    assert changes[0][0] - committed < 2  # woken by the commit's wake-up, not by the 30 s safety poll


def test_streams_deliver_while_every_pooled_connection_of_their_process_is_taken(make_app):
    """A burst of pushes can hold every connection of a process's pool (each waiting for the
    database's write lock). The poller and the viewers' re-checks must not queue behind them: they
    did, and every dashboard of the process stalled for as long (bench: 6-20 s)."""
    app = make_app(**{**FAST, "DASHBOARD_STREAM_SECONDS": 2, "DASHBOARD_RECHECK_SECONDS": 0.3,
                      "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 1, "max_overflow": 0, "pool_timeout": 4}})
    writer = make_app(**FAST)
    with app.app_context():
        town, (east, _west) = make_town()
        east_id = east.id
        client = signed_in(app, make_account(town, "supervisor"))
        response = client.get(f"/progress/events?after={cursor_now()}", buffered=False)
        chunks = iter(response.response)
        next(chunks)  # streaming: the request gave its connection back
        db.session.remove()
        held = db.engine.connect()  # ... and now a push holds the only one
        try:
            received: list[bytes] = []

            def read():
                for chunk in chunks:
                    received.append(chunk)
                    if b"event: change" in chunk:
                        return

            reader = threading.Thread(target=read)
            reader.start()
            with writer.app_context():  # another process commits a change
                make_house(db.session.get(Village, east_id), collected=True)
            reader.join(3)
        finally:
            held.close()
        response.close()
    assert any(b"event: change" in chunk and str(east_id).encode() in chunk for chunk in received)


def test_feed_ids_follow_commit_order_on_every_backend(app, backend):
    """A write that began first but commits last must get the higher feed id: readers take rows
    above the last id they saw, so a lower id committed late was skipped for good (PostgreSQL, two
    app servers; the ids came from the sequence when the row was flushed)."""
    with app.app_context():
        _town, (east, west) = make_town()
        east_id, west_id = east.id, west.id
        db.session.commit()
    first_noted, second_done = threading.Event(), threading.Event()
    failures = []

    def first_writer():
        try:
            with app.app_context():
                changefeed.note_village_changed(east_id)
                db.session.execute(update(Village).where(Village.id == east_id).values(name=Village.name))
                db.session.flush()
                first_noted.set()
                if backend == "postgresql":  # on SQLite the second writer waits for this one
                    assert second_done.wait(30)
                db.session.commit()
        except Exception as error:
            failures.append(repr(error))
            first_noted.set()

    thread = threading.Thread(target=first_writer)
    thread.start()
    assert first_noted.wait(30)
    with app.app_context():
        changefeed.note_village_changed(west_id)
        db.session.commit()
        second_done.set()
    thread.join(30)
    assert not failures
    with app.app_context():
        order = db.session.scalars(select(DashboardEvent.village_id).order_by(DashboardEvent.id)).all()
    assert order[-2:] == ([west_id, east_id] if backend == "postgresql" else [east_id, west_id])
