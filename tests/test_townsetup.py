"""Setting up a town without the demo (issue 11): the workbook rules, `flask town import`, the
admin's set-up pages, sub-area assignments and work packages, and a whole install walked by role."""
from __future__ import annotations

import csv
import io
import re
from importlib import resources

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.models import Account, AuditEvent, House, SubArea, Town, Village, VillageCounter
from fieldapp.rules import town_workbook as rules

from .builders import PIN, make_account, make_house, make_town, sign_in

# --- helpers -------------------------------------------------------------------------------------


def seed_quota_rows() -> list[list]:
    """The seed's Yuping table as shipped (header + 28 villages + the police station's row)."""
    text = resources.files("fieldapp").joinpath("data/yuping_2016_quotas.csv").read_text(encoding="utf-8")
    return [row for row in csv.reader(io.StringIO(text))]


def xlsx(sheets: dict[str, list[list]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def yuping_workbook(package_by_sub_area: str = "否") -> bytes:
    """The example workbook: Yuping town from the seed's quota table, two sub-areas in 余坪村."""
    rows = seed_quota_rows()
    villages = [r for r in rows[1:] if not r[0].endswith("派出所")]
    return xlsx({
        "镇 town": [["名称", "镇代码", "县级区划代码", "发证机关", "单位任务数", "按片区下发"],
                   ["余坪镇", "431226100", "431226", "余坪镇人民政府", None, package_by_sub_area]],
        "村居 villages": [["代码", "名称", "类型"]] + [[f"YP{i:02d}", r[0], "村"] for i, r in enumerate(villages, 1)],
        "片区 sub_areas": [["村居", "代码", "名称", "类型"], ["余坪村", "A1", "一片区", "片区"],
                         ["YP01", "A2", "二片区", "片区"], ["YP01", "L1", "1号楼组", "楼组"]],
        "任务数 quotas": rows,  # exactly the seed's table, its station row included
    })


# --- rules ---------------------------------------------------------------------------------------

def test_parse_quota_accepts_whole_numbers_and_empty():
    assert rules.parse_quota("2,537") == 2537
    assert rules.parse_quota("２５３７") == 2537  # full-width digits from a Chinese input method
    assert rules.parse_quota("2537.0") == 2537
    assert rules.parse_quota("") is None
    for bad in ("-1", "12.5", "abc", "10000001"):
        with pytest.raises(ValueError):
            rules.parse_quota(bad)


def test_county_code_is_six_digits_and_named_when_known():
    assert rules.check_county_code("431226") == (None, "湖南省麻阳苗族自治县")
    assert rules.check_county_code("43122")[0] == "bad_county"
    assert rules.check_county_code("999999")[0] == "unknown_county"
    assert rules.check_county_code("") == (None, None)


def test_sheet_names_and_headers_in_either_language():
    assert rules.sheet_kind("片区") == "sub_areas" and rules.sheet_kind("Quotas") == "quotas"
    assert rules.sheet_kind("说明") is None
    columns, issues = rules.map_columns("quotas", ["unit", "population_quota", "housing_quota", "organization_quota"])
    assert issues == [] and columns == {"village": 0, "people": 1, "houses": 2, "orgs": 3}
    _c, issues = rules.map_columns("villages", ["名称"])
    assert [(i.column, i.code) for i in issues] == [("code", "missing_column")]


def test_workbook_rows_are_checked_with_sheet_row_and_column():
    book = rules.read_workbook({
        "town": [["name", "code", "county_code", "package_by_sub_area"], ["新镇", "X 1", "12345", "maybe"]],
        "villages": [["code", "name", "kind"], ["V1", "甲村", "村"], ["V1", "乙村", "居委"], ["V3", "", "镇"]],
        "sub_areas": [["village", "code", "name", "kind"], ["V1", "A", "一片", "片区"], ["V1", "A", "二片", "楼宇"]],
        "quotas": [["village", "people", "houses"], ["甲村", "12.5", "3"], ["甲村", "1", "1"]],
        "说明": [["anything"]],
    })
    found = {(i.sheet, i.line, i.column, i.code) for i in book.errors}
    assert found == {
        ("town", 2, "code", "bad_code"), ("town", 2, "county_code", "bad_county"),
        ("town", 2, "package_by_sub_area", "bad_yes_no"),
        ("villages", 3, "code", "duplicate_code"), ("villages", 4, "name", "missing"),
        ("villages", 4, "kind", "bad_village_kind"),
        ("sub_areas", 3, "code", "duplicate_code"), ("sub_areas", 3, "kind", "bad_sub_area_kind"),
        ("quotas", 2, "people", "bad_quota"),
    }
    assert not book.ok


def test_resolve_villages_by_code_or_name_and_the_totals_row():
    book = rules.Workbook()
    rules.read_quotas(seed_quota_rows(), book)
    assert book.ok and len(book.quotas) == 29
    existing = {f"YP{i:02d}": q.village for i, q in enumerate(book.quotas[:28], 1)}
    rules.resolve_villages(book, existing)
    assert book.ok and len(book.quotas) == 28 and book.quotas[0].village == "YP01"
    assert book.total.village == "余坪派出所" and book.total.orgs == 400
    assert [w.code for w in book.warnings] == ["total_row"]
    unknown = rules.Workbook()
    rules.read_quotas([["village", "people"], ["无此村", "5"]], unknown)
    rules.resolve_villages(unknown, existing)
    assert [(i.line, i.code) for i in unknown.errors] == [(2, "unknown_village")]


def test_town_totals_follow_the_villages():
    assert rules.town_totals([(10, 5, None), (20, None, None)], 400) == (30, 5, 400)
    assert rules.town_totals([(10, 5, 2), (20, 1, 3)], 400) == (30, 6, 5)
    assert rules.town_totals([], None) == (None, None, None)


# --- the command line ----------------------------------------------------------------------------

def test_town_import_check_writes_nothing_then_imports_yuping_idempotently(app, runner, tmp_path):
    path = tmp_path / "town.xlsx"
    path.write_bytes(yuping_workbook())
    result = runner.invoke(args=["town", "import", str(path), "--check"])
    assert result.exit_code == 0, result.output
    assert "Checked only; nothing written." in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Town)) == 0

    result = runner.invoke(args=["town", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "villages 28 new, 0 updated; sub-areas 3 new" in result.output
    with app.app_context():
        town = db.session.scalar(select(Town))
        assert (town.name, town.code, town.county_code, town.office) == ("余坪镇", "431226100", "431226", "余坪镇人民政府")
        # The seed's totals: the villages' sums equal the police station's row; organisations from it.
        assert (town.people_quota, town.houses_quota, town.orgs_quota) == (41115, 10831, 400)
        assert db.session.scalar(select(func.count()).select_from(Village)) == 28
        assert db.session.scalar(select(func.count()).select_from(VillageCounter)) == 28
        yuping = db.session.scalar(select(Village).where(Village.code == "YP01"))
        assert (yuping.name, yuping.people_quota, yuping.houses_quota) == ("余坪村", 2537, 637)
        assert [(s.code, s.kind) for s in yuping.sub_areas] == [("A1", "area"), ("A2", "area"), ("L1", "building_group")]
        audits = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "town.import"))
        assert audits == 1

    again = runner.invoke(args=["town", "import", str(path)])
    assert again.exit_code == 0, again.output
    assert "villages 0 new, 0 updated; sub-areas 0 new, 0 updated; quotas of 0 villages changed" in again.output


