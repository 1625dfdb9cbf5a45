"""The bulk path (fieldapp/push/bulk.py) gives exactly the answers and rows of the item-by-item path:
the same generated batch is pushed both ways onto the same starting state and everything is compared
(results, records, residences, Change rows, counters, receipts). Plus FastForms against the web forms."""
from __future__ import annotations

import uuid
from types import SimpleNamespace

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from fieldapp import records, sync
from fieldapp.extensions import db
from fieldapp.models import (Account, Change, CollectorDay, Conflict, Flag, House, Organisation, Person, Residence,
                             SyncReceipt, VillageCounter, VillageDay, Visit)
from fieldapp.push.bulk import FastForms
from fieldapp.push.forms import PERSON_FORM_FIELDS, house_data, person_form

from fieldapp.rules.identifiers import resident_id_check_digit

from .builders import make_account, make_town
from .sync_builders import house_new, organisation_new, person_new
from .sync_builders import update as update_item
from .sync_visit_builders import visit_new

FIXED = uuid.UUID("00000000-0000-4000-8000-000000000000")


def fixed_uid(n: int) -> str:
    return str(uuid.UUID(int=FIXED.int + n))


def _doc(body: str) -> str:
    return body + resident_id_check_digit(body)


# Documents: valid ones (one lower-case x to normalise), one registered in the seed, a broken one.
SEED_DOC = _doc("11010519700101001")
DOCS = [_doc("11010519850312001"), _doc("11010519850312003"), "11010519900101001" + "0", SEED_DOC.lower(),
        next(d for d in (_doc(f"1101051990010100{n}") for n in range(10)) if d.endswith("X")).lower()]


def seed(village_id, west_id):
    """The same starting registry each time: a collected house with a person, a register house not
    collected yet, and a house in another village."""
    actor = records.Actor(None, "import")
    collected = records.create_house(actor, village_id, {"group_name": "1", "number": "1", "use": "owner"},
                                     collected=True, uid=fixed_uid(1))
    register = records.create_house(actor, village_id, {"group_name": "1", "number": "2"}, collected=False,
                                    uid=fixed_uid(2))
    records.create_house(actor, west_id, {"group_name": "1", "number": "3"}, collected=True, uid=fixed_uid(3))
    records.add_person(actor, collected, {"name": "李四", "id_type": "111", "id_number": SEED_DOC, "sex": "1",
                                          "birth_date": None, "category": "local"}, uid=fixed_uid(4))
    db.session.commit()
    return collected.uid, register.uid


def wipe():
    db.session.rollback()
    for model in (Flag, Conflict, SyncReceipt, Visit, Change, Residence, Person, Organisation, House, CollectorDay,
                  VillageDay):
        db.session.execute(delete(model))
    db.session.execute(update(VillageCounter).values(people=0, houses=0, orgs=0))
    db.session.commit()


