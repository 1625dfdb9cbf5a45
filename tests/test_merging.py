"""Merging two records of one person and two houses at one address (fieldapp/merging.py), and the
rule that one address is one house (rules.address.address_identity)."""
from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from fieldapp import merging, records
from fieldapp.doors.codes import lookup
from fieldapp.extensions import db
from fieldapp.models import (Change, Flag, House, Person, Photo, Residence, RetiredDoorCode, Visit,
                             VillageCounter)
from fieldapp.sync import build_package

from .builders import make_account, make_house, make_person, make_town, send, text_of
from .sync_builders import device_token, house_new, push_http


def _counts(village_id):
    db.session.rollback()
    counter = db.session.get(VillageCounter, village_id)
    db.session.refresh(counter)
    return counter.people, counter.houses


def _recount_matches(village_id):
    live = _counts(village_id)
    records.recount()
    db.session.commit()
    return live == _counts(village_id)


# --- people ---------------------------------------------------------------------------------

def _people_world():
    town, (east, west) = make_town()
    reviewer = make_account(town, "reviewer", [east])
    house_a = make_house(east, number="1", collected=True)
    house_b = make_house(east, number="2", collected=True)
    keep = make_person(house_a, name="张三", phone=None, move_in_date=date(2015, 1, 1))
    other = make_person(house_b, name="张叁", phone="13812345678", move_in_date=date(2019, 3, 1))
    return town, east, west, reviewer, keep, other


def test_merge_people_keeps_both_histories_and_counts_once(ctx, login):
    town, east, _west, reviewer, keep, other = _people_world()
    db.session.add(Photo(uid="p" * 36, of_entity="person", of_uid=other.uid, bytes=1, original_bytes=1,
                         width=1, height=1))
    db.session.commit()
    assert _counts(east.id)[0] == 2
    client = login(reviewer)
    page = send(client, "GET", f"/review/people/merge?keep={keep.id}&other={other.id}")
    assert page.status_code == 200
    assert "13812345678" not in text_of(page)  # masked
    response = send(client, "POST", f"/review/people/merge?keep={keep.id}&other={other.id}",
                    {"keep_version": keep.version, "other_version": other.version, "choice-name": "keep",
                     "choice-phone": "other"})
    assert response.status_code == 303
    db.session.rollback()
    kept, merged = db.session.get(Person, keep.id), db.session.get(Person, other.id)
    assert (kept.name, kept.phone) == ("张三", "13812345678")
    assert (merged.status, merged.merged_into_id) == ("merged", kept.id)
    residences = db.session.scalars(select(Residence).where(Residence.person_id == kept.id)).all()
    assert len(residences) == 2 and sum(r.to_date is None for r in residences) == 1
    assert _counts(east.id)[0] == 1 and _recount_matches(east.id)
    assert set(merging.history_ids(kept)) == {kept.id, merged.id}
    fields = [c.fields for c in db.session.scalars(select(Change).where(Change.entity == "person",
                                                                        Change.kind == "update"))]
    assert any("merged_into" in f for f in fields) and any("merged_from" in f for f in fields)
    assert db.session.scalar(select(Photo.of_uid)) == kept.uid
    assert records.find_record("person", merged.uid).id == kept.id  # phones holding the old uid
    removed = build_package(reviewer)["removed"]["people"]
    assert merged.uid in removed
    page = send(client, "GET", f"/people/{kept.id}")
    assert page.status_code == 200


def test_merge_people_scope_and_abroad(ctx, login):
    town, east, west, reviewer, keep, _other = _people_world()
    elsewhere = make_person(make_house(west, number="9", collected=True), name="李四")
    abroad = make_person(keep.house, name="境外约翰", id_type="414", id_number="E7654321", sex="1",
                         birth_date=date(1980, 5, 1), category="abroad", nationality="USA",
                         move_in_reason="work", ethnicity=None, hukou_type=None)
    client = login(reviewer)
    assert send(client, "GET", f"/review/people/merge?keep={keep.id}&other={elsewhere.id}").status_code == 404
    assert send(client, "POST", f"/review/people/merge?keep={keep.id}&other={elsewhere.id}", {}).status_code == 404
    assert send(client, "GET", f"/review/people/merge?keep={keep.id}&other={abroad.id}").status_code == 404
    police = make_account(town, "police", [east])
    assert send(login(police), "GET", f"/review/people/merge?keep={keep.id}&other={abroad.id}").status_code == 200
    collector = make_account(town, "collector", [east])
    assert send(login(collector), "GET", f"/review/people/merge?keep={keep.id}&other={_other.id}").status_code == 403


