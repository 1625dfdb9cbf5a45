"""Raise fabrication flags: gather facts about changes and tips with bounded queries, run the pure
detectors (rules/fabrication.py) and insert one Flag row per finding, idempotently by its key.

Called after a push commits (sync.push), after a web save commits (registry/views.py), when a tip is
verified (tips/views.py) and by `flask --app fieldapp flags scan` (the sweep, which catches up on
anything a hook missed). Every hook goes through `safely`: a failure of detection is logged and never
fails the user's save. Inserts are INSERT ... ON CONFLICT (key) DO NOTHING on SQLite and PostgreSQL
alike, so concurrent workers and re-runs never make a duplicate flag.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..models import Change, House, Organisation, Person, Tip, Village, Visit
from ..models._base import utcnow
from ..models.review import Flag
from ..rules import fabrication as fab
from ..rules.review import COLLECTED_SOURCES, EXEMPT

log = logging.getLogger(__name__)

CHUNK = 500
NEIGHBOURS_LIMIT = 2000  # one collector's changes or visits around a batch: a day's work is < 300
PHONE_LIMIT = 200  # people sharing one phone looked at
# Values that identify a person or a house rather than describe it: left out of the comparison of
# records for identical bursts (copied records differ only in these).
IDENTIFYING = {"name", "id_number", "phone", "house_id", "owner_name", "owner_phone", "tenant_name",
               "tenant_phone", "uscc", "legal_rep", "number", "room", "lat", "lon"}
ENTITIES = ("house", "person", "organisation")


def thresholds() -> fab.Thresholds:
    return fab.Thresholds.from_config(current_app.config)


def _new(fields: dict, name: str):
    value = (fields or {}).get(name)
    return value[1] if isinstance(value, list) and len(value) == 2 else None


def _chunks(items: list, size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def insert_findings(findings: Iterable[fab.Finding]) -> int:
    """Insert a Flag row per finding unless its key exists (ON CONFLICT DO NOTHING); no commit.
    Returns how many findings were offered."""
    rows = [{"key": f.key, "kind": f.kind, "entity": f.entity, "entity_id": f.entity_id, "change_id": f.change_id,
             "house_id": f.house_id, "village_id": f.village_id, "account_id": f.account_id, "detail": f.detail,
             "created_at": utcnow()} for f in findings]
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    for chunk in _chunks(rows):
        db.session.execute(insert(Flag).on_conflict_do_nothing(index_elements=["key"]), chunk)
    return len(rows)


# Changes ------------------------------------------------------------------------------------------

def _visit_fact(v: Visit) -> fab.VisitFact:
    return fab.VisitFact(visit_id=v.id, collector_id=v.account_id, house_id=v.house_id, at=v.at, method=v.method,
                         lat=v.lat, lon=v.lon, accuracy_m=v.accuracy_m)


def _change_facts(changes: list[Change]) -> list[fab.ChangeFact]:
    """ChangeFacts for `changes`, with their visits and houses (three bounded queries per chunk)."""
    facts = []
    for chunk in _chunks(changes):
        uids = {c.visit_uid for c in chunk if c.visit_uid}
        visits = {v.uid: v for v in db.session.scalars(select(Visit).where(Visit.uid.in_(uids)))} if uids else {}
        people = [c.entity_id for c in chunk if c.entity == "person"]
        orgs = [c.entity_id for c in chunk if c.entity == "organisation"]
        person_house = dict(db.session.execute(select(Person.id, Person.house_id).where(Person.id.in_(people))).all()) \
            if people else {}
        org_house = dict(db.session.execute(select(Organisation.id, Organisation.house_id)
                                            .where(Organisation.id.in_(orgs))).all()) if orgs else {}
        for c in chunk:
            visit = visits.get(c.visit_uid)
            if visit is not None:
                house_id = visit.house_id
            elif c.entity == "house":
                house_id = c.entity_id
            elif c.entity == "person":
                house_id = _new(c.fields, "house_id") or person_house.get(c.entity_id)
            else:
                house_id = org_house.get(c.entity_id)
            values = tuple(sorted((k, repr(v[1])) for k, v in (c.fields or {}).items()
                                  if k not in IDENTIFYING and isinstance(v, list) and len(v) == 2)) \
                if c.kind == "new" else ()
            id_number = _new(c.fields, "id_number") if c.entity == "person" and c.kind == "new" else None
            facts.append(fab.ChangeFact(
                change_id=c.id, entity=c.entity, entity_id=c.entity_id, collector_id=c.collected_by_id,
                village_id=c.village_id, house_id=house_id, at=c.collected_at, door_proof=bool(c.door_proof),
                visit=_visit_fact(visit) if visit else None, values=values,
                id_number=str(id_number) if id_number else None,
                at_door=(c.source in COLLECTED_SOURCES and c.review_state != EXEMPT and c.collected_by_id is not None
                         and c.kind in ("new", "update"))))
    return facts


def _neighbour_changes(facts: list[fab.ChangeFact], t: fab.Thresholds) -> list[Change]:
    """Each collector's new records around the batch (for bursts): bounded by time and count."""
    spans: dict[int, list[datetime]] = defaultdict(list)
    for f in facts:
        if f.collector_id is not None and f.values:
            spans[f.collector_id].append(f.at)
    window, out = timedelta(minutes=t.burst_minutes), []
    for collector, moments in spans.items():
        out += db.session.scalars(select(Change).where(
            Change.collected_by_id == collector, Change.kind == "new",
            Change.collected_at.between(min(moments) - window, max(moments) + window))
            .order_by(Change.collected_at).limit(NEIGHBOURS_LIMIT)).all()
    return out


