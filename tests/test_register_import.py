"""People and organisation register imports (fieldapp/imports): the value rules, the web pages
(check, import, the downloadable report and template), deduplication by document number with the
move rules of issue 7, credit codes, all or nothing, scope, and the command line."""
from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.models import (AuditEvent, Change, Conflict, House, MoveRequest, Organisation, Person, Residence,
                             VillageCounter)
from fieldapp.rules.identifiers import uscc_check_char
from fieldapp.rules.register_import import FileProblem, map_header
from fieldapp.rules.register_rows import (ORG_INDEX, ORG_REQUIRED, PEOPLE_INDEX, PEOPLE_REQUIRED, coded, parse_count,
                                          parse_date, parse_yes_no, template_choices)

from .builders import (db_state, english, make_account, make_house, make_other_town, make_person, make_town,
                       resident_id, send)
from .register_builders import (ORG_HEADER, PEOPLE_HEADER, csv_bytes, make_organisation, org_row, person_row, upload,
                                xlsx_bytes)


def uscc(n: int) -> str:
    body = f"91110105MA{n:07d}"
    return body + uscc_check_char(body)


def _wrong_check_digit() -> str:
    number = resident_id()
    return number[:-1] + ("1" if number[-1] != "1" else "2")


WRONG_CHECK_DIGIT = _wrong_check_digit()


def _people():
    return list(db.session.scalars(select(Person).order_by(Person.id)))


def _counters_match_recount():
    db.session.rollback()
    before = {c.village_id: (c.people, c.houses, c.orgs) for c in db.session.scalars(select(VillageCounter))}
    counted = records.recount()
    db.session.rollback()
    return before == counted


@pytest.fixture
def world(ctx, tmp_path):
    ctx.config["REGISTER_IMPORT_REPORT_DIR"] = str(tmp_path / "reports")
    town, (east, west) = make_town()
    homes = {"east1": make_house(east, "1", "1"), "east2": make_house(east, "2", "1"), "west1": make_house(west, "1", "1")}
    return {"town": town, "east": east, "west": west, "homes": homes,
            "reviewer": make_account(town, "reviewer", [east]), "supervisor": make_account(town, "supervisor"),
            "police": make_account(town, "police", [east])}


# --- the value rules ------------------------------------------------------------------------------

def test_coded_values_accept_code_name_and_both():
    assert [coded("sex", v) for v in ("1", "男", "Male", "1 男", "2女", "")] == ["1", "1", "1", "1", "2", ""]
    assert [coded("ethnicity", v) for v in ("01", "1", "汉族", "01 汉族", "汉族(01)", "03回族")] == \
        ["01", "01", "01", "01", "01", "03"]
    assert coded("ethnicity", "火星族") is None and coded("sex", "3") is None
    assert coded("relation", "户主") == "02" and coded("id_type", "普通护照") == "414"
    assert [coded("category", v) for v in ("户籍人口", "外来人口", "流动人口", "人户分离", "境外人员", "local")] == \
        ["local", "migrant", "migrant", "separated", "abroad", "local"]
    assert coded("kind", "沿街商铺") == "shop" and coded("move_in_reason", "务工") == "work"
    assert coded("away_duration", "一年至两年") == "1y_2y"
    # Every dropdown value of the template reads back as its code.
    for column in ("sex", "ethnicity", "relation", "id_type", "hukou_type", "category", "move_in_reason",
                   "away_duration", "kind"):
        assert all(coded(column, choice) for choice in template_choices(column)), column
    assert len(template_choices("ethnicity")) == 58


def test_dates_counts_and_yes_no():
    expected = date(1985, 3, 12)
    for value in ("19850312", "1985-03-12", "1985/3/12", "1985.3.12", "1985年3月12日", datetime(1985, 3, 12, 0, 0),
                  expected, 19850312, "1985-03-12 00:00:00"):
        assert parse_date(value) == expected, value
    assert parse_date("") == "" and parse_date(None) == ""
    assert parse_date("19850230") is None and parse_date("12/03/1985") is None and parse_date("昨天") is None
    assert [parse_yes_no(v) for v in ("是", "Y", "yes", "", "否", "N", "也许")] == [True, True, True, False, False, False, None]
    assert parse_count("12") == 12 and parse_count("1,200") == 1200 and parse_count("") == ""
    assert parse_count("十二") is None and parse_count("-1") is None


