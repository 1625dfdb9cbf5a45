"""The reviewer decides the conflicts sync kept (fieldapp/review): the list, keeping, taking the
submitted value as a validated change, stale pages, double decisions, masking and scope."""
from __future__ import annotations

from sqlalchemy import func, select

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Change, Conflict, House, Person
from fieldapp.review import service

from .builders import make_account, make_house, make_person, make_town, send, text_of
from .sync_builders import device_token, push_http, update


def _conflict_on(client, town, village, house, **fields):
    """Two collectors change the same fields of `house` (or its person) offline: the second is kept
    as conflicts. Returns the first collector's values applied and the conflict rows."""
    first, second = (device_token(make_account(town, "collector", [village])) for _ in range(2))
    entity = "house"
    uid, version = house.uid, house.version
    push_http(client, first, [update(f"{entity}.update", uid, version, **{k: v[0] for k, v in fields.items()})])
    [result] = push_http(client, second, [update(f"{entity}.update", uid, version, **{k: v[1] for k, v in fields.items()})])
    assert result["status"] == "conflict"
    db.session.rollback()
    return list(db.session.scalars(select(Conflict).order_by(Conflict.id)))


def _world(client):
    town, (east, west) = make_town()
    house = make_house(east, use="owner")
    db.session.commit()
    [conflict] = _conflict_on(client, town, east, house, owner_name=("甲", "丙"))
    reviewer = make_account(town, "reviewer", [east])
    return town, east, west, house, conflict, reviewer


def _decide(client, conflict_id, choice, version):
    return send(client, "POST", f"/review/conflicts/{conflict_id}", {"choice": choice, "version": str(version)})


def _row(conflict_id):
    db.session.rollback()
    return db.session.get(Conflict, conflict_id)


def test_the_list_shows_before_now_and_submitted_with_who(ctx, client, login):
    _town, _east, _west, house, conflict, reviewer = _world(client)
    page = login(reviewer).get("/review/conflicts")
    assert page.status_code == 200
    assert "1 个冲突等待决定" in text_of(page)
    assert '<span class="tag behind" id="conflicts-waiting">1</span>' in page.get_data(as_text=True)  # on every page
    html = page.get_data(as_text=True)
    assert f'id="conflict-{conflict.id}"' in html
    item = html[html.index(f'id="conflict-{conflict.id}"'):]
    assert '<dd class="now">甲' in item and '<dd class="submitted">丙' in item
    assert 'value="submitted"' in item and 'value="kept"' in item
    assert f'name="version" type="hidden" value="{db.session.get(House, house.id).version}"' in item


def test_taking_the_submitted_value_writes_a_change_and_closes_the_conflict(ctx, client, login):
    _town, _east, _west, house, conflict, reviewer = _world(client)
    version = db.session.get(House, house.id).version
    web = login(reviewer)
    response = _decide(web, conflict.id, "submitted", version)
    assert response.status_code == 303
    db.session.rollback()
    saved = db.session.get(House, house.id)
    assert saved.owner_name == "丙" and saved.version == version + 1
    change = db.session.scalar(select(Change).where(Change.entity == "house", Change.entity_id == house.id)
                               .order_by(Change.id.desc()))
    assert change.fields == {"owner_name": ["甲", "丙"]} and change.source == "review"
    assert change.collected_by_id == reviewer.id
    row = _row(conflict.id)
    assert (row.resolution, row.resolved_by_id) == ("submitted", reviewer.id) and row.resolved_at is not None
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "conflict.resolve", AuditEvent.target == f"conflict:{conflict.id}")) == 1
    # Decided conflicts leave the list, and the navigation's count.
    html = web.get("/review/conflicts").get_data(as_text=True)
    assert f'id="conflict-{conflict.id}"' not in html and "conflicts-waiting" not in html


def test_keeping_changes_nothing_on_the_record(ctx, client, login):
    _town, _east, _west, house, conflict, reviewer = _world(client)
    version = db.session.get(House, house.id).version
    changes = db.session.scalar(select(func.count(Change.id)))
    assert _decide(login(reviewer), conflict.id, "kept", version).status_code == 303
    db.session.rollback()
    assert db.session.get(House, house.id).owner_name == "甲"
    assert db.session.get(House, house.id).version == version
    assert db.session.scalar(select(func.count(Change.id))) == changes
    assert _row(conflict.id).resolution == "kept"


