"""The work package: scope (villages, police-only people), deltas by cursor, removals, paging."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import update

from fieldapp import records, sync
from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Change, House, utcnow

from .builders import make_account, make_house, make_person, make_town
from .sync_builders import bearer, device_token, house_new


def package(client, token, cursor=0, limit=None):
    url = f"/api/sync/package?cursor={cursor}" + (f"&limit={limit}" if limit else "")
    response = client.get(url, headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json


def uids(body, kind):
    return {r["uid"] for r in body[kind]}


ABROAD = dict(id_type="414", id_number="E7654321", category="abroad", nationality="KOR",
              birth_date=date(1990, 1, 2), sex="2", move_in_reason="work")


def test_package_holds_only_the_accounts_villages_and_abroad_for_police(make_app):
    app = make_app(SYNC_CURSOR_OVERLAP_SECONDS=0)
    with app.app_context():
        town, (east, west) = make_town()
        home, away = make_house(east), make_house(west)
        local, foreigner, elsewhere = make_person(home), make_person(home, **ABROAD), make_person(away)
        shop = records.add_organisation(records.Actor(None), home, {"name": "店", "kind": "shop"})
        db.session.commit()
        collector = device_token(make_account(town, "collector", [east]))
        police = device_token(make_account(town, "police", [east]))
        client = app.test_client()
        body = package(client, collector)
        assert body["villages"] == [{"id": east.id, "name": east.name}]
        assert uids(body, "houses") == {home.uid}
        assert uids(body, "people") == {local.uid}
        assert uids(body, "organisations") == {shop.uid}
        assert body["removed"] == {"people": [], "organisations": []} and body["more"] is False
        person = body["people"][0]
        assert person["house_uid"] == home.uid and person["id_number"] == local.id_number
        assert elsewhere.uid not in str(body) and foreigner.uid not in str(body)
        assert uids(package(client, police), "people") == {local.uid, foreigner.uid}
        # Nothing changed since: the delta is empty.
        again = package(client, collector, body["cursor"])
        assert again["houses"] == again["people"] == [] and again["cursor"] == body["cursor"]
        db.session.rollback()
        assert db.session.scalar(db.select(db.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "sync_package")) == 3  # every page, the delta too


def test_deltas_after_changes_and_removals(make_app):
    app = make_app(SYNC_CURSOR_OVERLAP_SECONDS=0)
    with app.app_context():
        town, (east, west) = make_town()
        home, away = make_house(east), make_house(west)
        stays, leaves, moves, becomes_abroad = (make_person(home) for _ in range(4))
        shop = records.add_organisation(records.Actor(None), home, {"name": "店", "kind": "shop"})
        db.session.commit()
        token = device_token(make_account(town, "collector", [east]))
        client = app.test_client()
        cursor = package(client, token)["cursor"]
        actor = records.Actor(None)
        records.update_person(actor, stays, {"phone": "13812345678"}, stays.version)
        records.mark_left(actor, leaves, date(2016, 6, 1), "走了", leaves.version)
        records.move_person(actor, moves, away, date(2016, 6, 1))
        records.update_person(actor, becomes_abroad, {"category": "abroad", "nationality": "KOR"}, None)
        records.close_organisation(actor, shop, date(2016, 6, 1), shop.version)
        newcomer = make_person(away)  # in another village: never appears
        db.session.commit()
        delta = package(client, token, cursor)
        assert [p["uid"] for p in delta["people"]] == [stays.uid]
        assert delta["people"][0]["phone"] == "13812345678" and delta["people"][0]["version"] == 2
        assert set(delta["removed"]["people"]) == {leaves.uid, moves.uid, becomes_abroad.uid}
        assert delta["removed"]["organisations"] == [shop.uid]
        assert newcomer.uid not in str(delta)
        assert delta["cursor"] > cursor


def test_new_abroad_people_leave_no_trace_for_other_roles(make_app):
    app = make_app(SYNC_CURSOR_OVERLAP_SECONDS=0)
    with app.app_context():
        town, (east, _west) = make_town()
        home = make_house(east)
        token = device_token(make_account(town, "collector", [east]))
        client = app.test_client()
        cursor = package(client, token)["cursor"]
        foreigner = make_person(home, **ABROAD)
        records.mark_left(records.Actor(None), foreigner, date(2016, 7, 1), "回国", None)
        db.session.commit()
        delta = package(client, token, cursor)
        assert foreigner.uid not in str(delta)


def test_paging_with_more(make_app):
    app = make_app(SYNC_CURSOR_OVERLAP_SECONDS=0)
    with app.app_context():
        town, (east, _west) = make_town()
        houses = [make_house(east, number=str(n)) for n in range(5)]
        token = device_token(make_account(town, "collector", [east]))
        client = app.test_client()
        seen, cursor, pages = set(), 0, 0
        while True:
            body = package(client, token, cursor, limit=2)
            seen |= uids(body, "houses")
            cursor, pages = body["cursor"], pages + 1
            if not body["more"]:
                break
        assert seen == {h.uid for h in houses} and pages == 3


def test_the_cursor_lags_behind_recent_changes(ctx):
    """A change that may still have an uncommitted sibling with a lower id is not passed: the next
    pull re-sends it (PostgreSQL sequences do not commit in id order)."""
    town, (east, _west) = make_town()
    old = make_house(east, number="1")
    account = make_account(town, "collector", [east])
    db.session.execute(update(Change).values(collected_at=utcnow() - timedelta(hours=1)))
    db.session.execute(update(House).values(updated_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    recent = make_house(east, number="2")
    body = sync.build_package(account, 0)
    assert {h["uid"] for h in body["houses"]} == {old.uid, recent.uid}
    old_change = db.session.scalar(db.select(db.func.max(Change.id)).where(Change.entity_id == old.id))
    assert body["cursor"] == old_change
    assert {h["uid"] for h in sync.build_package(account, body["cursor"])["houses"]} == {recent.uid}
    later = utcnow() + timedelta(seconds=sync.DEFAULT_OVERLAP_SECONDS + 1)
    settled = sync.build_package(account, body["cursor"], now=later)
    assert settled["cursor"] > old_change
    assert sync.build_package(account, settled["cursor"], now=later)["houses"] == []


def test_a_change_collected_long_ago_but_pushed_now_does_not_move_the_cursor(ctx):
    """A pushed change carries the phone's collected_at (the 3-working-day rule counts to it), which
    may be hours before it reached the server: the cursor must not treat it as settled."""
    town, (east, _west) = make_town()
    make_house(east, number="1")
    account = make_account(town, "collector", [east])
    db.session.execute(update(Change).values(collected_at=utcnow() - timedelta(hours=1)))
    db.session.execute(update(House).values(updated_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    old_change = db.session.scalar(db.select(db.func.max(Change.id)))
    item = house_new(east.id)
    item["collected_at"] = (utcnow() - timedelta(hours=2)).isoformat() + "Z"
    [result] = sync.push(account, None, [item])
    assert result["status"] == "accepted"
    pushed = db.session.scalar(db.select(Change).where(Change.id > old_change))
    assert pushed.collected_at < utcnow() - timedelta(minutes=90)  # the phone's moment, not ours
    body = sync.build_package(account, 0)
    assert body["cursor"] == old_change
    assert item["entity_uid"] in {h["uid"] for h in sync.build_package(account, body["cursor"])["houses"]}


def test_informants_get_villages_only(make_app):
    app = make_app()
    with app.app_context():
        town, (east, _west) = make_town()
        make_person(make_house(east))
        token = device_token(make_account(town, "informant", [east]))
        body = package(app.test_client(), token)
        assert body["villages"] and body["houses"] == body["people"] == []


def test_a_cursor_past_the_id_range_is_a_bad_request_on_every_backend(ctx, client):
    """Change.id is a 32-bit integer: PostgreSQL refused a larger cursor with a 500 (found by the
    API fuzzer)."""
    town, (east, _west) = make_town()
    token = device_token(make_account(town, "collector", [east]))
    assert client.get(f"/api/sync/package?cursor={sync.MAX_CURSOR}", headers=bearer(token)).status_code == 200
    response = client.get(f"/api/sync/package?cursor={sync.MAX_CURSOR + 1}", headers=bearer(token))
    assert response.status_code == 400 and response.json["error"] == "bad_request"
