"""The entry desk on the web (/review/queue, /review/entries/<id>): ordering, filters, scope,
approve, return with reasons, bulk approval that skips flagged items, and two reviewers at once."""
from __future__ import annotations

import re

from sqlalchemy import select

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Change
from fieldapp.rules import review as rules
from tests.builders import english, make_account, make_house, make_town, person_data, send, text_of
from tests.desk_builders import collected_person, flag


def _ids(response) -> list[int]:
    return [int(i) for i in re.findall(r'id="entry-(\d+)"', response.get_data(as_text=True))]


def _state(change_id):
    db.session.rollback()
    return db.session.get(Change, change_id)


def _desk(ctx):
    town, (east, west) = make_town()
    collector = make_account(town, "collector", [east, west])
    reviewer = make_account(town, "reviewer", [east])
    return town, east, west, collector, reviewer


def test_queue_orders_overdue_first_then_by_due_day_and_counts(ctx, login):
    _town, east, _west, collector, reviewer = _desk(ctx)
    _p, fresh = collected_person(east, collector, days_ago=0)
    _p, old = collected_person(east, collector, days_ago=20)
    _p, older = collected_person(east, collector, days_ago=30)
    flag(fresh)
    client = english(login(reviewer))
    page = send(client, "GET", "/review/queue")
    assert page.status_code == 200
    assert _ids(page) == [older.id, old.id, fresh.id]
    text = text_of(page)
    assert re.search(r'id="count-waiting"><strong>3<', text) and re.search(r'id="count-overdue"><strong>2<', text)
    assert re.search(r'id="count-flagged"><strong>1<', text)
    assert 'id="review-waiting">3<' in text  # the nav badge
    # The flagged item is listed but not ticked for bulk approval.
    assert re.search(rf'id="pick-{fresh.id}" name="change" value="{fresh.id}">', text)
    assert re.search(rf'id="pick-{old.id}" name="change" value="{old.id}" checked>', text)
    db.session.rollback()
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "view_review_queue")).records == 3


def test_queue_filters_and_paging(ctx, login, monkeypatch):
    town, east, west, collector, _reviewer = _desk(ctx)
    other = make_account(town, "collector", [east])
    reviewer = make_account(town, "reviewer", [east, west])
    _p, a = collected_person(east, collector, days_ago=20)
    _p, b = collected_person(west, collector, days_ago=0)
    _p, c = collected_person(east, other, days_ago=0)
    flag(c)
    client = login(reviewer)
    assert _ids(send(client, "GET", f"/review/queue?village={west.id}")) == [b.id]
    assert _ids(send(client, "GET", f"/review/queue?collector={other.id}")) == [c.id]
    assert _ids(send(client, "GET", "/review/queue?flagged=1")) == [c.id]
    assert _ids(send(client, "GET", "/review/queue?overdue=1")) == [a.id]
    from fieldapp.review import queue
    monkeypatch.setattr(queue, "PER_PAGE", 2)
    first, second = send(client, "GET", "/review/queue"), send(client, "GET", "/review/queue?page=2")
    assert len(_ids(first)) == 2 and len(_ids(second)) == 1
    assert set(_ids(first) + _ids(second)) == {a.id, b.id, c.id}
    assert send(client, "GET", "/review/queue?page=99999999999").status_code == 200


