"""Fabrication flags (准确率 starts here): reasons to doubt that a record comes from a real door visit.

Seed 003 asks to 坚决防止不经走访确认…虚假信息. Each detector below is a pure function over plain facts
(frozen dataclasses, no Flask, no database) and returns Findings; flags/detect.py gathers the facts
with bounded queries and stores each Finding as one Flag row, idempotently by its key. A flag asks a
reviewer to look; it never rejects a record, so every rule names the honest cases it leaves alone
(GPS drift in stairwells, families sharing a phone, twins, one-collector villages, summer evenings).

Thresholds live in `Thresholds`, filled from the FABRICATION_* settings (fieldapp/config.py, where
the reasoning behind each default is written down); bench/fabrication.py measures what they trade.
Moments are naive UTC, as stored; the town's local hour comes from rules.days.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from . import days
from .visits import distance_m

KINDS = ("no_scan", "gps_far", "impossible_pace", "doc_two_addresses", "phone_many_people",
         "tip_self_verified", "informant_one_collector", "identical_burst", "consecutive_ids",
         "far_outside_village", "night")


@dataclass(frozen=True)
class Thresholds:
    """The detectors' limits (defaults = fieldapp/config.py's FABRICATION_* defaults)."""
    gps_limit_m: float = 100
    gps_accuracy_cap_m: float = 150
    pace_kmh: float = 25
    pace_min_m: float = 300
    doc_window_days: int = 30
    phone_many: int = 4
    burst_count: int = 4
    burst_minutes: int = 30
    village_radius_m: float = 3000
    night_start_hour: int = 23
    night_end_hour: int = 5
    informant_min_tips: int = 5

    @classmethod
    def from_config(cls, config: Mapping) -> Thresholds:
        """Thresholds from a configuration mapping (FABRICATION_<NAME> for each field)."""
        names = {"gps_limit_m": "GPS_LIMIT_M", "gps_accuracy_cap_m": "GPS_ACCURACY_CAP_M",
                 "pace_kmh": "PACE_KMH", "pace_min_m": "PACE_MIN_M", "doc_window_days": "DOC_WINDOW_DAYS",
                 "phone_many": "PHONE_MANY", "burst_count": "BURST_COUNT", "burst_minutes": "BURST_MINUTES",
                 "village_radius_m": "VILLAGE_RADIUS_M", "night_start_hour": "NIGHT_START_HOUR",
                 "night_end_hour": "NIGHT_END_HOUR", "informant_min_tips": "INFORMANT_MIN_TIPS"}
        values = {}
        for attr, name in names.items():
            value = config.get("FABRICATION_" + name)
            if value is not None:
                values[attr] = type(getattr(cls, attr))(value)
        return cls(**values)


@dataclass(frozen=True)
class VisitFact:
    """A collector at a door: when, by which method (scan | code | list), and the phone's fix."""
    visit_id: int
    collector_id: int
    house_id: int
    at: datetime
    method: str
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None


@dataclass(frozen=True)
class ChangeFact:
    """One collected change. `house_id` is the house the record belongs to, `door_proof` whether its
    visit was opened by scanning the door's QR code, `visit` that visit when known, `values` the
    record's submitted values without the identifying ones (names, ID numbers, phones), as sorted
    pairs, and `id_number` the ID number it submitted, if any. `at_door` is False for changes that
    never claim a door visit (office edits, imports, reviewers' decisions)."""
    change_id: int
    entity: str
    entity_id: int
    collector_id: int | None
    village_id: int
    house_id: int | None
    at: datetime
    door_proof: bool = False
    visit: VisitFact | None = None
    values: tuple = ()
    id_number: str | None = None
    at_door: bool = True


@dataclass(frozen=True)
class Place:
    """A known position (a house's or a village's centre)."""
    lat: float | None
    lon: float | None

    @property
    def known(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True)
class DocSubmission:
    """A document (ID) number submitted at a house by a change; `move` when it came through a move
    request a reviewer confirmed (a real move, honest by definition)."""
    change_id: int
    person_id: int
    id_number: str
    house_id: int
    village_id: int
    collector_id: int | None
    at: datetime
    move: bool = False