def test_headers_in_chinese_and_english():
    columns, ignored = map_header(["村", "门牌号", "姓名", "身份证号", "人员类别", "备注"], PEOPLE_INDEX, PEOPLE_REQUIRED)
    assert columns == {"village": 0, "number": 1, "name": 2, "id_number": 3, "category": 4} and ignored == ["备注"]
    columns, _ = map_header(["Village", "Number", "Name", "Kind", "Credit code"], ORG_INDEX, ORG_REQUIRED)
    assert columns["uscc"] == 4 and columns["kind"] == 3
    with pytest.raises(FileProblem) as problem:
        map_header(["村", "门牌号", "姓名"], PEOPLE_INDEX, PEOPLE_REQUIRED)
    assert problem.value.params["columns"] == ["id_number", "category"]


# --- people over HTTP -----------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_people_import_in_each_encoding(world, login, encoding):
    client = english(login(world["reviewer"]))
    ids = [resident_id(), resident_id(birth="19900101", male=False), resident_id()]
    rows = [person_row(ids[0], name="王一", phone="13800138000"),
            person_row(ids[1], name="王二", relation="妻", category="外来人口", reason="务工", away="一年至两年"),
            person_row(ids[2], number="2", name="赵三", ethnicity="03")]
    response = upload(client, "people", csv_bytes(rows, PEOPLE_HEADER, encoding))
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    people = _people()
    assert [(p.name, p.id_number, p.house_id, p.sex, p.ethnicity, p.category) for p in people] == [
        ("王一", ids[0], world["homes"]["east1"].id, "1", "01", "local"),
        ("王二", ids[1], world["homes"]["east1"].id, "2", "01", "migrant"),
        ("赵三", ids[2], world["homes"]["east2"].id, "1", "03", "local")]
    assert people[0].birth_date == date(1985, 3, 12) and people[0].hukou_division == "110105"
    assert people[1].move_in_reason == "work" and people[1].away_duration == "1y_2y"
    assert people[0].move_in_date == date(2016, 1, 1) and people[0].phone == "13800138000"
    relations = dict(db.session.execute(select(Residence.person_id, Residence.relation)).all())
    assert relations == {people[0].id: "02", people[1].id: "12", people[2].id: "02"}
    changes = db.session.execute(select(Change.source, Change.kind, Change.collected_by_id)
                                 .where(Change.entity == "person")).all()
    assert changes == [("import", "new", world["reviewer"].id)] * 3
    # Imported people do not make their house visited: only a door visit does.
    assert db.session.scalar(select(func.count()).select_from(House).where(House.collected_at.is_not(None))) == 0
    counter = db.session.get(VillageCounter, world["east"].id)
    assert counter.people == 3
    assert _counters_match_recount()
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "people_imported"))
    assert audit.account_id == world["reviewer"].id and audit.detail.startswith("3 new, 0 updated, 0 move requests")


def test_xlsx_with_excel_dates_and_numbers(world, login):
    client = english(login(world["reviewer"]))
    number = resident_id()
    row = person_row(number, group=1, number=2, move_in=datetime(2018, 5, 1), ethnicity=1)
    response = upload(client, "people", xlsx_bytes([row], PEOPLE_HEADER), "register.xlsx")
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    person = _people()[0]
    assert (person.house_id, person.move_in_date, person.ethnicity) == (world["homes"]["east2"].id, date(2018, 5, 1), "01")