def snapshot() -> dict:
    """Everything the push wrote, by uid (ids and door codes differ between runs)."""
    db.session.rollback()
    house_uid = dict(db.session.execute(select(House.id, House.uid)).all())
    person_uid = dict(db.session.execute(select(Person.id, Person.uid)).all())
    org_uid = dict(db.session.execute(select(Organisation.id, Organisation.uid)).all())
    uid_of = {"house": house_uid, "person": person_uid, "organisation": org_uid}
    visit_uid = dict(db.session.execute(select(Visit.id, Visit.uid)).all())
    skip = {"id", "door_code", "door_token", "created_at", "updated_at", "collected_at", "house_id", "employer_id",
            "position_visit_id", "received_at"}

    def row(record):
        out = {c.name: getattr(record, c.key) for c in record.__table__.columns if c.name not in skip}
        if hasattr(record, "house_id"):
            out["house"] = house_uid.get(record.house_id)
        if isinstance(record, House):
            out["collected"] = record.collected_at is not None
            out["position_visit"] = visit_uid.get(record.position_visit_id)
        return out

    def change(c):
        fields = dict(c.fields)
        if "house_id" in fields:
            fields["house_id"] = [house_uid.get(v) for v in fields["house_id"]]
        return (c.entity, uid_of[c.entity].get(c.entity_id), c.version, c.kind, repr(sorted(fields.items())),
                c.police_only, c.source, c.known_on, c.collected_by_id, c.visit_uid, c.door_proof)

    state = {
        "houses": sorted((row(h) for h in db.session.scalars(select(House))), key=lambda r: r["uid"]),
        "people": sorted((row(p) for p in db.session.scalars(select(Person))), key=lambda r: r["uid"]),
        "visits": sorted((row(v) for v in db.session.scalars(select(Visit))), key=lambda r: r["uid"]),
        "orgs": sorted((row(o) for o in db.session.scalars(select(Organisation))), key=lambda r: r["uid"]),
        "residences": sorted(((person_uid[r.person_id], house_uid[r.house_id], r.from_date, r.to_date, r.relation,
                               r.room) for r in db.session.scalars(select(Residence))), key=repr),
        "changes": sorted((change(c) for c in db.session.scalars(select(Change))), key=repr),
        "counters": sorted((c.village_id, c.people, c.houses, c.orgs) for c in db.session.scalars(select(VillageCounter))),
        "collector_days": sorted((d.account_id, d.village_id, d.day, d.records, d.door_proof, d.visits, d.scans)
                                 for d in db.session.scalars(select(CollectorDay))),
        "village_days": sorted((d.village_id, d.day, d.people, d.houses, d.orgs)
                               for d in db.session.scalars(select(VillageDay))),
        "receipts": sorted((r.item_uid, r.op, r.entity_uid, r.record_uid, r.status, r.waits_for, r.payload_hash,
                            repr(r.result), repr(r.payload), r.collected_at)
                           for r in db.session.scalars(select(SyncReceipt))),
    }
    db.session.rollback()
    return state


PERSON_VARIANTS = [
    {}, {"phone": "13812345678"}, {"phone": "138 1234 5678"}, {"phone": "0571-88123456"}, {"phone": "123"},
    {"sex": "2"}, {"sex": 1}, {"category": "migrant"}, {"category": "migrant", "move_in_reason": "work",
                                                        "away_duration": "lt6m"},
    {"hukou_division": "４３１１２１"}, {"hukou_division": "43112"}, {"nationality": "kor"}, {"name": "  "},
    {"name": "王\x00五"}, {"move_in_date": "2099-01-01"}, {"move_in_date": "2016-1-5"}, {"birth_date": "1985-03-12"},
    {"relation": "02", "room": "东"}, {"relation": "zz"}, {"ethnicity": "99"}, {"id_type": "414"},
    {"category": "abroad"}, {"hukou_address": "x" * 129}, {"known_on": "2099-01-01"}, {"employer_uid": None},
]
HOUSE_VARIANTS = [
    {}, {"number": ""}, {"use": "castle"}, {"owner_phone": "13812345678"}, {"owner_phone": "1"},
    {"rental_registered": True}, {"rental_registered": True, "rental_record_no": "R1"}, {"lat": 95.0},
    {"lat": 30.5, "lon": 110.25}, {"room": " "}, {"building": "b" * 33}, {"rental_registered": "false"},
]


@st.composite
def plans(draw):
    """A batch as a list of steps, each naming a kind of item and its variant."""
    return draw(st.lists(st.tuples(st.sampled_from(["house", "person", "person", "person", "org", "update",
                                                    "repeat", "reuse", "visit"]),
                                   st.integers(0, 100), st.integers(0, 100)), min_size=1, max_size=14))


