"""The words for rules.town_workbook's issue codes, sheets and columns (translated in the catalog)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..rules.town_workbook import Issue

ISSUES = {
    "missing": _l("Empty: fill it in."),
    "missing_column": _l("The header row lacks this column: add it as in the template."),
    "duplicate_column": _l("Two columns have this header: keep one."),
    "duplicate_sheet": _l("Two sheets are for the same thing: keep one."),
    "no_sheets": _l("No sheet named town, villages, sub_areas or quotas (镇, 村居, 片区, 任务数): start from the template."),
    "one_town_row": _l("The town sheet needs exactly one row under its header."),
    "bad_code": _l("A code is 1 to 12 letters, digits or hyphens."),
    "too_long": _l("Too long: at most 64 characters."),
    "control_characters": _l("Contains invisible control characters: type it again."),
    "bad_county": _l("A county code is six digits (GB/T 2260), e.g. 431226."),
    "unknown_county": _l("This county code is not in the GB/T 2260 table here; it is kept, but check it."),
    "bad_quota": _l("A quota is a whole number from 0 to 10,000,000, or empty for none."),
    "bad_order": _l("The order is a whole number."),
    "bad_yes_no": _l("Write 是 or 否 (yes or no)."),
    "bad_village_kind": _l("The kind is 村 (village) or 居委 (community)."),
    "bad_sub_area_kind": _l("The kind is 片区 (area) or 楼组 (building group)."),
    "duplicate_code": _l("The same code is in row %(value)s."),
    "duplicate_name": _l("The same name is in row %(value)s."),
    "duplicate_village": _l("This village is also in row %(value)s."),
    "unknown_village": _l("No village of this town has this code or name: add it to the villages sheet first."),
    "town_needed": _l("No town yet: fill in the town sheet with at least its name and code."),
    "code_taken": _l("Another town already uses this code: choose another."),
    "name_taken": _l("A village of this town with another code already has this name."),
    "total_row": _l("A totals row, not a village: skipped (its organisations quota is the town's when the villages have none)."),
    "file_empty": _l("The file is empty or has only a header row."),
    "file_encoding": _l("The file's text encoding is not UTF-8 or GBK/GB18030. Save it again as CSV (UTF-8) or .xlsx."),
    "file_old_excel": _l("This is an old Excel file (.xls). Save it as .xlsx or CSV and upload that."),
    "file_unreadable": _l("This is not a readable .xlsx file (or CSV for quotas). Save it again and retry."),
    "file_too_many_rows": _l("The file has too many rows."),
}
SHEETS = {"town": _l("Town"), "villages": _l("Villages"), "sub_areas": _l("Sub-areas"), "quotas": _l("Quotas")}
COLUMNS = {
    "name": _l("Name"), "code": _l("Code"), "county_code": _l("County code (GB/T 2260)"), "office": _l("Issuing office"),
    "orgs_quota": _l("Organisations quota"), "package_by_sub_area": _l("Work packages by sub-area"),
    "kind": _l("Kind"), "order": _l("Order"), "village": _l("Village"), "people": _l("People"),
    "houses": _l("Houses"), "orgs": _l("Organisations"), None: "",
}


def issue_message(issue: Issue) -> str:
    message = str(ISSUES[issue.code])
    return message % {"value": issue.value} if "%(value)s" in message else message


def issue_line(issue: Issue) -> str:
    """'Villages, row 3, Code: A code is 1 to 12 letters…' (for the command line and the web list)."""
    parts = [str(SHEETS[issue.sheet])]
    if issue.line:
        parts.append(str(_l("row %(n)s", n=issue.line)))
    if issue.column:
        parts.append(str(COLUMNS.get(issue.column, issue.column)))
    where = ", ".join(parts)
    value = f" “{issue.value}”" if issue.value and "%(value)s" not in str(ISSUES[issue.code]) else ""
    return f"{where}{value}: {issue_message(issue)}"
