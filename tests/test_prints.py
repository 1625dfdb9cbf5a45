"""Printed forms over HTTP: each form's content against the database, scope per role, masking and
the audit rows; the archive command's refusals (its PDF is checked in tests/browser/test_prints_browser.py,
which needs Chromium)."""
from __future__ import annotations

import html
import re
from datetime import date

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, House, Organisation, Person, Tip
from fieldapp.prints import service
from fieldapp.rules.identifiers import mask_id, mask_phone

from .builders import make_account, make_other_town, make_person, make_town, send
from .prints_builders import furnished_house, informant_with_tips, make_sub_area


def sheets_of(body: str) -> list[str]:
    return re.findall(r'<section class="sheet".*?</section>', body, flags=re.S)


def page_text(response) -> str:
    assert response.status_code == 200, response.status_code
    return html.unescape(response.get_data(as_text=True))


def print_rows(since_id: int = 0) -> list[AuditEvent]:
    db.session.rollback()
    rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.id > since_id).order_by(AuditEvent.seq)))
    db.session.rollback()
    return [r for r in rows if r.action.startswith("print_")]


@pytest.fixture
def town(ctx):
    town, (east, west) = make_town()
    collector = make_account(town, "collector", [east])
    return town, east, west, collector


def test_house_form_holds_the_house_its_people_organisations_and_visit_proof(town, login):
    town_, east, _west, collector = town
    house, people = furnished_house(east, collector, number="7", people=3)
    reviewer = make_account(town_, "reviewer", [east])
    house_id, cid = house.id, collector.collection_id
    body = page_text(send(login(reviewer), "GET", f"/prints/houses/{house_id}"))
    [sheet] = sheets_of(body)
    house = db.session.get(House, house_id)
    assert house.door_code in sheet and "东村1组7号" in sheet
    assert "出租" in sheet and "房东7" in sheet and "租客7" in sheet
    for person in db.session.scalars(select(Person).where(Person.house_id == house_id)):
        assert person.name in sheet
        assert mask_id(person.id_number) in sheet and person.id_number not in sheet  # masked by default
    assert mask_phone("13812345678") in sheet and "13812345678" not in sheet
    assert "13700001111" not in sheet and mask_phone("13700001111") in sheet
    assert sheet.index("住户7之1") < sheet.index("住户7之2")  # the householder first
    assert "户主" in sheet and "配偶" in sheet
    assert sheet.count('class="photo-box"') == 3  # a portrait slot per person
    org = db.session.scalar(select(Organisation).where(Organisation.house_id == house_id))
    assert org.name in sheet and mask_id(org.uscc) in sheet and org.uscc not in sheet and "店主7" in sheet
    assert "门牌扫码走访：是" in sheet and cid in sheet and "扫描门牌码" in sheet
    for label in ("采集员（签名）", "被采集人/信息提供人（签名）", "审核人（签名）", "日期"):
        assert label in sheet
    assert "本户现住人员（3 人）" in sheet


def test_full_numbers_are_printed_only_when_asked_for_and_logged_as_such(town, login):
    town_, east, _west, collector = town
    house, people = furnished_house(east, collector, number="4", people=2)
    reviewer = make_account(town_, "reviewer", [east])
    house_id, east_id = house.id, east.id
    numbers = [p.id_number for p in people]
    client = login(reviewer)
    masked = page_text(send(client, "GET", f"/prints/houses/{house_id}"))
    assert "打印完整号码（将记入日志）" in masked and not any(n in masked for n in numbers)
    before = db.session.scalar(select(db.func.max(AuditEvent.id))) or 0
    for url in (f"/prints/houses/{house_id}", f"/prints/villages/{east_id}"):
        body = page_text(send(client, "POST", url))
        assert all(n in body for n in numbers) and "13812345678" in body and "13700001111" in body
        assert "这些表格上印有完整号码。" in body
    rows = print_rows(before)
    assert [(r.action, r.target) for r in rows] == [("print_house_full", f"house:{house_id}")] * 2


def test_house_without_a_scanned_visit_says_it_has_no_door_proof(town, login):
    town_, east, _west, collector = town
    house, _people = furnished_house(east, collector, scanned=False)
    head = make_account(town_, "village_head", [east])
    sheet = sheets_of(page_text(send(login(head), "GET", f"/prints/houses/{house.id}")))[0]
    assert "门牌扫码走访：否" in sheet and "从列表选择" in sheet