def build(plan, east_id, west_id, collected_uid, register_uid):
    items, houses, people, visits = [], [], [], []
    serial = 100
    for kind, a, b in plan:
        serial += 1
        if kind == "house":
            village = west_id if a % 9 == 0 else east_id
            item = house_new(village, number=str(a), entity_uid=fixed_uid(serial))
            variant = HOUSE_VARIANTS[b % len(HOUSE_VARIANTS)]
            item["data"].update(variant)
            item["data"] = {k: v for k, v in item["data"].items() if v != ""} if "number" not in variant else item["data"]
            houses.append(item["entity_uid"])
        elif kind in ("person", "org"):
            targets = houses + [collected_uid, register_uid, fixed_uid(3), fixed_uid(900 + a % 3)]
            house = targets[a % len(targets)]
            if kind == "org":
                item = organisation_new(house, entity_uid=fixed_uid(serial),
                                        **({"uscc": "91350100M000100Y43"} if b % 2 else {}))
            else:
                doc = (DOCS + [SEED_DOC])[b % (len(DOCS) + 1)]
                item = person_new(house, entity_uid=fixed_uid(serial), id_number=doc, sex="1", birth_date="x")
                item["data"].pop("sex", None)
                item["data"].pop("birth_date", None)
                variant = dict(PERSON_VARIANTS[(a + b) % len(PERSON_VARIANTS)])
                if "known_on" in variant:
                    item["known_on"] = variant.pop("known_on")
                item["data"].update(variant)
                people.append(item["entity_uid"])
            if visits and b % 3 == 0:
                item["visit_uid"] = visits[b % len(visits)]
        elif kind == "visit":
            targets = houses + [collected_uid, register_uid]
            item = visit_new(targets[a % len(targets)], "scan" if b % 3 else "code", 30.0 + b / 1000, 110.0,
                             10 if b % 2 else 80, uid=fixed_uid(20_000 + serial))
            visits.append(item["uid"])
            items.append(item)
            continue
        elif kind == "update":
            if people and a % 2:
                item = update_item("person.update", people[a % len(people)], 1, phone="13912345678")
            elif houses:
                item = update_item("house.update", houses[a % len(houses)], 1, owner_name="王五")
            else:
                continue
        elif kind == "repeat" and items:
            item = items[a % len(items)]
        elif kind == "reuse" and items:
            original = items[a % len(items)]
            item = {**original, "known_on": "2016-05-02"}
        else:
            continue
        if kind not in ("repeat", "reuse"):
            item["uid"] = fixed_uid(10_000 + serial)
            item["collected_at"] = "2016-05-02T09:30:00Z"
        items.append(item)
    return items


@settings(max_examples=60, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate], suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(plan=plans(), split=st.integers(1, 14))
def test_bulk_and_item_by_item_give_the_same_answers_and_rows(ctx, plan, split):
    if not hasattr(ctx, "_bulk_town"):
        town, (east, west) = make_town()
        ctx._bulk_town = (make_account(town, "collector", [east]).id, east.id, west.id)
    account_id, east_id, west_id = ctx._bulk_town
    outcomes = []
    with ctx.test_request_context():
        for bulk in (True, False):
            outcomes.append(push_both_ways(plan, split, bulk, account_id, east_id, west_id))
    (bulk_results, bulk_state), (one_results, one_state) = outcomes
    assert bulk_results == one_results
    for name in bulk_state:
        assert bulk_state[name] == one_state[name], name


def push_both_ways(plan, split, bulk, account_id, east_id, west_id):
    wipe()
    collected_uid, register_uid = seed(east_id, west_id)
    account = db.session.get(Account, account_id)
    items = build(plan, east_id, west_id, collected_uid, register_uid)
    # Two pushes: the second meets receipts, held items and records of the first.
    results = sync.push(account, None, items[:split], bulk=bulk)
    results += sync.push(account, None, items[split:], bulk=bulk) if items[split:] else []
    return results, snapshot()


def test_a_typical_batch_takes_the_bulk_path(ctx, monkeypatch):
    """The common batch (new houses and their residents) never falls back to the item-by-item path."""
    town, (east, _west) = make_town()
    account = make_account(town, "collector", [east])
    items = []
    for n in range(3):
        house = house_new(east.id, number=str(n), owner_phone="13812345678")
        items += [house] + [person_new(house["entity_uid"], phone="13812345678") for _ in range(4)]
    calls = []
    monkeypatch.setattr(sync, "_push_one", lambda *a: calls.append(a))
    results = sync.push(account, None, items)
    assert calls == [] and {r["status"] for r in results} == {"accepted"}
    db.session.rollback()
    counter = db.session.get(VillageCounter, east.id)
    assert (counter.people, counter.houses) == (12, 3)
    assert records.recount()[east.id] == (12, 3, 0)