def test_every_rejection_is_reported_and_nothing_is_written(world, login):
    client = english(login(world["reviewer"]))
    good = resident_id()
    rows = [
        person_row(good),                                               # 2: valid
        person_row(resident_id(), village="北村"),                     # 3: not one of the reviewer's villages
        person_row(resident_id(), number="99"),                         # 4: no such house
        person_row(good, name="重复"),                                  # 5: same document as row 2
        person_row(WRONG_CHECK_DIGIT),                                  # 6: bad check digit
        person_row(resident_id(), sex="女"),                            # 7: sex does not match the ID
        person_row(resident_id(), ethnicity="火星族"),                  # 8: not in the code list
        person_row(resident_id(), move_in="去年"),                      # 9: not a date
        person_row(resident_id(), category=""),                         # 10: no category
        person_row(resident_id(), category="外来人口"),                 # 11: migrant without reason and time away
        person_row(resident_id(), category="境外人员"),                 # 12: police only
        person_row("E1234567", id_type="普通护照"),                     # 13: police only
        person_row(resident_id(), create="也许"),                       # 14: not yes/no
        person_row(resident_id(), name=""),                             # 15: no name
        person_row(resident_id(), employer=uscc(5)),                    # 16: no such employer
    ]
    before = db_state()
    response = upload(client, "people", csv_bytes(rows, PEOPLE_HEADER))
    assert response.status_code == 422
    assert db_state() == {**before, "audit_events": before["audit_events"] + 1}  # the check itself is audited
    text = response.get_data(as_text=True)
    report = text[text.index("<tbody>"):text.index("</tbody>")]
    expected = {3: "No village of yours", 4: "No house at this address", 5: "in row 2 of this file",
                6: "check digit", 7: "sex does not match", 8: "not in the code list", 9: "Not a date",
                10: "No category given", 11: "how long they have lived away", 12: "Only police register people from abroad",
                13: "Only police register documents", 14: "Write 是 or 否", 15: "Enter the person", 16: "No open organisation"}
    for line, why in expected.items():
        findings = [tr for tr in report.split("<tr") if f'<th scope="row">{line}</th>' in tr]
        assert any(why in tr for tr in findings), (line, why)
    assert '<th scope="row">2</th>' not in report
    assert good not in text  # document numbers are masked in the report
    assert "15 rows read: 1 can be imported, 14 rejected" in text


def test_the_report_downloads_as_xlsx_for_its_owner_only(world, login):
    client = english(login(world["reviewer"]))
    number = resident_id()
    response = upload(client, "people", csv_bytes([person_row(number, number="99")], PEOPLE_HEADER),
                      action="check_only")
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    start = text.index("/imports/report/")
    url = text[start:text.index('"', start)]
    download = send(client, "GET", url)
    assert download.status_code == 200 and download.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(download.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Row", "Column", "Cell", "What is wrong", "What to do", "Error or notice")
    assert rows[1][:2] == (2, "C 门牌号") and "No house at this address" in rows[1][3] and rows[1][5] == "Error"
    assert "新建房屋" in rows[1][4]
    assert all(number not in str(cell) for row in rows for cell in row)
    other = login(make_account(world["town"], "reviewer", [world["east"]]))
    assert send(other, "GET", url).status_code == 404  # someone else's report
    assert send(client, "GET", "/imports/report/" + "x" * 24 + ".xlsx").status_code == 404


def test_new_houses_only_when_the_file_says_so_one_per_address(world, login):
    client = english(login(world["reviewer"]))
    rows = [person_row(resident_id(), group="5", number="8", create="是"),
            person_row(resident_id(), group="5组", number="8号"),   # the same new house, said once is enough
            person_row(resident_id(), group="5", number="9")]       # not said: an error
    response = upload(client, "people", csv_bytes(rows, PEOPLE_HEADER))
    assert response.status_code == 422 and "No house at this address" in response.get_data(as_text=True)
    assert _people() == []
    response = upload(client, "people", csv_bytes(rows[:2], PEOPLE_HEADER))
    assert response.status_code == 303
    houses = list(db.session.scalars(select(House).where(House.group_name == "5")))
    assert len(houses) == 1 and houses[0].number == "8" and houses[0].collected_at is None
    assert houses[0].door_code and len(houses[0].door_token) >= 27
    change = db.session.execute(select(Change.kind, Change.source, Change.fields).where(
        Change.entity == "house", Change.entity_id == houses[0].id)).one()
    assert change[:2] == ("new", "import") and change[2]["number"] == [None, "8"]
    assert db.session.get(VillageCounter, world["east"].id).houses == 0  # not visited: not counted
    assert {p.house_id for p in _people()} == {houses[0].id}
    assert _counters_match_recount()


def test_a_document_at_the_same_house_updates_never_duplicates(world, login):
    home = world["homes"]["east1"]
    person = make_person(home, name="李明", phone=None, ethnicity=None)
    client = english(login(world["reviewer"]))
    rows = [person_row(person.id_number, name="李小明", phone="13900139000", ethnicity="汉族")]
    response = upload(client, "people", csv_bytes(rows, PEOPLE_HEADER), action="check_only")
    assert response.status_code == 200 and "Already registered at this house" in response.get_data(as_text=True)
    response = upload(client, "people", csv_bytes(rows, PEOPLE_HEADER))
    assert response.status_code == 303
    db.session.expire_all()
    assert len(_people()) == 1
    person = db.session.get(Person, person.id)
    assert (person.name, person.phone, person.ethnicity) == ("李明", "13900139000", "01")  # blanks filled only
    conflict = db.session.scalar(select(Conflict).where(Conflict.entity == "person"))
    assert (conflict.field, conflict.current, conflict.submitted) == ("name", "李明", "李小明")  # for the reviewer
    assert _counters_match_recount()


@pytest.mark.parametrize("where", ["east2", "west1", "town2", "left"])
def test_a_document_registered_elsewhere_becomes_a_move_request(world, login, where):
    if where == "town2":
        _town, far = make_other_town()
        home = make_house(far, "1", "1")
    elif where == "left":
        home = world["homes"]["east1"]
    else:
        home = world["homes"][where]
    person = make_person(home, name="周游")
    if where == "left":
        records.mark_left(records.Actor(None), person, date(2020, 1, 1), "moved away", None)
        db.session.commit()
    before = (person.house_id, person.village_id, person.status)
    client = english(login(world["reviewer"]))
    rows = [person_row(person.id_number, name="周游", number="1")]
    response = upload(client, "people", csv_bytes(rows, PEOPLE_HEADER), action="check_only")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "a move request is sent for checking" in text
    assert "西村" not in text and "外镇" not in text and "远村" not in text  # names no village
    assert upload(client, "people", csv_bytes(rows, PEOPLE_HEADER)).status_code == 303
    db.session.expire_all()
    person = db.session.get(Person, person.id)
    assert (person.house_id, person.village_id, person.status) == before  # nobody moved silently
    request = db.session.scalar(select(MoveRequest))
    assert (request.person_id, request.to_house_id, request.status, request.source) == (
        person.id, world["homes"]["east1"].id, "pending", "import")
    assert request.requested_by_id == world["reviewer"].id and request.data["name"] == "周游"
    assert len(_people()) == 1
    # Imported again: the waiting request is not asked twice.
    response = upload(client, "people", csv_bytes(rows, PEOPLE_HEADER))
    assert response.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(MoveRequest)) == 1


