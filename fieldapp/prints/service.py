"""What the printed forms hold (no HTTP here): a house's 信息采集表, a batch of them for a village or a
sub-area, and an informant's 信息提供情况登记表 over a period.

Rules:
- A form shows what the reader may see and nothing else: houses of the reader's villages, the
  people living there except those from abroad (police only), the organisations at the house
  (`Reach.for_account`). The archive command (no account) prints the whole village; people from
  abroad only when asked for (`Reach.for_archive`), for the police station's archive.
- People on the form are those living at the house now; organisations are open and closed ones (a
  closed one is marked closed: its cancellation is part of the record).
- Visit proof: the newest VISITS_SHOWN visits to the door, each with its collector and whether it
  was opened by scanning the door's QR (the only door proof, rules/visits.py).
- Identifiers (document, phone and credit-code numbers) are masked unless the reader asks for full
  numbers (a POST, for roles holding identifier.reveal; the command's --full-numbers).
- Every printed house is a read of the house, its people and organisations: one audit row per house
  (`print_house`, or `print_house_full` with full numbers; target house:<id>, records = 1 + people +
  organisations), so "who has looked at this person" (the audit page, which follows the houses a
  person lived in) finds batch prints too.
  An informant's form is one row (`print_informant`, target account:<id>, records = tips).
- The informant's reward basis: a tip verified valid counts TIP_REWARD_YUAN yuan (seed 000:
  提供信息经核对有效的，奖励2元/条) in the month it was verified (rules/tips.month_key).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, select

from .. import scope
from ..audit import audit
from ..database import write_transaction
from ..extensions import db
from ..models import Account, House, Organisation, Person, Residence, SubArea, Tip, Village, Visit
from ..registry.views import NATURAL_ORDER
from ..rules import days
from ..rules import tips as tip_rules
from ..rules.permissions import POLICE_ONLY_CATEGORIES

VISITS_SHOWN = 3  # newest visits listed on a house's form
TIP_REWARD_YUAN = 2  # per tip verified valid (seed 000)
CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True)
class Reach:
    """The records a form may show: base queries for houses, people and organisations."""
    houses: Select
    people: Select
    organisations: Select

    @classmethod
    def for_account(cls, account: Account) -> Reach:
        return cls(scope.houses(account), scope.people(account), scope.organisations(account))

    @classmethod
    def for_archive(cls, include_police_only: bool = False) -> Reach:
        people = select(Person)
        if not include_police_only:
            people = people.where(Person.category.not_in(POLICE_ONLY_CATEGORIES))
        return cls(select(House), people, select(Organisation))


@dataclass(frozen=True)
class VisitLine:
    at: datetime
    method: str  # scan | code | list
    collection_id: str
    collector: str
    distance_m: float | None

    @property
    def door_proof(self) -> bool:
        return self.method == "scan"


@dataclass
class HouseSheet:
    """One house's 信息采集表."""
    house: House
    village: Village
    sub_area: SubArea | None
    people: list[Person] = field(default_factory=list)
    residence: dict[int, Residence] = field(default_factory=dict)  # person id -> open residence here
    organisations: list[Organisation] = field(default_factory=list)
    visits: list[VisitLine] = field(default_factory=list)  # newest first

    @property
    def records(self) -> int:
        return 1 + len(self.people) + len(self.organisations)

    @property
    def last_proof(self) -> VisitLine | None:
        return next((v for v in self.visits if v.door_proof), None)


def _chunks(ids: list[int]):
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def sheets(reach: Reach, houses: list[House]) -> list[HouseSheet]:
    """The forms of `houses` (already in reach), in their order, loaded in a few queries per
    CHUNK houses rather than a few per house."""
    ids = [h.id for h in houses]
    villages = {v.id: v for v in db.session.scalars(select(Village).where(
        Village.id.in_({h.village_id for h in houses})))} if houses else {}
    sub_area_ids = {h.sub_area_id for h in houses if h.sub_area_id is not None}
    sub_areas = {s.id: s for s in db.session.scalars(select(SubArea).where(SubArea.id.in_(sub_area_ids)))} \
        if sub_area_ids else {}
    out = {h.id: HouseSheet(h, villages[h.village_id], sub_areas.get(h.sub_area_id)) for h in houses}
    for chunk in _chunks(ids):
        for person in db.session.scalars(reach.people.where(Person.house_id.in_(chunk), Person.status == "living")
                                         .order_by(Person.house_id, Person.id)):
            out[person.house_id].people.append(person)
        living = [p.id for i in chunk for p in out[i].people]
        for part in _chunks(living):
            for residence in db.session.scalars(select(Residence).where(
                    Residence.person_id.in_(part), Residence.to_date.is_(None)).order_by(Residence.id)):
                if residence.house_id in out:
                    out[residence.house_id].residence[residence.person_id] = residence
        for org in db.session.scalars(reach.organisations.where(Organisation.house_id.in_(chunk))
                                      .order_by(Organisation.house_id, Organisation.status.desc(), Organisation.id)):
            out[org.house_id].organisations.append(org)
        rows = db.session.execute(
            select(Visit.house_id, Visit.at, Visit.method, Visit.distance_m, Account.collection_id, Account.name)
            .join(Account, Account.id == Visit.account_id).where(Visit.house_id.in_(chunk))
            .order_by(Visit.house_id, Visit.at.desc(), Visit.id.desc()))
        for house_id, at, method, distance, cid, name in rows:
            shown = out[house_id].visits
            if len(shown) < VISITS_SHOWN:
                shown.append(VisitLine(at, method, cid, name, distance))
    for sheet in out.values():
        # The householder (relation 02 = 户主) first, then by relation code, then as registered.
        sheet.people.sort(key=lambda p: (_relation(sheet, p) or "99", p.id))
    return [out[i] for i in ids]