def test_a_record_changed_after_the_page_was_shown_is_not_overwritten(ctx, client, login):
    _town, _east, _west, house, conflict, reviewer = _world(client)
    seen = db.session.get(House, house.id).version
    records.update_house(records.Actor(None), db.session.get(House, house.id), {"owner_name": "丁"}, seen)
    db.session.commit()
    response = _decide(login(reviewer), conflict.id, "submitted", seen)
    assert response.status_code == 409
    assert "没有保存" in text_of(response) or "Nothing was saved" in text_of(response)
    db.session.rollback()
    assert db.session.get(House, house.id).owner_name == "丁"
    assert _row(conflict.id).resolved_at is None
    assert '<dd class="now">丁' in response.get_data(as_text=True)  # shown again as it is now


def test_a_decision_without_the_version_it_was_made_on_is_treated_as_stale(ctx, client, login):
    _town, _east, _west, house, conflict, reviewer = _world(client)
    web = login(reviewer)
    for version in (None, "", "x1", "٣"):
        data = {"choice": "submitted"} if version is None else {"choice": "submitted", "version": version}
        assert send(web, "POST", f"/review/conflicts/{conflict.id}", data).status_code == 409
    assert _row(conflict.id).resolved_at is None
    assert db.session.get(House, house.id).owner_name == "甲"


def test_the_second_decision_on_the_same_conflict_changes_nothing(ctx, client, login):
    town, east, _west, house, conflict, reviewer = _world(client)
    other = make_account(town, "reviewer", [east])
    version = db.session.get(House, house.id).version
    assert _decide(login(reviewer), conflict.id, "kept", version).status_code == 303
    late = _decide(login(other), conflict.id, "submitted", version)
    assert late.status_code == 303
    db.session.rollback()
    assert db.session.get(House, house.id).owner_name == "甲"
    assert (_row(conflict.id).resolution, _row(conflict.id).resolved_by_id) == ("kept", reviewer.id)


def test_the_claim_is_atomic(ctx, client):
    """Two decisions racing past the page's check: the UPDATE ... WHERE resolved_at IS NULL lets one in."""
    town, east, _west, house, conflict, reviewer = _world(client)
    item = service.item_or_none(reviewer, conflict.id)
    db.session.execute(Conflict.__table__.update().where(Conflict.id == conflict.id).values(resolved_at=func.now()))
    try:
        service.resolve(reviewer, item, "submitted", item.record.version)
    except service.AlreadyResolved:
        pass
    else:
        raise AssertionError("a decided conflict was decided again")
    db.session.rollback()


def test_a_submitted_value_that_breaks_a_rule_today_is_refused_with_the_reason(ctx, client, login):
    town, (east, _west) = make_town()
    house = make_house(east, use="owner")
    db.session.commit()
    conflicts = _conflict_on(client, town, east, house, owner_phone=("13812345678", "13912345678"))
    reviewer = make_account(town, "reviewer", [east])
    # The value was valid when sent; make it invalid now by hand (a rule tightened since).
    db.session.execute(Conflict.__table__.update().where(Conflict.id == conflicts[0].id).values(submitted="12345"))
    db.session.commit()
    response = _decide(login(reviewer), conflicts[0].id, "submitted", db.session.get(House, house.id).version)
    assert response.status_code == 422
    assert f'id="conflict-{conflicts[0].id}-error"' in response.get_data(as_text=True)
    assert _row(conflicts[0].id).resolved_at is None
    db.session.rollback()
    assert db.session.get(House, house.id).owner_phone == "13812345678"


def test_phone_numbers_are_masked_until_revealed_and_the_reveal_is_logged(ctx, client, login):
    town, (east, _west) = make_town()
    house = make_house(east, use="owner")
    db.session.commit()
    [conflict] = _conflict_on(client, town, east, house, owner_phone=("13812345678", "13912345678"))
    reviewer = make_account(town, "reviewer", [east])
    web = login(reviewer)
    html = web.get("/review/conflicts").get_data(as_text=True)
    assert "13812345678" not in html and "13912345678" not in html
    assert "138****5678" in html and "139****5678" in html
    shown = send(web, "POST", f"/review/conflicts/{conflict.id}/reveal")
    assert shown.status_code == 200 and "13912345678" in shown.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "reveal_identifier", AuditEvent.target == f"house:{house.id}")) == 1