def test_a_person_from_abroad_is_never_revealed_to_non_police(world, login):
    home = world["homes"]["east1"]
    hidden = make_person(home, name="境外约翰", id_number=resident_id(birth="19800501"), category="abroad",
                         nationality="USA", move_in_reason="work")
    client = english(login(world["reviewer"]))
    rows = [person_row(hidden.id_number, name="约翰")]
    response = upload(client, "people", csv_bytes(rows, PEOPLE_HEADER), action="check_only")
    text = response.get_data(as_text=True)
    # The reviewer may not see the person: the same answer as for anyone registered elsewhere.
    assert "a move request is sent for checking" in text and "Already registered" not in text
    police = english(login(world["police"]))
    response = upload(police, "people", csv_bytes(rows, PEOPLE_HEADER), action="check_only")
    assert "Already registered at this house" in response.get_data(as_text=True)


def test_police_import_people_from_abroad_with_passports(world, login):
    client = english(login(world["police"]))
    row = person_row("E7654321", id_type="普通护照", sex="男", birth="19800501", category="境外人员",
                     reason="务工", ethnicity="")
    row_header = PEOPLE_HEADER + ["国籍"]
    response = upload(client, "people", csv_bytes([row + ["USA"]], row_header))
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    person = _people()[0]
    assert (person.id_type, person.category, person.nationality, person.birth_date) == (
        "414", "abroad", "USA", date(1980, 5, 1))
    assert db.session.scalar(select(Change.police_only).where(Change.entity == "person")) is True


