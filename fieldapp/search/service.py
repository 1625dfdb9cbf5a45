"""Search the registry: people, houses and organisations, within the searcher's scope.

Every query starts from fieldapp.scope (village scope, town-wide roles their town, people from
abroad police-only), so a search can never find what the record's own page would answer 404 for.
Results are plain rows with identifiers already masked (rules.identifiers.mask_id / mask_phone):
nothing unmasked leaves this module. How a query is read is rules.search.classify().

Indexes it relies on (migration 6de517b7b442 adds the last two):
- document numbers: the unique (id_type, id_number) index, used by naming every id_type;
- credit codes: the unique uscc index; door codes: the unique door_code index;
- phones: ix_people_phone;
- names from their first character: ix_people_name. On SQLite a plain (binary) index, queried as a
  range name >= prefix AND name < bound (rules.search.prefix_upper_bound: SQLite's LIKE cannot use
  a binary index); on PostgreSQL a varchar_pattern_ops index, queried with LIKE 'prefix%', which
  it uses whatever the database's collation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_
from sqlalchemy import text as sql

from .. import scope
from ..extensions import db
from ..models import Account, House, Organisation, Person
from ..rules import codes
from ..rules.address import ADDRESS_PARTS, format_address, normalise_query, parse_group_number
from ..rules.doorcode import normalise_door_code
from ..rules.identifiers import mask_id, mask_phone
from ..rules.search import Classified, escape_like, looks_like_name, name_prefixes, prefix_upper_bound

SECTIONS = ("people", "houses", "organisations")
PER_SECTION = 10  # rows per section when all three are shown
PER_PAGE = 20  # rows per page when one section is paged through
MAX_PAGE = 500  # a page number beyond this is clamped (OFFSET stays small)

_ID_TYPES = tuple(code for code, _zh, _en in codes.ID_TYPE.rows)


@dataclass(frozen=True)
class PersonRow:
    id: int
    name: str
    sex: str | None
    id_type: str
    id_masked: str
    phone_masked: str
    category: str
    status: str
    village: str
    address: str
    house_id: int | None


@dataclass(frozen=True)
class HouseRow:
    id: int
    address: str
    village: str
    door_code: str
    collected: bool


@dataclass(frozen=True)
class OrganisationRow:
    id: int
    name: str
    kind: str
    uscc_masked: str
    status: str
    village: str
    address: str
    house_id: int


@dataclass
class Section:
    """One kind of record found: the rows of this page, whether another page follows, and `how`
    the query was matched ('id_number', 'phone', 'name_prefix', 'name_contains', 'address', ...)."""
    name: str
    rows: list = field(default_factory=list)
    page: int = 1
    has_next: bool = False
    how: str = ""


@dataclass
class Results:
    classified: Classified
    sections: list[Section]
    paged: str | None  # the section paged through, or None when all are shown

    @property
    def count(self) -> int:
        """Records shown on this page (what the audit row counts)."""
        return sum(len(s.rows) for s in self.sections)


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _page(query, page: int, size: int) -> tuple[list, bool]:
    """One page of `query` (ordered by the caller): fetches one row more to know if a next page exists."""
    rows = db.session.execute(query.offset((page - 1) * size).limit(size + 1)).all()
    return rows[:size], len(rows) > size


def _address(row, prefix: str = "") -> str:
    parts = {name: getattr(row, prefix + name) for name in ADDRESS_PARTS}
    return format_address(parts) if parts.get("number") is not None else ""


# --- people ------------------------------------------------------------------------------------------

_PERSON_COLUMNS = (Person.id, Person.name, Person.sex, Person.id_type, Person.id_number, Person.phone,
                   Person.category, Person.status, Person.house_id, Person.village_id,
                   *(getattr(House, name).label("h_" + name) for name in ADDRESS_PARTS))


def _people(account: Account, scan: bool = False):
    # Village names come from the dict search() builds, not a join: a join on villages lets SQLite
    # drive the query from the villages table through the village_id index (measured 5-10x slower).
    return (scope.people(account, scan).with_only_columns(*_PERSON_COLUMNS)
            .outerjoin(House, House.id == Person.house_id))


def _person_row(row, villages: dict[int, str]) -> PersonRow:
    return PersonRow(id=row.id, name=row.name, sex=row.sex, id_type=row.id_type, id_masked=mask_id(row.id_number),
                     phone_masked=mask_phone(row.phone) if row.phone else "", category=row.category,
                     status=row.status, village=villages.get(row.village_id, ""), address=_address(row, "h_"),
                     house_id=row.house_id)


def name_starts_with(text: str):
    """WHERE clause: the person's name starts with `text` (any of rules.search.name_prefixes(text):
    a Latin name also as typed in capitals or title case), in a form the backend's index serves."""
    clauses = []
    for prefix in name_prefixes(text):
        if _dialect() == "postgresql":
            clauses.append(Person.name.like(escape_like(prefix) + "%", escape="\\"))
        else:
            clauses.append(and_(Person.name >= prefix, Person.name < prefix_upper_bound(prefix)))
    return or_(*clauses) if len(clauses) > 1 else clauses[0]


