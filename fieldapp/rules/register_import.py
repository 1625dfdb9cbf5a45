"""Reading an existing house register (CSV or Excel) row by row: pure rules, no Flask, no database.

What a register file is
-----------------------
One row per house, a header row first. Columns are found by their header, in Chinese or English
(``HEADER_ALIASES``): the village (name or code) and the door number are required; group, road,
lane, building, room, the sub-area (片区/楼组: its code or name in the village) and the coordinates
(latitude and longitude, both or neither) are optional.
Other columns are ignored and named in the report, so a register with owners' names in it does not
bring personal data in: that is collected at the door.

Text files
----------
Chinese Excel saves "CSV" in the system code page (GBK), others save UTF-8 with or without a byte
order mark, and "Unicode text" is UTF-16 with a BOM and tabs. ``decode_text`` tries, in order: a
BOM (UTF-8 or UTF-16), strict UTF-8, then GB18030 (a superset of GBK and GB2312, so every GBK file
decodes the same). Bytes that are neither UTF-8 nor GB18030 are refused, never guessed.

Values
------
Cells are NFKC-normalised (full-width digits and brackets from Chinese input methods become
ASCII), trimmed, and a trailing unit suffix is dropped when something is left (``3组`` -> ``3``,
``27号`` -> ``27``), because the register stores parts without their suffix and shows them with
it (rules.address): ``3组`` and ``3`` are the same group, and grouping labels by group must not
split them. Text with control characters is refused (exports that carry them are damaged).
"""
from __future__ import annotations

import codecs
import csv
import io
import math
import re
import unicodedata
from dataclasses import dataclass, field

# Column -> accepted headers (compared after NFKC, lower-case, without spaces and brackets).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "village": ("village", "villagecode", "villagename", "community", "村", "村名", "村居", "村社区",
                "村/社区", "社区", "村委会", "居委会", "所属村", "村居委", "村编码", "村代码"),
    "group_name": ("group", "groupname", "组", "组别", "村民小组", "小组"),
    "road": ("road", "street", "路", "路街", "街路巷", "路/街", "街巷", "道路"),
    "lane": ("lane", "弄", "巷", "弄/巷", "弄巷"),
    "number": ("number", "doornumber", "no", "no.", "号", "门牌号", "门牌号码", "门牌"),
    "building": ("building", "栋", "楼栋", "幢", "栋号"),
    "room": ("room", "室", "房间", "房间号", "室号"),
    "sub_area": ("subarea", "sub_area", "片区", "楼组", "片区/楼组", "片区楼组", "片区代码", "所属片区"),
    "lat": ("lat", "latitude", "纬度"),
    "lon": ("lon", "lng", "long", "longitude", "经度"),
}
REQUIRED_COLUMNS = ("village", "number")
ADDRESS_COLUMNS = ("group_name", "road", "lane", "number", "building", "room")
# The House model's column sizes (models/registry.py).
MAX_LENGTH = {"sub_area": 64, "village": 64, "group_name": 32, "road": 64, "lane": 32, "number": 32, "building": 32, "room": 32}
SUFFIXES = {"group_name": "组", "lane": "弄", "number": "号", "building": "栋", "room": "室"}

# Mainland China's extent with a margin (Mohe 53.6 N, Zengmu Reef 3.9 N; Pamirs 73.5 E, Fuyuan
# 135.1 E). A register position outside it is a typing error or swapped columns, never a house here.
LAT_RANGE = (3.5, 54.0)
LON_RANGE = (73.0, 136.0)

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_HEADER_NOISE = re.compile(r"[\s()\[\]（）【】*:：_\-]+")