def test_employers_by_credit_code(world, login):
    org = make_organisation(world["homes"]["east2"], uscc(7))
    client = english(login(world["reviewer"]))
    rows = [person_row(resident_id(), employer=uscc(7).lower()), person_row(resident_id())]
    response = upload(client, "people", csv_bytes(rows, PEOPLE_HEADER))
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    assert [p.employer_id for p in _people()] == [org.id, None]  # the second row does not inherit it


def test_one_form_checks_every_row_without_carrying_anything_over(world, ctx):
    """The import fills one PersonForm per row (people.RowForm): values and errors of a row never
    reach the next one."""
    from fieldapp.imports.people import RowForm

    with ctx.test_request_context():
        _check_rows_one_after_another(RowForm("en", police=False))


def _check_rows_one_after_another(checker):
    bad = checker.check({"name": "", "id_type": "111", "id_number": "123", "category": "migrant"}, None)
    assert not bad.validate() and {"name", "id_number", "away_duration", "move_in_reason"} <= set(bad.errors)
    number = resident_id()
    good = checker.check({"name": "甲", "id_type": "111", "id_number": number, "category": "local",
                          "ethnicity": "01", "move_in_date": date(2016, 1, 1)}, None)
    assert good.validate(), good.errors
    data = good.record_data()
    assert (data["name"], data["id_number"], data["ethnicity"], data["phone"], data["employer_id"]) == (
        "甲", number, "01", None, None)
    third = checker.check({"name": "乙", "id_type": "111", "id_number": resident_id(), "category": "local"}, None)
    assert third.validate() and third.record_data()["ethnicity"] is None and third.record_data()["move_in_date"] is None
    assert not checker.check({"name": "丙", "id_type": "111", "id_number": resident_id(), "category": "abroad"},
                             None).validate()  # not a choice for non-police, as on the web form


def test_an_error_while_writing_rolls_everything_back(world, login, monkeypatch):
    real = records.insert_new

    def failing(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(records, "insert_new", failing)
    client = english(login(world["reviewer"]))
    before = db_state()
    with pytest.raises(RuntimeError):
        upload(client, "people", csv_bytes([person_row(resident_id(), number="7", create="是")], PEOPLE_HEADER))
    assert db_state() == before


def test_unreadable_files_say_what_to_do(world, login):
    client = english(login(world["reviewer"]))
    for data, why in ((b"", "empty"), ("村,门牌号,姓名\r\n东村,1,张\r\n".encode(), "Document number"),
                      (b"\xd0\xcf\x11\xe0" + b"\0" * 100, "old Excel file"), (b"abc\x80\xff\x80", "encoding")):
        response = upload(client, "people", data)
        assert response.status_code == 422 and why in response.get_data(as_text=True), why
    assert _people() == []


def test_row_cap_of_the_web_page(make_app, ctx, tmp_path):
    town, (east, _west) = make_town()
    make_house(east, "1", "1")
    account = make_account(town, "reviewer", [east])
    small = make_app(REGISTER_IMPORT_MAX_ROWS=3, REGISTER_IMPORT_REPORT_DIR=str(tmp_path))
    client = small.test_client()
    from .builders import sign_in
    sign_in(client, account.collection_id)
    english(client)
    response = upload(client, "people", csv_bytes([person_row(resident_id()) for _ in range(4)], PEOPLE_HEADER))
    assert response.status_code == 422 and "more than 3 rows" in response.get_data(as_text=True)
    tight = make_app(REGISTER_IMPORT_MAX_BYTES=1024 * 1024, REGISTER_IMPORT_REPORT_DIR=str(tmp_path))
    client = tight.test_client()
    sign_in(client, account.collection_id)
    english(client)
    big = csv_bytes([person_row(resident_id(), name="长" * 20) for _ in range(7800)], PEOPLE_HEADER)
    assert 1024 * 1024 < len(big) < 1024 * 1024 + 64 * 1024
    response = upload(client, "organisations", big)
    assert response.status_code == 422 and "larger than 1 MB" in response.get_data(as_text=True)
    assert _people() == []


# --- organisations --------------------------------------------------------------------------------

def test_organisations_import_and_dedup_by_credit_code(world, login):
    client = english(login(world["reviewer"]))
    rows = [org_row(uscc(1), name="东村超市", employees="12"),
            org_row(uscc(2), number="2", name="东村五金厂", kind="工厂", legal_rep="王五"),
            org_row("", number="2", name="村委会", kind="社区单位", legal_rep="")]
    response = upload(client, "organisations", csv_bytes(rows, ORG_HEADER, "gb18030"))
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    orgs = list(db.session.scalars(select(Organisation).order_by(Organisation.id)))
    assert [(o.name, o.kind, o.uscc, o.legal_rep, o.employee_count, o.house_id) for o in orgs] == [
        ("东村超市", "shop", uscc(1), "李四", 12, world["homes"]["east1"].id),
        ("东村五金厂", "factory", uscc(2), "王五", 3, world["homes"]["east2"].id),
        ("村委会", "community_unit", None, None, 3, world["homes"]["east2"].id)]
    assert db.session.get(VillageCounter, world["east"].id).orgs == 3 and _counters_match_recount()
    # Again, with a phone number and another head count: filled in / kept for the reviewer, never duplicated.
    rows[0] = org_row(uscc(1), name="东村超市", employees="15", phone="13700137000")
    response = upload(client, "organisations", csv_bytes(rows, ORG_HEADER))
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Organisation)) == 3
    shop = db.session.get(Organisation, orgs[0].id)
    assert (shop.phone, shop.employee_count) == ("13700137000", 12)
    conflict = db.session.scalar(select(Conflict).where(Conflict.entity == "organisation"))
    assert (conflict.field, conflict.current, conflict.submitted) == ("employee_count", 12, 15)


