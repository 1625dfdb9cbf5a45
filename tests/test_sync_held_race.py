"""Two pushes that cross (issue 9): B holds an item for a house that A has created but not yet
committed. Before the crossing rule, on PostgreSQL nothing ever released B's item (A looked for
waiting items before B committed, B looked for the house before A committed); every retry answered
`duplicate` of `held`. Driven deterministically: A stops just before its commit until B is done."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from fieldapp import sync
from fieldapp.extensions import db
from fieldapp.models import Person, SyncReceipt, Visit

from .builders import make_account, make_house, make_town
from .sync_builders import house_new, person_new
from .sync_visit_builders import visit_new

WAIT = 30  # seconds: a bound on a broken run, never a pause


def test_an_item_held_for_a_house_being_created_is_released_when_that_push_commits(app, backend, monkeypatch):
    with app.app_context():
        town, (east, _west) = make_town()
        first, second = make_account(town, "collector", [east]), make_account(town, "collector", [east])
        first_id, second_id, east_id = first.id, second.id, east.id
        db.session.commit()
    house = house_new(east_id)
    push_a = [house] + [visit_new(house["entity_uid"]) for _ in range(150)]
    person = person_new(house["entity_uid"])

    a_applied, a_may_commit = threading.Event(), threading.Event()
    real_push_once = sync._push_once

    def pausing_push_once(account, device, items, *rest):
        results = real_push_once(account, device, items, *rest)
        if items is push_a:  # A has written everything and not committed
            a_applied.set()
            assert a_may_commit.wait(WAIT)
        return results

    monkeypatch.setattr(sync, "_push_once", pausing_push_once)
    answers, failures = {}, []

    def run(name, account_id, items):
        try:
            with app.app_context():
                answers[name] = sync.push(db.session.get(type(first), account_id), None, items)
        except Exception as error:  # the test fails with it below
            failures.append(repr(error))
            a_may_commit.set()
            a_applied.set()

    thread_a = threading.Thread(target=run, args=("a", first_id, push_a))
    thread_a.start()
    assert a_applied.wait(WAIT) and not failures, failures
    thread_b = threading.Thread(target=run, args=("b", second_id, [person]))
    thread_b.start()
    if backend == "postgresql":
        # B does not wait for A on PostgreSQL: it answers held while A's house is uncommitted.
        thread_b.join(WAIT)
        assert answers["b"][0]["status"] == "held"
    # On SQLite B queues for the write lock behind A and finds the house once A commits.
    a_may_commit.set()
    thread_a.join(WAIT)
    thread_b.join(WAIT)
    assert not failures
    assert [r["status"] for r in answers["a"]] == ["accepted"] * 151

    with app.app_context():
        receipt = db.session.scalar(select(SyncReceipt).where(SyncReceipt.item_uid == person["uid"]))
        assert receipt.status == "accepted"
        assert db.session.scalar(select(func.count()).select_from(Person)) == 1
        assert db.session.scalar(select(func.count()).where(SyncReceipt.status == "held")) == 0
        assert db.session.scalar(select(func.count()).select_from(Visit)) == 150
        # The phone's retry of B now answers what became of it.
        again = sync.push(db.session.get(type(first), second_id), None, [person])
        assert again[0]["status"] == "duplicate" and again[0]["original"]["status"] == "accepted"


def test_the_sweep_releases_an_item_left_held_by_a_crash_between_commit_and_release(ctx):
    """A server killed after a push's commit and before its release leaves an item held for a house
    that exists; the next push of anyone releases it."""
    town, (east, _west) = make_town()
    first, second = make_account(town, "collector", [east]), make_account(town, "collector", [east])
    house = house_new(east.id)
    person = person_new(house["entity_uid"])
    assert sync.push(second, None, [person])[0]["status"] == "held"
    # The crash, as it leaves the rows: the house committed, its push's release never run.
    make_house(east).uid = house["entity_uid"]
    db.session.commit()
    assert db.session.scalar(select(SyncReceipt.status).where(SyncReceipt.item_uid == person["uid"])) == "held"
    other = house_new(east.id, number="9")
    sync.push(first, None, [other])
    assert db.session.scalar(select(SyncReceipt.status).where(SyncReceipt.item_uid == person["uid"])) == "accepted"
    assert db.session.scalar(select(func.count()).select_from(Person)) == 1


def test_an_item_held_by_an_insider_from_another_village_is_refused_when_released(ctx):
    """A collector of the west village holds a person for a house uid that then turns out to be an
    east house (another collector's): the release applies it under the sender's own scope, so it is
    refused out_of_scope, and nothing is written in the east village."""
    town, (east, west) = make_town()
    insider, owner = make_account(town, "collector", [west]), make_account(town, "collector", [east])
    house = house_new(east.id)
    person = person_new(house["entity_uid"])
    with ctx.test_request_context():  # refusals carry their message in the request's language
        assert sync.push(insider, None, [person])[0]["status"] == "held"
        assert sync.push(owner, None, [house])[0]["status"] == "accepted"
        again = sync.push(insider, None, [person])
    receipt = db.session.scalar(select(SyncReceipt).where(SyncReceipt.item_uid == person["uid"]))
    assert (receipt.status, receipt.result["code"]) == ("rejected", "out_of_scope")
    assert db.session.scalar(select(func.count()).select_from(Person)) == 0
    assert again[0]["status"] == "duplicate" and again[0]["original"]["code"] == "out_of_scope"