def name_order(scan: bool = False) -> tuple:
    """ORDER BY name (code-point order, the same on both backends), then id. On PostgreSQL it is
    written `name USING ~<~`, the pattern_ops index's own order, so the index hands over names
    already sorted and a page of "王" stops after its rows instead of sorting every 王 in town
    (measured: 113 ms -> 0.4 ms for 58,000 matches). SQLite's index on name is (name, rowid).
    `scan` (a substring search): on SQLite the order is written `name || ''`, which the index cannot
    serve, so the table is read once in storage order and only the matches are sorted; walking the
    name index instead looks every person up one by one, seconds at a million when few match."""
    if _dialect() == "postgresql":
        return (sql("people.name USING ~<~"), Person.id)
    return (Person.name.concat("") if scan else Person.name, Person.id)


def _find_people(account: Account, classified: Classified, page: int, size: int, villages: dict) -> Section:
    living_first = (Person.status.desc(), Person.id)  # 'living' sorts after 'left'
    values = classified.values
    if "id_number" in values or "document" in values:
        numbers = values.get("id_number", ()) + values.get("document", ())
        # Naming every id_type lets the unique (id_type, id_number) index answer.
        query = _people(account).where(Person.id_type.in_(_ID_TYPES), Person.id_number.in_(numbers))
        how = "id_number" if "id_number" in values else "document"
        rows, more = _page(query.order_by(*living_first), page, size)
        return Section("people", [_person_row(r, villages) for r in rows], page, more, how)
    if "phone" in values:
        query = _people(account).where(Person.phone.in_(values["phone"]))
        rows, more = _page(query.order_by(*living_first), page, size)
        return Section("people", [_person_row(r, villages) for r in rows], page, more, "phone")
    text = classified.text
    starting = _people(account).where(name_starts_with(text))
    rows, more = _page(starting.order_by(*name_order()), page, size)
    how = "name_prefix"
    if not rows and len(text) >= 2 and (page == 1 or db.session.execute(starting.limit(1)).first() is None):
        # Nothing starts with it: the given name alone (伟明 for 张伟明). Scans the people in scope.
        contains = Person.name.contains(text, autoescape=True)
        rows, more = _page(_people(account, scan=True).where(contains).order_by(*name_order(scan=True)), page, size)
        how = "name_contains"
    return Section("people", [_person_row(r, villages) for r in rows], page, more, how)


# --- houses ------------------------------------------------------------------------------------------

_HOUSE_COLUMNS = (House.id, House.door_code, House.collected_at, House.village_id,
                  *(getattr(House, name) for name in ADDRESS_PARTS))
# Group and door numbers are digit strings: ordering by length first sorts 2组 before 10组. The
# village is ordered as village_id + 0, which no index serves: given a bound LIMIT, SQLite would
# otherwise walk the village_id index to save the sort and look every house up one by one (measured
# 6x the CPU time of reading the table once at 90,000 houses).
_NATURAL_ORDER = (House.village_id + 0, House.road, House.lane, func.length(House.group_name), House.group_name,
                  func.length(House.number), House.number, House.room, House.id)