TEXT = st.one_of(st.none(), st.just(""), st.just(" "), st.text(max_size=6),
                 st.sampled_from(["1", "2", "01", "111", "414", "local", "migrant", "abroad", "work", "lt6m",
                                  "13812345678", "0571-88123456", "KOR", "431121", "2016-01-01", "2099-01-01",
                                  "x" * 70, "owner", "rented"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.fixed_dictionaries({}, optional={n: TEXT for n in PERSON_FORM_FIELDS}),
       doc=st.sampled_from(DOCS + ["110105198503120012", "X10105198503120011"]))
def test_fast_person_rules_accept_only_what_the_form_accepts(ctx, data, doc):
    data = {**data, "id_number": data.get("id_number", doc) if data.get("id_number") else doc}
    context = SimpleNamespace(lang="zh", police=False, account=None)  # what the form rules read of a push
    with ctx.test_request_context():
        fast = FastForms(context).person(data)
        if fast is None:
            return
        form = person_form(context, data, None)  # raises Rejected if the form refuses
        assert fast == (form.record_data(), form.relation.data or None, form.room.data or None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.fixed_dictionaries({}, optional={**{n: TEXT for n in records.HOUSE_FIELDS if n not in ("lat", "lon")},
                                                "rental_registered": st.one_of(st.none(), st.booleans(), TEXT)}))
def test_fast_house_rules_accept_only_what_the_form_accepts(ctx, data):
    context = SimpleNamespace(lang="zh", police=False, account=None)
    with ctx.test_request_context():
        fast = FastForms(context).house(data)
        if fast is None:
            return
        assert fast == house_data(data)


def test_a_run_that_meets_a_unique_index_is_redone_item_by_item(ctx, monkeypatch):
    """Another push writing the same uids at the same moment makes the run's INSERT fail: the run is
    rolled back to its savepoint and its items answered one by one, nothing lost or doubled."""
    from sqlalchemy.exc import IntegrityError

    town, (east, _west) = make_town()
    account = make_account(town, "collector", [east])
    house = house_new(east.id)
    items = [house, person_new(house["entity_uid"]), person_new(house["entity_uid"])]
    real, calls = records.insert_new, []

    def racing(new, house_ids):
        calls.append(len(new))
        real(new, house_ids)  # written, then the unique index of a concurrent writer bites
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    monkeypatch.setattr(records, "insert_new", racing)
    with ctx.test_request_context():
        results = sync.push(account, None, items)
    assert calls == [3]
    assert [r["status"] for r in results] == ["accepted"] * 3
    db.session.rollback()
    counter = db.session.get(VillageCounter, east.id)
    assert (counter.people, counter.houses) == (2, 1)
    assert len(db.session.scalars(select(SyncReceipt)).all()) == 3
    assert len(db.session.scalars(select(Change)).all()) == 3
    assert records.recount()[east.id] == (2, 1, 0)


def test_a_document_registered_earlier_in_the_push_is_seen_without_a_retry(ctx, monkeypatch):
    """A person.new that went item by item (an employer), or one of an earlier run, registers a
    document; a later person.new with it is matched to that person, without leaning on the unique
    index (no run is redone)."""
    town, (east, _west) = make_town()
    account = make_account(town, "collector", [east])
    house = house_new(east.id)
    first = person_new(house["entity_uid"], employer_uid=None)
    again = person_new(house["entity_uid"], id_number=first["data"]["id_number"])
    other = house_new(east.id, number="8")
    third = person_new(other["entity_uid"], id_number=first["data"]["id_number"])
    redone = []
    monkeypatch.setattr("fieldapp.push.bulk.Bulk._redo_one_by_one", lambda self: redone.append(1))
    with ctx.test_request_context():
        results = sync.push(account, None, [house, first, again, other, third])
    assert redone == []
    assert [r["status"] for r in results] == ["accepted"] * 5
    assert results[2]["record"]["uid"] == results[4]["record"]["uid"] == first["entity_uid"]
    db.session.rollback()
    assert len(db.session.scalars(select(Person)).all()) == 1
