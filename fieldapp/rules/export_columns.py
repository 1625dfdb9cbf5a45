"""Export column layouts as data: which columns an export of houses, people, organisations or
changes has, in which order, where each value comes from and how it is written.

Rules (issue 11, "Exports"; shared/domain.md "Field conventions"):
- Every cell is text. National codes are written as their code (leading zeros kept) with the
  code's name in the next column (rules.codes, rules.divisions); fieldapp's own enumerations
  (category, house use, ...) have a small local code table here, for the same reason.
- Dates are 8-digit YYYYMMDD. A stored moment (UTC) is written as the town's calendar day
  (rules.days.local_day): a change made at 00:30 in Beijing belongs to that day.
- Addresses go down to the door number and the room (rules.address.format_address), and their
  parts have columns of their own too.
- Document numbers and phone numbers are masked (rules.identifiers.mask_id / mask_phone) unless
  the export is unmasked; changed values of those fields in a change's content likewise.
- A value that is missing is an empty cell, never "None".
- Text that a spreadsheet would run as a formula (starting with = + - @, tab or carriage return)
  is prefixed with an apostrophe in CSV (spreadsheet_safe): a CSV cell has no type. In .xlsx every
  cell is an inline string and is never run.

A layout is a tuple of Column. Its `source` names the fields of the row the export service reads
(fieldapp/exports/service.py builds one query per data set with exactly these names); `fmt` says
how the value is written. compile_layout() turns a layout into one function from a row tuple to the
list of cells, resolved once per export rather than once per cell.

Two presets per data set: "standard" (every field, as fieldapp names it) and "police" (the column
layout for loading into the public-security 实有人口/实有房屋/实有单位 platform, documented column by
column in docs/police-platform-export.md). Changes have the standard layout only.

Pure: no Flask, no database.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from . import codes, days
from .address import format_address
from .divisions import division_name
from .identifiers import mask_id, mask_phone

DATASETS = ("people", "houses", "organisations", "changes")
FORMATS = ("xlsx", "csv")


@dataclass(frozen=True)
class Column:
    """One column: its header (Chinese, as the platform and the clerk read it), the row field(s) it
    comes from, and how the value is written (FORMATTERS). `table` names the code table for the
    `name`, `lcode` and `lname` formats. `note` says in English what the column holds (docs)."""
    header: str
    source: str | tuple[str, ...]
    fmt: str = "text"
    table: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Layout:
    key: str
    dataset: str
    title: str  # Chinese, shown on the export page and used as the sheet name
    columns: tuple[Column, ...]

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


# --- local code tables (no national standard) ------------------------------------------------------
# key -> (code written to the export, Chinese name). The codes are fieldapp's own, stable, and
# documented in docs/police-platform-export.md; the platform's own tables differ by province.

LOCAL_TABLES: dict[str, dict[str, tuple[str, str]]] = {
    "category": {"local": ("1", "户籍人口"), "migrant": ("2", "流动人口"), "separated": ("3", "人户分离人员"),
                 "abroad": ("4", "境外人员")},
    "person_status": {"living": ("1", "在住"), "left": ("2", "已离开（注销）")},
    "move_in_reason": {"work": ("1", "务工"), "study": ("2", "就学"), "family": ("3", "投亲靠友"),
                       "business": ("4", "经商"), "other": ("9", "其他")},
    "away_duration": {"lt6m": ("1", "半年以下"), "6m_1y": ("2", "半年至一年"), "1y_2y": ("3", "一年至两年"),
                      "2y_5y": ("4", "两年至五年"), "gt5y": ("5", "五年以上")},
    "house_use": {"owner": ("1", "自住"), "rented": ("2", "出租"), "group_rental": ("3", "群租"),
                  "vacant": ("4", "空置"), "commercial": ("5", "商用"), "other": ("9", "其他")},
    "org_kind": {"community_unit": ("1", "社区单位"), "shop": ("2", "沿街商铺"), "factory": ("3", "工厂"),
                 "company": ("4", "公司"), "school": ("5", "学校"), "other": ("9", "其他")},
    "org_status": {"open": ("1", "在营"), "closed": ("2", "已注销（歇业）")},
    "change_kind": {"new": ("1", "新增"), "update": ("2", "变更"), "cancel": ("3", "注销")},
    "entity": {"house": ("1", "房屋"), "person": ("2", "人员"), "organisation": ("3", "单位")},
    "source": {"web": ("1", "网页"), "sync": ("2", "手机采集"), "import": ("3", "导入"), "demo": ("4", "演示"),
               "review": ("5", "审核")},
}

# Chinese names of the fields a change's content names (Change.fields keys).
FIELD_NAMES = {
    "group_name": "组", "road": "路（街）", "lane": "弄（巷）", "number": "门牌号", "building": "幢", "room": "室",
    "use": "房屋用途", "owner_name": "房主姓名", "owner_phone": "房主电话", "tenant_name": "承租人姓名",
    "tenant_phone": "承租人电话", "rental_registered": "租赁备案", "rental_record_no": "租赁备案号",
    "lat": "纬度", "lon": "经度", "name": "名称（姓名）", "sex": "性别", "id_type": "证件类型", "id_number": "证件号码",
    "birth_date": "出生日期", "ethnicity": "民族", "nationality": "国籍", "phone": "联系电话",
    "hukou_division": "户籍地行政区划", "hukou_address": "户籍地详址", "hukou_type": "户口性质", "category": "人员类别",
    "move_in_date": "迁入日期", "move_in_reason": "来此原因", "away_duration": "离开户籍地时长",
    "employer_id": "服务处所", "status": "状态", "left_date": "注销日期", "left_reason": "注销原因",
    "house_id": "居住房屋", "village_id": "村（居委）", "kind": "类别", "uscc": "统一社会信用代码",
    "legal_rep": "法定代表人", "employee_count": "从业人员数", "closed_date": "歇业日期", "relation": "与户主关系",
}
# Fields of a change's content whose values are codes: shown by name (national or local table).
FIELD_TABLES = {"sex": "sex", "id_type": "id_type", "ethnicity": "ethnicity", "hukou_type": "hukou_type",
                "relation": "relation"}
FIELD_LOCAL_TABLES = {"use": "house_use", "category": "category", "move_in_reason": "move_in_reason",
                      "away_duration": "away_duration", "kind": "org_kind"}
# Fields whose values are masked in a masked export's change content.
MASKED_ID_FIELDS = frozenset({"id_number"})
MASKED_PHONE_FIELDS = frozenset({"phone", "owner_phone", "tenant_phone"})


# --- formatting ----------------------------------------------------------------------------------

def yyyymmdd(value) -> str:
    """A date as YYYYMMDD; a stored moment (naive = UTC) as the town's calendar day; None as ''."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = days.local_day(value)
    if isinstance(value, date):
        return f"{value.year:04d}{value.month:02d}{value.day:02d}"
    return str(value)


