"""Builders for the entry desk's tests: changes collected by a collector, waiting for review."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.models import Change, Flag
from tests.builders import make_house, make_person, person_data


def collected_person(village, collector, days_ago: int = 0, number: str | None = None, category="local", **data):
    """A person added by `collector` from a phone `days_ago` days ago; returns (person, its change)."""
    house = make_house(village, number=number or str(datetime.now().microsecond))
    moment = datetime.utcnow() - timedelta(days=days_ago)
    person, _outcome, _ = records.add_person(records.Actor(collector.id, "sync", collected_at=moment,
                                                           known_on=moment.date()),
                                             house, person_data(category=category, **data))
    db.session.commit()
    return person, db.session.scalar(select(Change).where(Change.entity == "person", Change.entity_id == person.id))


def flag(change, kind="no_scan"):
    db.session.add(Flag(key=f"{kind}:change:{change.id}", kind=kind, entity=change.entity, entity_id=change.entity_id,
                        change_id=change.id, village_id=change.village_id, account_id=change.collected_by_id))
    db.session.commit()


# --- the permission matrix (tests/test_permissions.py) ------------------------------------------

DESK_ENDPOINTS = {"review.review_entry": "approve", "review.approve_entry": "approve",
                  "review.return_entry": "return"}


def add_desk_targets(world, make_abroad_person) -> None:
    """Per target, pending changes nobody in the matrix collected (made by imports-as-web with no
    account): one to open and approve, one to return, one to approve in bulk (separate, so each
    row's decision is a real write)."""
    from fieldapp.models import House

    def person_change(person_id):
        return db.session.scalar(select(Change.id).where(Change.entity == "person", Change.entity_id == person_id)
                                 .order_by(Change.id))

    for key in ("own", "west", "town2", "abroad"):
        target = world.targets[key]
        house = db.session.get(House, target.house)
        extra = make_abroad_person(house, "境外批量") if key == "abroad" else make_person(house, name="批量甲")
        bulk = person_change(extra.id)
        target.desk = {"approve": person_change(target.person), "return": person_change(target.leaver), "bulk": bulk}
        assert all(target.desk.values())
    # "-" (the bulk route) is `own`; police tick the abroad item as well (theirs to decide).
    world.targets["own"].desk["bulk_all"] = [world.targets["own"].desk["bulk"], world.targets["abroad"].desk["bulk"]]


def matrix_url_args(endpoint: str, target) -> dict | None:
    if endpoint in DESK_ENDPOINTS:
        return {"change_id": target.desk[DESK_ENDPOINTS[endpoint]]}
    return None


def matrix_post_data(endpoint: str, target) -> dict | None:
    if endpoint == "review.return_entry":
        return {"reason-_": "请上门核实"}
    if endpoint == "review.approve_many":
        return {"change": target.desk.get("bulk_all") or [target.desk["bulk"]]}
    if endpoint == "review.approve_entry":
        return {}
    return None
