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


def test_package_sub_areas_rule():
    from fieldapp.rules.sub_areas import assignable_kinds, package_sub_areas
    assert package_sub_areas("collector", True, [3, 4]) == frozenset({3, 4})
    assert package_sub_areas("police", True, [3]) == frozenset({3})
    assert package_sub_areas("collector", False, [3]) is None  # the town's setting is off
    assert package_sub_areas("collector", True, []) is None  # no sub-area: the whole village
    assert package_sub_areas("reviewer", True, [3]) is None
    assert assignable_kinds("informant") == ("building_group",)
    assert assignable_kinds("collector") == ("area", "building_group")


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

    # A corrected workbook updates by code: a renamed sub-area, a new quota, a new village.
    changed = tmp_path / "changed.xlsx"
    changed.write_bytes(xlsx({
        "村居": [["代码", "名称"], ["YP01", "余坪村"], ["YP29", "新建村"]],
        "片区": [["村居", "代码", "名称", "类型"], ["YP01", "A1", "东片区", "片区"]],
        "任务数": [["村", "人口", "房屋"], ["余坪村", "2600", "640"], ["新建村", "15", "5"]]}))
    result = runner.invoke(args=["town", "import", str(changed)])
    assert result.exit_code == 0, result.output
    assert "villages 1 new, 0 updated; sub-areas 0 new, 1 updated; quotas of 2 villages changed" in result.output
    with app.app_context():
        town = db.session.scalar(select(Town))
        assert (town.people_quota, town.houses_quota) == (41115 - 2537 + 2600 + 15, 10831 - 637 + 640 + 5)
        assert db.session.scalar(select(SubArea.name).where(SubArea.code == "A1")) == "东片区"
        assert db.session.scalar(select(func.count()).select_from(VillageCounter)) == 29


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


# --- the admin's set-up pages --------------------------------------------------------------------

def _admin(app, login):
    with app.app_context():
        town = Town(code="N1", name="新镇", office="新镇人民政府")
        db.session.add(town)
        db.session.commit()
        admin = make_account(town, "admin")
        return town.id, login(admin)


def test_admin_sets_up_town_villages_sub_areas_and_quotas_on_the_web(app, login):
    town_id, client = _admin(app, login)
    page = client.get("/admin/town")
    assert page.status_code == 200 and "还没有村" in page.text

    bad = client.post("/admin/town", data={"name": "新镇", "code": "N1", "county_code": "4312", "office": "新镇人民政府"})
    assert bad.status_code == 422 and 'value="4312"' in bad.text  # the input is kept
    good = client.post("/admin/town", data={"name": "新镇", "code": "N1", "county_code": "431226", "office": "新镇人民政府",
                                            "orgs_quota": "400", "package_by_sub_area": "y"})
    assert good.status_code == 303
    assert "湖南省麻阳苗族自治县" in client.get("/admin/town").text

    bad = client.post("/admin/town/villages/new", data={"name": "甲村", "code": "甲 1", "kind": "village"})
    assert bad.status_code == 422 and 'value="甲村"' in bad.text
    ids = []
    for name, code in (("甲村", "c1"), ("乙居委", "C2")):
        made = client.post("/admin/town/villages/new", data={"name": name, "code": code, "kind": "village"})
        assert made.status_code == 303
        ids.append(int(made.headers["Location"].rsplit("/", 1)[1]))
    taken = client.post("/admin/town/villages/new", data={"name": "丙村", "code": "C1", "kind": "village"})
    assert taken.status_code == 422  # codes are stored upper case: c1 is C1
    assert client.post(f"/admin/town/villages/{ids[1]}/move", data={"direction": "up"}).status_code == 303
    assert client.post(f"/admin/town/villages/{ids[0]}/sub-areas",
                       data={"sub-name": "一片区", "sub-code": "A1", "sub-kind": "area"}).status_code == 303
    again = client.post(f"/admin/town/villages/{ids[0]}/sub-areas", data={"sub-name": "另一片", "sub-code": "a1", "sub-kind": "area"})
    assert again.status_code == 422 and 'value="另一片"' in again.text

    table = {f"people-{ids[0]}": "100", f"houses-{ids[0]}": "30", f"orgs-{ids[0]}": "",
             f"people-{ids[1]}": "5O", f"houses-{ids[1]}": "10", f"orgs-{ids[1]}": ""}
    bad = client.post("/admin/town/quotas", data=table)
    assert bad.status_code == 422 and 'value="5O"' in bad.text and 'value="100"' in bad.text
    table[f"people-{ids[1]}"] = "50"
    assert client.post("/admin/town/quotas", data=table).status_code == 303
    with app.app_context():
        town = db.session.get(Town, town_id)
        assert (town.people_quota, town.houses_quota, town.orgs_quota, town.county_code) == (150, 40, 400, "431226")
        assert town.package_by_sub_area is True
        villages = list(db.session.scalars(select(Village).where(Village.town_id == town_id).order_by(Village.sort_order)))
        assert [v.name for v in villages] == ["乙居委", "甲村"]  # moved up
        assert db.session.scalar(select(func.count()).select_from(VillageCounter)) == 2
        assert [s.code for s in villages[1].sub_areas] == ["A1"]