def test_a_whole_record_conflict_can_only_be_kept(ctx, client, login):
    town, (east, _west) = make_town()
    house = make_house(east)
    person = make_person(house)
    records.update_person(records.Actor(None), person, {"phone": "13812345678"}, person.version)
    db.session.commit()
    token = device_token(make_account(town, "collector", [east]))
    push_http(client, token, [update("person.leave", person.uid, 1, left_date="2016-06-01", reason="搬走")])
    db.session.rollback()
    [conflict] = db.session.scalars(select(Conflict)).all()
    assert conflict.field == "status"
    reviewer = make_account(town, "reviewer", [east])
    web = login(reviewer)
    html = web.get("/review/conflicts").get_data(as_text=True)
    item = html[html.index(f'id="conflict-{conflict.id}"'):]
    assert 'value="submitted"' not in item.split("</li>")[0]
    version = db.session.get(Person, person.id).version
    assert _decide(web, conflict.id, "submitted", version).status_code == 422
    assert _decide(web, conflict.id, "kept", version).status_code == 303
    assert _row(conflict.id).resolution == "kept"
    assert db.session.get(Person, person.id).status == "living"


def test_reviewers_see_only_their_villages_and_people_from_abroad_stay_police_only(ctx, client, login):
    town, east, west, house, conflict, _reviewer = _world(client)
    west_reviewer = make_account(town, "reviewer", [west])
    html = login(west_reviewer).get("/review/conflicts").get_data(as_text=True)
    assert f'id="conflict-{conflict.id}"' not in html
    assert _decide(login(west_reviewer), conflict.id, "kept", 1).status_code == 404
    # A conflict on a person from abroad: police see it, the village's reviewer does not.
    abroad = make_person(house, name="约翰", id_type="414", id_number="E12345678", sex="1",
                         category="abroad", nationality="USA", move_in_reason="work", ethnicity=None, hukou_type=None)
    db.session.add(Conflict(entity="person", entity_id=abroad.id, field="phone", base=None, current="13812345678",
                            submitted="13912345678"))
    db.session.commit()
    reviewer = make_account(town, "reviewer", [east])
    police = make_account(town, "police", [east])
    assert "约翰" not in login(reviewer).get("/review/conflicts").get_data(as_text=True)
    assert "约翰" in login(police).get("/review/conflicts").get_data(as_text=True)
    items, truncated = service.pending(police)
    assert {i.conflict.entity for i in items} == {"house", "person"} and not truncated
    # The oldest first, and a cut list says so; the count is of all of them.
    first, truncated = service.pending(police, limit=1)
    assert [i.conflict.id for i in first] == [conflict.id] and truncated
    assert service.open_count(police) == 2 and service.open_count(reviewer) == 1


def test_values_read_as_the_forms_name_them(ctx, app):
    """Codes show their names in the UI language, numbers masked, nothing shown as "None"."""
    from fieldapp.review.display import Shown
    town, (east, _west) = make_town()
    reviewer = make_account(town, "reviewer", [east])
    with app.test_request_context():
        shown = Shown(reviewer, "zh")
        assert shown.value("house", "use", "rented") == "出租"
        assert shown.value("person", "sex", "2") == "女"
        assert shown.value("person", "category", "abroad") == "境外人员"
        assert shown.value("house", "rental_registered", True) == "是"
        assert shown.value("person", "status", "left") == "已迁出"
        assert shown.value("person", "id_number", "110105198503120012") == "110105********0012"
        assert shown.value("person", "id_number", "110105198503120012", revealed=True) == "110105198503120012"
        assert shown.value("house", "owner_name", None) == "—"
        assert shown.label("owner_phone") == "房主电话"
        # An employer by its name, if the reviewer may see it; another village's stays unnamed.
        mine = records.add_organisation(records.Actor(None), make_house(east), {"name": "东村米厂", "kind": "factory"})
        theirs = records.add_organisation(records.Actor(None), make_house(_west), {"name": "西村米厂", "kind": "factory"})
        db.session.flush()
        assert shown.value("person", "employer_id", mine.id) == "东村米厂"
        assert shown.value("person", "employer_id", theirs.id) == "—"
