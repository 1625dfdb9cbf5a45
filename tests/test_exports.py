"""Exports over HTTP (fieldapp/exports): the files are opened with openpyxl and csv and checked cell
by cell against the database; masking by default, unmasking with a reason (audited with the row
count), scope (another village, another town, people from abroad), changes in a date range."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime

import openpyxl
import pytest
from sqlalchemy import func, select

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.exports import xlsx
from fieldapp.models import AuditEvent, Change, House, Organisation, Person, Residence, Village
from fieldapp.rules import codes
from fieldapp.rules.address import format_address
from fieldapp.rules.days import local_day
from fieldapp.rules.divisions import division_name
from fieldapp.rules.export_columns import LOCAL_TABLES, layout
from fieldapp.rules.identifiers import mask_id, mask_phone

from .builders import make_account, make_house, make_other_town, make_person, make_town, person_data, send


def _org(house, name, **fields):
    org = records.add_organisation(records.Actor(None, "import"), house, {"name": name, "kind": "shop", **fields})
    db.session.commit()
    return org


@pytest.fixture
def world(ctx):
    town, (east, west) = make_town()
    town.county_code = "431226"
    town2, far = make_other_town()
    h1 = make_house(east, number="27", group="3", collected=True, room="101", use="rented",
                    owner_name="房东甲", owner_phone="13900001111", tenant_name="租客乙", tenant_phone="13700002222",
                    rental_registered=True, rental_record_no="ZL-001")
    h2 = make_house(east, number="5", group="10", road="人民路", lane="12", building="2", collected=True)
    factory = _org(h2, "=东村工厂", uscc=None, legal_rep="法人丙", phone="13600003333", employee_count=12)
    p1, _o, _c = records.add_person(records.Actor(None, "import"), h1, person_data(
        name="张三", phone="13812345678", hukou_division="431226", hukou_address="湖南省麻阳县某村",
        category="migrant", move_in_reason="work", away_duration="1y_2y", employer_id=factory.id,
        move_in_date=date(2016, 3, 1)), relation="02", room="B")
    db.session.commit()
    p2 = make_person(h2, name="李四", ethnicity="03", hukou_type="2", category="local")
    left = make_person(h2, name="王五")
    records.mark_left(records.Actor(None), left, date(2016, 6, 1), "搬到县城", None)
    db.session.commit()
    abroad = make_person(h1, name="境外约翰", id_type="414", id_number="E12345678", sex="1",
                         birth_date=date(1980, 5, 1), category="abroad", nationality="USA", ethnicity=None,
                         hukou_type=None)
    hw = make_house(west, number="1", group="1", collected=True)
    west_person = make_person(hw, name="西村李四")
    hf = make_house(far, number="1", group="1", collected=True)
    far_person = make_person(hf, name="外镇王五")
    accounts = {role: make_account(town, role, [] if role == "supervisor" else [east])
                for role in ("supervisor", "village_head", "reviewer", "police", "collector")}
    accounts["supervisor2"] = make_account(town2, "supervisor")
    db.session.commit()
    return {"town": town.id, "east": east.id, "west": west.id, "far": far.id, "houses": [h1.id, h2.id],
            "people": [p1.id, p2.id, left.id], "abroad": abroad.id, "west_person": west_person.id,
            "far_person": far_person.id, "factory": factory.id, "accounts": accounts}


def export(login, account, expect=200, **form):
    data = {"dataset": "people", "preset": "standard", "fmt": "xlsx", "village": "", **form}
    response = send(login(account), "POST", "/exports", data)
    assert response.status_code == expect, response.get_data(as_text=True)[:2000]
    return response


def sheet_rows(response) -> list[list[str]]:
    """Every row of every sheet, None (an empty cell) read as ''."""
    book = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)
    out = []
    for n, sheet in enumerate(book.worksheets):
        for i, row in enumerate(sheet.iter_rows(values_only=True)):
            if n and i == 0:
                continue  # the header again on a continuation sheet
            out.append(["" if v is None else v for v in row])
    return out


def csv_rows(response) -> list[list[str]]:
    assert response.data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads the Chinese right
    assert b"\r\n" in response.data
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))


def ymd(value) -> str:
    return value.strftime("%Y%m%d") if value else ""


def local(table, value, i):
    return LOCAL_TABLES[table][value][i] if value else ""


def expected_person(p: Person, masked: bool) -> dict:
    """Every column of the standard people layout, from the database, written out by hand."""
    house, village = p.house, db.session.get(Village, p.village_id)
    town = village.town
    res = db.session.scalars(select(Residence).where(Residence.person_id == p.id).order_by(Residence.id.desc())).first()
    room = (res.room if res and res.room else None) or house.room
    parts = {"group_name": house.group_name, "road": house.road, "lane": house.lane, "number": house.number,
             "building": house.building}
    return {
        "县级行政区划代码": town.county_code or "", "乡镇（街道）代码": town.code, "乡镇（街道）": town.name,
        "村（居委）代码": village.code, "村（居委）": village.name,
        "现住地址": format_address({**parts, "room": room}, village.name),
        "组": house.group_name or "", "路（街）": house.road or "", "弄（巷）": house.lane or "",
        "门牌号": house.number, "幢": house.building or "", "室": house.room or "",
        "居住房间": (res.room or "") if res else "", "房屋门牌码": house.door_code, "姓名": p.name,
        "性别代码": p.sex, "性别": codes.name(codes.SEX, p.sex),
        "证件类型代码": p.id_type, "证件类型": codes.name(codes.ID_TYPE, p.id_type),
        "证件号码": mask_id(p.id_number) if masked else p.id_number, "出生日期": ymd(p.birth_date),
        "民族代码": p.ethnicity or "", "民族": codes.name(codes.ETHNICITY, p.ethnicity, default="") if p.ethnicity else "",
        "国籍": p.nationality or "",
        "联系电话": (mask_phone(p.phone) if masked else p.phone) if p.phone else "",
        "户籍地行政区划代码": p.hukou_division or "",
        "户籍地行政区划": division_name(p.hukou_division) or "" if p.hukou_division else "",
        "户籍地详址": p.hukou_address or "",
        "户口性质代码": p.hukou_type or "",
        "户口性质": codes.name(codes.HUKOU_TYPE, p.hukou_type, default="") if p.hukou_type else "",
        "人员类别代码": local("category", p.category, 0), "人员类别": local("category", p.category, 1),
        "与户主关系代码": (res.relation or "") if res else "",
        "与户主关系": codes.name(codes.RELATION, res.relation) if res and res.relation else "",
        "迁入日期": ymd(p.move_in_date),
        "来此原因代码": local("move_in_reason", p.move_in_reason, 0),
        "来此原因": local("move_in_reason", p.move_in_reason, 1),
        "离开户籍地时长代码": local("away_duration", p.away_duration, 0),
        "离开户籍地时长": local("away_duration", p.away_duration, 1),
        "服务处所": p.employer.name if p.employer else "", "服务处所统一社会信用代码": (p.employer.uscc or "") if p.employer else "",
        "状态代码": local("person_status", p.status, 0), "状态": local("person_status", p.status, 1),
        "注销日期": ymd(p.left_date), "注销原因": p.left_reason or "",
        "登记日期": ymd(local_day(p.created_at)), "更新日期": ymd(local_day(p.updated_at)),
        "记录编号": p.uid,
    }


def check_people(rows, person_ids, masked=True):
    header, body = rows[0], rows[1:]
    assert header == layout("people", "standard").headers
    people = [db.session.get(Person, pid) for pid in person_ids]
    expected = [expected_person(p, masked) for p in people]
    assert set(expected[0]) == set(header), "the test must state every column"
    by_uid = {row[header.index("记录编号")]: row for row in body}
    assert sorted(by_uid) == sorted(p.uid for p in people)
    assert len(body) == len(people)
    for want in expected:
        got = dict(zip(header, by_uid[want["记录编号"]]))
        for column in header:
            assert got[column] == want[column], (column, got[column], want[column])


def test_people_xlsx_is_the_database_cell_by_cell_and_masked(world, login):
    sup = world["accounts"]["supervisor"]
    response = export(login, sup, village=str(world["east"]))
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    rows = sheet_rows(response)
    check_people(rows, world["people"])  # not the person from abroad: police only
    p1 = db.session.get(Person, world["people"][0])
    assert p1.id_number not in response.data.decode("latin-1")  # masked
    row = [r for r in rows if r[rows[0].index("姓名")] == "张三"][0]
    cell = dict(zip(rows[0], row))
    # Spot checks of the conventions, beside the generic comparison above.
    assert cell["户籍地行政区划"] == "湖南省麻阳苗族自治县" and cell["与户主关系"] == "户主"
    assert cell["现住地址"] == "东村3组27号B室" and cell["居住房间"] == "B" and cell["室"] == "101"
    assert cell["联系电话"] == "138****5678" and cell["迁入日期"] == "20160301"
    assert cell["服务处所"] == "=东村工厂"  # text, never a formula
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert all(c.data_type == "s" for r in book.active.iter_rows() for c in r if c.value)
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert (event.action, event.target, event.records) == ("export_people", f"village:{world['east']}", 3)
    assert event.account_id == sup.id and "masked" in event.detail and "UNMASKED" not in event.detail


def test_people_csv_has_the_same_cells_with_bom_and_neutralised_formulas(world, login):
    sup = world["accounts"]["supervisor"]
    as_xlsx = sheet_rows(export(login, sup, village=str(world["east"])))
    response = export(login, sup, village=str(world["east"]), fmt="csv")
    assert response.mimetype == "text/csv"
    as_csv = csv_rows(response)
    employer = as_xlsx[0].index("服务处所")
    for row in as_xlsx:
        if row[employer] == "=东村工厂":
            row[employer] = "'=东村工厂"  # a spreadsheet would run it: neutralised in CSV
    assert as_csv == as_xlsx
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert event.records == 3 and "csv" in event.detail


def test_unmasked_needs_the_permission_and_a_reason_and_is_audited(world, login):
    sup, head = world["accounts"]["supervisor"], world["accounts"]["village_head"]
    exports = select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("export%"))
    assert db.session.scalar(exports) == 0
    no_reason = export(login, sup, 422, unmasked="y", reason="")
    assert "请说明需要完整号码的理由" in no_reason.get_data(as_text=True)  # said, with the input kept
    assert '<input checked id="unmasked"' in no_reason.get_data(as_text=True)
    with_number = export(login, sup, 422, unmasked="y", reason="核对 13812345678")  # numbers refused in the reason
    assert "理由中不要写证件号码或电话号码" in with_number.get_data(as_text=True)
    assert "核对 13812345678</textarea>" in with_number.get_data(as_text=True)  # the input is kept
    export(login, head, 403, unmasked="y", reason="派出所要求核对")
    assert db.session.scalar(exports) == 0  # refused: nothing exported, nothing logged as exported
    db.session.rollback()
    response = export(login, sup, unmasked="y", reason="录入公安平台（公函2016-5号）", village=str(world["east"]))
    check_people(sheet_rows(response), world["people"], masked=False)
    p1 = db.session.get(Person, world["people"][0])
    rows = sheet_rows(response)
    assert p1.id_number in [r[rows[0].index("证件号码")] for r in rows]
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert event.action == "export_people" and event.records == 3
    assert event.detail.startswith("standard xlsx UNMASKED; reason: 录入公安平台")


def test_scope_other_village_other_town_and_people_from_abroad(world, login):
    acc = world["accounts"]
    names = lambda response: {r[response_header(response).index("姓名")] for r in sheet_rows(response)[1:]}  # noqa: E731
    everything = names(export(login, acc["supervisor"]))
    assert {"张三", "李四", "王五", "西村李四"} == everything  # the whole town, no one from abroad, not town 2
    assert names(export(login, acc["village_head"])) == {"张三", "李四", "王五"}  # all *my* villages
    assert names(export(login, acc["police"])) == {"张三", "李四", "王五", "境外约翰"}
    export(login, acc["village_head"], 404, village=str(world["west"]))
    export(login, acc["supervisor"], 404, village=str(world["far"]))
    export(login, acc["supervisor"], 404, village="99999999999")
    assert names(export(login, acc["supervisor2"])) == {"外镇王五"}
    export(login, acc["collector"], 403)
    police_rows = sheet_rows(export(login, acc["police"], fmt="xlsx", village=str(world["east"])))
    abroad = db.session.get(Person, world["abroad"])
    row = dict(zip(police_rows[0], [r for r in police_rows if "境外约翰" in r][0]))
    assert row["证件类型代码"] == "414" and row["证件类型"] == "普通护照" and row["国籍"] == "USA"
    assert row["证件号码"] == mask_id(abroad.id_number) and row["人员类别"] == "境外人员"


def response_header(response):
    return sheet_rows(response)[0]


def test_houses_and_organisations_cell_checks(world, login):
    sup = world["accounts"]["supervisor"]
    rows = sheet_rows(export(login, sup, dataset="houses", village=str(world["east"])))
    header = rows[0]
    assert header == layout("houses", "standard").headers
    assert len(rows) == 3
    h1 = db.session.get(House, world["houses"][0])
    got = dict(zip(header, [r for r in rows if r[header.index("门牌码")] == h1.door_code][0]))
    assert got["地址"] == "东村3组27号101室" and got["房屋用途代码"] == "2" and got["房屋用途"] == "出租"
    assert got["房主电话"] == mask_phone(h1.owner_phone) and got["承租人姓名"] == "租客乙"
    assert got["租赁备案"] == "是" and got["租赁备案号"] == "ZL-001"
    assert got["在住人数"] == "2"  # 张三 and the person from abroad: a count includes everyone
    assert got["上门采集日期"] == ymd(local_day(h1.collected_at))
    h2 = db.session.get(House, world["houses"][1])
    got2 = dict(zip(header, [r for r in rows if r[header.index("门牌码")] == h2.door_code][0]))
    assert got2["地址"] == "东村10组人民路12弄5号2栋" and got2["在住人数"] == "1"  # 王五 left
    police = sheet_rows(export(login, sup, dataset="houses", preset="police", village=str(world["east"])))
    assert police[0] == layout("houses", "police").headers
    org_rows = sheet_rows(export(login, sup, dataset="organisations", preset="police", fmt="xlsx"))
    assert org_rows[0] == layout("organisations", "police").headers
    org = dict(zip(org_rows[0], org_rows[1]))
    factory = db.session.get(Organisation, world["factory"])
    assert org["单位名称"] == factory.name and org["法定代表人"] == "法人丙"
    assert org["单位联系电话"] == mask_phone("13600003333") and org["从业人员数"] == "12"
    assert org["登记从业人员数"] == "1" and org["单位类别代码"] == "2" and org["单位类别"] == "沿街商铺"
    assert org["行政区划代码"] == "431226" and org["单位地址"] == "东村10组人民路12弄5号2栋"


def test_changes_in_a_date_range_and_police_only_changes(world, login):
    acc = world["accounts"]
    moments = {date(2016, 5, 1): datetime(2016, 4, 30, 17, 0),  # 01:00 on 1 May in Beijing
               date(2016, 5, 2): datetime(2016, 5, 2, 3, 0), date(2016, 5, 3): datetime(2016, 5, 3, 3, 0)}
    changes = list(db.session.scalars(select(Change).order_by(Change.id)))
    for change, moment in zip(changes, [moments[date(2016, 5, 1)], moments[date(2016, 5, 2)]]
                              + [moments[date(2016, 5, 3)]] * len(changes)):
        change.collected_at = moment
    db.session.commit()
    in_range = [c for c in changes if c.collected_at < datetime(2016, 5, 2, 16, 0)]
    rows = sheet_rows(export(login, acc["supervisor"], dataset="changes", since="2016-05-01", until="2016-05-02"))
    header = rows[0]
    assert header == layout("changes", "standard").headers
    visible = [c for c in in_range if not c.police_only]
    assert sorted(r[0] for r in rows[1:]) == sorted(c.uid for c in visible)
    for row in rows[1:]:
        got = dict(zip(header, row))
        change = next(c for c in changes if c.uid == got["变动编号"])
        assert got["采集日期"] == ("20160501" if change.collected_at.day == 30 else "20160502")
        assert got["变动类型代码"] == LOCAL_TABLES["change_kind"][change.kind][0]
        assert got["对象代码"] == LOCAL_TABLES["entity"][change.entity][0]
    everything = sheet_rows(export(login, acc["police"], dataset="changes", village=str(world["east"])))
    police_uids = {r[0] for r in everything[1:]}
    abroad_changes = {c.uid for c in changes if c.police_only}
    assert abroad_changes and abroad_changes <= police_uids
    sup_all = {r[0] for r in sheet_rows(export(login, acc["supervisor"], dataset="changes"))[1:]}
    assert not abroad_changes & sup_all
    # A person's new-record change names the person and masks the number in the content.
    p1 = db.session.get(Person, world["people"][0])
    row = dict(zip(header, [r for r in everything[1:] if r[header.index("对象名称")] == "张三"][0]))
    assert p1.id_number not in row["变动内容"] and mask_id(p1.id_number) in row["变动内容"]
    # 李四 becomes a person from abroad: the earlier change (not police-only) is left out like them.
    p2 = db.session.get(Person, world["people"][1])
    earlier = db.session.scalar(select(Change.uid).where(Change.entity == "person", Change.entity_id == p2.id))
    p2.category = "abroad"
    db.session.commit()
    rows = sheet_rows(export(login, acc["supervisor"], dataset="changes"))
    assert earlier not in [r[0] for r in rows] and "李四" not in [r[header.index("对象名称")] for r in rows]
    assert earlier in [r[0] for r in sheet_rows(export(login, acc["police"], dataset="changes"))]
    export(login, acc["supervisor"], 422, dataset="changes", since="2016-05-03", until="2016-05-01")
    export(login, acc["supervisor"], 422, dataset="changes", preset="police")


def test_a_long_export_goes_on_in_a_second_sheet(monkeypatch):
    monkeypatch.setattr(xlsx, "MAX_ROWS", 3)
    monkeypatch.setattr(xlsx, "FLUSH_ROWS", 2)
    out = io.BytesIO()
    lines = [[str(n), f"第{n}行 & <b>", "", "\x07x"] for n in range(5)]
    assert xlsx.write_xlsx(out, "人员", ["a", "b", "c", "d"], iter(lines)) == 5
    book = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
    assert book.sheetnames == ["人员", "人员 (2)", "人员 (3)"]
    got = [[c.value for c in row] for ws in book.worksheets for row in ws.iter_rows(min_row=2)]
    assert got == [[str(n), f"第{n}行 & <b>", None, "x"] for n in range(5)]
    assert [c.value for c in book.worksheets[1][1]] == ["a", "b", "c", "d"]
    assert book.worksheets[0]["A1"].font.b and book.worksheets[0].freeze_panes == "A2"


def test_export_page_form_and_nothing_personal_in_the_url(world, login):
    head = world["accounts"]["village_head"]
    page = send(login(head), "GET", "/exports")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'method="post"' in text
    assert "unmasked" not in text  # no full-number option for a village head
    sup_page = send(login(world["accounts"]["supervisor"]), "GET", "/exports").get_data(as_text=True)
    assert 'name="unmasked"' in sup_page and 'name="reason"' in sup_page