def test_quota_upload_is_all_or_nothing_with_a_row_list(app, login):
    town_id, client = _admin(app, login)
    for i, row in enumerate(seed_quota_rows()[1:29], 1):
        client.post("/admin/town/villages/new", data={"name": row[0], "code": f"YP{i:02d}", "kind": "village"})
    text = "\n".join(",".join(r) for r in seed_quota_rows()).encode("utf-8")
    bad = text.replace(b"2537", b"25x7") + "\n无名村,1,1,\n".encode()
    answer = client.post("/admin/town/quotas/upload", data={"file": (io.BytesIO(bad), "q.csv"), "run": "1"},
                         content_type="multipart/form-data")
    assert answer.status_code == 422
    assert "25x7" in answer.text and "无名村" in answer.text
    with app.app_context():
        assert db.session.scalar(select(func.sum(Village.people_quota))) is None  # nothing saved
    checked = client.post("/admin/town/quotas/upload", data={"file": (io.BytesIO(text), "q.csv"), "check_only": "1"},
                          content_type="multipart/form-data")
    assert checked.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.sum(Village.people_quota))) is None
    done = client.post("/admin/town/quotas/upload", data={"file": (io.BytesIO(text), "q.csv"), "run": "1"},
                       content_type="multipart/form-data")
    assert done.status_code == 303
    with app.app_context():
        town = db.session.get(Town, town_id)
        assert (town.people_quota, town.houses_quota, town.orgs_quota) == (41115, 10831, 400)


def test_workbook_upload_and_template_download(app, login):
    town_id, client = _admin(app, login)
    template = client.get("/admin/town/workbook/template.xlsx")
    assert template.status_code == 200 and template.data[:2] == b"PK"
    assert load_workbook(io.BytesIO(template.data)).sheetnames[0] == "镇 town"
    data = yuping_workbook("是")
    checked = client.post("/admin/town/workbook", data={"file": (io.BytesIO(data), "t.xlsx"), "check_only": "1"},
                          content_type="multipart/form-data")
    assert checked.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Village)) == 0
    done = client.post("/admin/town/workbook", data={"file": (io.BytesIO(data), "t.xlsx"), "run": "1"},
                       content_type="multipart/form-data")
    assert done.status_code == 303
    with app.app_context():
        town = db.session.get(Town, town_id)
        assert (town.code, town.name, town.people_quota, town.package_by_sub_area) == ("431226100", "余坪镇", 41115, True)
    broken = client.post("/admin/town/workbook", data={"file": (io.BytesIO(b"not a workbook"), "t.xlsx"), "run": "1"},
                         content_type="multipart/form-data")
    assert broken.status_code == 422


# --- sub-areas in use ----------------------------------------------------------------------------

def _town_with_sub_areas():
    town, (east, west) = make_town()
    areas = {}
    for village, code, kind in ((east, "A1", "area"), (east, "A2", "area"), (east, "L1", "building_group"),
                                (west, "W1", "area")):
        sub_area = SubArea(village_id=village.id, code=code, name=code + "区", kind=kind)
        db.session.add(sub_area)
        db.session.flush()
        areas[code] = sub_area.id
    db.session.commit()
    return town, east, west, areas