@dataclass(frozen=True)
class PersonPhone:
    """A person's phone number, with what says whether two people are one family."""
    person_id: int
    phone: str
    house_id: int | None
    name: str
    village_id: int
    change_id: int | None = None
    collector_id: int | None = None


@dataclass(frozen=True)
class TipFact:
    """A verified tip: who sent it, who verified it, the verdict, and the village's number of
    collectors who verify tips (one collector villages send every tip to that collector)."""
    tip_id: int
    informant_id: int | None
    verified_by_id: int | None
    verdict: str | None
    village_id: int
    house_id: int | None = None
    village_collectors: int = 2


@dataclass(frozen=True)
class Finding:
    """One flag to raise. `key` names what was flagged, so raising it again is a no-op."""
    key: str
    kind: str
    entity: str
    entity_id: int
    village_id: int
    change_id: int | None = None
    house_id: int | None = None
    account_id: int | None = None
    detail: dict = field(default_factory=dict, compare=False, hash=False)


def _on_change(kind: str, c: ChangeFact, detail: dict) -> Finding:
    return Finding(key=f"{kind}:change:{c.change_id}", kind=kind, entity=c.entity, entity_id=c.entity_id,
                   village_id=c.village_id, change_id=c.change_id, house_id=c.house_id,
                   account_id=c.collector_id, detail=detail)


def _cap(accuracy_m: float | None, t: Thresholds) -> float:
    """The reported accuracy allowed for: none when unknown, never more than the cap."""
    if accuracy_m is None or accuracy_m < 0:
        return 0.0
    return min(float(accuracy_m), t.gps_accuracy_cap_m)


def _has_fix(v: VisitFact | None) -> bool:
    return v is not None and v.lat is not None and v.lon is not None


# Per change ---------------------------------------------------------------------------------------

def no_scan(changes: Iterable[ChangeFact], t: Thresholds = Thresholds()) -> list[Finding]:
    """A change collected at the door with no scanned visit: neither `door_proof` nor a visit made by
    scanning the QR code. Honest exceptions: changes that never claim a door visit (office edits,
    imports, reviewers' decisions: `at_door` False) are not flagged. A visit by typed code or list
    is flagged (a reviewer may clear it: a damaged label)."""
    return [_on_change("no_scan", c, {}) for c in changes
            if c.at_door and not c.door_proof and not (c.visit is not None and c.visit.method == "scan")]


def gps_far(changes: Iterable[ChangeFact], houses: Mapping[int, Place],
            t: Thresholds = Thresholds()) -> list[Finding]:
    """The visit's GPS fix is farther than `gps_limit_m` from the house's known position once the
    accuracy the phone reported (capped at `gps_accuracy_cap_m`) is allowed for. Honest exceptions:
    no fix, or no known position for the house, says nothing; a stairwell fix 90 m off that reports
    60 m accuracy is within the limit."""
    out = []
    for c in changes:
        v, house = c.visit, houses.get(c.house_id) if c.house_id is not None else None
        if not _has_fix(v) or house is None or not house.known:
            continue
        d = distance_m(v.lat, v.lon, house.lat, house.lon)
        if d - _cap(v.accuracy_m, t) > t.gps_limit_m:
            out.append(_on_change("gps_far", c, {"distance_m": round(d), "accuracy_m": (
                None if v.accuracy_m is None else round(v.accuracy_m)), "limit_m": round(t.gps_limit_m)}))
    return out


def far_outside_village(changes: Iterable[ChangeFact], villages: Mapping[int, Place],
                        t: Thresholds = Thresholds()) -> list[Finding]:
    """The visit's fix is farther than `village_radius_m` (plus the capped accuracy) from the centre
    of the record's village: typed up at home or in town. Honest exceptions: no fix or no village
    centre says nothing; outlying houses within the radius are fine."""
    out = []
    for c in changes:
        v, centre = c.visit, villages.get(c.village_id)
        if not _has_fix(v) or centre is None or not centre.known:
            continue
        d = distance_m(v.lat, v.lon, centre.lat, centre.lon)
        if d - _cap(v.accuracy_m, t) > t.village_radius_m:
            out.append(_on_change("far_outside_village", c, {"distance_m": round(d)}))
    return out


