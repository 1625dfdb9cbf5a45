"""Property: whatever the channel does to a batch of pushed items (duplicates, reordering, lost
answers with retries), every item is applied exactly once and the counters stay true."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update

from fieldapp import records, sync
from fieldapp.extensions import db
from fieldapp.models import (Change, Conflict, Flag, House, Organisation, Person, Residence, SyncReceipt,
                             VillageCounter)

from .builders import make_account, make_town
from .sync_builders import house_new, new_uid, person_new
from .sync_builders import update as update_item

HOUSE_FIELDS = ("owner_name", "tenant_name", "building")
PERSON_FIELDS = ("phone", "hukou_address")


@st.composite
def batches(draw):
    """Items of a few households: each house.new, its people, and updates each touching a field no
    other update of the record touches (so any order applies every one of them)."""
    plan = draw(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.lists(st.integers(0, 2), max_size=2)),
                         min_size=1, max_size=3))
    return plan


def build_items(village_id, plan):
    items, serial = [], 0
    for house_updates, _n, person_updates in plan:
        house = house_new(village_id, number=str(len(items) + 1))
        items.append(house)
        for field in HOUSE_FIELDS[:house_updates]:
            serial += 1
            items.append(update_item("house.update", house["entity_uid"], 1, **{field: f"v{serial}"}))
        for updates in person_updates:
            person = person_new(house["entity_uid"])
            items.append(person)
            for field in PERSON_FIELDS[:updates]:
                serial += 1
                value = f"1381234{serial:04d}" if field == "phone" else f"地址{serial}"
                items.append(update_item("person.update", person["entity_uid"], 1, **{field: value}))
    return items


def wipe():
    db.session.rollback()
    for model in (Flag, Conflict, SyncReceipt, Change, Residence, Person, Organisation, House):
        db.session.execute(delete(model))
    db.session.execute(update(VillageCounter).values(people=0, houses=0, orgs=0))
    db.session.commit()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(plan=batches(), data=st.data())
def test_lossy_channel_applies_every_item_exactly_once(ctx, plan, data):
    if not hasattr(ctx, "_sync_town"):
        town, (east, _west) = make_town()
        ctx._sync_town = (make_account(town, "collector", [east]).id, east.id)
    account_id, village_id = ctx._sync_town
    wipe()
    from fieldapp.models import Account
    account = db.session.get(Account, account_id)
    items = build_items(village_id, plan)
    pending = {item["uid"]: item for item in items}
    answered = {}
    for round_no in range(40):
        if not pending:
            break
        lossy = round_no < 30
        chosen = data.draw(st.lists(st.sampled_from(sorted(pending)), min_size=1, unique=True), label="send")
        repeats = data.draw(st.lists(st.sampled_from(sorted(answered) or [chosen[0]]), max_size=2), label="repeat")
        batch = [pending.get(uid) or answered[uid] for uid in chosen + repeats]
        batch = data.draw(st.permutations(batch), label="order")
        results = sync.push(account, None, batch)
        assert len(results) == len(batch)
        for item, result in zip(batch, results):
            assert result["uid"] == item["uid"]
            assert result["status"] in ("accepted", "held", "duplicate"), result
        if lossy and data.draw(st.booleans(), label="answer lost"):
            continue  # the client never saw the answers: it sends those items again later
        for item in batch:
            answered[item["uid"]] = item
            pending.pop(item["uid"], None)
    assert not pending
    db.session.rollback()
    receipts = list(db.session.scalars(select(SyncReceipt)))
    assert sorted(r.item_uid for r in receipts) == sorted(i["uid"] for i in items)
    assert {r.status for r in receipts} == {"accepted"}
    assert db.session.scalar(select(func.count()).select_from(Change).where(Change.source == "sync")) == len(items)
    kept = {c.village_id: (c.people, c.houses, c.orgs) for c in db.session.scalars(select(VillageCounter))}
    assert kept == records.recount()
    db.session.rollback()
    houses = sum(1 for i in items if i["op"] == "house.new")
    people = sum(1 for i in items if i["op"] == "person.new")
    assert kept[village_id] == (people, houses, 0)
    assert new_uid() not in {r.item_uid for r in receipts}