def test_village_head_assigns_only_their_villages_and_informants_to_building_groups(app, login):
    with app.app_context():
        town, east, west, areas = _town_with_sub_areas()
        head = make_account(town, "village_head", [east])
        mine = make_account(town, "collector", [east])
        theirs = make_account(town, "collector", [west])
        informant = make_account(town, "informant", [east])
        ids = (mine.id, theirs.id, informant.id)
        cids = (mine.collection_id, theirs.collection_id)
        client = login(head)
    page = client.get("/town/assign")
    assert page.status_code == 200
    assert cids[0] in page.text and cids[1] not in page.text
    assert client.post(f"/town/assign/{ids[1]}", data={"sub_area": str(areas["W1"])}).status_code == 404
    assert client.post(f"/town/assign/{ids[0]}", data={"sub_area": str(areas["W1"])}).status_code == 404
    assert client.post(f"/town/assign/{ids[0]}", data={"sub_area": [str(areas["A1"]), str(areas["A2"])]}).status_code == 303
    assert client.post(f"/town/assign/{ids[2]}", data={"sub_area": str(areas["A1"])}).status_code == 404
    assert client.post(f"/town/assign/{ids[2]}", data={"sub_area": str(areas["L1"])}).status_code == 303
    with app.app_context():
        assert {s.code for s in db.session.get(Account, ids[0]).sub_areas} == {"A1", "A2"}
        assert {s.code for s in db.session.get(Account, ids[2]).sub_areas} == {"L1"}
    assert client.post(f"/town/assign/{ids[0]}", data={}).status_code == 303  # none ticked: the whole village
    with app.app_context():
        assert db.session.get(Account, ids[0]).sub_areas == []


def test_work_package_follows_sub_areas_only_when_the_town_says_so(ctx):
    from fieldapp import sync
    town, east, west, areas = _town_with_sub_areas()
    in_a1 = make_house(east, number="1")
    in_a2 = make_house(east, number="2")
    nowhere = make_house(east, number="3")
    db.session.execute(House.__table__.update().where(House.id == in_a1.id).values(sub_area_id=areas["A1"]))
    db.session.execute(House.__table__.update().where(House.id == in_a2.id).values(sub_area_id=areas["A2"]))
    collector = make_account(town, "collector", [east])
    reviewer = make_account(town, "reviewer", [east])
    for account in (collector, reviewer):
        account.sub_areas = [db.session.get(SubArea, areas["A1"])]
    db.session.commit()

    def houses(account):
        return {h["number"] for h in sync.build_package(db.session.get(Account, account.id))["houses"]}

    assert houses(collector) == {"1", "2", "3"}  # the setting is off
    db.session.get(Town, town.id).package_by_sub_area = True
    db.session.commit()
    assert houses(collector) == {"1", "3"}  # A1 and the house in no sub-area
    assert houses(reviewer) == {"1", "2", "3"}  # reviewers always get their whole villages
    collector = db.session.get(Account, collector.id)
    collector.sub_areas = []
    db.session.commit()
    assert houses(collector) == {"1", "2", "3"}  # no sub-area: the whole village
    assert nowhere.id


def test_house_form_offers_the_villages_sub_areas_and_records_the_change(app, login):
    from fieldapp.models import Change
    with app.app_context():
        town, east, west, areas = _town_with_sub_areas()
        collector = make_account(town, "collector", [east])
        house = make_house(east, number="9", collected=True)
        house_id, version, east_id = house.id, house.version, east.id
        client = login(collector)
    form = client.get(f"/houses/{house_id}/edit")
    assert "A1区" in form.text and "W1区" not in form.text
    data = {"number": "9", "group_name": "1", "use": "owner", "version": str(version), "sub_area_id": str(areas["W1"])}
    assert client.post(f"/houses/{house_id}/edit", data=data).status_code == 422
    data["sub_area_id"] = str(areas["A2"])
    assert client.post(f"/houses/{house_id}/edit", data=data).status_code == 303
    with app.app_context():
        assert db.session.get(House, house_id).sub_area_id == areas["A2"]
        fields = [c.fields for c in db.session.scalars(select(Change).where(Change.entity == "house",
                                                                            Change.entity_id == house_id))]
        assert {"sub_area_id": [None, areas["A2"]]} in fields
    assert "A2区" in client.get(f"/houses/{house_id}").text
    made = client.post(f"/villages/{east_id}/houses/new",
                       data={"number": "10", "group_name": "1", "use": "owner", "sub_area_id": str(areas["L1"])})
    assert made.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(House.sub_area_id).where(House.number == "10")) == areas["L1"]