class FileProblem(Exception):
    """The file as a whole cannot be read as a register: `code` says why (see the importer's messages)."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


def too_large(max_bytes: int) -> FileProblem:
    """The problem of an upload longer than `max_bytes`: its message names the limit in whole MB."""
    return FileProblem("too_large", limit=max_bytes // (1024 * 1024))


@dataclass
class RowIssue:
    """Why a row is rejected: a machine code (translated by the caller) and the offending column."""
    code: str
    column: str | None = None
    value: str | None = None


@dataclass
class ParsedRow:
    line: int  # the row number as a spreadsheet shows it (the header is row 1)
    village: str
    address: dict  # ADDRESS_COLUMNS -> value or None
    lat: float | None = None
    lon: float | None = None
    issues: list[RowIssue] = field(default_factory=list)
    sub_area: str | None = None  # the optional 片区 column: a sub-area's code or name in the village


@dataclass
class ImportPlan:
    """What an all-or-nothing import would do: the file's rows, each with its issues (`row.issues`),
    the ignored header texts, or the problem that makes the whole file unreadable. Importers
    subclass it with what they resolve the rows to."""
    rows: list = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    file_problem: FileProblem | None = None

    @property
    def rejected(self) -> list:
        return [row for row in self.rows if row.issues]

    @property
    def ok(self) -> bool:
        return self.file_problem is None and bool(self.rows) and not self.rejected


def fill_plan(plan: ImportPlan, data: bytes, max_rows: int, map_header, parse_row) -> None:
    """Read a CSV or .xlsx file into `plan`: the header through `map_header(header)` -> (columns,
    ignored header texts), each data row through `parse_row(line, cells, columns)` (None for a blank
    row). Raises FileProblem: the file's own, or 'empty' without a header or a data row."""
    cells = read_cells(data, max_rows)
    if not cells:
        raise FileProblem("empty")
    columns, plan.ignored_columns = map_header(cells[0])
    for line, values in enumerate(cells[1:], start=2):
        row = parse_row(line, values, columns)
        if row is not None:
            plan.rows.append(row)
    if not plan.rows:
        raise FileProblem("empty")


def problem_message(problem: FileProblem, messages: dict, label) -> str:
    """A FileProblem as text: `messages[code]` filled with its params, the missing columns named by
    `label(column)`. The messages are the caller's (translated strings or lazy ones)."""
    params = dict(problem.params)
    if "columns" in params:
        params["columns"] = ", ".join(label(c) for c in params["columns"])
    message = messages[problem.code]
    return str(message) % params if params else str(message)


def row_issue_message(issue: RowIssue, messages: dict) -> str:
    """A RowIssue as text: `messages[code]`; a duplicate names the row it repeats (its value)."""
    message = messages[issue.code]
    if issue.code == "duplicate_in_file":
        return str(message) % {"line": issue.value}
    return str(message)