def test_organisation_rejections(world, login):
    make_organisation(world["homes"]["west1"], uscc(9))
    client = english(login(world["reviewer"]))
    bad = uscc(3)[:-1] + ("0" if uscc(3)[-1] != "0" else "1")
    rows = [org_row(uscc(3)),                                 # 2: valid
            org_row(uscc(3), number="2"),                      # 3: same code twice
            org_row(bad, number="2"),                          # 4: check character wrong
            org_row(uscc(9), number="2"),                      # 5: registered at another address
            org_row(uscc(4), kind="外星单位"),                  # 6: not a kind
            org_row(uscc(5), employees="很多"),                 # 7: not a number
            org_row(uscc(6), name="")]                         # 8: no name
    before = db_state()
    response = upload(client, "organisations", csv_bytes(rows, ORG_HEADER))
    assert response.status_code == 422
    assert db_state()["organisations"] == before["organisations"]
    text = response.get_data(as_text=True)
    for why in ("in row 2 of this file", "registered at another address", "not in the code list",
                "Not a whole number", "Enter the name"):
        assert why in text, why
    assert "7 rows read: 1 can be imported, 6 rejected" in text


# --- the template -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, first, coded_columns", [
    ("people", ["村/社区", "组", "路", "弄", "门牌号"], {"性别", "民族", "证件类型", "人员类别", "与户主关系", "户口性质"}),
    ("organisations", ["村/社区", "组", "路", "弄", "门牌号"], {"单位类别"}),
])
def test_templates_have_chinese_headers_and_code_list_dropdowns(world, login, kind, first, coded_columns):
    client = login(world["reviewer"])
    response = send(client, "GET", f"/imports/{kind}/template.xlsx")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]
    headers = [c.value for c in sheet[1]]
    assert headers[:5] == first
    lists = book["代码表"]
    assert lists.sheet_state == "hidden"
    by_header = {}
    for validation in sheet.data_validations.dataValidation:
        letter = str(validation.sqref).split(":")[0].rstrip("0123456789")
        header = headers[ord(letter) - ord("A")] if len(letter) == 1 else headers[26 + ord(letter[1]) - ord("A")]
        by_header[header] = validation
        assert validation.type == "list" and validation.formula1.startswith("'代码表'!$")
    assert coded_columns | {"村/社区", "新建房屋"} <= set(by_header)
    # The village list is the uploader's villages only; the ethnic groups are the full national list.
    column = by_header["村/社区"].formula1.split("!$")[1].split("$")[0]
    assert [c.value for c in lists[column][1:] if c.value] == ["东村"]
    if kind == "people":
        column = by_header["民族"].formula1.split("!$")[1].split("$")[0]
        assert len([c for c in lists[column][1:] if c.value]) == 58
    # A template filled in with its own dropdown values imports as is.
    if kind == "people":
        row = {h: None for h in headers}
        row.update({"村/社区": "东村", "组": "1", "门牌号": "1", "姓名": "钱七", "证件号码": resident_id(),
                    "民族": "汉族", "人员类别": "户籍人口", "与户主关系": "户主"})
        sheet.append([row[h] for h in headers])
        out = io.BytesIO()
        book.save(out)
        response = upload(english(client), "people", out.getvalue(), "filled.xlsx")
        assert response.status_code == 303, response.get_data(as_text=True)[:3000]
        assert _people()[0].name == "钱七"