def text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)


def national_name(table: str, code) -> str:
    """The name of `code` in national code table `table` (rules.codes.TABLES), '' if unknown."""
    return codes.name(codes.TABLES[table], code, default="") if code not in (None, "") else ""


def local_code(table: str, value) -> str:
    entry = LOCAL_TABLES[table].get(value) if value is not None else None
    return entry[0] if entry else text(value)


def local_name(table: str, value) -> str:
    entry = LOCAL_TABLES[table].get(value) if value is not None else None
    return entry[1] if entry else ""


def change_content(fields: dict | None, masked: bool) -> str:
    """A change's content as '名称: 旧 → 新; ...' in the order stored, identifiers and phones masked
    when `masked` (both the old and the new value), coded values by their names."""
    if not fields:
        return ""
    parts = []
    for key, pair in fields.items():
        old, new = (pair if isinstance(pair, (list, tuple)) and len(pair) == 2 else (None, pair))
        if masked and key in MASKED_ID_FIELDS:
            old, new = mask_id(old), mask_id(new)
        elif masked and key in MASKED_PHONE_FIELDS:
            old, new = mask_phone(old), mask_phone(new)
        elif key in FIELD_TABLES:
            old, new = (national_name(FIELD_TABLES[key], v) or v for v in (old, new))
        elif key in FIELD_LOCAL_TABLES:
            old, new = (local_name(FIELD_LOCAL_TABLES[key], v) or v for v in (old, new))
        parts.append(f"{FIELD_NAMES.get(key, key)}: {text(old) or '—'} → {text(new) or '—'}")
    return "; ".join(parts)