def test_village_batch_prints_every_house_in_address_order_one_sheet_each(town, login):
    town_, east, west, collector = town
    made = [furnished_house(east, collector, number=n, people=1)[0] for n in ("10", "2", "1")]
    furnished_house(west, collector, number="5", people=1)
    reviewer = make_account(town_, "reviewer", [east])
    east_id = east.id
    codes = {h.number: h.door_code for h in made}
    before = db.session.scalar(select(db.func.max(AuditEvent.id))) or 0
    body = page_text(send(login(reviewer), "GET", f"/prints/villages/{east_id}"))
    sheets = sheets_of(body)
    assert [next(n for n, c in codes.items() if c in s) for s in sheets] == ["1", "2", "10"]  # 2 before 10
    assert "西村" not in body and "住户5之1" not in body
    rows = print_rows(before)
    # One audit row per printed house: who looked at a person finds the batch through the house.
    assert sorted(r.target for r in rows) == sorted(f"house:{h.id}" for h in made)
    assert {r.records for r in rows} == {3} and {r.action for r in rows} == {"print_house"}
    assert all(f"batch village:{east_id}" in r.detail for r in rows)


def test_sub_area_batch_prints_only_the_sub_area(town, login):
    town_, east, _west, collector = town
    area = make_sub_area(east, code="A1", name="一片区")
    inside = furnished_house(east, collector, number="1", sub_area=area)[0]
    outside = furnished_house(east, collector, number="2")[0]
    head = make_account(town_, "village_head", [east])
    body = page_text(send(login(head), "GET", f"/prints/sub-areas/{area.id}"))
    assert len(sheets_of(body)) == 1
    assert inside.door_code in body and outside.door_code not in body
    assert "片区/楼组：一片区" in body


def test_scope_other_villages_and_towns_answer_404_and_collectors_print_nothing(town, login):
    town_, east, west, collector = town
    west_house = furnished_house(west, collector, number="3")[0]
    west_area = make_sub_area(west, code="W1")
    _town2, far = make_other_town()
    head = login(make_account(town_, "village_head", [east]))
    supervisor = login(make_account(town_, "supervisor"))
    for url in (f"/prints/houses/{west_house.id}", f"/prints/villages/{west.id}", f"/prints/sub-areas/{west_area.id}"):
        assert send(head, "GET", url).status_code == 404
        assert send(supervisor, "GET", url).status_code == 200
    assert send(supervisor, "GET", f"/prints/villages/{far.id}").status_code == 404
    assert send(login(collector), "GET", f"/prints/houses/{west_house.id}").status_code == 403
    assert send(login(collector), "GET", "/prints").status_code == 403


def test_people_from_abroad_are_on_police_prints_only(town, login):
    town_, east, _west, collector = town
    house, _people = furnished_house(east, collector, people=1)
    abroad = make_person(house, name="境外约翰", id_type="414", id_number="E12345678", sex="1",
                         birth_date=date(1980, 5, 1), category="abroad", nationality="USA",
                         move_in_reason="work", ethnicity=None, hukou_type=None)
    assert abroad.id
    police, reviewer = make_account(town_, "police", [east]), make_account(town_, "reviewer", [east])
    for account, shown in ((police, True), (reviewer, False)):
        client = login(account)
        for url in (f"/prints/houses/{house.id}", f"/prints/villages/{east.id}"):
            body = page_text(send(client, "GET", url))
            assert ("境外约翰" in body) is shown and ("E12345678" not in body)
    rows = print_rows()
    assert {r.records for r in rows if r.account_id == police.id} == {1 + 2 + 1}
    assert {r.records for r in rows if r.account_id == reviewer.id} == {1 + 1 + 1}


def test_index_lists_villages_sub_areas_and_informants_in_scope(town, login):
    town_, east, west, collector = town
    make_sub_area(east, code="B1", name="3号楼组", kind="building_group")
    informant_with_tips(east, west, collector, furnished_house(east, collector)[0])
    stranger = make_account(town_, "informant", [west])
    head = make_account(town_, "village_head", [east])
    body = page_text(send(login(head), "GET", "/prints"))
    assert "东村" in body and "3号楼组" in body and "西村" in body  # the informant of both villages lists both
    assert stranger.collection_id not in body
    reviewer_body = page_text(send(login(make_account(town_, "reviewer", [east])), "GET", "/prints"))
    assert "信息员信息提供情况登记表" not in reviewer_body  # prints.tips: supervisors and village heads