# --- the command line -------------------------------------------------------------------------------

def test_cli_checks_imports_and_reports(world, runner, tmp_path):
    path = tmp_path / "people.csv"
    ids = [resident_id(), resident_id()]
    path.write_bytes(csv_bytes([person_row(ids[0]), person_row(ids[1], number="2", village="V1")], PEOPLE_HEADER,
                               "gb18030"))
    result = runner.invoke(args=["import-people", str(path), "--check"])
    assert result.exit_code == 0, result.output
    assert "2 rows read: 2 valid, 0 rejected; 2 new" in result.output and _people() == []
    result = runner.invoke(args=["import-people", str(path)])
    assert result.exit_code == 0, result.output
    assert "Imported: 2 new" in result.output and len(_people()) == 2
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([person_row(resident_id(), number="99")], PEOPLE_HEADER))
    report = tmp_path / "report.csv"
    result = runner.invoke(args=["import-people", str(bad), "--report", str(report)])
    assert result.exit_code != 0 and "row 2: C 门牌号: No house at this address" in result.output
    assert report.read_bytes().startswith(b"\xef\xbb\xbf") and "No house at this address" in report.read_text("utf-8-sig")
    assert len(_people()) == 2


def test_cli_a_register_changed_meanwhile_imports_nothing(world, runner, tmp_path, monkeypatch):
    """A document registered by someone else between the check and the write: the unique document
    constraint refuses the insert, and the whole import is rolled back with a message."""
    number = resident_id()
    path = tmp_path / "people.csv"
    path.write_bytes(csv_bytes([person_row(resident_id()), person_row(number, number="2")], PEOPLE_HEADER))
    real = records.insert_new

    def racing(new, house_ids, **kwargs):
        make_person(world["homes"]["west1"], id_number=number)  # committed by "someone else"
        return real(new, house_ids, **kwargs)

    monkeypatch.setattr(records, "insert_new", racing)
    before = len(_people())
    result = runner.invoke(args=["import-people", str(path)])
    assert result.exit_code != 0 and "nothing was imported" in result.output
    assert [p.id_number for p in _people()][before:] == [number]  # only the other registration


def test_cli_one_village_without_a_village_column(world, runner, tmp_path):
    path = tmp_path / "people.xlsx"
    header = PEOPLE_HEADER[1:]
    path.write_bytes(xlsx_bytes([person_row(resident_id())[1:]], header))
    result = runner.invoke(args=["import-people", str(path), "--village", "V2"])  # 西村: house 1/1 exists there
    assert result.exit_code == 0, result.output
    assert _people()[0].house_id == world["homes"]["west1"].id
    assert runner.invoke(args=["import-people", str(path), "--village", "NOPE"]).exit_code != 0


def test_cli_organisations_and_template(world, runner, tmp_path):
    path = tmp_path / "orgs.csv"
    path.write_bytes(csv_bytes([org_row(uscc(11)), org_row(uscc(12), number="3", create="是")], ORG_HEADER))
    result = runner.invoke(args=["import-orgs", str(path)])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count()).select_from(Organisation)) == 2
    assert "1 houses" in result.output
    template = tmp_path / "t.xlsx"
    result = runner.invoke(args=["import-template", "people", str(template)])
    assert result.exit_code == 0 and load_workbook(template).worksheets[0]["K1"].value == "证件号码"


def test_who_may_import(world, login):
    town = world["town"]
    for role, status in (("admin", 403), ("collector", 403), ("village_head", 403), ("informant", 403),
                         ("supervisor", 200), ("reviewer", 200), ("police", 200)):
        account = make_account(town, role, [] if role in ("admin", "supervisor") else [world["east"]])
        client = login(account)
        assert send(client, "GET", "/imports/people").status_code == status, role
