"""The files a clerk downloads around bulk issuing: the template to fill in (.xlsx with the roles and
villages as drop-down lists) and the report of rejected rows (CSV in UTF-8 with a BOM, so Excel opens
it; every row as it was given, with a column saying what to correct)."""
from __future__ import annotations


from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from ..models import SubArea, Village
from ..rules.account_import import COLUMNS, ROLE_NAMES_ZH
from ..rules.excel_files import csv_bytes, workbook_bytes
from ..rules.permissions import ROLES
from .issuing import COLUMN_LABELS, Plan, row_report

# The template's header row: Chinese first, as the importer's aliases read it back.
TEMPLATE_HEADER = {"name": "姓名", "role": "角色", "villages": "村居", "sub_areas": "片区/楼组", "phone": "手机号码"}
TEMPLATE_ROWS = 500  # rows that carry the drop-downs


def template_xlsx(villages: list[Village], sub_areas: list[SubArea]) -> bytes:
    """A workbook: sheet 1 to fill in (roles and villages as drop-downs; several villages or
    sub-areas may be typed separated by 、), sheet 2 the lists and a short guide."""
    book = Workbook()
    sheet = book.active
    sheet.title = "发证名单"
    sheet.append([TEMPLATE_HEADER[c] for c in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for index, width in enumerate((14, 18, 24, 24, 16), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    # No per-row cell formats: formatted empty rows would be read back as rows. An 11-digit phone
    # typed as a number is read back as its digits (rules.register_import.cell_text).

    lists = book.create_sheet("代码表")
    lists.append(["角色", "村居名称", "村居代码", "片区/楼组代码", "片区/楼组名称", "所在村居"])
    for cell in lists[1]:
        cell.font = Font(bold=True)
    roles = [ROLE_NAMES_ZH[r] for r in ROLES]
    names = {v.id: v.name for v in villages}
    areas = [s for s in sub_areas if s.village_id in names]
    for i in range(max(len(roles), len(villages), len(areas))):
        lists.append([roles[i] if i < len(roles) else None,
                      villages[i].name if i < len(villages) else None,
                      villages[i].code if i < len(villages) else None,
                      areas[i].code if i < len(areas) else None,
                      areas[i].name if i < len(areas) else None,
                      names[areas[i].village_id] if i < len(areas) else None])
    for index in range(1, 7):
        lists.column_dimensions[get_column_letter(index)].width = 16
    ref = quote_sheetname(lists.title)
    role_list = DataValidation(type="list", formula1=f"{ref}!$A$2:$A${len(roles) + 1}", allow_blank=False,
                               showErrorMessage=True, errorTitle="角色", error="请从下拉列表中选择角色。",
                               promptTitle="角色", prompt="从列表中选择", showInputMessage=True)
    role_list.add(f"B2:B{TEMPLATE_ROWS + 1}")
    sheet.add_data_validation(role_list)
    if villages:
        # Not an error when typed: several villages are written "东村、西村", which no list holds.
        village_list = DataValidation(type="list", formula1=f"{ref}!$B$2:$B${len(villages) + 1}", allow_blank=True,
                                      showErrorMessage=False, promptTitle="村居", showInputMessage=True,
                                      prompt="选择一个村居；多个村居用“、”分隔输入")
        village_list.add(f"C2:C{TEMPLATE_ROWS + 1}")
        sheet.add_data_validation(village_list)
    phone_rule = DataValidation(type="textLength", operator="equal", formula1="11", allow_blank=True,
                                showErrorMessage=True, errorTitle="手机号码", error="手机号码为11位数字。")
    phone_rule.add(f"E2:E{TEMPLATE_ROWS + 1}")
    sheet.add_data_validation(phone_rule)

    guide = book.create_sheet("填写说明")
    for line in ("每行一人。姓名、角色必填。",
                 "管理员、督导覆盖全镇，村居留空；其他角色至少填一个村居（名称或代码），多个用“、”分隔。",
                 "片区/楼组只给采集员、社区民警、信息员；填代码或名称，多个用“、”分隔；多个村居有同一代码时写成“村居/代码”。",
                 "手机号码：11位大陆手机号，可留空。",
                 "整个文件全部通过检查才会发证；有错误的行会列出原因，可下载错误报告修改后重新上传。"):
        guide.append([line])
    guide.column_dimensions["A"].width = 100
    return workbook_bytes(book)


def report_csv(plan: Plan) -> bytes:
    """Every row as given, with its row number and what to correct (empty for a good row)."""
    header = ["行号", *[TEMPLATE_HEADER[c] for c in COLUMNS], "问题"]
    return csv_bytes([header, *([row.line, *[_safe(row.cells.get(c, "")) for c in COLUMNS], row_report(row)]
                                for row in plan.rows)])


def _safe(text: str) -> str:
    """A cell Excel would run as a formula (=, @, or +/- before anything but a phone number) is written
    with a leading apostrophe."""
    if text[:1] in ("=", "@") or (text[:1] in ("+", "-") and not text[1:].replace(" ", "").replace("-", "").isdigit()):
        return "'" + text
    return text


__all__ = ["COLUMN_LABELS", "report_csv", "template_xlsx"]