def test_second_merge_of_the_same_pair_is_told(ctx, login):
    _town, east, _west, reviewer, keep, other = _people_world()
    data = {"keep_version": keep.version, "other_version": other.version}
    client = login(reviewer)
    assert send(client, "POST", f"/review/people/merge?keep={keep.id}&other={other.id}", data).status_code == 303
    again = send(client, "POST", f"/review/people/merge?keep={other.id}&other={keep.id}", data)
    assert again.status_code == 422 and 'id="merge-error"' in again.text
    assert _counts(east.id)[0] == 1


def test_concurrent_person_merges_one_wins(app, ctx, backend):
    if backend != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite writes one transaction at a time")
    _town, east, _west, reviewer, keep, other = _people_world()
    ids, outcomes = (reviewer.id, keep.id, other.id), []
    barrier = threading.Barrier(2)

    def merge(keep_id, other_id):
        with app.app_context():
            from fieldapp.models import Account
            account = db.session.get(Account, ids[0])
            a, b = db.session.get(Person, keep_id), db.session.get(Person, other_id)
            barrier.wait()
            try:
                merging.merge_people(account, a, b, {})
                db.session.commit()
                outcomes.append("merged")
            except merging.MergeError as error:
                db.session.rollback()
                outcomes.append(error.code)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=merge, args=pair) for pair in ((ids[1], ids[2]), (ids[2], ids[1]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already_merged", "merged"]
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Person).where(Person.status == "merged")) == 1
    assert _counts(east.id)[0] == 1 and _recount_matches(east.id)


# --- houses ---------------------------------------------------------------------------------

def test_web_refuses_a_second_house_at_one_address(ctx, login):
    town, (east, _west) = make_town()
    collector = make_account(town, "collector", [east])
    first = make_house(east, number="1号", group="1组", collected=True)
    client = login(collector)
    response = send(client, "POST", f"/villages/{east.id}/houses/new",
                    {"group_name": "１", "number": "1", "road": "人民路", "use": "owner", "known_on": date.today().isoformat()})
    # a road makes it another address; without one it is the same
    assert response.status_code == 303
    response = send(client, "POST", f"/villages/{east.id}/houses/new",
                    {"group_name": "１", "number": "01", "use": "owner", "owner_name": "王五", "known_on": date.today().isoformat()})
    assert response.status_code == 422
    assert f"/houses/{first.id}" in response.text and "王五" in response.text  # link, input kept
    assert db.session.scalar(select(func.count()).select_from(House)) == 2


def test_phone_duplicate_is_kept_and_flagged_then_merged(ctx, login):
    town, (east, _west) = make_town()
    collector = make_account(town, "collector", [east])
    reviewer = make_account(town, "reviewer", [east])
    first = make_house(east, number="7", group="3", collected=True)
    person = make_person(first, name="住户甲")
    results = push_http(login(collector), device_token(collector), [house_new(east.id, number="7号", group="3组")])
    assert results[0]["status"] == "accepted"
    dup = db.session.scalar(select(House).where(House.id != first.id))
    assert dup.address_identity is None
    flag = db.session.scalar(select(Flag).where(Flag.kind == "duplicate_house"))
    assert (flag.key, flag.detail) == (f"duplicate_house:{dup.id}", {"other_house_id": first.id})
    resident = make_person(dup, name="住户乙")
    db.session.add(Visit(house_id=dup.id, village_id=east.id, account_id=collector.id, method="scan",
                         at=records.utcnow()))
    db.session.commit()
    dup_token = dup.door_token
    assert _counts(east.id)[1] == 2
    client = login(reviewer)
    house_page = send(client, "GET", f"/houses/{dup.id}")
    assert f"/review/houses/merge?keep={first.id}&amp;other={dup.id}" in house_page.text
    assert send(client, "GET", f"/review/houses/merge?keep={first.id}&other={dup.id}").status_code == 200
    response = send(client, "POST", f"/review/houses/merge?keep={first.id}&other={dup.id}",
                    {"keep_version": first.version, "other_version": dup.version})
    assert response.status_code == 303
    db.session.rollback()
    assert db.session.get(Person, resident.id).house_id == first.id
    assert db.session.get(Person, person.id).house_id == first.id
    assert db.session.scalar(select(Visit.house_id)) == first.id
    assert db.session.get(House, dup.id).merged_into_id == first.id
    state, found = lookup(dup_token)
    assert state == "live" and found.id == first.id  # the duplicate's label opens the kept house
    assert db.session.scalar(select(RetiredDoorCode.reason)) == "merged"
    flag = db.session.scalar(select(Flag).where(Flag.kind == "duplicate_house"))
    assert flag.cleared_at is not None and str(first.id) in flag.clear_note
    assert _counts(east.id)[1] == 1 and _recount_matches(east.id)
    assert records.find_record("house", dup.uid).id == first.id