def test_informant_form_lists_the_period_tips_with_verification_and_reward_basis(town, login):
    town_, east, west, collector = town
    house = furnished_house(east, collector)[0]
    informant, tips = informant_with_tips(east, west, collector, house)
    informant_id, cid = informant.id, collector.collection_id
    head = make_account(town_, "village_head", [east])
    before = db.session.scalar(select(db.func.max(AuditEvent.id))) or 0
    body = page_text(send(login(head), "GET", f"/prints/informants/{informant_id}"))
    [sheet] = sheets_of(body)
    rows = re.findall(r"<tr>\s*<td>\d+</td>.*?</tr>", sheet, flags=re.S)
    assert len(rows) == 3  # the tip in 西村 is outside the village head's scope; public tips are nobody's
    assert "西村2组1号" not in sheet
    valid = db.session.get(Tip, tips["valid"])
    assert "三楼新搬来两人" in sheet and "东村5组9号" in sheet and "群租" in sheet
    assert "有效" in sheet and "无效" in sheet and "尚未核实" in sheet and cid in sheet
    assert f"2 元，计入 {service.tip_rules.month_key(valid.verified_at)}" in sheet
    assert "共 3 条，核对有效 1 条，尚未核实 1 条。奖励：1 × 2 元 = 2 元。" in sheet
    for label in ("信息员（签名）", "核实人（签名）", "居（村）委会负责人（签名）"):
        assert label in sheet
    [row] = print_rows(before)
    assert (row.action, row.target, row.records) == ("print_informant", f"account:{informant_id}", 3)
    # The supervisor sees both villages: four tips.
    supervisor = login(make_account(town_, "supervisor"))
    sheet = sheets_of(page_text(send(supervisor, "GET", f"/prints/informants/{informant_id}")))[0]
    assert "共 4 条" in sheet
    # A period before the tips arrived: none.
    sheet = sheets_of(page_text(send(supervisor, "GET", f"/prints/informants/{informant_id}?from=2016-01-01&to=2016-03-31")))[0]
    assert "共 0 条" in sheet and "2016-01-01" in sheet


def test_informant_form_scope(town, login):
    town_, east, west, collector = town
    west_informant = make_account(town_, "informant", [west])
    town2, far = make_other_town()
    far_informant = make_account(town2, "informant", [far])
    not_an_informant = make_account(town_, "collector", [east])
    head = login(make_account(town_, "village_head", [east]))
    for account in (west_informant, far_informant, not_an_informant):
        assert send(head, "GET", f"/prints/informants/{account.id}").status_code == 404
    assert send(login(make_account(town_, "reviewer", [east])), "GET",
                f"/prints/informants/{west_informant.id}").status_code == 403


def test_quarter_period():
    assert service.Period.quarter_of(date(2016, 5, 20)) == service.Period(date(2016, 4, 1), date(2016, 6, 30))
    assert service.Period.quarter_of(date(2016, 12, 31)) == service.Period(date(2016, 10, 1), date(2016, 12, 31))
    assert service.Period.quarter_of(date(2016, 1, 1)) == service.Period(date(2016, 1, 1), date(2016, 3, 31))


def test_house_page_links_to_its_print_for_print_roles_only(town, login):
    town_, east, _west, collector = town
    house = furnished_house(east, collector)[0]
    link = f"/prints/houses/{house.id}"
    assert link in page_text(send(login(make_account(town_, "reviewer", [east])), "GET", f"/houses/{house.id}"))
    assert link not in page_text(send(login(collector), "GET", f"/houses/{house.id}"))


def test_archive_command_refuses_unknown_places_and_a_missing_chromium(town, app, tmp_path):
    _town, east, _west, collector = town
    furnished_house(east, collector)
    runner = app.test_cli_runner()
    out = tmp_path / "a.pdf"
    result = runner.invoke(args=["print-archive", "--village", "NOPE", str(out)])
    assert result.exit_code != 0 and "No village with code NOPE" in result.output
    result = runner.invoke(args=["print-archive", "--village", east.code, "--sub-area", "X9", str(out)])
    assert result.exit_code != 0 and "no sub-area with code X9" in result.output
    app.config["PRINT_CHROMIUM"] = str(tmp_path / "no-such-chromium")
    result = runner.invoke(args=["print-archive", "--village", east.code, str(out)])
    assert result.exit_code != 0 and "Chromium was not found" in result.output
    assert not out.exists()
    assert print_rows() == []  # nothing printed, nothing logged


def test_archive_document_is_self_contained_and_masked_unless_asked(town):
    _town, east, _west, collector = town
    house, people = furnished_house(east, collector, people=1)
    from fieldapp.prints.cli import render_archive
    html_text, printed = render_archive(east, None, include_abroad=False)
    assert len(printed) == 1 and "<link" not in html_text and "@page { size: A4 portrait" in html_text
    assert people[0].id_number not in html_text and mask_id(people[0].id_number) in html_text
    html_text, _printed = render_archive(east, None, include_abroad=False, full=True)
    assert people[0].id_number in html_text