def masked_id(value: str) -> str:
    """mask_id(value), without its per-character clean-up for the usual case (a stored number is
    ASCII letters and digits already): the same result, several times faster over a million rows."""
    if value.isascii() and value.isalnum():
        n = len(value)
        if n >= 15:
            return value[:6] + "*" * (n - 10) + value[-4:]
        if n >= 5:
            return value[:2] + "*" * (n - 4) + value[-2:]
        return "*" * n
    return mask_id(value)


def masked_phone(value: str) -> str:
    """mask_phone(value), with the same shortcut for a stored 11-digit mainland mobile number."""
    if len(value) == 11 and value.isascii() and value.isdigit() and value[0] == "1" and value[1] in "3456789":
        return value[:3] + "****" + value[7:]
    return mask_phone(value)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_FIRST = frozenset("=+-@\t\r")


def spreadsheet_safe(value: str) -> str:
    """CSV cells that a spreadsheet would run as a formula get a leading apostrophe (OWASP's advice
    for CSV injection): a name typed as '=HYPERLINK(...)' stays text when the clerk opens the file."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


# fmt -> (how many sources it reads, function(values..., table, masked) -> str)
FORMATTERS: dict[str, Callable[..., str]] = {
    "text": lambda v, table, masked: text(v),
    "code": lambda v, table, masked: text(v),
    "name": lambda v, table, masked: national_name(table, v),
    "lcode": lambda v, table, masked: local_code(table, v),
    "lname": lambda v, table, masked: local_name(table, v),
    "date": lambda v, table, masked: yyyymmdd(v),
    "id": lambda v, table, masked: (masked_id(text(v)) if masked else text(v)) if v else "",
    "phone": lambda v, table, masked: (masked_phone(text(v)) if masked else text(v)) if v else "",
    "division": lambda v, table, masked: (division_name(v) or "") if v else "",
    "changes": lambda v, table, masked: change_content(v, masked),
}
ADDRESS_PARTS = ("village_name", "group_name", "road", "lane", "number", "building", "room")


def full_address(village_name, group_name, road, lane, number, building, room) -> str:
    return format_address({"group_name": group_name, "road": road, "lane": lane, "number": number,
                           "building": building, "room": room}, village_name)


class _Memo(dict):
    """value -> formatted cell, for formats whose values repeat (codes, dates): computed once per
    distinct value. Bounded: a column of distinct moments must not grow it without end."""

    def __init__(self, compute, limit: int = 20_000):
        super().__init__()
        self.compute, self.limit = compute, limit

    def __missing__(self, value):
        cell = self.compute(value)
        if len(self) >= self.limit:
            self.clear()
        self[value] = cell
        return cell


MEMO_FORMATS = frozenset({"name", "lcode", "lname", "date", "division"})


def compile_layout(layout: Layout, fields: Sequence[str], masked: bool = True) -> Callable[[Sequence], list[str]]:
    """A function from a row (a tuple in the order of `fields`) to the layout's cells. Raises
    KeyError naming a source the row does not have, when the export is set up (not row by row).

    The function is generated as one list expression over the row (Python source built from the
    layout, which is data of this module, never user input): a million rows of 45 cells cost a
    call per row instead of a call per cell. Formats whose values repeat go through a memo."""
    index = {name: i for i, name in enumerate(fields)}
    namespace: dict = {"_text": text, "_addr": full_address}
    cells = []
    for n, column in enumerate(layout.columns):
        if column.fmt == "address":
            cells.append("_addr(" + ", ".join(f"r[{index[name]}]" for name in column.source) + ")")
            continue
        i = index[column.source]
        if column.fmt in ("text", "code"):
            cells.append(f"(r[{i}] if r[{i}].__class__ is str else _text(r[{i}]))")
        elif column.fmt in MEMO_FORMATS:
            formatter, table = FORMATTERS[column.fmt], column.table
            namespace[f"_m{n}"] = _Memo(lambda v, f=formatter, t=table: f(v, t, masked))
            cells.append(f"_m{n}[r[{i}]]")
        else:
            namespace[f"_f{n}"] = lambda v, f=FORMATTERS[column.fmt], t=column.table: f(v, t, masked)
            cells.append(f"_f{n}(r[{i}])")
    source = "def cells(r):\n    return [" + ",\n            ".join(cells) + "]\n"
    exec(compile(source, f"<layout {layout.dataset}/{layout.key}>", "exec"), namespace)  # noqa: S102
    return namespace["cells"]


def free_text_positions(layout: Layout) -> list[int]:
    """Columns whose cells may hold typed text (names, addresses, reasons): the only ones a
    spreadsheet could take for a formula. Codes, dates and numbers never start with = + - @."""
    return [n for n, c in enumerate(layout.columns) if c.fmt in ("text", "address", "changes")]


# --- the layouts -----------------------------------------------------------------------------------

def _coded(header: str, source: str, table: str, national: bool = True, note: str = "") -> tuple[Column, Column]:
    """A code column and its name in the next column."""
    if national:
        return (Column(header + "代码", source, "code", table, note), Column(header, source, "name", table))
    return (Column(header + "代码", source, "lcode", table, note), Column(header, source, "lname", table))


PLACE = (
    Column("县级行政区划代码", "county_code", note="Town.county_code (GB/T 2260)"),
    Column("乡镇（街道）代码", "town_code", note="Town.code"),
    Column("乡镇（街道）", "town_name"),
    Column("村（居委）代码", "village_code"),
    Column("村（居委）", "village_name"),
)
ADDRESS = (
    Column("组", "group_name"), Column("路（街）", "road"), Column("弄（巷）", "lane"),
    Column("门牌号", "number"), Column("幢", "building"), Column("室", "room"),
)
HOUSE_ADDRESS = ("village_name", "group_name", "road", "lane", "number", "building", "room")
PERSON_ADDRESS = ("village_name", "group_name", "road", "lane", "number", "building", "living_room")

PEOPLE_STANDARD = Layout("standard", "people", "人员", (
    *PLACE,
    Column("现住地址", PERSON_ADDRESS, "address", note="house address down to the door and the person's room"),
    *ADDRESS,
    Column("居住房间", "residence_room", note="the room of this person's residence (group rentals)"),
    Column("房屋门牌码", "door_code"),
    Column("姓名", "name"),
    *_coded("性别", "sex", "sex"),
    *_coded("证件类型", "id_type", "id_type"),
    Column("证件号码", "id_number", "id"),
    Column("出生日期", "birth_date", "date"),
    *_coded("民族", "ethnicity", "ethnicity"),
    Column("国籍", "nationality", note="ISO 3166-1 alpha-3"),
    Column("联系电话", "phone", "phone"),
    Column("户籍地行政区划代码", "hukou_division", "code"),
    Column("户籍地行政区划", "hukou_division", "division"),
    Column("户籍地详址", "hukou_address"),
    *_coded("户口性质", "hukou_type", "hukou_type"),
    *_coded("人员类别", "category", "category", national=False),
    *_coded("与户主关系", "relation", "relation"),
    Column("迁入日期", "move_in_date", "date"),
    *_coded("来此原因", "move_in_reason", "move_in_reason", national=False),
    *_coded("离开户籍地时长", "away_duration", "away_duration", national=False),
    Column("服务处所", "employer_name"),
    Column("服务处所统一社会信用代码", "employer_uscc"),
    *_coded("状态", "status", "person_status", national=False),
    Column("注销日期", "left_date", "date"),
    Column("注销原因", "left_reason"),
    Column("登记日期", "created_at", "date"),
    Column("更新日期", "updated_at", "date"),
    Column("记录编号", "uid", note="fieldapp's record uid: stable across exports"),
))

PEOPLE_POLICE = Layout("police", "people", "实有人口", (
    Column("公民身份号码（证件号码）", "id_number", "id"),
    *_coded("证件种类", "id_type", "id_type"),
    Column("姓名", "name"),
    *_coded("性别", "sex", "sex"),
    *_coded("民族", "ethnicity", "ethnicity"),
    Column("出生日期", "birth_date", "date"),
    Column("国籍（地区）", "nationality"),
    Column("户籍地行政区划代码", "hukou_division", "code"),
    Column("户籍地行政区划", "hukou_division", "division"),
    Column("户籍地详址", "hukou_address"),
    *_coded("户口性质", "hukou_type", "hukou_type"),
    *_coded("人员类别", "category", "category", national=False),
    Column("现住地行政区划代码", "county_code"),
    Column("现住地乡镇（街道）", "town_name"),
    Column("现住地社区（村）代码", "village_code"),
    Column("现住地社区（村）", "village_name"),
    Column("现住地详址", PERSON_ADDRESS, "address"),
    Column("门牌号", "number"),
    Column("室（房间）", "living_room"),
    Column("房屋编号", "door_code"),
    *_coded("与户主关系", "relation", "relation"),
    Column("联系电话", "phone", "phone"),
    Column("来本地日期", "move_in_date", "date"),
    *_coded("来本地事由", "move_in_reason", "move_in_reason", national=False),
    *_coded("离开户籍地时长", "away_duration", "away_duration", national=False),
    Column("服务处所", "employer_name"),
    Column("服务处所统一社会信用代码", "employer_uscc"),
    *_coded("居住状态", "status", "person_status", national=False),
    Column("注销日期", "left_date", "date"),
    Column("注销原因", "left_reason"),
    Column("采集日期", "created_at", "date"),
    Column("采集记录编号", "uid"),
))

HOUSES_STANDARD = Layout("standard", "houses", "房屋", (
    *PLACE,
    Column("片区（楼组）", "sub_area_name"),
    Column("地址", HOUSE_ADDRESS, "address"),
    *ADDRESS,
    Column("门牌码", "door_code"),
    *_coded("房屋用途", "use", "house_use", national=False),
    Column("房主姓名", "owner_name"),
    Column("房主电话", "owner_phone", "phone"),
    Column("承租人姓名", "tenant_name"),
    Column("承租人电话", "tenant_phone", "phone"),
    Column("租赁备案", "rental_registered"),
    Column("租赁备案号", "rental_record_no"),
    Column("在住人数", "living_people"),
    Column("纬度", "lat"),
    Column("经度", "lon"),
    Column("上门采集日期", "collected_at", "date"),
    Column("登记日期", "created_at", "date"),
    Column("更新日期", "updated_at", "date"),
    Column("记录编号", "uid"),
))

HOUSES_POLICE = Layout("police", "houses", "实有房屋", (
    Column("房屋编号", "door_code"),
    Column("行政区划代码", "county_code"),
    Column("乡镇（街道）代码", "town_code"),
    Column("乡镇（街道）", "town_name"),
    Column("社区（村）代码", "village_code"),
    Column("社区（村）", "village_name"),
    Column("房屋详址", HOUSE_ADDRESS, "address"),
    Column("组", "group_name"),
    Column("街路巷", "road"),
    Column("弄（巷）", "lane"),
    Column("门牌号", "number"),
    Column("幢", "building"),
    Column("室", "room"),
    *_coded("房屋用途", "use", "house_use", national=False),
    Column("房主姓名", "owner_name"),
    Column("房主联系电话", "owner_phone", "phone"),
    Column("承租人姓名", "tenant_name"),
    Column("承租人联系电话", "tenant_phone", "phone"),
    Column("是否租赁备案", "rental_registered"),
    Column("租赁备案编号", "rental_record_no"),
    Column("实住人数", "living_people"),
    Column("经度", "lon"),
    Column("纬度", "lat"),
    Column("采集日期", "collected_at", "date"),
    Column("采集记录编号", "uid"),
))

ORGS_STANDARD = Layout("standard", "organisations", "单位", (
    *PLACE,
    Column("单位名称", "name"),
    Column("统一社会信用代码", "uscc"),
    *_coded("单位类别", "kind", "org_kind", national=False),
    Column("法定代表人", "legal_rep"),
    Column("联系电话", "phone", "phone"),
    Column("从业人员数", "employee_count"),
    Column("登记从业人员数", "registered_employees", note="people whose employer this organisation is"),
    Column("地址", HOUSE_ADDRESS, "address"),
    *ADDRESS,
    Column("房屋门牌码", "door_code"),
    *_coded("状态", "status", "org_status", national=False),
    Column("歇业日期", "closed_date", "date"),
    Column("登记日期", "created_at", "date"),
    Column("更新日期", "updated_at", "date"),
    Column("记录编号", "uid"),
))

ORGS_POLICE = Layout("police", "organisations", "实有单位", (
    Column("单位名称", "name"),
    Column("统一社会信用代码", "uscc"),
    *_coded("单位类别", "kind", "org_kind", national=False),
    Column("法定代表人", "legal_rep"),
    Column("单位联系电话", "phone", "phone"),
    Column("行政区划代码", "county_code"),
    Column("乡镇（街道）", "town_name"),
    Column("社区（村）代码", "village_code"),
    Column("社区（村）", "village_name"),
    Column("单位地址", HOUSE_ADDRESS, "address"),
    Column("房屋编号", "door_code"),
    Column("从业人员数", "employee_count"),
    Column("登记从业人员数", "registered_employees"),
    *_coded("经营状态", "status", "org_status", national=False),
    Column("歇业日期", "closed_date", "date"),
    Column("采集日期", "created_at", "date"),
    Column("采集记录编号", "uid"),
))

CHANGES_STANDARD = Layout("standard", "changes", "变动", (
    Column("变动编号", "uid"),
    Column("采集日期", "collected_at", "date"),
    Column("知悉日期", "known_on", "date"),
    *_coded("变动类型", "kind", "change_kind", national=False),
    *_coded("对象", "entity", "entity", national=False),
    Column("对象记录编号", "record_uid"),
    Column("对象名称", "record_label", note="a person's name, a house's address or an organisation's name"),
    Column("村（居委）代码", "village_code"),
    Column("村（居委）", "village_name"),
    Column("变动内容", "fields", "changes", note="field: old → new; identifiers masked unless unmasked"),
    Column("采集人（采集证号）", "collected_by"),
    Column("扫码走访", "door_proof"),
    *_coded("来源", "source", "source", national=False),
    Column("审核日期", "reviewed_at", "date"),
))

LAYOUTS: dict[tuple[str, str], Layout] = {(lay.dataset, lay.key): lay for lay in (
    PEOPLE_STANDARD, PEOPLE_POLICE, HOUSES_STANDARD, HOUSES_POLICE, ORGS_STANDARD, ORGS_POLICE, CHANGES_STANDARD)}
PRESETS = {"standard": "标准（全部字段）", "police": "公安实有人口/房屋/单位平台"}


def layout(dataset: str, preset: str) -> Layout:
    """The layout of `dataset` in `preset`; changes have only the standard one. KeyError otherwise."""
    return LAYOUTS[(dataset, preset)]


def sources(lay: Layout) -> set[str]:
    """Every row field the layout reads."""
    out: set[str] = set()
    for column in lay.columns:
        out.update(column.source if isinstance(column.source, tuple) else (column.source,))
    return out
