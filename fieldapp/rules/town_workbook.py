"""Reading a town set-up workbook (and the seed-shaped quota table): pure rules, no Flask, no database.

The workbook (docs/town-workbook.md) has up to four sheets, found by name in Chinese or English
(``SHEET_ALIASES``); columns are found by their header (``COLUMN_ALIASES``), compared like the house
register's headers (rules.register_import.header_key):

- **town** (镇): one data row: name, town code, GB/T 2260 county code, issuing office, organisations
  quota (the police station's own quota), and whether work packages follow sub-areas (是/否).
- **villages** (村居): one row per village or community: code, name, kind (村 / 居委), optional order.
- **sub_areas** (片区): one row per sub-area: its village (code or name), code, name, kind (片区 / 楼组).
- **quotas** (任务数): one row per village: village (code or name), people, houses, organisations.
  The same table alone (a CSV or a one-sheet .xlsx) is the web page's quota upload; it is shaped
  like the seed's table (``unit,population_quota,housing_quota,organization_quota``).

Rules
-----
- Codes are 1 to 12 letters, digits or hyphens (GB/T 10114 town codes have 9 digits, village codes
  12; a town may use its own shorter ones). Codes are unique: a village code once per workbook, a
  sub-area code once per village. Names are 1 to 64 characters.
- The county code is six digits (GB/T 2260). A code the division table lacks is accepted with a
  warning (new counties are missing from older tables), never an error.
- Quotas are whole numbers from 0 to 10,000,000; an empty cell means "no quota" (the Yuping police
  station collects organisations itself, so its villages have none).
- A village named in the sub-area or quota sheet must be in the villages sheet or already exist.
- The town's totals follow the villages (``town_totals``).
Every problem is reported with its sheet, spreadsheet row number (the header is row 1) and column;
a workbook with any error is not applied at all.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from .divisions import division_name
from .register_import import CONTROL_CHARACTERS, cell_text, header_key

SHEETS = ("town", "villages", "sub_areas", "quotas")
SHEET_ALIASES: dict[str, tuple[str, ...]] = {
    "town": ("town", "镇", "乡镇", "街道", "镇街", "乡镇街道"),
    "villages": ("villages", "village", "村居", "村", "村居委", "村社区", "社区"),
    "sub_areas": ("subareas", "subarea", "片区", "片区楼组", "楼组", "片区/楼组"),
    "quotas": ("quotas", "quota", "任务数", "任务", "指标", "采集任务"),
}
COLUMN_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "town": {
        "name": ("name", "townname", "名称", "镇名", "乡镇名称", "街道名称"),
        "code": ("code", "towncode", "代码", "镇代码", "乡镇代码", "街道代码"),
        "county_code": ("countycode", "county", "县代码", "区县代码", "县级区划代码", "行政区划代码"),
        "office": ("office", "发证机关", "办公室", "签发单位"),
        "orgs_quota": ("orgsquota", "organisations", "organizations", "organizationquota", "单位", "单位任务数"),
        "package_by_sub_area": ("packagebysubarea", "按片区下发", "按片区分配"),
    },
    "villages": {
        "code": ("code", "villagecode", "代码", "村代码", "村居代码", "编码"),
        "name": ("name", "villagename", "名称", "村名", "村居名称", "村居"),
        "kind": ("kind", "type", "类型", "村/居"),
        "order": ("order", "sortorder", "顺序", "排序", "序号"),
    },
    "sub_areas": {
        "village": ("village", "villagecode", "villagename", "村居", "村", "所属村居", "村代码"),
        "code": ("code", "subareacode", "代码", "编码", "片区代码"),
        "name": ("name", "subareaname", "名称", "片区名称", "楼组名称"),
        "kind": ("kind", "type", "类型"),
    },
    "quotas": {
        "village": ("village", "unit", "villagecode", "villagename", "村居", "村", "村名", "单位名称", "村居委"),
        "people": ("people", "population", "populationquota", "人口", "人口任务数", "实有人口"),
        "houses": ("houses", "housing", "housingquota", "房屋", "房屋任务数", "实有房屋"),
        "orgs": ("organisations", "organizations", "organizationquota", "orgs", "单位", "单位任务数", "实有单位"),
    },
}
REQUIRED = {"town": ("name",), "villages": ("code", "name"), "sub_areas": ("village", "code", "name"),
            "quotas": ("village",)}
VILLAGE_KINDS = {"village": "village", "村": "village", "行政村": "village", "community": "community",
                 "居委": "community", "居委会": "community", "社区": "community", "居": "community"}
SUB_AREA_KINDS = {"area": "area", "片区": "area", "片": "area", "buildinggroup": "building_group",
                  "building_group": "building_group", "楼组": "building_group"}
YES = {"是", "yes", "y", "true", "1", "开", "on"}
NO = {"否", "no", "n", "false", "0", "关", "off", ""}
CODE = re.compile(r"^[0-9A-Za-z-]{1,12}$")
COUNTY = re.compile(r"^\d{6}$")
MAX_NAME = 64
MAX_OFFICE = 64
MAX_QUOTA = 10_000_000


@dataclass
class Issue:
    """A problem in the workbook: machine code (the caller translates), where, and the value."""
    sheet: str
    line: int | None
    column: str | None
    code: str
    value: str | None = None


@dataclass
class TownDraft:
    name: str | None = None
    code: str | None = None
    county_code: str | None = None
    office: str | None = None
    orgs_quota: int | None = None
    package_by_sub_area: bool | None = None


@dataclass
class VillageDraft:
    line: int
    code: str
    name: str
    kind: str = "village"
    order: int | None = None


@dataclass
class SubAreaDraft:
    line: int
    village: str
    code: str
    name: str
    kind: str = "area"


@dataclass
class QuotaDraft:
    line: int
    village: str
    people: int | None
    houses: int | None
    orgs: int | None


@dataclass
class Workbook:
    """What a workbook says, with its problems. ``ok`` when it has no errors (warnings allowed)."""
    town: TownDraft | None = None
    villages: list[VillageDraft] = field(default_factory=list)
    sub_areas: list[SubAreaDraft] = field(default_factory=list)
    quotas: list[QuotaDraft] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    total: QuotaDraft | None = None  # a totals row of the quota table (合计, or the police station's)

    @property
    def ok(self) -> bool:
        return not self.errors


def sheet_kind(title: str) -> str | None:
    """'片区' or '片区 sub_areas' -> 'sub_areas'; None for a sheet the workbook does not use (notes)."""
    for key in [header_key(title), *map(header_key, str(title).split())]:
        for kind, aliases in SHEET_ALIASES.items():
            if key in {header_key(a) for a in aliases}:
                return kind
    return None


def map_columns(sheet: str, header: list) -> tuple[dict[str, int], list[Issue]]:
    """{column: index} for the recognised headers of `sheet`; issues for missing or doubled columns."""
    index = {header_key(alias): column for column, aliases in COLUMN_ALIASES[sheet].items() for alias in aliases}
    found: dict[str, int] = {}
    issues = []
    for position, text in enumerate(header):
        # The template's headers are bilingual ("名称 name"): the whole text or any word of it.
        column = next((index[k] for k in [header_key(text), *map(header_key, str(text or "").split())] if k in index),
                      None)
        if column is None:
            continue
        if column in found:
            issues.append(Issue(sheet, 1, column, "duplicate_column", str(text).strip()))
            continue
        found[column] = position
    for column in REQUIRED[sheet]:
        if column not in found:
            issues.append(Issue(sheet, 1, column, "missing_column"))
    return found, issues


def _cells(row: list, columns: dict[str, int]) -> dict[str, str]:
    return {c: cell_text(row[i]) if i < len(row) else "" for c, i in columns.items()}


def _data_rows(sheet: str, rows: list[list], book: Workbook, name: str | None = None):
    """(line, cells) for each non-blank data row of a `sheet`-shaped table; none when its header is
    wrong (the header's issues go to book.errors, named `name`, the sheet by default)."""
    columns, issues = map_columns(sheet, rows[0] if rows else [])
    for issue in issues:
        issue.sheet = name or sheet
    book.errors += issues
    if issues:
        return
    for line, row in enumerate(rows[1:], start=2):
        cells = _cells(row, columns)
        if any(cells.values()):
            yield line, cells


def parse_quota(text: str) -> int | None:
    """'2,537' -> 2537; '' -> None (no quota). Raises ValueError for anything but a whole number in
    [0, MAX_QUOTA] (a decimal Excel number that is whole, '2537.0', is accepted)."""
    text = unicodedata.normalize("NFKC", text or "").replace(",", "").replace(" ", "").strip()
    if not text:
        return None
    if re.fullmatch(r"\d+(\.0+)?", text) is None:
        raise ValueError(text)
    value = int(text.split(".")[0])
    if value > MAX_QUOTA:
        raise ValueError(text)
    return value


def check_code(sheet: str, line: int, column: str, text: str, issues: list[Issue]) -> str:
    """A code as stored (upper case), or '' with an issue."""
    if not text:
        issues.append(Issue(sheet, line, column, "missing"))
        return ""
    if not CODE.fullmatch(text):
        issues.append(Issue(sheet, line, column, "bad_code", text[:32]))
        return ""
    return text.upper()


def check_name(sheet: str, line: int, column: str, text: str, issues: list[Issue], limit: int = MAX_NAME) -> str:
    if not text:
        issues.append(Issue(sheet, line, column, "missing"))
    elif len(text) > limit:
        issues.append(Issue(sheet, line, column, "too_long", text[:limit] + "…"))
    elif CONTROL_CHARACTERS.search(text):
        issues.append(Issue(sheet, line, column, "control_characters"))
    else:
        return text
    return ""


def check_county_code(text: str) -> tuple[str | None, str | None]:
    """(problem, division name) for a county code: problem 'bad_county' when it is not six digits,
    'unknown_county' (a warning) when the GB/T 2260 table lacks it; None when empty or known."""
    if not text:
        return None, None
    if not COUNTY.fullmatch(text):
        return "bad_county", None
    name = division_name(text)
    return (None, name) if name else ("unknown_county", None)


def read_town(rows: list[list], book: Workbook) -> None:
    columns, issues = map_columns("town", rows[0] if rows else [])
    book.errors += issues
    data = [(line, r) for line, r in enumerate(rows[1:], start=2) if any(cell_text(c) for c in r)]
    if issues:
        return
    if len(data) != 1:
        book.errors.append(Issue("town", 2, None, "one_town_row"))
        return
    line, cells = data[0][0], _cells(data[0][1], columns)
    errors = book.errors
    town = TownDraft(name=check_name("town", line, "name", cells["name"], errors))
    if cells.get("code"):
        town.code = check_code("town", line, "code", cells["code"], errors) or None
    county = cells.get("county_code", "")
    problem, _name = check_county_code(county)
    if problem == "bad_county":
        errors.append(Issue("town", line, "county_code", problem, county[:16]))
    elif problem:
        book.warnings.append(Issue("town", line, "county_code", problem, county))
    town.county_code = (county or None) if problem != "bad_county" else None
    if cells.get("office"):
        town.office = check_name("town", line, "office", cells["office"], errors, MAX_OFFICE) or None
    if "orgs_quota" in cells:
        try:
            town.orgs_quota = parse_quota(cells["orgs_quota"])
        except ValueError:
            errors.append(Issue("town", line, "orgs_quota", "bad_quota", cells["orgs_quota"][:16]))
    if "package_by_sub_area" in cells:
        flag = cells["package_by_sub_area"].lower()
        if flag in YES:
            town.package_by_sub_area = True
        elif flag in NO:
            town.package_by_sub_area = False if flag else None
        else:
            errors.append(Issue("town", line, "package_by_sub_area", "bad_yes_no", flag[:16]))
    book.town = town


def read_villages(rows: list[list], book: Workbook) -> None:
    seen: dict[str, int] = {}
    names: dict[str, int] = {}
    for line, cells in _data_rows("villages", rows, book):
        errors = book.errors
        count = len(errors)
        code = check_code("villages", line, "code", cells["code"], errors)
        name = check_name("villages", line, "name", cells["name"], errors)
        kind = VILLAGE_KINDS.get(header_key(cells.get("kind", "")) or "village")
        if kind is None:
            errors.append(Issue("villages", line, "kind", "bad_village_kind", cells["kind"][:16]))
        order = None
        if cells.get("order"):
            try:
                order = parse_quota(cells["order"])
            except ValueError:
                errors.append(Issue("villages", line, "order", "bad_order", cells["order"][:16]))
        if code and code in seen:
            errors.append(Issue("villages", line, "code", "duplicate_code", str(seen[code])))
        if name and name in names:
            errors.append(Issue("villages", line, "name", "duplicate_name", str(names[name])))
        if len(errors) == count:
            seen[code], names[name] = line, line
            book.villages.append(VillageDraft(line, code, name, kind or "village", order))


def read_sub_areas(rows: list[list], book: Workbook) -> None:
    seen: dict[tuple[str, str], int] = {}
    for line, cells in _data_rows("sub_areas", rows, book):
        errors = book.errors
        count = len(errors)
        village = cells["village"]
        if not village:
            errors.append(Issue("sub_areas", line, "village", "missing"))
        code = check_code("sub_areas", line, "code", cells["code"], errors)
        name = check_name("sub_areas", line, "name", cells["name"], errors)
        kind = SUB_AREA_KINDS.get(header_key(cells.get("kind", "")) or "area")
        if kind is None:
            errors.append(Issue("sub_areas", line, "kind", "bad_sub_area_kind", cells["kind"][:16]))
        if (village.upper(), code) in seen:
            errors.append(Issue("sub_areas", line, "code", "duplicate_code", str(seen[(village.upper(), code)])))
        if len(errors) == count:
            seen[(village.upper(), code)] = line
            book.sub_areas.append(SubAreaDraft(line, village, code, name, kind or "area"))


def read_quotas(rows: list[list], book: Workbook, sheet: str = "quotas") -> None:
    """The quota sheet, or the seed-shaped table on its own (the web upload). `sheet` names it in issues."""
    seen: dict[str, int] = {}
    for line, cells in _data_rows("quotas", rows, book, sheet):
        errors = book.errors
        count = len(errors)
        village = cells["village"]
        if not village:
            errors.append(Issue(sheet, line, "village", "missing"))
        values = {}
        for column in ("people", "houses", "orgs"):
            try:
                values[column] = parse_quota(cells.get(column, ""))
            except ValueError:
                errors.append(Issue(sheet, line, column, "bad_quota", cells[column][:16]))
        if village and village.upper() in seen:
            errors.append(Issue(sheet, line, "village", "duplicate_village", str(seen[village.upper()])))
        if len(errors) == count:
            seen[village.upper()] = line
            book.quotas.append(QuotaDraft(line, village, values["people"], values["houses"], values["orgs"]))


READERS = {"town": read_town, "villages": read_villages, "sub_areas": read_sub_areas, "quotas": read_quotas}


def read_workbook(sheets: dict[str, list[list]]) -> Workbook:
    """Check a workbook given as {sheet title: rows of cell values (header first)}. Unknown sheet
    titles are ignored; a workbook must have at least one known sheet, and each kind once."""
    book = Workbook()
    found: dict[str, str] = {}
    for title, rows in sheets.items():
        kind = sheet_kind(title)
        if kind is None:
            continue
        if kind in found:
            book.errors.append(Issue(kind, None, None, "duplicate_sheet", title))
            continue
        found[kind] = title
        READERS[kind](rows, book)
    if not found:
        book.errors.append(Issue("town", None, None, "no_sheets"))
    return book


TOTAL_LABELS = {"合计", "总计", "小计", "total", "totals", "sum"}


def is_total_label(text: str) -> bool:
    """A quota table's totals row: 合计/总计/total, or the police station's row (…派出所), as in the
    seed's table, where the station's row holds the town's totals and its organisations quota."""
    key = header_key(text)
    return key in TOTAL_LABELS or key.endswith("派出所")


def resolve_villages(book: Workbook, existing: dict[str, str]) -> None:
    """Check that every village named in the sub-area and quota sheets is known: in the villages
    sheet or `existing` ({code upper: name} of the town's villages), by code or by name. Names the
    rows' village by its code (``SubAreaDraft.village``/``QuotaDraft.village`` become codes)."""
    codes = {**{c.upper(): n for c, n in existing.items()}, **{v.code: v.name for v in book.villages}}
    by_name = {name: code for code, name in codes.items()}
    for sheet, rows in (("sub_areas", book.sub_areas), ("quotas", book.quotas)):
        kept = []
        for row in rows:
            code = row.village.upper() if row.village.upper() in codes else by_name.get(row.village)
            if code is None and sheet == "quotas" and is_total_label(row.village) and book.total is None:
                book.total = row  # not a village: the town's figures (its organisations quota is used)
                book.warnings.append(Issue(sheet, row.line, "village", "total_row", row.village[:64]))
                continue
            if code is None:
                book.errors.append(Issue(sheet, row.line, "village", "unknown_village", row.village[:64]))
                continue
            row.village = code
            kept.append(row)
        rows[:] = kept
    seen_quota: dict[str, int] = {}
    for row in book.quotas:  # a village given once by code and once by name
        if row.village in seen_quota:
            book.errors.append(Issue("quotas", row.line, "village", "duplicate_village", str(seen_quota[row.village])))
        seen_quota[row.village] = row.line


def town_totals(villages: list[tuple[int | None, int | None, int | None]], town_orgs_quota: int | None) -> tuple:
    """The town's (people, houses, orgs) quotas from its villages' (people, houses, orgs): people
    and houses are the villages' sums (None when no village has one); organisations are the sum
    when any village has an organisations quota, otherwise the town's own figure (the police
    station's quota when it collects organisations itself, as in Yuping)."""
    def total(index):
        values = [v[index] for v in villages if v[index] is not None]
        return sum(values) if values else None
    orgs = total(2)
    return total(0), total(1), orgs if orgs is not None else town_orgs_quota
