"""Exports: the rows of houses, people, organisations or changes an account may see, written as
.xlsx or CSV, one row at a time from a server-side cursor.

Rules:
- Scope is the registry's (fieldapp/scope.py): the account's villages (town-wide roles: every
  village of the town), people from abroad and their changes for police only. A village outside
  the scope answers 404 in the view, like everywhere.
- Columns, codes, dates and masking come from rules/export_columns.py (the layouts are data).
- Rows are read with yield_per (PostgreSQL: a server-side cursor) and written as they come: no
  export holds its table in memory. The file goes to a temporary file (no name on disk), so the
  exact number of rows written is known, and audited, before a byte of it leaves the server
  (views.py): a download cut short never goes unaudited, and an .xlsx can only be finished once
  its last row is written anyway.
- The reading runs in a read transaction of its own (database.read_transaction): on SQLite an
  export from a POST must not hold the write lock for its whole length.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import BinaryIO

from sqlalchemy import Select, and_, case, func, or_, select, text
from sqlalchemy.orm import aliased

from .. import scope
from ..database import read_transaction
from ..extensions import db
from ..models import (Account, Change, House, Organisation, Person, Residence, SubArea, Town, Village)
from ..rules import days
from ..rules.export_columns import (FORMULA_FIRST, Layout, compile_layout, free_text_positions, layout,
                                     spreadsheet_safe)
from ..rules.permissions import POLICE_ONLY_CATEGORIES, can
from .xlsx import write_xlsx

YIELD_PER = 2000

# Column widths in the .xlsx by format (characters).
WIDTHS = {"address": 36.0, "id": 21.0, "phone": 14.0, "date": 11.0, "code": 8.0, "lcode": 8.0,
          "changes": 60.0, "division": 20.0}


@dataclass(frozen=True)
class Request:
    """What to export: data set, preset, format, a village (None: every village in scope), the
    date range of changes (town's calendar days, inclusive), and whether identifiers are masked."""
    dataset: str
    preset: str = "standard"
    fmt: str = "xlsx"
    village_id: int | None = None
    since: date | None = None
    until: date | None = None
    masked: bool = True

    @property
    def layout(self) -> Layout:
        return layout(self.dataset, self.preset)


def _place(query: Select, village_column) -> Select:
    return (query.join(Village, Village.id == village_column).join(Town, Town.id == Village.town_id)
            .add_columns(Town.county_code.label("county_code"), Town.code.label("town_code"),
                         Town.name.label("town_name"), Village.code.label("village_code"),
                         Village.name.label("village_name")))


def _house_parts(house) -> tuple:
    return (house.group_name.label("group_name"), house.road.label("road"), house.lane.label("lane"),
            house.number.label("number"), house.building.label("building"), house.room.label("room"),
            house.door_code.label("door_code"))


def _in_scope(account: Account, column, village_id: int | None):
    return scope.village_filter(account, column) if village_id is None else column == village_id


def people_query(account: Account, village_id: int | None) -> Select:
    """People in scope (police-only categories for police), with their house, their latest
    residence's relation and room, their employer, ordered by village, house and person."""
    employer = aliased(Organisation)
    last = select(func.max(Residence.id)).where(Residence.person_id == Person.id).scalar_subquery()
    residence = aliased(Residence)
    query = (scope.people(account).where(_in_scope(account, Person.village_id, village_id))
             .with_only_columns(Person.id)
             .outerjoin(House, House.id == Person.house_id)
             .outerjoin(residence, residence.id == last)
             .outerjoin(employer, employer.id == Person.employer_id))
    query = _place(query, Person.village_id).add_columns(
        *_house_parts(House),
        residence.room.label("residence_room"),
        func.coalesce(residence.room, House.room).label("living_room"),
        residence.relation.label("relation"),
        Person.name, Person.sex, Person.id_type, Person.id_number, Person.birth_date, Person.ethnicity,
        Person.nationality, Person.phone, Person.hukou_division, Person.hukou_address, Person.hukou_type,
        Person.category, Person.move_in_date, Person.move_in_reason, Person.away_duration,
        employer.name.label("employer_name"), employer.uscc.label("employer_uscc"), Person.status,
        Person.left_date, Person.left_reason, Person.created_at, Person.updated_at, Person.uid)
    return query.order_by(Village.sort_order, Village.id, Person.house_id, Person.id)


def houses_query(account: Account, village_id: int | None) -> Select:
    """Houses in scope with the number of people living there now (every category: a count is no
    one's personal data, and aggregate counts include people from abroad, rules/permissions.py)."""
    living = (select(Person.house_id.label("house_id"), func.count().label("n"))
              .where(Person.status == "living", _in_scope(account, Person.village_id, village_id))
              .group_by(Person.house_id).subquery())
    query = (scope.houses(account).where(_in_scope(account, House.village_id, village_id))
             .with_only_columns(House.id)
             .outerjoin(SubArea, SubArea.id == House.sub_area_id)
             .outerjoin(living, living.c.house_id == House.id))
    query = _place(query, House.village_id).add_columns(
        SubArea.name.label("sub_area_name"), *_house_parts(House), House.use, House.owner_name, House.owner_phone,
        House.tenant_name, House.tenant_phone, House.rental_registered, House.rental_record_no,
        func.coalesce(living.c.n, 0).label("living_people"), House.lat, House.lon, House.collected_at,
        House.created_at, House.updated_at, House.uid)
    return query.order_by(Village.sort_order, Village.id, House.road, House.lane, func.length(House.group_name),
                          House.group_name, func.length(House.number), House.number, House.room, House.id)


def organisations_query(account: Account, village_id: int | None) -> Select:
    """Organisations in scope with their address and how many registered people work there now."""
    employees = (select(Person.employer_id.label("org_id"), func.count().label("n"))
                 .where(Person.status == "living", Person.employer_id.is_not(None))
                 .group_by(Person.employer_id).subquery())
    query = (scope.organisations(account).where(_in_scope(account, Organisation.village_id, village_id))
             .with_only_columns(Organisation.id)
             .join(House, House.id == Organisation.house_id)
             .outerjoin(employees, employees.c.org_id == Organisation.id))
    query = _place(query, Organisation.village_id).add_columns(
        *_house_parts(House), Organisation.name, Organisation.uscc, Organisation.kind, Organisation.legal_rep,
        Organisation.phone, Organisation.employee_count, func.coalesce(employees.c.n, 0).label("registered_employees"),
        Organisation.status, Organisation.closed_date, Organisation.created_at, Organisation.updated_at,
        Organisation.uid)
    return query.order_by(Village.sort_order, Village.id, Organisation.id)


def day_bounds(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    """The stored (naive UTC) moments bounding the town's calendar days since..until inclusive."""
    def start(day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=days.zone()).astimezone(UTC).replace(tzinfo=None)
    return (start(since) if since else None, start(until + timedelta(days=1)) if until else None)


def changes_query(account: Account, village_id: int | None, since: date | None, until: date | None) -> Select:
    """Changes in scope collected on the town's days since..until (inclusive); police-only ones
    (people from abroad) for police alone. Each names its record: a person's name, a house's
    address, an organisation's name."""
    person, house, org = aliased(Person), aliased(House), aliased(Organisation)
    collector = aliased(Account)
    query = (select(Change.id)
             .where(_in_scope(account, Change.village_id, village_id))
             .outerjoin(person, and_(Change.entity == "person", person.id == Change.entity_id))
             .outerjoin(house, and_(Change.entity == "house", house.id == Change.entity_id))
             .outerjoin(org, and_(Change.entity == "organisation", org.id == Change.entity_id))
             .outerjoin(collector, collector.id == Change.collected_by_id))
    if not can(account.role, "registry.police_only"):
        query = query.where(Change.police_only.is_(False))
    if not can(account.role, "registry.police_only"):
        # A change made before its person became a person from abroad is not police-only, but it
        # names (and its content describes) someone who now is: left out like the person.
        query = query.where(or_(person.id.is_(None), person.category.not_in(POLICE_ONLY_CATEGORIES)))
    start, end = day_bounds(since, until)
    if start is not None:
        query = query.where(Change.collected_at >= start)
    if end is not None:
        query = query.where(Change.collected_at < end)
    query = _place(query, Change.village_id).add_columns(
        Change.uid, Change.collected_at, Change.known_on, Change.kind, Change.entity,
        case((Change.entity == "person", person.uid), (Change.entity == "house", house.uid),
             else_=org.uid).label("record_uid"),
        case((Change.entity == "person", person.name), (Change.entity == "house", house.door_code),
             else_=org.name).label("record_label"),
        house.group_name.label("h_group"), house.road.label("h_road"), house.lane.label("h_lane"),
        house.number.label("h_number"), house.building.label("h_building"), house.room.label("h_room"),
        Change.fields, collector.collection_id.label("collected_by"), Change.door_proof, Change.source,
        Change.reviewed_at)
    return query.order_by(Change.collected_at, Change.id)


def query_for(account: Account, request: Request) -> Select:
    if request.dataset == "people":
        return people_query(account, request.village_id)
    if request.dataset == "houses":
        return houses_query(account, request.village_id)
    if request.dataset == "organisations":
        return organisations_query(account, request.village_id)
    if request.dataset == "changes":
        return changes_query(account, request.village_id, request.since, request.until)
    raise ValueError(f"unknown data set {request.dataset!r}")


def _house_label(fields: tuple, index: dict):
    """A change to a house is named by its address (down to the room), not by its door code."""
    from ..rules.address import format_address

    names = ("group_name", "road", "lane", "number", "building", "room")
    positions = [index["h_" + ("group" if n == "group_name" else n)] for n in names]
    village = index["village_name"]

    def label(row) -> str:
        return format_address(dict(zip(names, (row[p] for p in positions))), row[village])
    return label


def _parts(account: Account, request: Request) -> list[Request]:
    """Houses, people and organisations of several villages are read one village at a time, in the
    villages' order: each query sorts one village (tens of thousands of rows, in memory) instead
    of the town (a million rows of 700 bytes, an external sort on disk). Changes are one query,
    in the order they were collected."""
    if request.village_id is not None or request.dataset == "changes":
        return [request]
    # No village at all (an ID without villages): the one query, which finds nothing.
    return [replace(request, village_id=v.id) for v in scope.villages(account)] or [request]


def _results(account: Account, request: Request):
    connection = db.session.connection().execution_options(yield_per=YIELD_PER)
    for part in _parts(account, request):
        # Plain rows from the connection (no ORM loading step per row), from a server-side cursor.
        result = connection.execute(query_for(account, part))
        try:
            yield result
        finally:
            result.close()


def rows(account: Account, request: Request) -> Iterator[list[str]]:
    """The export's rows as lists of cells (text), read from server-side cursors in batches."""
    results = _results(account, request)
    first = next(results)
    fields = tuple(first.keys())
    cells = compile_layout(request.layout, fields, masked=request.masked)
    if request.dataset == "changes":
        index = {name: i for i, name in enumerate(fields)}
        house_label = _house_label(fields, index)
        entity, label = index["entity"], index["record_label"]

        def cells_of(row, base=cells):  # a house's label is its address
            if row[entity] == "house":
                row = (*row[:label], house_label(row), *row[label + 1:])
            return base(row)
        cells = cells_of
    try:
        for row in first:
            yield cells(row)
        for result in results:
            for row in result:
                yield cells(row)
    finally:
        results.close()


def widths(lay: Layout) -> list[float]:
    return [WIDTHS.get(c.fmt, max(8.0, min(30.0, len(c.header) * 2.0 + 2))) for c in lay.columns]


def write_csv(out: BinaryIO, headers: list[str], lines, free_text: list[int]) -> int:
    """CSV for Excel: UTF-8 with a byte order mark (so Excel reads the Chinese right), CRLF line
    ends, every field quoted when needed, formula-like text neutralised (rules spreadsheet_safe) in
    the columns that hold typed text (`free_text`)."""
    stream = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=False)
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(headers)
    count = 0
    for line in lines:
        for i in free_text:
            value = line[i]
            if value and value[0] in FORMULA_FIRST:
                line[i] = spreadsheet_safe(value)
        writer.writerow(line)
        count += 1
    stream.flush()
    stream.detach()
    return count


def write(account: Account, request: Request, out: BinaryIO) -> int:
    """Write the export to `out` and return the number of data rows. Reads in a read transaction."""
    lay = request.layout
    with read_transaction():
        if db.session.get_bind().dialect.name == "postgresql":
            # One snapshot for the whole export (its village-by-village queries included), so the
            # row count audited is the rows of one moment; sorts of a village in memory; no JIT
            # compilation (it costs more than it saves on these plain scans).
            db.session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
            db.session.execute(text("SET LOCAL work_mem = '32MB'"))
            db.session.execute(text("SET LOCAL jit = off"))
        lines = rows(account, request)
        if request.fmt == "csv":
            return write_csv(out, lay.headers, lines, free_text_positions(lay))
        return write_xlsx(out, lay.title, lay.headers, lines, widths(lay))


def filename(request: Request, village: Village | None, town: Town, today: date) -> str:
    place = village.name if village is not None else town.name
    return f"{request.layout.title}-{place}-{today:%Y%m%d}.{request.fmt}"
