"""Tip tasks on the collector's phone (fieldapp/tips/phone.py): the work package's last page carries
the tips a collector may act on, and op tip.verify brings back what was found at the door, under
the web's rules (the assignee's own visit after the tip arrived; a note for an invalid tip)."""
from __future__ import annotations

from datetime import datetime, timedelta, UTC

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Tip, Visit, utcnow

from .builders import make_account, make_house, make_town
from .sync_builders import device_token, new_uid, push_http
from .sync_visit_builders import visit_new
from .tips_builders import make_tip, make_visit


@pytest.fixture
def world(ctx):
    town, (east, west) = make_town()
    house = make_house(east, number="27", group="3", collected=True)
    return {"east": east, "west": west, "house": house,
            "other": make_house(west, number="5", group="1", collected=True),
            "collector": make_account(town, "collector", [east]),
            "colleague": make_account(town, "collector", [east]),
            "informant": make_account(town, "informant", [east])}


def _now_text(delta_s: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta_s)).strftime("%Y-%m-%dT%H:%M:%SZ")


def verify_item(tip, verdict="valid", note=None, house_uid=None, visit_uid=None) -> dict:
    item = {"uid": new_uid(), "op": "tip.verify", "entity_uid": tip.uid, "house_uid": house_uid,
            "data": {"verdict": verdict, **({"note": note} if note is not None else {})},
            "collected_at": _now_text()}
    if visit_uid:
        item["visit_uid"] = visit_uid
    return item