def test_house_import_reads_an_optional_sub_area_column(app, runner, tmp_path):
    with app.app_context():
        _town, east, _west, areas = _town_with_sub_areas()
    path = tmp_path / "houses.csv"
    path.write_text("村,组,门牌号,片区\n东村,1,1,A1\n东村,1,2,A2区\n东村,1,3,\n东村,1,4,W1\n", encoding="utf-8")
    result = runner.invoke(args=["import-houses", str(path)])
    assert result.exit_code == 1 and "row 5: Sub-area (片区/楼组): This village has no sub-area" in result.output
    path.write_text("村,组,门牌号,片区\n东村,1,1,A1\n东村,1,2,A2区\n东村,1,3,\n", encoding="utf-8")
    result = runner.invoke(args=["import-houses", str(path)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        got = dict(db.session.execute(select(House.number, House.sub_area_id)).all())
        assert got == {"1": areas["A1"], "2": areas["A2"], "3": None}


# --- a whole install without the demo, walked by every role --------------------------------------

SKIP_ENDPOINTS = {"static", "progress.events"}  # a file path; the live stream never ends


def test_no_demo_install_then_every_page_of_every_role_answers_without_a_server_error(app, runner, tmp_path):
    from fieldapp import accounts
    from fieldapp.rules.permissions import ROLES, is_town_wide

    setup = runner.invoke(args=["setup", "--no-demo"])
    assert setup.exit_code == 0 and "No town yet: `flask --app fieldapp town import" in setup.output
    # Before any town: the commands say what to do, and pages do not fail.
    assert "No town yet: set one up with `flask --app fieldapp town import" in runner.invoke(
        args=["issue-id", "--name", "x", "--role", "admin"]).output
    assert app.test_client().get("/login").status_code == 200
    workbook = tmp_path / "town.xlsx"
    workbook.write_bytes(yuping_workbook("是"))
    assert runner.invoke(args=["town", "import", str(workbook)]).exit_code == 0
    logins = {}
    for role in ROLES:
        args = ["issue-id", "--name", f"{role}者", "--role", role]
        if not is_town_wide(role):
            args += ["--village", "余坪村"]
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
        collection_id, code = re.search(r"^(\S+)\s+activation code (\S+)", result.output).groups()
        with app.app_context():
            accounts.activate(collection_id, code, PIN)
            db.session.commit()
        logins[role] = collection_id
    with app.app_context():
        village = db.session.scalar(select(Village).where(Village.code == "YP01"))
        collector = db.session.scalar(select(Account).where(Account.role == "collector"))
        values = {"village_id": village.id, "sub_area_id": village.sub_areas[0].id, "account_id": collector.id}
    # No house, no person, no campaign yet: every page shows its empty state.
    _walk(app, logins, values)
    assert runner.invoke(args=["recount"]).exit_code == 0

    houses = tmp_path / "houses.csv"
    houses.write_text("村,组,门牌号,片区\n余坪村,1,1,A1\n余坪村,1,2,\n", encoding="utf-8")
    result = runner.invoke(args=["import-houses", str(houses)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        house = db.session.scalar(select(House).where(House.village_id == values["village_id"]).order_by(House.id))
        values.update(house_id=house.id, token=house.door_token)
    _walk(app, logins, values)


def _walk(app, logins: dict, values: dict) -> None:
    """GET every route whose arguments `values` can fill, as every role: never a server error; the
    dashboards, map and set-up pages answer 200 to the roles that hold them."""
    rules_to_get = [r for r in app.url_map.iter_rules() if "GET" in r.methods and r.endpoint not in SKIP_ENDPOINTS
                    and set(r.arguments) <= set(values)]
    assert len(rules_to_get) > 30
    for role, collection_id in logins.items():
        client = app.test_client()
        sign_in(client, collection_id)
        answers = {}
        for rule in rules_to_get:
            url = rule.build({k: values[k] for k in rule.arguments})[1]
            response = client.get(url)
            answers[rule.endpoint] = response.status_code
            assert response.status_code < 500, (role, url, response.text[:2000])
        reachable = [e for e, status in answers.items() if status == 200]
        assert len(reachable) >= 5, (role, answers)
        if role in ("admin", "supervisor", "village_head"):
            assert answers["progress.overview"] == answers["maps.page"] == answers["maps.points"] == 200
        if role == "admin":
            assert answers["townsetup.index"] == answers["campaigns.index"] == answers["townsetup.quotas"] == 200
        if role == "village_head":
            assert answers["townsetup.assignments"] == answers["progress.village"] == 200