def _relation(sheet: HouseSheet, person: Person) -> str | None:
    residence = sheet.residence.get(person.id)
    return residence.relation if residence else None


def batch_houses(reach: Reach, village: Village, sub_area: SubArea | None = None,
                 limit: int | None = None, offset: int = 0) -> tuple[list[House], int]:
    """Houses of `village` (narrowed to `sub_area`) in address order: `limit` of them from `offset`
    (None: all), and how many there are in all."""
    query = reach.houses.where(House.village_id == village.id)
    if sub_area is not None:
        query = query.where(House.sub_area_id == sub_area.id)
    total = db.session.scalar(query.with_only_columns(db.func.count(House.id)).order_by(None))
    query = query.order_by(*NATURAL_ORDER).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query)), total


def log_printed(account_id: int | None, printed: list[HouseSheet], how: str, full: bool = False) -> None:
    """One audit row per printed house (module docstring), in one transaction of its own; printed
    with full document and phone numbers, the row's action says so (print_house_full)."""
    with write_transaction():
        for sheet in printed:
            audit(account_id, "print_house_full" if full else "print_house", f"house:{sheet.house.id}",
                  f"{len(sheet.people)} people, {len(sheet.organisations)} organisations; {how}"[:255],
                  records=sheet.records)


# --- the informant's 信息提供情况登记表 -------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    first: date
    last: date  # inclusive

    @classmethod
    def quarter_of(cls, day: date) -> Period:
        """The calendar quarter `day` is in (rewards are paid quarterly, seed 000)."""
        start_month = 3 * ((day.month - 1) // 3) + 1
        first = date(day.year, start_month, 1)
        end = date(day.year + 1, 1, 1) if start_month == 10 else date(day.year, start_month + 3, 1)
        return cls(first, end - timedelta(days=1))

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """[start, end) of the period in naive UTC, the period's days being the town's calendar days."""
        def start(day: date) -> datetime:
            return datetime.combine(day, time(), tzinfo=days.zone()).astimezone(UTC).replace(tzinfo=None)
        return start(self.first), start(self.last + timedelta(days=1))


@dataclass
class InformantSheet:
    informant: Account
    period: Period
    tips: list[Tip]
    villages: list[Village]
    verifiers: dict[int, str] = field(default_factory=dict)  # account id -> collection ID

    @property
    def valid(self) -> int:
        return sum(1 for t in self.tips if t.verdict == "valid")

    @property
    def pending(self) -> int:
        return sum(1 for t in self.tips if t.verdict is None)

    @property
    def reward_yuan(self) -> int:
        return self.valid * TIP_REWARD_YUAN

    def reward_month(self, tip: Tip) -> str | None:
        return tip_rules.month_key(tip.verified_at) if tip.verdict == "valid" and tip.verified_at else None


def informants(viewer: Account) -> list[Account]:
    """Informants holding at least one of the viewer's villages, by collection ID."""
    from ..models import account_villages

    visible = select(Village.id).where(scope.village_filter(viewer, Village.id))
    return list(db.session.scalars(
        select(Account).join(account_villages, account_villages.c.account_id == Account.id)
        .where(Account.role == "informant", Account.town_id == viewer.town_id,
               account_villages.c.village_id.in_(visible))
        .distinct().order_by(Account.collection_id)))


def informant_or_none(viewer: Account, account_id: int) -> Account | None:
    """The informant `account_id` if they hold one of the viewer's villages (else None: 404)."""
    found = [a for a in informants(viewer) if a.id == account_id]
    return found[0] if found else None


def informant_sheet(viewer: Account, informant: Account, period: Period) -> InformantSheet:
    """The informant's tips in the viewer's villages that arrived in `period`, oldest first."""
    start, end = period.utc_bounds()
    tips = list(db.session.scalars(
        select(Tip).where(Tip.informant_id == informant.id, Tip.source == "informant",
                          scope.village_filter(viewer, Tip.village_id),
                          Tip.received_at >= start, Tip.received_at < end)
        .order_by(Tip.received_at, Tip.id)))
    visible = {v.id for v in scope.villages(viewer)}
    verifier_ids = {t.verified_by_id for t in tips if t.verified_by_id is not None}
    verifiers = dict(db.session.execute(select(Account.id, Account.collection_id).where(
        Account.id.in_(verifier_ids))).all()) if verifier_ids else {}
    return InformantSheet(informant, period, tips, [v for v in informant.villages if v.id in visible], verifiers)


def log_informant_printed(account_id: int, sheet: InformantSheet) -> None:
    with write_transaction():
        audit(account_id, "print_informant", f"account:{sheet.informant.id}",
              f"{len(sheet.tips)} tips {sheet.period.first:%Y%m%d}-{sheet.period.last:%Y%m%d}",
              records=len(sheet.tips))
