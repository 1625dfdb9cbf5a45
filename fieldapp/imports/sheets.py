"""The files a clerk downloads around an import: the blank template per kind, and the per-row report.

Template: one sheet with the Chinese headers (rules.register_rows.*_TEMPLATE), the village column
offering the importer's villages and each coded column its national code list as a dropdown (data
validation over a range of a hidden sheet, so lists of any length work, e.g. 56 ethnic groups and
the GB/T 4761 relations), document numbers and codes formatted as text (Excel would otherwise show
an 18-digit number as 1.10105E+17 and lose its last digits), and a sheet explaining each column.

Report: one row per finding: row number, column (letter and header), the cell (personal columns
masked), what is wrong, what to do, and whether it is an error (the import is refused) or a notice
(what the import will do). As .xlsx (streamed) or CSV in UTF-8 with a BOM, so Excel opens both.
"""
from __future__ import annotations


from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from ..models import Village
from ..rules.excel_files import csv_bytes, workbook_bytes
from ..rules.register_rows import CODE_TABLES, NAME_LISTS, ORG_TEMPLATE, PEOPLE_TEMPLATE, template_choices
from . import common
from .common import Plan

TEMPLATE_ROWS = 5000  # rows prepared with dropdowns; more can be pasted (then without dropdowns)
TEXT_COLUMNS = frozenset({"id_number", "phone", "hukou_division", "uscc", "employer_uscc", "number", "group_name",
                          "lane", "building", "room", "residence_room"})
REQUIRED = {"people": ("village", "number", "name", "id_number", "category"),
            "organisations": ("village", "number", "name", "kind")}
LISTS_SHEET = "代码表"


def template(kind: str, villages: list[Village]) -> bytes:
    """The blank .xlsx template for `kind` ('people' or 'organisations') for these villages."""
    columns = PEOPLE_TEMPLATE if kind == "people" else ORG_TEMPLATE
    book = Workbook()
    sheet = book.active
    sheet.title = "人员" if kind == "people" else "单位"
    lists = book.create_sheet(LISTS_SHEET)
    lists.sheet_state = "hidden"
    sheet.append([header for _column, header in columns])
    bold = Font(bold=True)
    required = REQUIRED[kind]
    for index, (column, header) in enumerate(columns, start=1):
        letter = get_column_letter(index)
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True, color="C00000") if column in required else bold
        sheet.column_dimensions[letter].width = max(10, len(header) * 2 + 4)
        if column in TEXT_COLUMNS:
            sheet.column_dimensions[letter].number_format = "@"
            for row in range(2, 202):  # a column's format reaches new cells only in some programs
                sheet.cell(row=row, column=index).number_format = "@"
        choices = ([v.name for v in villages] if column == "village"
                   else template_choices(column) if column in CODE_TABLES or column in NAME_LISTS
                   or column == "create_house" else None)
        if not choices:
            continue
        lists.cell(row=1, column=index, value=header)
        for offset, choice in enumerate(choices, start=2):
            lists.cell(row=offset, column=index, value=choice)
        source = f"{quote_sheetname(LISTS_SHEET)}!${letter}$2:${letter}${len(choices) + 1}"
        validation = DataValidation(type="list", formula1=source, allow_blank=True, showErrorMessage=True,
                                    errorTitle=header, error="请从下拉列表中选择。")
        validation.add(f"{letter}2:{letter}{TEMPLATE_ROWS + 1}")
        sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"
    notes = book.create_sheet("说明")
    notes.column_dimensions["A"].width = 24
    notes.column_dimensions["B"].width = 90
    notes.append(["列", "怎么填"])
    for column, header in columns:
        notes.append([header + ("（必填）" if column in required else ""), HELP.get(column, "")])
    return workbook_bytes(book)


HELP = {
    "village": "本村/社区的名称或编码，从下拉列表中选择。",
    "number": "门牌号。与组、路、弄、栋、室一起确定房屋，须与房屋登记一致。",
    "create_house": "登记中没有这个地址时：填“是”新建房屋；空或“否”则该行报错（多为地址写错）。",
    "name": "姓名或单位名称。",
    "id_type": "不填即为居民身份证。其他证件仅限社区民警导入。",
    "id_number": "证件号码（文本格式，18位身份证号码不会被改成科学计数法）。同一证件号码已在本房屋登记的，只补充空白项；已在别处登记的，生成迁入待核实申请，由审核员确认后才迁入。",
    "sex": "居民身份证可不填（由号码得出）。",
    "birth_date": "YYYYMMDD，例如 19850312。居民身份证可不填。",
    "ethnicity": "从下拉列表选择，或填国标代码（如 01）。",
    "nationality": "境外人员填三位国家代码，如 USA、KOR。",
    "category": "户籍人口、外来人口、人户分离或境外人员（境外人员仅限社区民警）。",
    "hukou_division": "六位行政区划代码；居民身份证可不填（取号码前六位）。",
    "move_in_date": "YYYYMMDD。",
    "move_in_reason": "外来人口、人户分离、境外人员必填。",
    "away_duration": "外来人口、人户分离必填。",
    "employer_uscc": "工作单位的统一社会信用代码；单位须已登记在本村（先导入单位）。",
    "kind": "从下拉列表选择。",
    "uscc": "18位统一社会信用代码，按营业执照填写；同一代码只登记一个单位。",
    "employee_count": "整数。",
}


def _report_rows(plan: Plan):
    if plan.file_problem is not None:
        yield ["", "", "", common.file_message(plan), _("Correct the file, then upload it again."), _("Error")]
        return
    for row in plan.rows:
        for issue in row.issues:
            yield [row.line, common.where(plan, issue.column), common.shown_value(issue), common.what(issue),
                   common.todo(issue), _("Notice") if issue.notice else _("Error")]


def _headers() -> list[str]:
    return [_("Row"), _("Column"), _("Cell"), _("What is wrong"), _("What to do"), _("Error or notice")]


def report_xlsx(plan: Plan) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Check report"))
    for letter, width in zip("ABCDEF", (8, 26, 22, 60, 60, 8)):
        sheet.column_dimensions[letter].width = width
    sheet.append(_headers())
    for values in _report_rows(plan):
        sheet.append(values)
    return workbook_bytes(book)


def report_csv(plan: Plan) -> bytes:
    return csv_bytes([_headers(), *_report_rows(plan)])
