"""Tips with several worker processes at once: the public rate limit holds across processes (it
counts rows in the database), and a tip taken by several collectors at the same moment goes to one."""
from __future__ import annotations

import multiprocessing

from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Tip
from fieldapp.rules import tips as rules

from .builders import make_account, make_house, make_town
from .tips_builders import make_tip

WORKERS = 4


def _app(url: str):
    from fieldapp import create_app

    from .conftest import TEST_CONFIG, IsolatedClient
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url})
    app.test_client_class = IsolatedClient
    return app


def _public_sender(url: str, token: str, attempts: int, queue) -> None:
    try:
        app = _app(url)
        client = app.test_client()
        codes = [client.post(f"/d/{token}/tip", data={"kind": "other", "contact_phone": "13912345678"},
                             environ_base={"REMOTE_ADDR": "198.51.100.200"}).status_code for _ in range(attempts)]
        queue.put(codes)
    except Exception as error:  # reported to the test, which fails with it
        queue.put(repr(error))


def _taker(url: str, collection_id: str, tip_id: int, queue) -> None:
    try:
        from .builders import sign_in
        app = _app(url)
        client = app.test_client()
        sign_in(client, collection_id)
        queue.put(client.post(f"/tips/{tip_id}/take").status_code)
    except Exception as error:
        queue.put(repr(error))


def _run(target, args_list):
    spawn = multiprocessing.get_context("spawn")  # fresh interpreters, like separate gunicorn workers
    queue = spawn.Queue()
    procs = [spawn.Process(target=target, args=(*args, queue)) for args in args_list]
    for p in procs:
        p.start()
    results = [queue.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(30)
    return results


def test_public_rate_limit_holds_across_processes(ctx, database_url):
    _town, (east, _west) = make_town()
    token = make_house(east, collected=True).door_token
    db.session.rollback()
    results = _run(_public_sender, [(database_url, token, 3)] * WORKERS)
    assert all(isinstance(r, list) for r in results), results
    codes = sorted(c for r in results for c in r)
    limit = rules.PUBLIC_PER_SENDER_PER_HOUR
    assert codes == [303] * limit + [429] * (WORKERS * 3 - limit)
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Tip.id))) == limit


def test_a_tip_taken_at_once_by_several_collectors_goes_to_one(ctx, database_url):
    town, (east, _west) = make_town()
    house = make_house(east, collected=True)
    collectors = [make_account(town, "collector", [east]) for _ in range(WORKERS)]
    tip_id = make_tip(east, house).id
    ids = [c.collection_id for c in collectors]
    db.session.rollback()
    results = _run(_taker, [(database_url, cid, tip_id) for cid in ids])
    assert sorted(results) == [303] + [409] * (WORKERS - 1), results
    db.session.expire_all()
    tip = db.session.get(Tip, tip_id)
    assert tip.state == "assigned" and tip.version == 2
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "tip_take")) == 1