def local_hour(moment: datetime) -> int:
    """The town's local hour of a stored (naive UTC) moment."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(days.zone()).hour


def night(changes: Iterable[ChangeFact], t: Thresholds = Thresholds()) -> list[Finding]:
    """A door record made at night: the visit's (else the change's) local hour is from
    `night_start_hour` to before `night_end_hour`. Honest exceptions: summer evenings until then are
    ordinary visiting time (people are home after work); office edits (`at_door` False) are not
    door work and are not flagged."""
    out = []
    for c in changes:
        if not c.at_door:
            continue
        hour = local_hour(c.visit.at if c.visit is not None else c.at)
        start, end = t.night_start_hour, t.night_end_hour
        at_night = (start <= hour or hour < end) if start > end else (start <= hour < end)
        if at_night:
            out.append(_on_change("night", c, {"hour": hour}))
    return out


# Per collector ------------------------------------------------------------------------------------

def impossible_pace(changes: Iterable[ChangeFact], t: Thresholds = Thresholds(),
                    visits: Iterable[VisitFact] = ()) -> list[Finding]:
    """Two consecutive visits by one collector farther apart than `pace_kmh` allows (distance less
    both capped accuracies, over the minutes between them): the later visit's changes are flagged.
    `visits` adds the collector's other visits that day (the neighbours in time). Honest exceptions:
    pairs closer than `pace_min_m` after accuracy are GPS drift between neighbouring doors, not
    travel; visits without a fix say nothing; the return from a spike (a far visit between two near
    ones) is not flagged, the spike is."""
    by_collector: dict[int, dict[int, VisitFact]] = defaultdict(dict)
    changes_of_visit: dict[int, list[ChangeFact]] = defaultdict(list)
    for c in changes:
        if _has_fix(c.visit):
            by_collector[c.visit.collector_id][c.visit.visit_id] = c.visit
            changes_of_visit[c.visit.visit_id].append(c)
    for v in visits:
        if _has_fix(v):
            by_collector[v.collector_id][v.visit_id] = v
    out = []
    for seen in by_collector.values():
        ordered = sorted(seen.values(), key=lambda v: (v.at, v.visit_id))
        for i in range(1, len(ordered)):
            a, b = ordered[i - 1], ordered[i]
            pace = _pace(a, b, t)
            if pace is None:
                continue
            # The way back from an odd one out is honest: after a spoofed far "visit" the next real
            # door is close to the one before the spike, and only the spike is flagged.
            if i >= 2 and _pace(ordered[i - 2], a, t) is not None and _pace(ordered[i - 2], b, t) is None:
                continue
            out += [_on_change("impossible_pace", c, pace) for c in changes_of_visit.get(b.visit_id, ())]
    return out


def _pace(a: VisitFact, b: VisitFact, t: Thresholds) -> dict | None:
    """The figures of the trip from visit `a` to visit `b` when it is faster than walking allows."""
    d = distance_m(a.lat, a.lon, b.lat, b.lon)
    if d - _cap(a.accuracy_m, t) - _cap(b.accuracy_m, t) < t.pace_min_m:
        return None
    minutes = max((b.at - a.at).total_seconds() / 60, 0.5)  # the phone's clock rounds
    speed = d / 1000 / (minutes / 60)
    return {"distance_m": round(d), "minutes": round(minutes), "speed_kmh": round(speed)} if speed > t.pace_kmh else None


def _bursts(items: list[ChangeFact], t: Thresholds) -> list[list[ChangeFact]]:
    """Maximal runs of `items` (one collector's, sorted by time) with each next one within
    `burst_minutes` of the run's first, of at least `burst_count`."""
    items = sorted(items, key=lambda c: (c.at, c.change_id))
    runs, window = [], timedelta(minutes=t.burst_minutes)
    i = 0
    while i < len(items):
        j = i
        while j + 1 < len(items) and items[j + 1].at - items[i].at <= window:
            j += 1
        if j - i + 1 >= t.burst_count:
            runs.append(items[i:j + 1])
            i = j + 1
        else:
            i += 1
    return runs


def identical_burst(changes: Iterable[ChangeFact], t: Thresholds = Thresholds()) -> list[Finding]:
    """At least `burst_count` new records by one collector within `burst_minutes` whose submitted
    values (without names, ID numbers and phones) are identical: copied, not collected. Honest
    exceptions: a family's members share address, hukou and category but differ in birth date and
    sex, so their values differ; records with no values are not compared."""
    groups: dict[tuple, list[ChangeFact]] = defaultdict(list)
    for c in changes:
        if c.values and c.collector_id is not None:
            groups[(c.collector_id, c.entity, c.values)].append(c)
    out = []
    for items in groups.values():
        for run in _bursts(items, t):
            minutes = round((run[-1].at - run[0].at).total_seconds() / 60)
            out += [_on_change("identical_burst", c, {"count": len(run), "minutes": minutes}) for c in run]
    return out


def _id_body(number: str) -> int | None:
    """The first 17 digits of an 18-digit resident ID as a number (the sequence code's last digit
    is the sex, so two people of one sex born the same day in one place are 2 apart)."""
    if len(number) == 18 and number[:17].isdigit():
        return int(number[:17])
    return None


def consecutive_ids(changes: Iterable[ChangeFact], t: Thresholds = Thresholds()) -> list[Finding]:
    """At least `burst_count` ID numbers by one collector within `burst_minutes` forming a chain in
    which each is at most 2 above the previous one (made up by counting). Honest exceptions: twins
    and triplets give two or three near numbers, fewer than `burst_count`."""
    by_collector: dict[int, list[ChangeFact]] = defaultdict(list)
    for c in changes:
        if c.id_number and c.collector_id is not None and _id_body(c.id_number) is not None:
            by_collector[c.collector_id].append(c)
    out: dict[int, Finding] = {}
    window = timedelta(minutes=t.burst_minutes)
    for items in by_collector.values():
        items.sort(key=lambda c: _id_body(c.id_number))
        chain = [items[0]] if items else []
        for c in items[1:] + [None]:
            if c is not None and 0 <= _id_body(c.id_number) - _id_body(chain[-1].id_number) <= 2:
                chain.append(c)
                continue
            if len(chain) >= t.burst_count:
                for run in _bursts(chain, t) if max(x.at for x in chain) - min(x.at for x in chain) > window else [chain]:
                    for x in run:
                        out[x.change_id] = _on_change("consecutive_ids", x, {"count": len(run)})
            chain = [c] if c is not None else []
    return list(out.values())


# Across addresses ---------------------------------------------------------------------------------

def doc_two_addresses(submissions: Iterable[DocSubmission], t: Thresholds = Thresholds()) -> list[Finding]:
    """One document number submitted at two different houses within `doc_window_days`: the later
    submission is flagged, naming the other house. Honest exceptions: a move a reviewer confirmed
    (`move`) is a real move; the same house twice is a correction, not two addresses."""
    by_number: dict[str, list[DocSubmission]] = defaultdict(list)
    for s in submissions:
        by_number[s.id_number].append(s)
    out = []
    window = timedelta(days=t.doc_window_days)
    for items in by_number.values():
        items.sort(key=lambda s: (s.at, s.change_id))
        for i, later in enumerate(items):
            if later.move:
                continue
            for earlier in items[:i]:
                if earlier.house_id != later.house_id and later.at - earlier.at <= window:
                    out.append(Finding(key=f"doc_two_addresses:change:{later.change_id}", kind="doc_two_addresses",
                                       entity="person", entity_id=later.person_id, village_id=later.village_id,
                                       change_id=later.change_id, house_id=later.house_id,
                                       account_id=later.collector_id,
                                       detail={"other_house_id": earlier.house_id,
                                               "days": (later.at - earlier.at).days}))
                    break
    return out


def surname(name: str) -> str:
    """A Chinese name's surname: two characters for the common compound surnames, else the first."""
    name = (name or "").strip()
    compound = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "夏侯", "长孙")
    return name[:2] if name[:2] in compound else name[:1]


