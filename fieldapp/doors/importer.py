"""Importing an existing house register (CSV or .xlsx): check every row, then import all or nothing.

check() reads the file (rules.register_import) and checks each row against the register and the
importer's scope: the village must be one of the importer's villages (by name or code; any other
village is "unknown", so the report reveals nothing about villages out of scope), and the address
must be new both in the file and in the register (compared by rules.address.address_identity, the
rule that makes one address one house, so "3组27号" and "３组27" are the same house). import_rows() writes only a plan
without a single rejected row, each house through records.create_house (Change rows with source
"import", houses not yet visited), in the caller's one transaction: nothing is half-imported.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .. import records
from ..accounts import audit
from ..extensions import db
from ..models import House, SubArea, Village
from ..rules.address import address_identity, address_key
from ..rules.register_import import (FileProblem, ImportPlan, fill_plan, ParsedRow, RowIssue, map_header, parse_row,
                                     problem_message, row_issue_message,
                                     village_finder)

ADDRESS_KEY_MAX = 255  # House.address_key

FILE_MESSAGES = {
    "empty": _l("The file is empty or has only a header row."),
    "encoding": _l("The file's text encoding is not UTF-8 or GBK/GB18030. Save it again as CSV (UTF-8) or .xlsx."),
    "old_excel": _l("This is an old Excel file (.xls). Save it as .xlsx or CSV and upload that."),
    "unreadable": _l("This is not a readable CSV or .xlsx file. Save it as .xlsx or CSV and try again."),
    "missing_columns": _l("The header row lacks a column for: %(columns)s. Add a header named as in the list above."),
    "duplicate_column": _l("Two columns have the header “%(column)s”. Keep one."),
    "too_many_rows": _l("The file has more than %(limit)s rows. Split it into smaller files."),
    "too_large": _l("The file is larger than %(limit)s MB. Split it into smaller files."),
}
ROW_MESSAGES = {
    "missing_village": _l("No village given."),
    "unknown_village": _l("No village of yours has this name or code."),
    "missing_number": _l("No door number given."),
    "too_long": _l("Too long for the register."),
    "control_characters": _l("Contains invisible control characters."),
    "half_position": _l("Give both latitude and longitude, or neither."),
    "bad_latitude": _l("Not a latitude in China (decimal degrees, e.g. 30.52)."),
    "bad_longitude": _l("Not a longitude in China (decimal degrees, e.g. 110.38)."),
    "duplicate_in_file": _l("The same address is in row %(line)s of this file."),
    "already_registered": _l("This address is already in the register."),
    "unknown_sub_area": _l("This village has no sub-area with this code or name: add it under Town set-up, or leave the cell empty."),
}
COLUMN_LABELS = {
    "village": _l("Village"), "group_name": _l("Village group (组)"), "road": _l("Road or street"),
    "lane": _l("Lane (弄/巷)"), "number": _l("Door number (号)"), "building": _l("Building"), "room": _l("Room"),
    "lat": _l("Latitude"), "lon": _l("Longitude"), "sub_area": _l("Sub-area (片区/楼组)"), None: "",
}


@dataclass
class Plan(ImportPlan):
    """What an import would do: valid rows ready to write, rejected rows with their reasons."""
    rows: list[ParsedRow] = field(default_factory=list)
    village_ids: dict[int, int] = field(default_factory=dict)  # row line -> village id
    sub_area_ids: dict[int, int] = field(default_factory=dict)  # row line -> sub-area id (the 片区 column)


def file_message(problem: FileProblem) -> str:
    return problem_message(problem, FILE_MESSAGES, lambda column: str(COLUMN_LABELS[column]))


def issue_message(issue: RowIssue) -> str:
    return row_issue_message(issue, ROW_MESSAGES)


def lock_villages(villages: list[Village]) -> None:
    """Lock the importer's villages for the rest of the transaction: two imports into the same
    villages run one after the other, so the second one's duplicate check sees the first one's
    records (SQLite already serialises writers)."""
    db.session.execute(select(Village.id).where(Village.id.in_([v.id for v in villages])).with_for_update())


def check(data: bytes, villages: list[Village], max_rows: int) -> Plan:
    """Read and check every row (see the module docstring). `villages`: the importer's villages."""
    plan = Plan()
    try:
        fill_plan(plan, data, max_rows, map_header, parse_row)
    except FileProblem as problem:
        plan.file_problem = problem
        plan.rows = []
        return plan
    _check_against_register(plan, villages)
    return plan