def package(client, token, **params) -> dict:
    response = client.get("/api/sync/package", query_string={"cursor": 0, **params},
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_the_last_package_page_lists_the_collectors_tip_tasks(world, client):
    east, house = world["east"], world["house"]
    old = utcnow() - timedelta(days=10)
    overdue = make_tip(east, house, received_at=old, details="三楼新搬来一家")
    mine = make_tip(east, house, state="assigned", assigned_to=world["collector"])
    unplaced = make_tip(east, None, address_text="3组27号旁边的平房")
    make_tip(east, house, state="assigned", assigned_to=world["colleague"])  # a colleague's task
    make_tip(east, house, state="valid")  # verified: no longer a task
    make_tip(world["west"], world["other"])  # not the collector's village
    token = device_token(world["collector"])

    body = package(client, token)
    tasks = body["tip_tasks"]
    assert [t["uid"] for t in tasks] == [overdue.uid, mine.uid, unplaced.uid]  # overdue first, then by due day
    first = tasks[0]
    assert (first["house_uid"], first["state"], first["mine"], first["overdue"], first["details"]) == \
        (house.uid, "new", False, True, "三楼新搬来一家")
    assert (tasks[1]["mine"], tasks[1]["overdue"], tasks[2]["house_uid"], tasks[2]["address_text"]) == \
        (True, False, None, "3组27号旁边的平房")
    assert "13912345678" not in str(tasks)  # a public tip's contact phone stays on the web page

    # Only the last page carries them (the phone replaces its list with it); informants get none.
    assert "tip_tasks" not in package(client, token, limit=1)
    assert "tip_tasks" not in package(client, device_token(world["informant"]))


def test_a_verdict_pushed_after_its_visit_verifies_the_tip(world, client):
    tip = make_tip(world["east"], world["house"], received_at=utcnow() - timedelta(hours=1))
    token = device_token(world["collector"])
    visit = visit_new(world["house"].uid, at=_now_text(-60))
    item = verify_item(tip, "valid", note="确有新住户", visit_uid=visit["uid"])
    results = push_http(client, token, [visit, item])
    assert [r["status"] for r in results] == ["accepted", "accepted"], results
    assert results[1]["record"] == {"uid": tip.uid, "version": 3}  # taken, then verified

    db.session.expire_all()
    tip = db.session.get(Tip, tip.id)
    proof = db.session.scalar(select(Visit).where(Visit.uid == visit["uid"]))
    assert (tip.state, tip.verdict, tip.assigned_to_id, tip.verified_by_id, tip.verify_visit_id, tip.verify_note) == \
        ("valid", "valid", world["collector"].id, world["collector"].id, proof.id, "确有新住户")
    # Verified when the collector decided, not when the phone found signal.
    assert tip.verified_at == datetime.strptime(item["collected_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert {a.action for a in db.session.scalars(select(AuditEvent).where(AuditEvent.target == f"tip:{tip.id}"))} == \
        {"tip_take", "tip_valid"}

    [again] = push_http(client, token, [item])
    assert again["status"] == "duplicate" and again["original"] == results[1]
    assert "tip_tasks" in package(client, token) and package(client, token)["tip_tasks"] == []


def test_a_verdict_from_a_phone_whose_clock_is_a_day_behind_still_counts_its_visit(world, client):
    """Its visit would otherwise look a day older than the tip and never count."""
    tip = make_tip(world["east"], world["house"], received_at=utcnow() - timedelta(hours=1))
    phone_now = datetime.now(UTC) - timedelta(days=1)
    visit = visit_new(world["house"].uid, at=(phone_now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    item = {**verify_item(tip, "valid", visit_uid=visit["uid"]), "collected_at": phone_now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    response = client.post("/api/sync/push", headers={"Authorization": f"Bearer {device_token(world['collector'])}"},
                           json={"items": [visit, item], "sent_at": phone_now.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert [r["status"] for r in response.json["results"]] == ["accepted", "accepted"], response.json
    db.session.expire_all()
    assert abs(db.session.get(Tip, tip.id).verified_at - utcnow()) < timedelta(minutes=1)


def test_a_tip_that_named_no_house_gets_the_house_visited(world, client):
    tip = make_tip(world["east"], None, address_text="3组那排平房", received_at=utcnow() - timedelta(hours=1))
    make_visit(world["house"], world["collector"])
    [result] = push_http(client, device_token(world["collector"]),
                         [verify_item(tip, "invalid", note="没有人搬来", house_uid=world["house"].uid)])
    assert result["status"] == "accepted", result
    db.session.expire_all()
    assert (db.session.get(Tip, tip.id).house_id, db.session.get(Tip, tip.id).verdict) == (world["house"].id, "invalid")


@pytest.mark.parametrize("case, code, field", [
    ("no_visit", "no_visit", "visit_uid"),
    ("visit_before_the_tip", "no_visit", "visit_uid"),
    ("colleague_visited", "no_visit", "visit_uid"),
    ("invalid_without_note", "note_required", "note"),
    ("bad_verdict", "bad_verdict", "verdict"),
    ("note_too_long", "too_long", "note"),
    ("colleagues_task", "not_assignee", None),
    ("already_verified", "wrong_state", None),
])
def test_refused_verdicts_say_what_to_do(world, client, case, code, field):
    from fieldapp.tips.views import MESSAGES
    east, house, collector = world["east"], world["house"], world["collector"]
    tip = make_tip(east, house, received_at=utcnow() - timedelta(hours=1),
                   state={"colleagues_task": "assigned", "already_verified": "valid"}.get(case, "new"),
                   assigned_to=world["colleague"] if case in ("colleagues_task", "already_verified") else None)
    if case == "visit_before_the_tip":
        make_visit(house, collector, at=tip.received_at - timedelta(minutes=5))
    elif case == "colleague_visited":
        make_visit(house, world["colleague"])
    elif case != "no_visit":
        make_visit(house, collector)
    verdict = {"invalid_without_note": "invalid", "bad_verdict": "maybe"}.get(case, "valid")
    note = "x" * 256 if case == "note_too_long" else "  " if case == "invalid_without_note" else None
    [result] = push_http(client, device_token(collector), [verify_item(tip, verdict, note=note)])
    assert (result["status"], result["code"]) == ("rejected", code), result
    with client.application.test_request_context():
        assert result["reason"] == str(MESSAGES[code])
    assert list(result["errors"]) == ([field] if field else [])
    db.session.expire_all()
    after = db.session.get(Tip, tip.id)
    assert (after.state, after.version) == (tip.state, tip.version)  # nothing of it applied, not even the take


@pytest.mark.parametrize("who, where, code", [
    ("informant", "east", "forbidden"), ("collector", "west", "out_of_scope")])
def test_verdicts_from_outside_the_tips_workers_or_villages_are_refused(world, client, who, where, code):
    tip = make_tip(world[where], world["house"] if where == "east" else world["other"])
    [result] = push_http(client, device_token(world[who]), [verify_item(tip)])
    assert (result["status"], result["code"]) == ("rejected", code)
    [unknown] = push_http(client, device_token(world["collector"]), [verify_item(type("T", (), {"uid": new_uid()}))])
    assert unknown["code"] == "out_of_scope"  # an unknown tip looks like one outside the villages


def test_an_informants_package_says_how_each_of_their_tips_was_checked(world, client):
    east, house, informant = world["east"], world["house"], world["informant"]
    sent = make_tip(east, house, informant=informant, received_at=utcnow() - timedelta(days=3))
    checked = make_tip(east, None, informant=informant, address_text="村口小卖部", state="valid",
                       received_at=utcnow() - timedelta(days=2), verified_at=utcnow(), verify_note="内部备注")
    make_tip(east, house)  # someone else's (a public tip): not listed
    body = package(client, device_token(informant))
    assert body["houses"] == [] and "tip_tasks" not in body  # informants still get no registry
    mine = body["my_tips"]
    assert [t["uid"] for t in mine] == [checked.uid, sent.uid]  # newest first
    assert (mine[0]["state"], mine[0]["verdict"], mine[0]["place"], mine[0]["verified_on"] is not None) == \
        ("valid", "valid", "村口小卖部", True)
    assert (mine[1]["state"], mine[1]["verdict"], mine[1]["place"]) == ("new", None, "东村3组27号")
    assert "内部备注" not in str(mine)  # the collector's note stays on the web page
