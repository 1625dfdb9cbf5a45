"""What the people and the organisation imports share: a plan of checked rows, finding each row's
village and house, the messages of the report, and creating the new houses a file asks for.

A row names its house by address, exactly as the house register does (rules.register_import's
address columns, compared by rules.address.address_key within the village). A registered address
is that house. An address the register lacks is a row error unless the row's "create the house"
column says yes (rules.register_rows explains why); rows naming one new address share one new
house, created like an imported house (records.create_house, not yet visited).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from openpyxl.utils import get_column_letter
from sqlalchemy import select

from .. import records
from ..doors import importer as house_import
from ..extensions import db
from ..models import House, Village, new_uid
from ..registry.forms import CHANGE_FIELD_LABELS
from ..rules.address import address_key
from ..rules.identifiers import mask_id, mask_phone
from ..rules.register_import import (FileProblem, RowIssue, iter_cells, map_header, parse_address, problem_message,
                                     row_texts, village_finder)
from ..rules.register_rows import parse_yes_no

ADDRESS_KEY_MAX = house_import.ADDRESS_KEY_MAX

GENERIC_TODO = _l("Correct this cell in your file, then upload the whole file again.")

# Row problems found here (the address part's codes are the house import's, house_import.ROW_MESSAGES):
# code -> (what is wrong, what to do).
MESSAGES = {
    "no_house": (_l("No house at this address in the register."),
                 _l("Check the address against the house register. If it is a new house, write 是 in the column 新建房屋.")),
    "bad_yes_no": (_l("Write 是 or 否 here."), _l("Use the template's dropdown: 是 creates the house, 否 or empty does not.")),
    "not_in_list": (_l("This value is not in the code list."),
                    _l("Choose a value from the template's dropdown, or write the national code (e.g. 01 for 汉族).")),
    "bad_date": (_l("Not a date."), _l("Write the date as YYYYMMDD, e.g. 19850312.")),
    "bad_count": (_l("Not a whole number."), _l("Write the number of employees as digits, e.g. 12.")),
    "missing_category": (_l("No category given."), _l("Choose the person's category (人员类别) from the dropdown.")),
    "police_only_category": (_l("Only police register people from abroad."),
                             _l("Remove the row; the community police register people from abroad.")),
    "police_only_document": (_l("Only police register documents other than a resident identity card."),
                             _l("Check the document type; the community police register other documents.")),
    "duplicate_person": (_l("The same document number is in row %(line)s of this file."),
                         _l("Keep one row per person: merge the two rows.")),
    "duplicate_org": (_l("The same organisation is in row %(line)s of this file."),
                      _l("Keep one row per organisation: merge the two rows.")),
    "unknown_employer": (_l("No open organisation with this credit code in your villages."),
                         _l("Import the organisations first, or leave the employer empty.")),
    "org_elsewhere": (_l("An organisation with this credit code is registered at another address or is closed."),
                      _l("Remove the row. Register a move or reopening on the organisation's page.")),
    # Not errors: what the import will do with a row that names someone registered already.
    "will_update": (_l("Already registered at this house: empty fields are filled in; a different value goes to a "
                       "reviewer, it is never overwritten."), _l("Nothing to do.")),
    "will_request_move": (_l("This document number is already registered elsewhere: a move request is sent for "
                             "checking. The person moves only when a reviewer confirms it."), _l("Nothing to do.")),
    "move_waiting": (_l("A move request for this person to this house is already waiting for a reviewer."),
                     _l("Nothing to do: the row is skipped.")),
    "org_will_update": (_l("Already registered at this house: empty fields are filled in; a different value goes to "
                           "a reviewer, it is never overwritten."), _l("Nothing to do.")),
}
NOTICES = frozenset({"will_update", "will_request_move", "move_waiting", "org_will_update"})

EXTRA_LABELS = {
    "village": _l("Village"), "create_house": _l("Create the house (新建房屋)"),
    "residence_room": _l("Room lived in"), "employer_uscc": _l("Employer's credit code"),
    "org_name": _l("Name of the organisation"),
}
# Personal columns: the report shows them masked or not at all (it is downloaded and forwarded).
MASKED = {"id_number": mask_id, "phone": mask_phone}
HIDDEN = frozenset({"name", "hukou_address", "legal_rep"})


@dataclass(slots=True)
class Issue:
    """One finding on a row: `code` (MESSAGES, the house import's ROW_MESSAGES, or "form" with the
    form's own message in `text`), the column it concerns and the cell's value as typed."""
    code: str
    column: str | None
    value: str | None = None
    text: str | None = None
    line_ref: int | None = None

    @property
    def notice(self) -> bool:
        return self.code in NOTICES


@dataclass(slots=True)
class Row:
    line: int
    village: str
    address: dict
    create_house: bool = False
    village_id: int | None = None
    house_key: tuple[int, str] | None = None
    values: dict | None = None  # the cells as the form reads them
    data: dict | None = None  # the record's fields once valid
    relation: str | None = None
    room: str | None = None
    employer_uscc: str | None = None
    outcome: str | None = None  # new | updated | move | waiting
    existing_id: int | None = None
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if not i.notice]


@dataclass
class Plan:
    """What an import would do: every row with its findings; the import writes only a plan without
    a single error (all or nothing)."""
    kind: str  # people | organisations
    rows: list[Row] = field(default_factory=list)
    columns: dict[str, int] = field(default_factory=dict)  # column -> index in the file
    headers: list[str] = field(default_factory=list)  # the file's own header texts
    ignored_columns: list[str] = field(default_factory=list)
    file_problem: FileProblem | None = None
    houses: dict[tuple[int, str], tuple[int, str]] = field(default_factory=dict)  # registered: key -> (id, uid)
    new_houses: dict[tuple[int, str], Row] = field(default_factory=dict)  # key -> first row naming it

    @property
    def rejected(self) -> list[Row]:
        return [row for row in self.rows if row.errors]

    @property
    def ok(self) -> bool:
        return self.file_problem is None and bool(self.rows) and not any(row.errors for row in self.rows)

    def count(self, outcome: str) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)


def read_rows(plan: Plan, data: bytes, max_rows: int, index: dict, required: tuple, parse,
              village_given: bool = False) -> None:
    """Read the file's header (`index`: rules.register_rows' aliases) and its rows, each through
    `parse(line, cells)` (None for a blank row). `village_given`: the village column may be left out.
    Raises FileProblem."""
    rows = iter_cells(data, max_rows)
    header = next(rows, None)
    if header is None:
        raise FileProblem("empty")
    plan.headers = [str(h).strip() if h is not None else "" for h in header]
    if village_given:
        required = tuple(c for c in required if c != "village")
    plan.columns, plan.ignored_columns = map_header(header, index, required)
    for line, cells in enumerate(rows, start=2):
        row = parse(line, cells)
        if row is not None:
            plan.rows.append(row)
    if not plan.rows:
        raise FileProblem("empty")


def parse_start(line: int, cells: list, columns: dict[str, int]) -> tuple[Row, dict[str, str]] | None:
    """What the people and the organisation rows share: the row with its village, address and "create
    the house" cell (and the findings on them), and the row's cells as text by column; None for a
    blank row."""
    texts = row_texts(cells, columns)
    if texts is None:
        return None
    raw, row_issues = texts
    village, address = parse_address(raw, row_issues)
    row = Row(line=line, village=village, address=address, issues=[from_row_issue(i) for i in row_issues])
    create = parse_yes_no(raw.get("create_house", ""))
    if create is None:
        row.issues.append(Issue("bad_yes_no", "create_house", raw["create_house"][:32]))
    row.create_house = bool(create)
    return row, raw


def chunks(values, size: int = 500):
    """`values` in lists of `size`: IN (...) lists and batches of a bounded length."""
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def column_label(column: str | None, kind: str = "people") -> str:
    if column is None:
        return ""
    if column == "name" and kind == "organisations":
        column = "org_name"
    label = EXTRA_LABELS.get(column) or house_import.COLUMN_LABELS.get(column) or CHANGE_FIELD_LABELS.get(column)
    return str(label) if label is not None else column


def where(plan: Plan, column: str | None) -> str:
    """The column as the clerk finds it in their file: its letter and their header text."""
    if column is None or column not in plan.columns:
        return column_label(column, plan.kind)
    index = plan.columns[column]
    header = plan.headers[index] if index < len(plan.headers) else ""
    return f"{get_column_letter(index + 1)} {header or column_label(column, plan.kind)}"


def shown_value(issue: Issue) -> str:
    """The offending cell as the report shows it: personal columns masked or left out."""
    if not issue.value or issue.column in HIDDEN:
        return ""
    mask = MASKED.get(issue.column)
    return mask(issue.value) if mask else issue.value


def what(issue: Issue) -> str:
    if issue.code == "form":
        return issue.text or ""
    if issue.code in MESSAGES:
        message = MESSAGES[issue.code][0]
        return str(message) % {"line": issue.line_ref} if issue.line_ref is not None else str(message)
    return house_import.issue_message(RowIssue(issue.code, issue.column, issue.value))


def todo(issue: Issue) -> str:
    if issue.code in MESSAGES:
        return str(MESSAGES[issue.code][1])
    if issue.code == "duplicate_in_file":
        return str(MESSAGES["duplicate_person"][1])
    if issue.code == "unknown_village":
        return str(_l("Use the name or code of one of your villages, as in the template's list."))
    return str(GENERIC_TODO)


def file_message(plan: Plan) -> str:
    return problem_message(plan.file_problem, house_import.FILE_MESSAGES,
                           lambda column: column_label(column, plan.kind))


def from_row_issue(issue: RowIssue) -> Issue:
    value = issue.value if issue.code != "duplicate_in_file" else None
    return Issue(issue.code, issue.column, value)


def find_houses(plan: Plan, villages: list[Village], default: Village | None = None) -> None:
    """Each row's village (one of the importer's, by name or code: any other is "unknown", so the
    report reveals nothing about villages out of scope) and house (module docstring). `default`:
    the village of rows that name none (the command line's --village)."""
    if default is not None:
        for row in plan.rows:
            if not row.village:
                row.village = default.code
                row.issues = [i for i in row.issues if i.code != "missing_village"]
    find_village = village_finder(villages)
    names = {v.id: v.name for v in villages}
    wanted: set[int] = set()
    for row in plan.rows:
        village = find_village(row.village)
        if row.village and village is None:
            row.issues.append(Issue("unknown_village", "village", row.village[:64]))
        elif village is not None:
            row.village_id = village.id
            wanted.add(village.id)
    if wanted:
        for house_id, uid, village_id, key in db.session.execute(
                select(House.id, House.uid, House.village_id, House.address_key).where(House.village_id.in_(wanted))):
            plan.houses[(village_id, key)] = (house_id, uid)
    for row in plan.rows:
        if row.village_id is None or not row.address.get("number"):
            continue
        key = address_key(row.address, names[row.village_id])
        if len(key) > ADDRESS_KEY_MAX:
            row.issues.append(Issue("too_long", "road"))
            continue
        row.house_key = (row.village_id, key)
        if row.house_key in plan.houses:
            continue
        if row.create_house:
            plan.new_houses.setdefault(row.house_key, row)
        elif row.house_key not in plan.new_houses:
            row.issues.append(Issue("no_house", "number", row.address["number"]))
            row.house_key = None
    # A later "yes" for an address an earlier row left without one creates it for both.
    for row in plan.rows:
        if row.house_key is None and row.village_id is not None and any(i.code == "no_house" for i in row.issues):
            key = (row.village_id, address_key(row.address, names[row.village_id]))
            if key in plan.new_houses:
                row.house_key = key
                row.issues = [i for i in row.issues if i.code != "no_house"]
    for row in plan.rows:  # a registered house is known by its key from now on: memory for big files
        if row.house_key in plan.houses:
            row.address = None


def create_houses(plan: Plan, actor: records.Actor) -> dict[tuple[int, str], tuple[int, str]]:
    """Create the plan's new houses as imported houses are (in the register, not yet visited: as
    records.create_house(collected=False), in bulk through records.insert_new) and return every
    house the plan names: key -> (id, uid)."""
    houses = dict(plan.houses)
    for batch in chunks(list(plan.new_houses.items()), 2000):
        made = [(key, records.NewRecord(entity="house", actor=actor, uid=new_uid(), village_id=key[0],
                                        data=dict(row.address))) for key, row in batch]
        ids = records.insert_new([record for _key, record in made], {}, houses_collected=False)
        for key, record in made:
            houses[key] = (ids[record.uid], record.uid)
    return houses
