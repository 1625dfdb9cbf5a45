"""Builders for the entry desk's tests: changes collected by a collector, waiting for review."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.models import Change, Flag
from tests.builders import make_house, person_data


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