def _check_against_register(plan: Plan, villages: list[Village]) -> None:
    find_village = village_finder(villages)
    wanted: set[int] = set()
    for row in plan.rows:
        village = find_village(row.village)
        if row.village and village is None:
            row.issues.append(RowIssue("unknown_village", "village", row.village[:64]))
        if village is not None:
            plan.village_ids[row.line] = village.id
            wanted.add(village.id)
    registered: set[tuple[int, str]] = set()
    if wanted:
        registered = set(db.session.scalars(select(House.address_identity).where(
            House.village_id.in_(wanted), House.address_identity.is_not(None))))
    _check_sub_areas(plan, wanted)
    names = {v.id: v.name for v in villages}
    first_line: dict[str, int] = {}
    for row in plan.rows:
        village_id = plan.village_ids.get(row.line)
        if village_id is None or not row.address["number"]:
            continue
        key = address_key(row.address, names[village_id])
        if len(key) > ADDRESS_KEY_MAX:
            row.issues.append(RowIssue("too_long", "road"))
            continue
        identity = address_identity(village_id, row.address)
        if identity in registered:
            row.issues.append(RowIssue("already_registered", "number"))
        elif identity in first_line:
            row.issues.append(RowIssue("duplicate_in_file", "number", str(first_line[identity])))
        else:
            first_line[identity] = row.line


def _check_sub_areas(plan: Plan, village_ids: set[int]) -> None:
    """The optional 片区 column names a sub-area of the row's village by code or by name."""
    if not any(row.sub_area for row in plan.rows):
        return
    known: dict[tuple[int, str], int] = {}
    for sub_area in db.session.scalars(select(SubArea).where(SubArea.village_id.in_(village_ids))):
        known[(sub_area.village_id, sub_area.code.upper())] = sub_area.id
        known.setdefault((sub_area.village_id, sub_area.name), sub_area.id)
    for row in plan.rows:
        village_id = plan.village_ids.get(row.line)
        if not row.sub_area or village_id is None:
            continue
        found = known.get((village_id, row.sub_area.upper())) or known.get((village_id, row.sub_area))
        if found is None:
            row.issues.append(RowIssue("unknown_sub_area", "sub_area", row.sub_area[:64]))
        else:
            plan.sub_area_ids[row.line] = found


def import_rows(plan: Plan, account_id: int | None) -> list[House]:
    """Create every house of a plan without rejected rows, in the caller's transaction (the caller
    commits, or rolls back on any error: nothing is half-imported)."""
    if not plan.ok:
        raise ValueError("only a plan without rejected rows is imported")
    actor = records.Actor(account_id, "import")
    houses = []
    # no_autoflush: create_house flushes each house itself; letting its door-code lookups flush the
    # previous house's change rows too would double the round trips (half the time of a big import).
    with db.session.no_autoflush:
        for row in plan.rows:
            data = {**row.address, "lat": row.lat, "lon": row.lon}
            house = records.create_house(actor, plan.village_ids[row.line], data, collected=False,
                                         duplicates="refuse")
            # A new house: its sub-area is part of how it was imported, not a later edit.
            house.sub_area_id = plan.sub_area_ids.get(row.line)
            houses.append(house)
    audit(account_id, "houses_imported", None, f"{len(houses)} houses")
    return houses