def test_town_import_refuses_a_bad_workbook_whole_and_names_the_rows(app, runner, tmp_path):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(xlsx({"镇": [["名称", "镇代码"], ["新镇", "N1"]],
                           "村居": [["代码", "名称"], ["C1", "甲村"], ["C2", "甲村"]],
                           "任务数": [["村", "人口", "房屋"], ["甲村", "abc", "1"], ["丙村", "1", "1"]]}))
    result = runner.invoke(args=["town", "import", str(path)])
    assert result.exit_code == 1
    assert "Villages, row 3, Name: The same name is in row 2." in result.output
    assert "Quotas, row 2, People “abc”: A quota is a whole number" in result.output
    assert "Quotas, row 3, Village “丙村”: No village of this town" in result.output
    assert "Nothing was imported" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Town)) == 0
    not_xlsx = tmp_path / "quotas.csv"
    not_xlsx.write_text("village,people\n")
    result = runner.invoke(args=["town", "import", str(not_xlsx)])
    assert result.exit_code == 1 and "not a readable .xlsx file" in result.output


def test_town_create_then_issue_an_admin_id(app, runner):
    result = runner.invoke(args=["town", "create", "--name", "新镇", "--code", "N100", "--county", "431226"])
    assert result.exit_code == 0, result.output
    assert "湖南省麻阳苗族自治县" in result.output
    result = runner.invoke(args=["issue-id", "--name", "管理员", "--role", "admin"])
    assert result.exit_code == 0, result.output
    assert re.search(r"activation code \S+", result.output)
    again = runner.invoke(args=["town", "create", "--name", "另一镇", "--code", "N100"])
    assert again.exit_code == 1 and "Another town already uses this code" in again.output


def test_template_has_the_four_sheets_and_reads_back_clean(app, runner, tmp_path):
    path = tmp_path / "blank.xlsx"
    assert runner.invoke(args=["town", "template", str(path), "--example"]).exit_code == 0
    book = load_workbook(path)
    assert book.sheetnames == ["镇 town", "村居 villages", "片区 sub_areas", "任务数 quotas"]
    assert [c.value for c in book["任务数 quotas"][1]] == ["village", "people", "houses", "organisations"]
    result = runner.invoke(args=["town", "import", str(path), "--check"])
    assert result.exit_code == 0, result.output
