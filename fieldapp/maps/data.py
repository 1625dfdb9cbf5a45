"""The map's data: house points by state, village progress markers, one house's popup.

Plain functions over indexed queries, one query per kind of fact for a whole set of villages
(houses by village, visits by village, open tips by village and state, unresolved conflicts),
never a query per house. The state rule itself is rules.map_state (read it for "flagged").

The points payload is compact JSON: houses are arrays [id, lat, lon, state index], grouped by
village so a live update can replace one village's points. Houses without a position are counted
(per state and as "unplaced") but not drawn. Positions are WGS-84 (GPS), rounded to 5 decimals
(about 1 m): the phone's fix is no better than that.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import and_, case, exists, func, select

from ..extensions import db
from ..flags.service import flagged_houses
from ..models import (Change, Conflict, DashboardEvent, Flag, House, Organisation, Person, Tip, Village,
                      VillageCounter, Visit)
from ..rules.address import format_address
from ..rules.campaign import percent
from ..rules.map_state import NOT_VISITED, OPEN_TIP_STATES, STATES, state_of, states_by_house
from ..rules.permissions import POLICE_ONLY_CATEGORIES

CHUNK = 500  # ids per IN (...): well under SQLite's parameter limit


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _visible_person(with_police_only: bool):
    """People a viewer may know about: without police rights, people from abroad do not exist."""
    return True if with_police_only else Person.category.not_in(POLICE_ONLY_CATEGORIES)


# --- facts per house, for a set of villages or for one house ----------------------------------

def visits_by_house(where_visit) -> tuple[set[int], set[int]]:
    """(houses with at least one Visit, houses where a record was collected without door proof),
    from one pass over the visits (`where_visit` limits them by village or house).

    Without door proof (rules.map_state, flag (b)): a Change with door_proof false collected under
    one of the house's visits that was not a scan. CASE looks up the changes.visit_uid index only
    for those visits (typed code or list, the minority). Sets drop repeat visits: cheaper than
    DISTINCT, which needs a temporary b-tree."""
    undocumented = exists().where(Change.visit_uid == Visit.uid, Change.door_proof.is_(False))
    rows = db.session.execute(select(Visit.house_id, case((Visit.method == "scan", 0), (undocumented, 1), else_=0))
                              .where(where_visit)).all()
    return {house_id for house_id, _u in rows}, {house_id for house_id, u in rows if u}


def houses_with_open_tips(where_tip) -> set[int]:
    """Houses named by a tip in state new or assigned (index tips(village_id, state) or tips(house_id))."""
    return set(db.session.scalars(select(Tip.house_id).where(
        where_tip, Tip.state.in_(OPEN_TIP_STATES), Tip.house_id.is_not(None)).distinct()))


def houses_in_conflict(house_ids: set[int] | None, with_police_only: bool) -> set[int]:
    """Houses with an unresolved Conflict on themselves or on a person living there now (flag (a)).

    Unresolved conflicts are few (a reviewer clears them), so they are read once and mapped to
    houses; `house_ids` limits the answer to the houses asked about (None: any)."""
    pending = db.session.execute(select(Conflict.entity, Conflict.entity_id).where(
        Conflict.resolved_at.is_(None), Conflict.entity.in_(("house", "person")))).all()
    found = {entity_id for entity, entity_id in pending if entity == "house"}
    person_ids = sorted({entity_id for entity, entity_id in pending if entity == "person"})
    for chunk in _chunks(person_ids):
        found.update(db.session.scalars(select(Person.house_id).where(
            Person.id.in_(chunk), Person.status == "living", Person.house_id.is_not(None),
            _visible_person(with_police_only))))
    return found if house_ids is None else found & house_ids


# --- the points payload ---------------------------------------------------------------------

def fingerprint(villages: list[Village], with_police_only: bool) -> str:
    """A cheap validator (the weak ETag's value) for points(villages): changes whenever the payload may change.

    It reads index maxima and small counts, not the houses: registry writes add a DashboardEvent
    (changefeed.py), visits and tips and conflicts add rows (max id), tips and conflicts leave the open
    set only by changing state (count of open ones). Village names, positions and quotas are in the
    village rows the caller already has."""
    ids = sorted(v.id for v in villages)
    probes = [
        select(func.max(DashboardEvent.id)), select(func.count(DashboardEvent.id)),
        select(func.max(Visit.id)), select(func.max(Tip.id)),
        select(func.count(Tip.id)).where(Tip.village_id.in_(ids), Tip.state.in_(OPEN_TIP_STATES)),
        select(func.max(Conflict.id)), select(func.count(Conflict.id)).where(Conflict.resolved_at.is_(None)),
        # Flags: raised (max id) or cleared (the count of open ones falls).
        select(func.max(Flag.id)), select(func.count(Flag.id)).where(Flag.village_id.in_(ids), Flag.cleared_at.is_(None)),
    ]
    row = db.session.execute(select(*(p.scalar_subquery() for p in probes))).one()
    counters = db.session.execute(select(VillageCounter.village_id, VillageCounter.people)
                                  .where(VillageCounter.village_id.in_(ids))
                                  .order_by(VillageCounter.village_id)).all()
    basis = repr((tuple(row), tuple(map(tuple, counters)), with_police_only,
                  [(v.id, v.name, v.lat, v.lon, v.people_quota) for v in sorted(villages, key=lambda v: v.id)]))
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def village_progress(villages: list[Village]) -> dict[int, dict]:
    """People collected (the maintained counter) against each village's people quota."""
    people = dict(db.session.execute(select(VillageCounter.village_id, VillageCounter.people)
                                     .where(VillageCounter.village_id.in_([v.id for v in villages]))).all())
    out = {}
    for v in villages:
        collected = people.get(v.id, 0)
        share = percent(collected, v.people_quota)
        out[v.id] = {"people": collected, "quota": v.people_quota,
                     "percent": None if share is None else round(share, 1)}
    return out


def points(villages: list[Village], with_police_only: bool, scan: bool = False) -> dict:
    """Every house of `villages` with its state; village markers with their progress; counts.

    {"states": [...], "counts": [n per state], "unplaced": n, "villages": [{"id", "name", "lat",
    "lon", "people", "quota", "percent", "counts", "unplaced", "houses": [[id, lat, lon, s], ...]}]}

    scan: the villages hold most of the table (a town-wide viewer): read houses and visits in one
    pass over each table instead of an index lookup per row, which costs twice as much at 300,000
    houses on SQLite. (`village_id + 0` hides the index from the planner on both backends.)
    """
    ids = [v.id for v in villages]
    house_village = (House.village_id + 0) if scan else House.village_id
    visit_village = (Visit.village_id + 0) if scan else Visit.village_id
    # Core rows on the session's connection: the ORM's result machinery costs more than the query.
    # No ORDER BY: rows come in table or index order; a sort would only cost time.
    houses = db.session.connection().execute(select(House.id, House.village_id, House.lat, House.lon)
                                             .where(house_village.in_(ids))).all()
    visited, undocumented = visits_by_house(visit_village.in_(ids))
    state_of_house = states_by_house(visited, houses_with_open_tips(Tip.village_id.in_(ids)),
                                     undocumented | houses_in_conflict(None, with_police_only)
                                     | flagged_houses(ids, with_police_only)).get
    progress = village_progress(villages)
    blocks = {v.id: {"id": v.id, "name": v.name, "lat": v.lat, "lon": v.lon, **progress[v.id],
                     "counts": [0] * len(STATES), "unplaced": 0, "houses": []} for v in villages}
    last, counts, drawn = None, None, None
    for house_id, village_id, lat, lon in houses:
        if village_id != last:  # rows mostly come village by village: look the block up once
            block = blocks[village_id]
            last, counts, drawn = village_id, block["counts"], block["houses"].append
        state = state_of_house(house_id, NOT_VISITED)
        counts[state] += 1
        if lat is None or lon is None:
            block["unplaced"] += 1
        else:
            drawn([house_id, round(lat, 5), round(lon, 5), state])
    ordered = [blocks[v.id] for v in villages]
    return {"states": list(STATES),
            "counts": [sum(b["counts"][s] for b in ordered) for s in range(len(STATES))],
            "unplaced": sum(b["unplaced"] for b in ordered),
            "villages": ordered}


# --- one house's popup ----------------------------------------------------------------------

def house_state(house: House, with_police_only: bool) -> str:
    """The state of one house, by the same rule and the same queries as points() (by house index)."""
    visited, undocumented = visits_by_house(Visit.house_id == house.id)
    flagged = (bool(undocumented) or bool(houses_in_conflict({house.id}, with_police_only))
               or house.id in flagged_houses([house.village_id], with_police_only))
    return STATES[state_of(bool(visited), bool(houses_with_open_tips(Tip.house_id == house.id)), flagged)]


def popup(house: House, with_registry: bool, with_police_only: bool) -> dict:
    """What a house's popup shows. Everyone with the map: state and village. Roles that read the
    registry also get the address, door code, how many people live there (people from abroad only
    for police, as on the house page) and open organisations, and the date of the last visit.
    Never names, ID numbers or phones."""
    out = {"id": house.id, "state": house_state(house, with_police_only), "village": house.village.name}
    if not with_registry:
        return out
    people = db.session.scalar(select(func.count(Person.id)).where(
        Person.house_id == house.id, Person.status == "living", _visible_person(with_police_only)))
    orgs = db.session.scalar(select(func.count(Organisation.id)).where(
        and_(Organisation.house_id == house.id, Organisation.status == "open")))
    last_visit = db.session.scalar(select(func.max(Visit.at)).where(Visit.house_id == house.id))
    address = format_address({n: getattr(house, n) for n in ("road", "lane", "number", "building", "room",
                                                              "group_name")}, house.village.name)
    out.update(address=address, door_code=house.door_code, people=people, orgs=orgs,
               last_visit=last_visit.date().isoformat() if last_visit else None)
    return out
