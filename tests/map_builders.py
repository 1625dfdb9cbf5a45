"""Builders for the map's tests: visits, tips, conflicts and undocumented changes on houses.

Rows are added directly (the visit and tip writers belong to other areas and are not what these
tests are about); each builder commits, like tests/builders.py."""
from __future__ import annotations

from datetime import date, datetime

from fieldapp.extensions import db
from fieldapp.models import Change, Conflict, Tip, Visit


def make_visit(house, account, method: str = "scan", at: datetime | None = None) -> Visit:
    visit = Visit(house_id=house.id, village_id=house.village_id, account_id=account.id, method=method,
                  at=at or datetime(2016, 5, 3, 9, 30))
    db.session.add(visit)
    db.session.commit()
    return visit


def make_tip(house, state: str = "new") -> Tip:
    tip = Tip(house_id=house.id, village_id=house.village_id, kind="move_in", source="informant",
              submitted_at=datetime(2016, 5, 3, 8), due_on=date(2016, 5, 6), state=state)
    db.session.add(tip)
    db.session.commit()
    return tip


def make_conflict(entity: str, entity_id: int, resolved: bool = False) -> Conflict:
    conflict = Conflict(entity=entity, entity_id=entity_id, field="use", base="owner", current="rented",
                        submitted="vacant", resolved_at=datetime(2016, 5, 4) if resolved else None)
    db.session.add(conflict)
    db.session.commit()
    return conflict


def make_undocumented_change(house, visit: Visit, door_proof: bool = False) -> Change:
    """A record collected under `visit`; without door proof unless said otherwise."""
    change = Change(entity="house", entity_id=house.id, village_id=house.village_id, kind="update",
                    fields={"use": [None, "owner"]}, source="sync", visit_uid=visit.uid, door_proof=door_proof)
    db.session.add(change)
    db.session.commit()
    return change
