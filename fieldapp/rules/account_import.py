"""Reading a list of people to issue collection IDs to (CSV or Excel), row by row: pure rules.

What an account list is
-----------------------
One person per row, a header row first. Columns are found by their header, in Chinese or English
(``HEADER_ALIASES``): name and role are required; villages, sub-areas and phone are optional
columns. The file is read like a house register (rules.register_import: UTF-8 with or without a
BOM, GBK/GB18030, or .xlsx; cells NFKC-normalised and trimmed).

Rules for a row
---------------
- name: required, at most 64 characters, no control characters.
- role: one of rules.permissions.ROLES, given by its key (``collector``) or its Chinese or English
  name (``采集员``, ``Collector``; ``ROLE_ALIASES``).
- villages: several allowed, separated by ``、 , ， ; ；`` or a new line; each a village's name or code.
  Town-wide roles (admin, supervisor) cover the whole town and take no village; every other role
  needs at least one.
- sub-areas (片区/楼组): several allowed, the same separators; each the sub-area's code or name inside
  one of the row's villages, or ``village/code`` when the row names several villages that share the
  code. Only collectors, police and informants are assigned to sub-areas (the village head assigns
  areas to the people who go to the doors; seed 000's informants are per building group).
- phone: optional; when given, a mainland mobile number (rules.identifiers.validate_mobile),
  stored as its 11 digits.
- A phone number may appear on one row only: two rows with the same number are the same person
  issued twice (the caller also refuses a number already on a live ID).

Whether villages and sub-areas exist, and whether they are the importer's, is checked by the caller
(fieldapp/accountbulk), which knows the town.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import register_import
from .identifiers import IdentifierError, validate_mobile
from .permissions import ROLES, is_town_wide
from .register_import import CONTROL_CHARACTERS, RowIssue, cell_text, header_key

HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "holder", "holdername", "姓名", "名字", "持证人", "持证人姓名"),
    "role": ("role", "角色", "岗位", "职务", "身份", "类别"),
    "villages": ("village", "villages", "villagecode", "villagecodes", "村", "村居", "村/社区", "村社区", "社区",
                 "所属村", "村居委", "负责村", "负责村居"),
    "sub_areas": ("subarea", "subareas", "sub-area", "sub-areas", "area", "areas", "片区", "楼组", "片区/楼组",
                  "片区楼组", "负责片区"),
    "phone": ("phone", "mobile", "mobilephone", "手机", "手机号", "手机号码", "电话", "联系电话"),
}
REQUIRED_COLUMNS = ("name", "role")
COLUMNS = ("name", "role", "villages", "sub_areas", "phone")
NAME_MAX = 64  # Account.name

# Roles, by key and by the names people write in a spreadsheet (Chinese first, as the UI shows them).
ROLE_NAMES_ZH = {"admin": "管理员", "supervisor": "督导（镇/派出所）", "village_head": "村（居）负责人",
                 "reviewer": "审核录入员", "collector": "采集员", "police": "社区民警", "informant": "信息员"}
ROLE_ALIASES: dict[str, tuple[str, ...]] = {
    "admin": ("admin", "administrator", "管理员", "系统管理员"),
    "supervisor": ("supervisor", "督导", "督导员", "督导（镇/派出所）", "镇政府", "街道", "派出所", "人口办"),
    "village_head": ("village_head", "villagehead", "village head", "村（居）负责人", "村负责人", "居民区书记",
                     "村书记", "村主任", "村委会", "居委会"),
    "reviewer": ("reviewer", "entry clerk", "reviewer (entry clerk)", "审核录入员", "审核员", "录入员", "信息录入人员",
                 "录入人员"),
    "collector": ("collector", "采集员", "信息采集员", "综合协管员", "协管员"),
    "police": ("police", "community police", "社区民警", "民警"),
    "informant": ("informant", "信息员", "楼组长"),
}
SUB_AREA_ROLES = frozenset({"collector", "police", "informant"})

_SEPARATORS = re.compile(r"[、,，;；\n\r|]+")


def _alias_key(text: str) -> str:
    return header_key(text).replace("（", "(").replace("）", ")")


_HEADER_INDEX = register_import.alias_index(HEADER_ALIASES)
_ROLE_INDEX = {_alias_key(alias): role for role, aliases in ROLE_ALIASES.items() for alias in aliases}
assert set(ROLE_ALIASES) == set(ROLES), "every role needs its aliases"


@dataclass
class AccountRow:
    line: int  # the row number as a spreadsheet shows it (the header is row 1)
    cells: dict  # COLUMNS -> the text as given (kept, so the clerk sees and corrects what they typed)
    name: str = ""
    role: str | None = None
    villages: list[str] = field(default_factory=list)
    sub_areas: list[str] = field(default_factory=list)
    phone: str | None = None
    issues: list[RowIssue] = field(default_factory=list)


def map_header(header: list) -> tuple[dict[str, int], list[str]]:
    """{column: index} for recognised headers, and the ignored header texts. Raises FileProblem
    (the house register's rules: register_import.map_header)."""
    return register_import.map_header(header, _HEADER_INDEX, REQUIRED_COLUMNS)


def role_of(text: str) -> str | None:
    """The role key a cell names (key, Chinese or English name), or None."""
    return _ROLE_INDEX.get(_alias_key(text)) if text else None


def split_list(text: str) -> list[str]:
    """``东村、西村`` -> ['东村', '西村']: the separators in the module docstring, blanks dropped,
    the first occurrence of each item kept."""
    items = []
    for part in _SEPARATORS.split(text or ""):
        part = part.strip()
        if part and part not in items:
            items.append(part)
    return items


def row_from_cells(line: int, cells: list, columns: dict[str, int]) -> AccountRow | None:
    """A data row of the file -> its texts per column; None for a blank row."""
    texts = {column: cell_text(cells[index]) if index < len(cells) else "" for column, index in columns.items()}
    if not any(texts.values()):
        return None
    return AccountRow(line=line, cells={column: texts.get(column, "") for column in COLUMNS})


def check_row(row: AccountRow) -> AccountRow:
    """Apply the row rules of the module docstring to row.cells; fills the parsed fields and issues.
    Everything that needs the town (villages, sub-areas, phones already issued) is the caller's."""
    row.issues = []
    cells = row.cells
    for column in COLUMNS:
        if CONTROL_CHARACTERS.search(cells.get(column, "")):
            row.issues.append(RowIssue("control_characters", column))
    row.name = CONTROL_CHARACTERS.sub("", cells.get("name", "")).strip()
    if not row.name:
        row.issues.append(RowIssue("missing_name", "name"))
    elif len(row.name) > NAME_MAX:
        row.issues.append(RowIssue("too_long", "name", row.name[:NAME_MAX] + "…"))
    role_text = cells.get("role", "")
    row.role = role_of(role_text)
    if not role_text:
        row.issues.append(RowIssue("missing_role", "role"))
    elif row.role is None:
        row.issues.append(RowIssue("unknown_role", "role", role_text[:32]))
    row.villages = split_list(cells.get("villages", ""))
    row.sub_areas = split_list(cells.get("sub_areas", ""))
    if row.role is not None:
        if is_town_wide(row.role) and row.villages:
            row.issues.append(RowIssue("town_wide_role", "villages"))
        elif not is_town_wide(row.role) and not row.villages:
            row.issues.append(RowIssue("missing_village", "villages"))
        if row.sub_areas and row.role not in SUB_AREA_ROLES:
            row.issues.append(RowIssue("no_sub_areas_for_role", "sub_areas"))
    phone_text = cells.get("phone", "")
    row.phone = None
    if phone_text:
        try:
            row.phone = validate_mobile(phone_text)
        except IdentifierError as error:
            row.issues.append(RowIssue("bad_phone", "phone", error.code))
    return row


def mark_duplicates(rows: list[AccountRow]) -> None:
    """A phone number on several rows: every later row is rejected, naming the first."""
    first: dict[str, int] = {}
    for row in rows:
        if row.phone is None:
            continue
        if row.phone in first:
            row.issues.append(RowIssue("duplicate_in_file", "phone", str(first[row.phone])))
        else:
            first[row.phone] = row.line


def sub_area_reference(token: str) -> tuple[str | None, str]:
    """``东村/A1`` -> ('东村', 'A1'); ``A1`` -> (None, 'A1')."""
    village, sep, code = token.partition("/")
    if sep and village.strip() and code.strip():
        return village.strip(), code.strip()
    return None, token.strip()