def _neighbour_visits(facts: list[fab.ChangeFact]) -> list[fab.VisitFact]:
    """Each collector's visits the same day as the batch's (for the pace between visits)."""
    spans: dict[int, list[datetime]] = defaultdict(list)
    for f in facts:
        if f.visit is not None:
            spans[f.visit.collector_id].append(f.visit.at)
    out = []
    for collector, moments in spans.items():
        out += [_visit_fact(v) for v in db.session.scalars(select(Visit).where(
            Visit.account_id == collector, Visit.at.between(min(moments) - timedelta(hours=12),
                                                            max(moments) + timedelta(hours=12)))
            .order_by(Visit.at).limit(NEIGHBOURS_LIMIT))]
    return out


def _doc_submissions(changes: list[Change]) -> list[fab.DocSubmission]:
    """Every address each person of the batch was submitted at (their changes naming a house)."""
    people = sorted({c.entity_id for c in changes if c.entity == "person" and "house_id" in (c.fields or {})})
    out = []
    for chunk in _chunks(people):
        numbers = dict(db.session.execute(select(Person.id, Person.id_number).where(Person.id.in_(chunk))).all())
        for c in db.session.scalars(select(Change).where(Change.entity == "person", Change.entity_id.in_(chunk))
                                    .order_by(Change.id).limit(NEIGHBOURS_LIMIT)):
            house = _new(c.fields, "house_id")
            if house is not None and numbers.get(c.entity_id):
                out.append(fab.DocSubmission(change_id=c.id, person_id=c.entity_id, id_number=numbers[c.entity_id],
                                             house_id=int(house), village_id=c.village_id,
                                             collector_id=c.collected_by_id, at=c.collected_at,
                                             move=c.source == "review"))
    return out


def _phones(changes: list[Change]) -> list[fab.PersonPhone]:
    """Everyone sharing a phone number with a person of the batch."""
    phones = sorted({str(_new(c.fields, "phone")) for c in changes if c.entity == "person" and _new(c.fields, "phone")})
    by_person = {c.entity_id: c for c in changes if c.entity == "person"}
    out = []
    for phone in phones:
        for p in db.session.execute(select(Person.id, Person.phone, Person.house_id, Person.name, Person.village_id)
                                    .where(Person.phone == phone, Person.status == "living").limit(PHONE_LIMIT)):
            c = by_person.get(p.id)
            out.append(fab.PersonPhone(person_id=p.id, phone=p.phone, house_id=p.house_id, name=p.name,
                                       village_id=p.village_id, change_id=c.id if c else None,
                                       collector_id=c.collected_by_id if c else None))
    return out


def scan_changes(change_ids: Iterable[int]) -> int:
    """Run every change detector over the changes `change_ids` and their neighbours and insert the
    flags (no commit). Returns the number of findings."""
    ids = sorted(set(change_ids))
    if not ids:
        return 0
    t = thresholds()
    changes = []
    for chunk in _chunks(ids):
        changes += db.session.scalars(select(Change).where(Change.id.in_(chunk), Change.entity.in_(ENTITIES))).all()
    # A house's "registered at the door" mark rides along with the record collected there: the record
    # carries the flags, once.
    changes = [c for c in changes if set(c.fields or {}) != {"collected_at"}]
    facts = _change_facts(changes)
    if not facts:
        return 0
    neighbours = [c for c in _neighbour_changes(facts, t) if c.id not in set(ids)]
    burst_facts = facts + _change_facts(neighbours)
    house_ids = sorted({f.house_id for f in facts if f.house_id})
    houses = {}
    for chunk in _chunks(house_ids):
        houses |= {h.id: fab.Place(h.lat, h.lon) for h in db.session.execute(
            select(House.id, House.lat, House.lon).where(House.id.in_(chunk)))}
    villages = {v.id: fab.Place(v.lat, v.lon) for v in db.session.execute(
        select(Village.id, Village.lat, Village.lon).where(Village.id.in_({f.village_id for f in facts})))}
    found = (fab.no_scan(facts, t) + fab.gps_far(facts, houses, t) + fab.far_outside_village(facts, villages, t)
             + fab.night(facts, t) + fab.impossible_pace(facts, t, _neighbour_visits(facts))
             + fab.identical_burst(burst_facts, t) + fab.consecutive_ids(burst_facts, t)
             + fab.doc_two_addresses(_doc_submissions(changes), t) + fab.phone_many_people(_phones(changes), t))
    return insert_findings({f.key: f for f in found}.values())