def test_scope_matrix(ctx, login):
    town, east, west, collector, reviewer = _desk(ctx)
    police = make_account(town, "police", [east])
    informant = make_account(town, "informant", [east])
    _p, mine_village = collected_person(east, collector)
    _p, other_village = collected_person(west, collector)
    _p, abroad = collected_person(east, collector, category="abroad", id_type="414", id_number="E12345678",
                                  sex="1", nationality="USA")
    house = make_house(east, number="77")
    _own, _o, _ = records.add_person(records.Actor(reviewer.id, "web"), house, person_data())
    db.session.commit()
    own = db.session.scalar(select(Change).where(Change.collected_by_id == reviewer.id, Change.entity == "person"))
    assert own.review_state == rules.PENDING

    as_reviewer = english(login(reviewer))
    assert _ids(send(as_reviewer, "GET", "/review/queue")) == [mine_village.id]
    assert send(as_reviewer, "GET", f"/review/entries/{mine_village.id}").status_code == 200
    assert send(as_reviewer, "GET", f"/review/entries/{other_village.id}").status_code == 404
    assert send(as_reviewer, "GET", f"/review/entries/{abroad.id}").status_code == 404
    assert send(as_reviewer, "POST", f"/review/entries/{other_village.id}/approve").status_code == 404
    assert send(as_reviewer, "GET", "/review/entries/99999999999").status_code == 404
    # Their own collection opens, but they cannot decide it.
    own_page = send(as_reviewer, "GET", f"/review/entries/{own.id}")
    assert own_page.status_code == 200 and 'id="approve"' not in own_page.text
    refused = send(as_reviewer, "POST", f"/review/entries/{own.id}/approve", follow_redirects=True)
    assert "Nobody reviews their own collection" in text_of(refused)
    assert _state(own.id).review_state == rules.PENDING

    as_police = login(police)
    assert _ids(send(as_police, "GET", "/review/queue")) == [abroad.id]
    assert send(as_police, "GET", f"/review/entries/{mine_village.id}").status_code == 404
    assert send(as_police, "POST", f"/review/entries/{abroad.id}/approve").status_code == 303
    assert _state(abroad.id).review_state == rules.APPROVED

    for account in (collector, informant):
        client = login(account)
        assert send(client, "GET", "/review/queue").status_code == 403
        assert send(client, "GET", f"/review/entries/{mine_village.id}").status_code == 403
        assert send(client, "POST", "/review/queue/approve", {"change": mine_village.id}).status_code == 403


def test_approve_one(ctx, login):
    _town, east, _west, collector, reviewer = _desk(ctx)
    _p, change = collected_person(east, collector)
    client = english(login(reviewer))
    done = send(client, "POST", f"/review/entries/{change.id}/approve", follow_redirects=True)
    assert "Approved" in text_of(done)
    after = _state(change.id)
    assert (after.review_state, after.reviewed_by_id) == (rules.APPROVED, reviewer.id)
    assert _ids(send(client, "GET", "/review/queue")) == []


def test_return_with_reasons_and_422_without(ctx, login):
    _town, east, _west, collector, reviewer = _desk(ctx)
    _p, change = collected_person(east, collector)
    client = english(login(reviewer))
    empty = send(client, "POST", f"/review/entries/{change.id}/return", {"reason-name": "  ", "reason-_": ""})
    assert empty.status_code == 422
    assert "Write a reason beside at least one changed field" in text_of(empty)
    assert 'id="reason-name"' in empty.text  # the form is shown again
    assert _state(change.id).review_state == rules.PENDING
    done = send(client, "POST", f"/review/entries/{change.id}/return",
                {"reason-name": "名字写错了", "reason-_": "请重新拍照", "reason-nope": "x"})
    assert done.status_code == 303
    after = _state(change.id)
    assert after.review_state == rules.RETURNED
    assert after.return_reasons == {"name": "名字写错了", "_": "请重新拍照"}
    page = text_of(send(client, "GET", f"/review/entries/{change.id}"))
    assert "名字写错了" in page and 'id="approve"' not in page


def test_bulk_approve_skips_flagged(ctx, login):
    _town, east, _west, collector, reviewer = _desk(ctx)
    _p, a = collected_person(east, collector)
    _p, b = collected_person(east, collector)
    _p, flagged = collected_person(east, collector)
    flag(flagged)
    client = english(login(reviewer))
    none = send(client, "POST", "/review/queue/approve", {}, follow_redirects=True)
    assert "Tick the items" in text_of(none)
    done = send(client, "POST", "/review/queue/approve", {"change": [a.id, b.id, flagged.id]}, follow_redirects=True)
    text = text_of(done)
    assert "Approved 2 items" in text and "1 items have open flags" in text
    assert [_state(i).review_state for i in (a.id, b.id, flagged.id)] == [rules.APPROVED, rules.APPROVED, rules.PENDING]
    again = send(client, "POST", "/review/queue/approve", {"change": [a.id]}, follow_redirects=True)
    assert "already decided" in text_of(again)