def phone_many_people(people: Iterable[PersonPhone], t: Thresholds = Thresholds()) -> list[Finding]:
    """One phone number on at least `phone_many` people who fall into at least three unrelated
    families, every one of them flagged. Two people are one family when they live in the same house
    or share a surname (a family's houses, a grandparent's phone). Honest exceptions: a household
    sharing one phone, a landlord's number for the tenants of one house, a family across houses."""
    by_phone: dict[str, list[PersonPhone]] = defaultdict(list)
    for p in people:
        if p.phone:
            by_phone[p.phone].append(p)
    out = []
    for items in by_phone.values():
        if len(items) < t.phone_many:
            continue
        parent = list(range(len(items)))

        def root(i, parent=parent):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i
        seen: dict[tuple, int] = {}
        for i, p in enumerate(items):
            for key in (("house", p.house_id) if p.house_id is not None else None, ("surname", surname(p.name))):
                if key is None or not key[1]:
                    continue
                if key in seen:
                    parent[root(i)] = root(seen[key])
                else:
                    seen[key] = i
        if len({root(i) for i in range(len(items))}) < 3:
            continue
        out += [Finding(key=f"phone_many_people:person:{p.person_id}", kind="phone_many_people", entity="person",
                        entity_id=p.person_id, village_id=p.village_id, change_id=p.change_id,
                        house_id=p.house_id, account_id=p.collector_id, detail={"count": len(items)})
                for p in items]
    return out