# Tips ---------------------------------------------------------------------------------------------

def scan_tips(tip_ids: Iterable[int]) -> int:
    """Run the tip detectors over the verified tips `tip_ids` and their informants' other verified
    tips; insert the flags (no commit). Returns the number of findings."""
    ids = sorted(set(tip_ids))
    if not ids:
        return 0
    t = thresholds()
    tips = []
    for chunk in _chunks(ids):
        tips += db.session.scalars(select(Tip).where(Tip.id.in_(chunk), Tip.verified_by_id.is_not(None))).all()
    informants = sorted({x.informant_id for x in tips if x.informant_id})
    for chunk in _chunks(informants):
        tips += db.session.scalars(select(Tip).where(Tip.informant_id.in_(chunk), Tip.verified_by_id.is_not(None))
                                   .limit(NEIGHBOURS_LIMIT)).all()
    village_ids = {x.village_id for x in tips}
    verifiers = dict(db.session.execute(
        select(Tip.village_id, func.count(func.distinct(Tip.verified_by_id)))
        .where(Tip.village_id.in_(village_ids), Tip.verified_by_id.is_not(None)).group_by(Tip.village_id)).all()) \
        if village_ids else {}
    facts = list({x.id: fab.TipFact(tip_id=x.id, informant_id=x.informant_id, verified_by_id=x.verified_by_id,
                                    verdict=x.verdict, village_id=x.village_id, house_id=x.house_id,
                                    village_collectors=verifiers.get(x.village_id, 1)) for x in tips}.values())
    return insert_findings(fab.tip_self_verified(facts, t) + fab.informant_one_collector(facts, t))


# Hooks and the sweep ------------------------------------------------------------------------------

def safely(what: str, fn, *args) -> None:
    """Run `fn(*args)` and commit in a transaction of its own after the user's save committed; a
    failure is logged and rolled back, never raised (the sweep catches up)."""
    try:
        fn(*args)
        db.session.commit()
    except Exception:
        log.exception("fabrication flags for %s failed; `flask --app fieldapp flags scan` catches up", what)
        db.session.rollback()


def newest_change_id() -> int:
    """The highest change id now (a push's high-water mark, taken before it writes)."""
    return db.session.scalar(select(func.max(Change.id))) or 0


def after_push(account_id: int, after_change_id: int, started_at: datetime) -> None:
    """Flags for what a committed push by `account_id` wrote: its changes above the mark and the
    tips it verified. Never raises."""
    def run():
        scan_changes(db.session.scalars(select(Change.id).where(
            Change.id > after_change_id, Change.collected_by_id == account_id).limit(10 * NEIGHBOURS_LIMIT)).all())
        scan_tips(db.session.scalars(select(Tip.id).where(
            Tip.verified_by_id == account_id, Tip.verified_at >= started_at - timedelta(minutes=1))).all())
    safely(f"a push by account {account_id}", run)


def after_save(change_ids: Iterable[int]) -> None:
    """Flags for the changes a committed web save wrote. Never raises."""
    safely("a web save", scan_changes, list(change_ids))


def after_web_save(account_id: int, within: timedelta = timedelta(minutes=2)) -> None:
    """Flags for the changes `account_id` just wrote from the web (collected in the last `within`:
    a web save's moment is the server's now), after the save committed. Never raises."""
    safely(f"a web save by account {account_id}", lambda: scan_changes(db.session.scalars(
        select(Change.id).where(Change.collected_by_id == account_id, Change.source == "web",
                                Change.collected_at >= utcnow() - within).limit(NEIGHBOURS_LIMIT)).all()))


def after_tip_verified(tip_id: int) -> None:
    """Flags for a tip just verified. Never raises."""
    safely(f"tip {tip_id}", scan_tips, [tip_id])


def sweep(since: datetime | None = None, batch: int = 2000) -> int:
    """Scan every change collected since `since` (all without) and every verified tip, in batches,
    committing each; idempotent. Returns the number of findings offered."""
    changes = select(Change.id).where(Change.entity.in_(ENTITIES))
    tips = select(Tip.id).where(Tip.verified_by_id.is_not(None))
    if since is not None:
        changes, tips = changes.where(Change.collected_at >= since), tips.where(Tip.verified_at >= since)
    return _in_batches(changes, Change.id, scan_changes, batch) + _in_batches(tips, Tip.id, scan_tips, batch)


def _in_batches(query, key, scan, batch: int) -> int:
    """Run `scan` over the ids `query` selects, `batch` at a time in key order, committing each batch
    (a sweep over a whole town must not hold one transaction for minutes)."""
    total, last = 0, 0
    while True:
        ids = db.session.scalars(query.where(key > last).order_by(key).limit(batch)).all()
        if not ids:
            return total
        total += scan(ids)
        db.session.commit()
        last = ids[-1]
