"""Several worker processes writing at once: no "database is locked", no lost counter update."""
from __future__ import annotations

import multiprocessing

import pytest
from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Person, Village, VillageCounter

from .builders import make_house, make_town

WORKERS, WRITES = 4, 15


def _worker(url: str, house_id: int, worker: int, queue) -> None:
    from fieldapp import create_app, records
    from fieldapp.accounts import audit
    from fieldapp.database import set_write_intent, write_transaction
    from fieldapp.models import House

    from .builders import person_data, resident_id
    from .conftest import TEST_CONFIG
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url})
    try:
        with app.app_context():
            for _ in range(WRITES):
                # A fresh transaction per write, as each request has: read, then write.
                house = db.session.get(House, house_id)
                # Each process restarts the builders' serials: a county per worker keeps documents distinct.
                number = resident_id(county=f"3101{worker:02d}")
                records.add_person(records.Actor(None), house, person_data(name=f"工人{worker}", id_number=number))
                db.session.commit()
                # Then what a GET that writes does (an edit form's audit line, a device's last use):
                # its reads begin deferred, its write takes the lock in its own transaction.
                set_write_intent("GET")
                db.session.get(House, house_id)
                with write_transaction():
                    audit(None, "reveal_identifier", f"house:{house_id}", "edit form")
                set_write_intent("POST")
        queue.put(None)
    except Exception as error:  # reported to the test, which fails with it
        queue.put(repr(error))


def test_concurrent_writers(ctx, database_url):
    _town, (east, _west) = make_town()
    house_id, village_id = make_house(east, collected=True).id, east.id
    db.session.rollback()  # the test is a client too: hold no transaction while the workers write
    spawn = multiprocessing.get_context("spawn")  # fresh interpreters, like separate gunicorn workers
    queue = spawn.Queue()
    procs = [spawn.Process(target=_worker, args=(database_url, house_id, n, queue)) for n in range(WORKERS)]
    for p in procs:
        p.start()
    errors = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    assert errors == [None] * WORKERS
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Person)) == WORKERS * WRITES
    assert db.session.get(VillageCounter, village_id).people == WORKERS * WRITES
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.target == f"house:{house_id}")) == WORKERS * WRITES


def test_a_read_request_that_writes_outside_write_transaction_fails_in_tests(ctx, database_url):
    """Tests run with STRICT_READ_REQUESTS: on SQLite a write in a deferred (GET) transaction is
    refused every time, instead of failing with "database is locked" once in a while under load."""
    from fieldapp.accounts import audit
    from fieldapp.database import DeferredWriteError, set_write_intent, write_transaction
    _town, (east, _west) = make_town()
    db.session.commit()
    set_write_intent("GET")
    try:
        db.session.get(Village, east.id)
        if database_url.startswith("sqlite"):
            with pytest.raises(DeferredWriteError):
                audit(None, "reveal_identifier", f"village:{east.id}", "edit form")
                db.session.commit()  # audit rows are inserted when the transaction commits
            db.session.rollback()
        with write_transaction():
            audit(None, "reveal_identifier", f"village:{east.id}", "edit form")
    finally:
        set_write_intent("POST")
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.target == f"village:{east.id}")) == 1
