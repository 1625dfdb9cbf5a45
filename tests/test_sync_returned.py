"""The work package's `returned` (退回修改): a collector's changes a reviewer returned, on the last
page, scoped like the records (fieldapp/returned.py)."""
from __future__ import annotations

from sqlalchemy import select, update

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Change, Person
from fieldapp.review import desk

from .builders import make_account, make_house, make_town, resident_id
from .sync_builders import bearer, device_token, push_http
from .sync_builders import update as update_item


def package(client, token, cursor=0):
    response = client.get(f"/api/sync/package?cursor={cursor}", headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json


def collected(village, collector, name="张三"):
    """A person the collector registered (a pushed change, pending review) and that change."""
    house = make_house(village)
    person, _outcome, _ = records.add_person(
        records.Actor(collector.id, "sync"), house,
        {"name": name, "sex": "1", "id_type": "111", "id_number": resident_id(), "category": "local"})
    db.session.commit()
    change = db.session.scalar(select(Change).where(Change.entity == "person", Change.entity_id == person.id))
    return person, change


def returned_back(reviewer, change, reasons):
    desk.return_change(reviewer, change.id, reasons)
    db.session.commit()


def test_returned_changes_reach_their_collector_only(make_app):
    app = make_app(SYNC_CURSOR_OVERLAP_SECONDS=0)
    with app.app_context():
        town, (east, _west) = make_town()
        mine, other = make_account(town, "collector", [east]), make_account(town, "collector", [east])
        reviewer = make_account(town, "reviewer", [east])
        person, change = collected(east, mine)
        _theirs, their_change = collected(east, other, name="李四")
        returned_back(reviewer, change, {"name": "姓名与证件不符", "_": "请重新核对"})
        returned_back(reviewer, their_change, {"name": "写错了"})
        mine_token, other_token = device_token(mine), device_token(other)
        client = app.test_client()
        body = package(client, mine_token)
        assert body["returned"] == [{
            "uid": change.uid, "entity": "person", "record_uid": person.uid, "kind": change.kind,
            "reasons": {"name": "姓名与证件不符"}, "whole": "请重新核对",
            "returned_at": body["returned"][0]["returned_at"], "reviewer": reviewer.collection_id}]
        assert body["returned"][0]["returned_at"].endswith("Z")
        assert reviewer.name not in str(body["returned"])
        assert [r["uid"] for r in package(client, other_token)["returned"]] == [their_change.uid]
        # The audit row of the pull counts the returned item with the records it sent.
        row = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sync_package")
                                 .order_by(AuditEvent.id.desc())).first()
        assert row is not None and row.records == len(body["houses"]) + len(body["people"]) + 1
        # A delta's last page carries the list too (the phone replaces its copy).
        assert [r["uid"] for r in package(client, mine_token, cursor=body["cursor"])["returned"]] == [change.uid]


def test_a_corrected_change_leaves_the_list(make_app):
    app = make_app(SYNC_CURSOR_OVERLAP_SECONDS=0)
    with app.app_context():
        town, (east, _west) = make_town()
        collector, reviewer = make_account(town, "collector", [east]), make_account(town, "reviewer", [east])
        person, change = collected(east, collector)
        returned_back(reviewer, change, {"name": "写错了"})
        token = device_token(collector)
        client = app.test_client()
        assert len(package(client, token)["returned"]) == 1
        [result] = push_http(client, token, [update_item("person.update", person.uid, person.version, name="张山")])
        assert result["status"] == "accepted", result
        assert package(client, token)["returned"] == []
        correction = db.session.scalar(select(Change).where(Change.corrects_id == change.id))
        assert correction is not None and correction.review_state == "pending"


def test_police_only_returns_never_reach_other_roles(make_app):
    app = make_app(SYNC_CURSOR_OVERLAP_SECONDS=0)
    with app.app_context():
        town, (east, west) = make_town()
        collector, reviewer = make_account(town, "collector", [east]), make_account(town, "reviewer", [east])
        person, change = collected(east, collector)
        _moved, elsewhere = collected(east, collector, name="王五")
        returned_back(reviewer, change, {"name": "写错了"})
        returned_back(reviewer, elsewhere, {"name": "写错了"})
        # Marked police-only since (a police reviewer's domain): never on a non-police phone.
        db.session.execute(update(Change).where(Change.id == change.id).values(police_only=True))
        # The other person moved to a village this collector does not work: out of scope.
        db.session.execute(update(Person).where(Person.id == _moved.id).values(village_id=west.id))
        db.session.commit()
        body = package(app.test_client(), device_token(collector))
        assert body["returned"] == []
        assert change.uid not in str(body) and elsewhere.uid not in str(body)


def test_roles_that_do_not_collect_get_no_list(make_app):
    app = make_app(SYNC_CURSOR_OVERLAP_SECONDS=0)
    with app.app_context():
        town, (east, _west) = make_town()
        body = package(app.test_client(), device_token(make_account(town, "informant", [east])))
        assert "returned" not in body