def test_concurrent_phones_at_one_address(app, ctx, backend):
    if backend != "postgresql":
        pytest.skip("two writers at once: PostgreSQL (SQLite writes one transaction at a time)")
    town, (east, _west) = make_town()
    village_id, actor_ids = east.id, []
    db.session.commit()
    barrier = threading.Barrier(2)

    def create():
        with app.app_context():
            try:
                barrier.wait()
                records.create_house(records.Actor(None, "sync"), village_id, {"group_name": "5", "number": "5"},
                                     duplicates="flag")
                db.session.commit()
                actor_ids.append("ok")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert actor_ids == ["ok", "ok"]
    db.session.rollback()
    houses = db.session.scalars(select(House).order_by(House.id)).all()
    assert len(houses) == 2
    assert sum(h.address_identity is not None for h in houses) == 1
    unflagged = [h for h in houses if h.address_identity is None]
    assert db.session.scalar(select(Flag.entity_id).where(Flag.kind == "duplicate_house")) == unflagged[0].id


def test_house_merge_scope(ctx, login):
    town, (east, west) = make_town()
    reviewer = make_account(town, "reviewer", [east])
    a = make_house(east, number="1", collected=True)
    b = make_house(west, number="1", collected=True)
    assert send(login(reviewer), "GET", f"/review/houses/merge?keep={a.id}&other={b.id}").status_code == 404


def test_records_outside_forms_keep_a_duplicate_without_identity(ctx):
    _town, (east, _west) = make_town()
    a = make_house(east, number="3")
    b = make_house(east, number="3号")  # builders allow it: a register loaded before the rule
    assert a.address_identity is not None and b.address_identity is None
    assert records.house_at_address(east.id, {"group_name": "1组", "number": "０３"}).id == a.id


def test_demo_has_one_flagged_duplicate_pair(app, runner):
    result = runner.invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        flags = db.session.scalars(select(Flag).where(Flag.kind == "duplicate_house")).all()
        assert len(flags) == 1
        dup = db.session.get(House, flags[0].entity_id)
        other = db.session.get(House, flags[0].detail["other_house_id"])
        assert dup.address_identity is None and other.address_identity is not None
        assert dup.village_id == other.village_id
        assert db.session.scalar(select(func.count()).select_from(House).where(
            House.address_identity.is_(None))) == 1  # every other demo house has its identity


def test_bulk_push_keeps_and_flags_houses_at_held_addresses(ctx, login):
    town, (east, _west) = make_town()
    collector = make_account(town, "collector", [east])
    first = make_house(east, number="7", group="3", collected=True)
    items = [house_new(east.id, number="7号", group="3组"), house_new(east.id, number="8", group="3"),
             house_new(east.id, number="08号", group="３")]
    results = push_http(login(collector), device_token(collector), items)
    assert [r["status"] for r in results] == ["accepted"] * 3
    db.session.rollback()
    houses = {h.uid: h for h in db.session.scalars(select(House))}
    a, b, c = (houses[i["entity_uid"]] for i in items)
    assert a.address_identity is None and b.address_identity is not None and c.address_identity is None
    # (The detectors also raise no_scan on these visitless houses: only the duplicates matter here.)
    flagged = dict(db.session.execute(select(Flag.entity_id, Flag.detail).where(Flag.kind == "duplicate_house")).all())
    assert flagged == {a.id: {"other_house_id": first.id}, c.id: {"other_house_id": b.id}}


def test_house_pages_lead_to_the_kept_records(ctx, login):
    town, (east, _west) = make_town()
    reviewer = make_account(town, "reviewer", [east])
    keep, other = make_house(east, number="1", collected=True), make_house(east, number="1号", collected=True)
    merging.merge_houses(reviewer, keep, other, {})
    db.session.commit()
    client = login(reviewer)
    response = send(client, "GET", f"/houses/{other.id}")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/houses/{keep.id}")
    listing = send(client, "GET", f"/villages/{east.id}/houses")
    assert f"/houses/{other.id}\"" not in listing.text and f"/houses/{keep.id}\"" in listing.text
    assert _counts(east.id)[1] == 1 and _recount_matches(east.id)


def test_migration_fills_identities_and_leaves_existing_duplicates_null(make_app, tmp_path):
    from flask_migrate import downgrade, upgrade

    from fieldapp import MIGRATIONS
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'dups.sqlite'}")
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        _town, (east, _west) = make_town()
        ids = [make_house(east, number=n).id for n in ("3", "3号", "4")]
        db.session.commit()
        downgrade(directory=MIGRATIONS, revision="ca218bdb2f43")  # before the rule: duplicates exist
        upgrade(directory=MIGRATIONS)
        db.session.expire_all()
        got = [db.session.get(House, i).address_identity for i in ids]
        assert got[0] is None and got[1] is None and got[2] == f"{east.id}|1|||4||"