def decode_text(data: bytes) -> str:
    """The text of a CSV file, by the order in the module docstring. Raises FileProblem('encoding')."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise FileProblem("encoding") from None
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding, errors="strict")
        except UnicodeDecodeError:
            continue
    raise FileProblem("encoding")


def csv_rows(text: str) -> list[list[str]]:
    """Rows of a delimited text: comma, tab or semicolon, whichever the header line uses most."""
    return list(iter_csv_rows(text))


def iter_csv_rows(text: str):
    """csv_rows one at a time."""
    first = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first.count)
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def header_key(text) -> str:
    return _HEADER_NOISE.sub("", unicodedata.normalize("NFKC", str(text or ""))).lower()


def alias_index(aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """{header_key(alias): column} for a table of accepted headers like HEADER_ALIASES."""
    return {header_key(alias): column for column, aliases_ in aliases.items() for alias in aliases_}


_ALIAS_INDEX = alias_index(HEADER_ALIASES)


def map_header(header: list, index: dict[str, str] | None = None,
               required: tuple[str, ...] = REQUIRED_COLUMNS) -> tuple[dict[str, int], list[str]]:
    """{column: index} for the recognised headers and the list of ignored header texts. `index` is an
    alias_index() (the house register's by default), `required` the columns a file must have.
    Raises FileProblem for a missing required column or a column given twice."""
    index = _ALIAS_INDEX if index is None else index
    found: dict[str, int] = {}
    ignored = []
    for position, text in enumerate(header):
        column = index.get(header_key(text))
        if column is None:
            if str(text or "").strip():
                ignored.append(str(text).strip())
            continue
        if column in found:
            raise FileProblem("duplicate_column", column=str(text).strip())
        found[column] = position
    missing = [c for c in required if c not in found]
    if missing:
        raise FileProblem("missing_columns", columns=missing)
    return found, ignored


def village_finder(villages: list):
    """How an import names a village: by its exact name, or by its code in any letter case. Returns
    text -> the one of `villages` it names, or None (any village outside them is unknown)."""
    by_name = {v.name: v for v in villages}
    by_code = {v.code.upper(): v for v in villages}
    return lambda text: by_name.get(text) or by_code.get(text.upper())


def cell_text(value) -> str:
    """A cell as text: Excel numbers without a spurious '.0', NFKC, trimmed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


def strip_suffix(column: str, text: str) -> str:
    """``3组`` -> ``3`` for the group column, and so on (SUFFIXES); a lone suffix is kept."""
    suffix = SUFFIXES.get(column)
    if suffix and text.endswith(suffix) and len(text) > len(suffix):
        return text[:-len(suffix)].strip()
    return text


def parse_coordinate(text: str, low: float, high: float) -> float | None:
    """A decimal degree within [low, high]; None when it is not one."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or not low <= value <= high:
        return None
    return value


def row_texts(cells: list, columns: dict[str, int]) -> tuple[dict[str, str], list[RowIssue]] | None:
    """The row's cells as text by column, control characters removed (each one an issue), or None for
    a blank row (spreadsheets often end with some)."""
    raw = {column: cell_text(cells[index]) if index < len(cells) else "" for column, index in columns.items()}
    if not any(raw.values()):
        return None
    issues = []
    for column, text in raw.items():
        if CONTROL_CHARACTERS.search(text):
            issues.append(RowIssue("control_characters", column))
            raw[column] = CONTROL_CHARACTERS.sub("", text)
    return raw, issues


def parse_address(raw: dict[str, str], issues: list[RowIssue]) -> tuple[str, dict]:
    """(village, address) of a row: the village as given (name or code) and ADDRESS_COLUMNS -> value
    or None, suffixes dropped. A missing village or door number and a part too long for the register
    are added to `issues`."""
    address = {}
    for column in ADDRESS_COLUMNS:
        text = strip_suffix(column, raw.get(column, ""))
        address[column] = text or None
    village = raw.get("village", "")
    if not village:
        issues.append(RowIssue("missing_village", "village"))
    if not address["number"]:
        issues.append(RowIssue("missing_number", "number"))
    for column, limit in MAX_LENGTH.items():
        value = village if column == "village" else raw.get("sub_area") if column == "sub_area" else address.get(column)
        if value and len(value) > limit:
            issues.append(RowIssue("too_long", column, value[:limit] + "…"))
    return village, address


def parse_row(line: int, cells: list, columns: dict[str, int]) -> ParsedRow | None:
    """One data row -> ParsedRow with its issues (empty when the row is valid on its own), or None for
    a blank row. Checks here need nothing but the row itself; the village and duplicates are checked
    by the caller, which knows the register."""
    texts = row_texts(cells, columns)
    if texts is None:
        return None
    raw, issues = texts
    village, address = parse_address(raw, issues)
    row = ParsedRow(line=line, village=village, address=address, issues=issues, sub_area=raw.get("sub_area") or None)
    lat_text, lon_text = raw.get("lat", ""), raw.get("lon", "")
    if lat_text or lon_text:
        if not (lat_text and lon_text):
            issues.append(RowIssue("half_position", "lat" if not lat_text else "lon"))
        else:
            row.lat = parse_coordinate(lat_text, *LAT_RANGE)
            row.lon = parse_coordinate(lon_text, *LON_RANGE)
            if row.lat is None:
                issues.append(RowIssue("bad_latitude", "lat", lat_text[:32]))
            if row.lon is None:
                issues.append(RowIssue("bad_longitude", "lon", lon_text[:32]))
    return row


# Reading a file's cells -------------------------------------------------------------------------

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls format


def read_cells(data: bytes, max_rows: int) -> list[list]:
    """All rows of a CSV or .xlsx file (header first) as lists of cell values, blank rows at the end
    dropped (see iter_cells)."""
    return drop_blank_tail(list(iter_cells(data, max_rows)))


def iter_cells(data: bytes, max_rows: int):
    """The rows of a CSV or .xlsx file (header first) as lists of cell values, one at a time, so a
    big register is never held twice. An .xlsx is read from its first sheet; the old .xls format and
    anything unreadable are FileProblems, and so is a row with data beyond max_rows data rows
    ('too_many_rows'; blank rows past the limit, as spreadsheets end with, are not counted)."""
    if data.startswith(OLE_MAGIC):
        raise FileProblem("old_excel")
    source = _xlsx_rows(data) if data.startswith(ZIP_MAGIC) else iter_csv_rows(decode_text(data))
    for count, row in enumerate(source):
        if count > max_rows and any(cell_text(c) for c in row):
            raise FileProblem("too_many_rows", limit=max_rows)
        yield row


def _xlsx_rows(data: bytes):
    import zipfile

    from openpyxl import load_workbook

    try:
        # read_only streams the sheet (memory stays flat); data_only gives formulas' cached values.
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise FileProblem("unreadable") from None
    try:
        blank_run = 0
        for values in book.worksheets[0].iter_rows(values_only=True):
            # Formatted but empty rows (a template's data validation reaches far down) are not data;
            # a thousand of them in a row end the sheet.
            if not any(cell_text(v) for v in values):
                blank_run += 1
                if blank_run > 1000:
                    break
            else:
                blank_run = 0
            yield list(values)
    finally:
        book.close()


def drop_blank_tail(cells: list[list]) -> list[list]:
    while cells and not any(cell_text(c) for c in cells[-1]):
        cells.pop()
    return cells