# Tips ---------------------------------------------------------------------------------------------

def tip_self_verified(tips: Iterable[TipFact], t: Thresholds = Thresholds()) -> list[Finding]:
    """A tip verified by the informant who sent it (an informant who is also a collector): the
    reward would pay for a visit nobody else made. Honest exceptions: public tips (no informant)."""
    return [Finding(key=f"tip_self_verified:tip:{x.tip_id}", kind="tip_self_verified", entity="tip",
                    entity_id=x.tip_id, village_id=x.village_id, house_id=x.house_id, account_id=x.verified_by_id,
                    detail={"tip_id": x.tip_id})
            for x in tips if x.informant_id is not None and x.verified_by_id == x.informant_id]


def informant_one_collector(tips: Iterable[TipFact], t: Thresholds = Thresholds()) -> list[Finding]:
    """An informant with at least `informant_min_tips` verified tips, all verified by one collector
    and all valid: a pair sharing rewards. Honest exceptions: in a village with one collector who
    verifies tips every tip goes to that collector; a few tips prove nothing; one invalid verdict
    shows a collector who checks."""
    by_informant: dict[int, list[TipFact]] = defaultdict(list)
    for x in tips:
        if x.informant_id is not None and x.verified_by_id is not None:
            by_informant[x.informant_id].append(x)
    out = []
    for informant, items in by_informant.items():
        collectors = {x.verified_by_id for x in items}
        if (len(items) < t.informant_min_tips or len(collectors) != 1 or any(x.verdict != "valid" for x in items)
                or max(x.village_collectors for x in items) < 2):
            continue
        collector = collectors.pop()
        last = max(items, key=lambda x: x.tip_id)
        out.append(Finding(key=f"informant_one_collector:account:{informant}:{collector}",
                           kind="informant_one_collector", entity="account", entity_id=informant,
                           village_id=last.village_id, account_id=collector,
                           detail={"informant_id": informant, "collector_id": collector, "tips": len(items)}))
    return out


def detect_all(changes: list[ChangeFact], *, houses: Mapping[int, Place] = {}, villages: Mapping[int, Place] = {},
               visits: Iterable[VisitFact] = (), docs: Iterable[DocSubmission] = (),
               phones: Iterable[PersonPhone] = (), tips: Iterable[TipFact] = (),
               t: Thresholds = Thresholds()) -> list[Finding]:
    """Every detector over the facts given, findings deduplicated by key."""
    found = (no_scan(changes, t) + gps_far(changes, houses, t) + far_outside_village(changes, villages, t)
             + night(changes, t) + impossible_pace(changes, t, visits) + identical_burst(changes, t)
             + consecutive_ids(changes, t) + doc_two_addresses(docs, t) + phone_many_people(phones, t)
             + tip_self_verified(tips, t) + informant_one_collector(tips, t))
    return list({f.key: f for f in found}.values())