def test_two_reviewers_deciding_one_item(ctx, login):
    """Both open the item; the first decision stands, the second reviewer is told (no error page)."""
    town, east, _west, collector, reviewer = _desk(ctx)
    second = make_account(town, "reviewer", [east])
    _p, change = collected_person(east, collector)
    _p, other = collected_person(east, collector)
    first, late = english(login(reviewer)), english(login(second))
    for client in (first, late):
        assert 'id="approve"' in send(client, "GET", f"/review/entries/{change.id}").text
    assert send(first, "POST", f"/review/entries/{change.id}/approve").status_code == 303
    lost = send(late, "POST", f"/review/entries/{change.id}/approve", follow_redirects=True)
    assert lost.status_code == 200 and "already decided by someone else" in text_of(lost)
    lost_return = send(late, "POST", f"/review/entries/{change.id}/return", {"reason-name": "错"}, follow_redirects=True)
    assert lost_return.status_code == 200 and "already decided by someone else" in text_of(lost_return)
    assert _state(change.id).reviewed_by_id == reviewer.id and _state(change.id).review_state == rules.APPROVED
    # A return and an approval of the same item: the return came first and stands.
    assert send(late, "POST", f"/review/entries/{other.id}/return", {"reason-_": "重拍"}).status_code == 303
    bulk = send(first, "POST", "/review/queue/approve", {"change": [other.id]}, follow_redirects=True)
    assert "already decided" in text_of(bulk) and _state(other.id).review_state == rules.RETURNED


def test_entry_shows_door_proof_identity_and_duplicates(ctx, login):
    from datetime import date
    _town, east, _west, collector, reviewer = _desk(ctx)
    first, _c = collected_person(east, collector, phone="17011112222")
    _p, change = collected_person(east, collector, phone="17011112222", name="李四", birth_date=date(1990, 1, 1))
    client = english(login(reviewer))
    page = text_of(send(client, "GET", f"/review/entries/{change.id}"))
    assert f"/review/people/merge?keep={change.entity_id}&other={first.id}" in page
    assert "Same phone" in page
    assert "Birth date from the ID is 1985-03-12, but 1990-01-01 was entered." in page
    assert "No visit recorded" in page
    assert "17011112222" not in page  # masked
    db.session.rollback()
    logged = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "view_review_entry"))
    assert logged.target == f"change:{change.id}"


def test_rules_identity_checks():
    from datetime import date

    from fieldapp.rules.identity_checks import duplicate_reasons, id_mismatches
    from tests.builders import resident_id
    number = resident_id(birth="19900102", male=False)
    assert id_mismatches("111", number, "2", date(1990, 1, 2)) == {}
    assert id_mismatches("111", number, "1", date(1990, 1, 3)) == {
        "birth_date": (date(1990, 1, 2), date(1990, 1, 3)), "sex": ("2", "1")}
    assert id_mismatches("111", number[:-1] + ("0" if number[-1] != "0" else "1"), "2", None) == {"invalid": True}
    assert id_mismatches("414", "E1234567", "1", None) == {}
    me = {"name": "王 芳", "birth_date": date(1990, 1, 2), "phone": "17000000001"}
    assert duplicate_reasons(me, {"name": "王芳", "birth_date": date(1990, 1, 2), "phone": None}) == ["name_birth"]
    assert duplicate_reasons(me, {"name": "李四", "birth_date": None, "phone": "17000000001"}) == ["phone"]
    assert duplicate_reasons({"name": "王芳", "birth_date": None, "phone": None},
                             {"name": "王芳", "birth_date": None, "phone": None}) == []