def _address_match(text: str):
    """Exact group/number for "3组27号"-shaped input (rules.address), else a substring of the address
    (its lower-cased key), or the start of a door code (the first few characters read off a door)."""
    parts = parse_group_number(text)
    if parts is not None:
        return and_(*(getattr(House, name) == value for name, value in parts.items() if value is not None))
    by_address = House.address_key.contains(normalise_query(text), autoescape=True)
    code = normalise_door_code(text)
    return or_(by_address, House.door_code.startswith(code, autoescape=True)) if len(code) >= 3 else by_address


def _find_houses(account: Account, classified: Classified, page: int, size: int, villages: dict) -> Section:
    if "door_code" in classified.values:
        query = scope.houses(account).where(House.door_code.in_(classified.values["door_code"]))
        how = "door_code"
    else:  # no index serves a substring: one pass over the houses in scope
        query, how = scope.houses(account, scan=True).where(_address_match(classified.text)), "address"
    rows, more = _page(query.with_only_columns(*_HOUSE_COLUMNS).order_by(*_NATURAL_ORDER), page, size)
    return Section("houses", [HouseRow(id=r.id, address=_address(r), village=villages.get(r.village_id, ""),
                                       door_code=r.door_code,
                                       collected=r.collected_at is not None) for r in rows], page, more, how)


# --- organisations -----------------------------------------------------------------------------------

_ORG_COLUMNS = (Organisation.id, Organisation.name, Organisation.kind, Organisation.uscc, Organisation.status,
                Organisation.house_id, Organisation.village_id,
                *(getattr(House, name).label("h_" + name) for name in ADDRESS_PARTS))


def _find_organisations(account: Account, classified: Classified, page: int, size: int, villages: dict) -> Section:
    if "credit_code" in classified.values:
        query = scope.organisations(account).where(Organisation.uscc.in_(classified.values["credit_code"]))
        how = "credit_code"
    else:
        query = scope.organisations(account, scan=True).where(Organisation.name.contains(classified.text,
                                                                                         autoescape=True))
        how = "name"
    query = query.with_only_columns(*_ORG_COLUMNS).join(House, House.id == Organisation.house_id)
    rows, more = _page(query.order_by(Organisation.status.desc(), Organisation.name, Organisation.id), page, size)
    return Section("organisations", [OrganisationRow(
        id=r.id, name=r.name, kind=r.kind, uscc_masked=mask_id(r.uscc) if r.uscc else "", status=r.status,
        village=villages.get(r.village_id, ""), address=_address(r, "h_"), house_id=r.house_id) for r in rows],
        page, more, how)


# --- the search ----------------------------------------------------------------------------------------

def sections_for(classified: Classified) -> tuple[str, ...]:
    """Which kinds of record a classified query can find."""
    kinds = set(classified.kinds)
    if kinds & {"id_number", "document", "phone"} or kinds == {"door_code", "document"}:
        found = ("people",)
        return found + ("houses",) if "door_code" in kinds else found
    if kinds == {"door_code"}:
        return ("houses",)
    if kinds == {"credit_code"}:
        return ("organisations",)
    if kinds == {"text"}:
        text = classified.text
        return (("people",) if looks_like_name(text) else ()) + ("houses", "organisations")
    return ()


_FINDERS = {"people": _find_people, "houses": _find_houses, "organisations": _find_organisations}


def search(account: Account, classified: Classified, section: str | None = None, page: int = 1) -> Results:
    """Run a classified query for `account`. With `section` one kind is paged through (PER_PAGE rows
    a page); without, every kind the query can find shows its first PER_SECTION rows."""
    wanted = sections_for(classified)
    villages = {v.id: v.name for v in scope.villages(account)}
    if section is not None and section in wanted:
        page = min(max(page, 1), MAX_PAGE)
        return Results(classified, [_FINDERS[section](account, classified, page, PER_PAGE, villages)], section)
    return Results(classified, [_FINDERS[name](account, classified, 1, PER_SECTION, villages) for name in wanted],
                   None)
