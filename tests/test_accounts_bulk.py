"""Collection IDs in bulk (fieldapp/roster): the row rules, checking a list against the town, issuing
all or nothing, the template and the report, activation letters, the account list's search, filters
and pages, moving a holder between villages, and the issue-ids command."""
from __future__ import annotations

import csv
import io
import os
import re

import pytest
from flask_babel import force_locale
from openpyxl import load_workbook
from sqlalchemy import func, select

from fieldapp import accounts
from fieldapp.extensions import db
from fieldapp.models import Account, AuditEvent, Device, LoginSession
from fieldapp.roster import issuing, listing, spreadsheets
from fieldapp.rules.account_import import AccountRow, check_row, mark_duplicates, role_of, split_list

from .builders import make_account, make_other_town, make_town, send, text_of
from .roster_builders import list_csv, list_xlsx, make_sub_area, posted_rows, upload
from .sync_builders import bearer, device_token

CODE = re.compile(r'class="code letter-code">([A-Z0-9]{8})<')


def _row(**cells) -> AccountRow:
    base = {"name": "张三", "role": "采集员", "villages": "东村", "sub_areas": "", "phone": ""}
    return check_row(AccountRow(line=2, cells={**base, **cells}))


def _codes(row: AccountRow) -> list[str]:
    return [issue.code for issue in row.issues]


# --- rules ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,role", [
    ("collector", "collector"), ("采集员", "collector"), ("Collector", "collector"), ("信息员", "informant"),
    ("社区民警", "police"), ("村（居）负责人", "village_head"), ("Reviewer (entry clerk)", "reviewer"),
    ("督导（镇/派出所）", "supervisor"), ("管理员", "admin"), ("厨师", None), ("", None),
])
def test_roles_are_read_by_key_and_by_name(text, role):
    assert role_of(text) == role


def test_lists_split_on_chinese_and_latin_separators():
    assert split_list("东村、西村，北村;东村\n南村") == ["东村", "西村", "北村", "南村"]
    assert split_list("  ") == []


@pytest.mark.parametrize("cells,codes", [
    ({}, []),
    ({"name": ""}, ["missing_name"]),
    ({"name": "长" * 65}, ["too_long"]),
    ({"role": ""}, ["missing_role"]),
    ({"role": "厨师"}, ["unknown_role"]),
    ({"role": "督导", "villages": "东村"}, ["town_wide_role"]),
    ({"role": "督导", "villages": ""}, []),
    ({"villages": ""}, ["missing_village"]),
    ({"role": "审核员", "sub_areas": "A1"}, ["no_sub_areas_for_role"]),
    ({"role": "信息员", "sub_areas": "A1"}, []),
    ({"phone": "1381234567"}, ["bad_phone"]),
    ({"phone": "12812345678"}, ["bad_phone"]),
    ({"phone": "+86 138-1234-5678"}, []),
    ({"name": "张\x07三"}, ["control_characters"]),
])
def test_row_rules(cells, codes):
    assert _codes(_row(**cells)) == codes


def test_a_phone_number_on_two_rows_rejects_the_later_row():
    rows = [_row(phone="13812345678"), _row(phone="138 1234 5678"), _row(phone="13912345678")]
    for line, row in enumerate(rows, start=2):
        row.line = line
    mark_duplicates(rows)
    assert [_codes(r) for r in rows] == [[], ["duplicate_in_file"], []]
    assert rows[1].issues[0].value == "2" and rows[0].phone == "13812345678"


# --- checking and issuing -----------------------------------------------------------------------

ROWS = [["王芳", "采集员", "东村", "A1", "13812345678"],
        ["李强", "信息员", "V2", "B楼组", "+8613912345678"],
        ["赵敏", "督导", None, None, None]]


@pytest.mark.parametrize("fmt", ["utf-8", "utf-8-sig", "gbk", "xlsx"])
def test_a_list_in_every_format_checks_the_same(ctx, fmt):
    town, (east, west) = make_town()
    a1 = make_sub_area(east, "A1")
    b = make_sub_area(west, "B2", "B楼组", kind="building_group")
    data = list_xlsx(ROWS) if fmt == "xlsx" else list_csv(ROWS, fmt)
    plan = issuing.check(issuing.read_file(data, 100), town.id, [east, west])
    assert plan.ok, [(r.line, r.issues) for r in plan.rows]
    assert [r.name for r in plan.rows] == ["王芳", "李强", "赵敏"]
    assert [r.role for r in plan.rows] == ["collector", "informant", "supervisor"]
    assert plan.village_ids == {2: [east.id], 3: [west.id], 4: []}
    assert plan.sub_area_ids == {2: [a1.id], 3: [b.id], 4: []}
    assert [r.phone for r in plan.rows] == ["13812345678", "13912345678", None]


def test_villages_outside_the_importers_scope_and_sub_areas_elsewhere_are_rejected(ctx):
    town, (east, west) = make_town()
    _town2, far = make_other_town()
    make_sub_area(east, "A1")
    make_sub_area(west, "A1")
    make_sub_area(far, "Z9")
    rows = [["甲", "采集员", "远村", None, None],  # another town's village: unknown, like a typo
            ["乙", "采集员", "东村", "Z9", None],  # a sub-area of another town's village
            ["丙", "采集员", "东村、西村", "A1", None],  # A1 is in both villages
            ["丁", "采集员", "东村、西村", "西村/A1", None],  # disambiguated
            ["戊", "采集员", "北村", None, None]]
    plan = issuing.check(issuing.read_file(list_csv(rows), 100), town.id, [east, west])
    assert [_codes(r) for r in plan.rows] == [["unknown_village"], ["unknown_sub_area"], ["ambiguous_sub_area"], [],
                                               ["unknown_village"]]
    assert not plan.ok
    with pytest.raises(ValueError):
        issuing.issue_all(plan, town.id, None, None)


def test_a_phone_on_a_live_id_is_refused_but_a_revoked_ones_is_free(ctx):
    town, (east, _west) = make_town()
    live = make_account(town, "collector", [east])
    live.phone = "13812345678"
    gone = make_account(town, "collector", [east])
    gone.phone = "13912345678"
    accounts.revoke(gone, None, "left")
    db.session.commit()
    plan = issuing.check(issuing.read_file(list_csv([["甲", "采集员", "东村", None, "13812345678"],
                                                     ["乙", "采集员", "东村", None, "13912345678"]]), 100),
                         town.id, [east])
    assert [_codes(r) for r in plan.rows] == [["phone_taken"], []]


def test_file_problems_are_reported_not_raised(ctx):
    town, villages = make_town()
    for data, code in ((b"", "empty"), (b"\xd0\xcf\x11\xe0rest", "old_excel"), (b"\xff\xfe\xfa", "encoding"),
                       (list_csv([], header=["姓名", "手机"]), "missing_columns"),
                       (list_csv([["a", "b"]], header=["姓名", "名字"]), "duplicate_column"),
                       (list_csv([["x", "采集员", "东村", "", ""]] * 3), "too_many_rows")):
        plan = issuing.check(issuing.read_file(data, 2), town.id, villages)
        assert plan.file_problem is not None and plan.file_problem.code == code, (data[:20], code)
        with force_locale("en"):
            assert issuing.file_message(plan.file_problem)


def test_issuing_a_plan_issues_every_row_with_phone_sub_areas_and_one_batch(ctx):
    town, (east, west) = make_town()
    make_account(town, "admin", collection_id="YP-0007")
    a1 = make_sub_area(east, "A1")
    make_sub_area(west, "B2", "B楼组")
    plan = issuing.check(issuing.read_file(list_csv(ROWS), 100), town.id, [east, west])
    batch, issued = issuing.issue_all(plan, town.id, town.office, None)
    db.session.commit()
    assert [a.collection_id for a, _c in issued] == ["YP-0008", "YP-0009", "YP-0010"]
    first = issued[0][0]
    assert first.phone == "13812345678" and first.sub_areas == [a1] and first.villages == [east]
    assert {a.issue_batch for a, _c in issued} == {batch} and len(batch) == 32
    for account, code in issued:
        assert code not in account.activation_hash
        accounts.activate(account.collection_id, code, "583920")
    db.session.commit()
    bulk = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "issue_ids_bulk"))
    assert bulk.records == 3 and bulk.target == f"batch:{batch}"
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "issue_id")) == 3


def test_template_has_role_and_village_drop_downs_and_reads_back(ctx):
    town, (east, west) = make_town()
    make_sub_area(east, "A1")
    data = spreadsheets.template_xlsx([east, west], [make_sub_area(west, "B2")])
    book = load_workbook(io.BytesIO(data))
    sheet, lists = book["发证名单"], book["代码表"]
    assert [c.value for c in sheet[1]] == ["姓名", "角色", "村居", "片区/楼组", "手机号码"]
    rules = {str(v.sqref): v for v in sheet.data_validations.dataValidation}
    assert rules["B2:B501"].type == "list" and rules["B2:B501"].formula1 == "'代码表'!$A$2:$A$8"
    assert rules["C2:C501"].formula1 == "'代码表'!$B$2:$B$3"
    assert rules["E2:E501"].type == "textLength"
    assert [lists.cell(row=r, column=1).value for r in range(2, 9)] == [
        "管理员", "督导（镇/派出所）", "村（居）负责人", "审核录入员", "采集员", "社区民警", "信息员"]
    assert [lists.cell(row=r, column=2).value for r in (2, 3)] == ["东村", "西村"]
    # Filled in with the lists' own values, it reads back without a rejected row.
    sheet.append(["王芳", lists["A6"].value, lists["B3"].value, "B2", "13812345678"])
    out = io.BytesIO()
    book.save(out)
    plan = issuing.check(issuing.read_file(out.getvalue(), 100), town.id, [east, west])
    assert plan.ok and plan.rows[0].role == "collector" and plan.village_ids[2] == [west.id]


def test_report_csv_opens_in_excel_and_says_what_to_correct(ctx):
    town, villages = make_town()
    plan = issuing.check(issuing.read_file(list_csv([["=1+1", "采集员", "北村", None, "+8613812345678"],
                                                     ["好人", "采集员", "东村", None, None]]), 100),
                         town.id, villages)
    with force_locale("en"):
        data = spreadsheets.report_csv(plan)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["行号", "姓名", "角色", "村居", "片区/楼组", "手机号码", "问题"]
    assert rows[1][:6] == ["2", "'=1+1", "采集员", "北村", "", "+8613812345678"]  # no formula; the phone kept
    assert rows[1][6].startswith("Villages: No village of yours")
    assert rows[2][6] == ""


# --- HTTP: bulk issuing and letters -------------------------------------------------------------

def test_bulk_page_rejects_all_keeps_the_input_and_issues_after_correction(ctx, login):
    town, (east, west) = make_town()
    admin = make_account(town, "admin")
    office = login(admin)
    before = db.session.scalar(select(func.count(Account.id)))
    bad = upload(office, list_csv([["王芳", "采集员", "东村", None, "13812345678"],
                                   ["李强", "厨师", "北村", None, "1391234"]], "gbk"), action="run")
    assert bad.status_code == 422
    page = text_of(bad)
    assert 'value="王芳"' in page and 'value="北村"' in page and 'value="1391234"' in page  # input kept
    assert "Nothing was issued" in page or "没有发放任何证号" in page
    assert db.session.scalar(select(func.count(Account.id))) == before  # all or nothing
    rows = [{"name": "王芳", "role": "采集员", "villages": "东村", "sub_areas": "", "phone": "13812345678"},
            {"name": "李强", "role": "厨师", "villages": "北村", "sub_areas": "", "phone": "1391234"}]
    report = send(office, "POST", "/admin/accounts/bulk", posted_rows(rows, "report"))
    assert report.status_code == 200 and report.mimetype == "text/csv"
    assert "attachment" in report.headers["Content-Disposition"]
    assert "李强" in report.get_data().decode("utf-8-sig")
    rows[1].update(role="信息员", villages="西村", phone="13912345678")
    checked = send(office, "POST", "/admin/accounts/bulk", posted_rows(rows, "check_only"))
    assert checked.status_code == 200
    assert db.session.scalar(select(func.count(Account.id))) == before  # checking issues nothing
    issued = send(office, "POST", "/admin/accounts/bulk", posted_rows(rows, "run"))
    assert issued.status_code == 200 and issued.headers["Cache-Control"] == "no-store"
    codes = CODE.findall(issued.text)
    assert len(codes) == 2 and issued.text.count('class="letter"') == 2
    assert issued.text.count("<svg") >= 2  # a QR code per letter, inline
    made = db.session.scalars(select(Account).where(Account.name.in_(["王芳", "李强"])).order_by(Account.id)).all()
    assert [a.villages for a in made] == [[east], [west]]
    for account, code in zip(made, codes):
        accounts.activate(account.collection_id, code, "583920")  # the printed codes are the real ones
    db.session.commit()
    printed = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "print_letters"))
    assert printed.records == 2 and printed.account_id == admin.id


def test_an_uploaded_xlsx_issues_and_the_letters_carry_the_activation_address(ctx, login):
    town, (east, _west) = make_town()
    make_sub_area(east, "A1", "一片区")
    office = login(make_account(town, "admin"))
    response = upload(office, list_xlsx([["王芳", "采集员", "东村", "A1", None]]), "list.xlsx")
    assert response.status_code == 200
    page = text_of(response)
    assert "东村 一片区（A1）" in page
    assert "http://localhost/activate" in page and "#id=" not in page  # the secret part is only in the QR
    account = db.session.scalar(select(Account).where(Account.name == "王芳"))
    assert account.issue_batch and account.sub_areas[0].code == "A1"


def test_batch_letters_give_new_codes_to_the_unused_ids_only(ctx, login):
    town, (east, _west) = make_town()
    office = login(make_account(town, "admin"))
    first = upload(office, list_csv([["甲", "采集员", "东村", None, None], ["乙", "采集员", "东村", None, None]]))
    old = CODE.findall(first.text)
    used, waiting = db.session.scalars(select(Account).where(Account.name.in_(["甲", "乙"])).order_by(Account.id))
    accounts.activate(used.collection_id, old[0], "583920")
    db.session.commit()
    again = send(office, "POST", f"/admin/accounts/batches/{waiting.issue_batch}/letters")
    assert again.status_code == 200
    new = CODE.findall(again.text)
    assert len(new) == 1 and waiting.collection_id in again.text and used.collection_id not in again.text
    with pytest.raises(accounts.AccountError):
        accounts.activate(waiting.collection_id, old[1], "583920")  # the earlier code is void
    accounts.activate(waiting.collection_id, new[0], "583920")
    db.session.commit()
    none_left = send(office, "POST", f"/admin/accounts/batches/{waiting.issue_batch}/letters")
    assert none_left.status_code == 303
    assert send(office, "POST", "/admin/accounts/batches/nosuchbatch/letters").status_code == 404


def test_single_issue_takes_a_valid_mobile_and_prints_a_letter(ctx, login):
    town, (east, _west) = make_town()
    office = login(make_account(town, "admin"))
    wrong = send(office, "POST", "/admin/accounts/new",
                 {"name": "赵六", "role": "collector", "villages": [east.id], "phone": "010-12345678"})
    assert wrong.status_code == 422
    ok = send(office, "POST", "/admin/accounts/new",
              {"name": "赵六", "role": "collector", "villages": [east.id], "phone": "+86 138 1234 5678"})
    assert ok.status_code == 200 and ok.headers["Cache-Control"] == "no-store"
    assert 'class="letter"' in ok.text and "<svg" in ok.text
    account = db.session.scalar(select(Account).where(Account.name == "赵六"))
    assert account.phone == "13812345678"
    assert CODE.findall(ok.text)[0] in ok.text


# --- HTTP: the account list ---------------------------------------------------------------------

def test_account_list_searches_filters_and_pages_on_the_server(ctx, login):
    town, (east, west) = make_town()
    admin = make_account(town, "admin")
    for n in range(60):
        account = make_account(town, "collector" if n % 2 else "informant", [east if n < 30 else west], pin=None)
        account.name = f"采集{n:02d}"
        account.phone = f"138{n:08d}"
    revoked = make_account(town, "collector", [east])
    revoked.name = "离职者"
    accounts.revoke(revoked, None, "left")
    db.session.commit()
    office = login(admin)
    first = text_of(send(office, "GET", "/admin/accounts"))
    assert first.count("<li><strong>") == listing.PAGE_SIZE
    second = text_of(send(office, "GET", "/admin/accounts?page=2"))
    assert second.count("<li><strong>") == 62 - listing.PAGE_SIZE
    by_name = text_of(send(office, "GET", "/admin/accounts", query_string={"q": "采集07"}))
    assert by_name.count("<li><strong>") == 1 and "138****0007" in by_name and "13800000007" not in by_name
    by_phone = text_of(send(office, "GET", "/admin/accounts", query_string={"q": "0000 0042"}))
    assert by_phone.count("<li><strong>") == 1 and "采集42" in by_phone
    by_id = text_of(send(office, "GET", "/admin/accounts", query_string={"q": revoked.collection_id.lower()}))
    assert "离职者" in by_id
    informants_west = text_of(send(office, "GET", "/admin/accounts",
                                   query_string={"role": "informant", "village": west.id}))
    assert informants_west.count("<li><strong>") == 15
    assert text_of(send(office, "GET", "/admin/accounts", query_string={"status": "revoked"})).count("<li><strong>") == 1
    waiting = send(office, "GET", "/admin/accounts", query_string={"status": "not_activated"})
    assert text_of(waiting).count("<li><strong>") == listing.PAGE_SIZE and "page 1 of 2" in text_of(waiting) \
        or "第 1 页，共 2 页" in text_of(waiting)
    assert text_of(send(office, "GET", "/admin/accounts", query_string={"q": "%"})).count("<li><strong>") == 0


def test_account_list_of_another_town_is_not_searched(ctx, login):
    town, (east, _west) = make_town()
    town2, far = make_other_town()
    stranger = make_account(town2, "collector", [far])
    stranger.name = "外镇的人"
    db.session.commit()
    office = login(make_account(town, "admin"))
    assert "外镇的人" not in text_of(send(office, "GET", "/admin/accounts", query_string={"q": "外镇"}))
    # A village of another town as a filter is ignored, not an error.
    assert send(office, "GET", "/admin/accounts", query_string={"village": far.id}).status_code == 200


# --- HTTP: moving a holder ---------------------------------------------------------------------

def test_moving_a_collector_asks_first_then_signs_them_out_everywhere(ctx, login, app):
    town, (east, west) = make_town()
    b1 = make_sub_area(west, "B1")
    a1 = make_sub_area(east, "A1")
    admin = make_account(town, "admin")
    collector = make_account(town, "collector", [east])
    collector.sub_areas = [a1]
    db.session.commit()
    token = device_token(collector)
    phone_web = login(collector)
    assert send(phone_web, "GET", "/villages").status_code in (200, 302)
    office = login(admin)
    form = send(office, "GET", f"/admin/accounts/{collector.id}/move")
    assert form.status_code == 200 and "B1" in form.text
    outside = send(office, "POST", f"/admin/accounts/{collector.id}/move",
                   {"villages": [east.id], "sub_areas": [b1.id]})
    assert outside.status_code == 422
    ask = send(office, "POST", f"/admin/accounts/{collector.id}/move", {"villages": [west.id], "sub_areas": [b1.id]})
    assert ask.status_code == 200 and 'name="confirm" value="yes"' in ask.text
    db.session.expire_all()
    assert db.session.get(Account, collector.id).villages == [east]  # nothing moved yet
    done = send(office, "POST", f"/admin/accounts/{collector.id}/move",
                {"villages": [west.id], "sub_areas": [b1.id], "confirm": "yes"})
    assert done.status_code == 303
    db.session.expire_all()
    moved = db.session.get(Account, collector.id)
    assert moved.villages == [west] and moved.sub_areas == [b1]
    after = send(phone_web, "GET", "/villages")
    assert after.status_code == 302 and after.location.startswith("/login")
    assert "发证单位调整了您负责的村居" in text_of(send(phone_web, "GET", after.location))  # says why
    assert db.session.scalar(select(LoginSession.ended_reason).where(LoginSession.account_id == collector.id)) == "moved"
    assert db.session.scalar(select(Device.revoked_at).where(Device.account_id == collector.id)) is not None
    assert send(app.test_client(), "GET", "/api/sync/package?cursor=0", headers=bearer(token)).status_code == 401
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "move_account"))
    assert event.target == f"account:{collector.id}" and f"[{east.id}] -> [{west.id}]" in event.detail
    assert "1 phones" in event.detail


def test_town_wide_and_revoked_ids_are_not_moved(ctx, login):
    town, (east, _west) = make_town()
    office = login(make_account(town, "admin"))
    supervisor = make_account(town, "supervisor")
    gone = make_account(town, "collector", [east])
    accounts.revoke(gone, None, "left")
    db.session.commit()
    for account in (supervisor, gone):
        response = send(office, "POST", f"/admin/accounts/{account.id}/move", {"villages": [east.id], "confirm": "yes"})
        assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Account, supervisor.id).villages == []
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "move_account")) == 0


# --- CLI --------------------------------------------------------------------------------------

def test_cli_checks_issues_and_writes_the_codes_only_to_the_letters_file(ctx, runner, tmp_path):
    town, (east, west) = make_town()
    source = tmp_path / "list.csv"
    source.write_bytes(list_csv([["王芳", "采集员", "东村", None, "13812345678"], ["赵敏", "督导", None, None, None]],
                                "gbk"))
    checked = runner.invoke(args=["issue-ids", str(source), "--check"])
    assert checked.exit_code == 0 and "2 valid, 0 rejected" in checked.output
    assert db.session.scalar(select(func.count(Account.id))) == 0
    letters = tmp_path / "letters.html"
    no_path = runner.invoke(args=["issue-ids", str(source), "--base-url", "https://sanshi.example.cn"])
    assert no_path.exit_code != 0 and "--letters" in no_path.output
    result = runner.invoke(args=["issue-ids", str(source), "--letters", str(letters),
                                 "--base-url", "https://sanshi.example.cn"])
    assert result.exit_code == 0, result.output
    db.session.rollback()
    issued = db.session.scalars(select(Account).order_by(Account.collection_id)).all()
    assert [a.name for a in issued] == ["王芳", "赵敏"]
    assert all(a.collection_id in result.output for a in issued) and str(letters) in result.output
    html = letters.read_text(encoding="utf-8")
    codes = CODE.findall(html)
    assert len(codes) == 2 and not any(code in result.output for code in codes)  # never on the terminal
    assert os.stat(letters).st_mode & 0o777 == 0o600
    assert "<style>" in html and "https://sanshi.example.cn/activate" in html and "采集证激活通知书" in html
    for account, code in zip(issued, codes):
        accounts.activate(account.collection_id, code, "583920")
    db.session.commit()
    again = runner.invoke(args=["issue-ids", str(source), "--letters", str(letters),
                                "--base-url", "https://sanshi.example.cn"])
    assert again.exit_code != 0 and "exists already" in again.output


def test_cli_rejected_rows_issue_nothing(ctx, runner, tmp_path):
    make_town()
    source = tmp_path / "list.xlsx"
    source.write_bytes(list_xlsx([["王芳", "采集员", "北村", None, None], ["李强", "采集员", "东村", None, "123"]]))
    result = runner.invoke(args=["issue-ids", str(source), "--letters", str(tmp_path / "l.html"),
                                 "--base-url", "https://x.example.cn"])
    assert result.exit_code == 1
    assert "row 2: Villages: No village of yours" in result.output and "row 3: Mobile phone" in result.output
    assert not (tmp_path / "l.html").exists()
    db.session.rollback()
    assert db.session.scalar(select(func.count(Account.id))) == 0


def test_the_slow_hashes_are_made_with_no_transaction_open(ctx, login, monkeypatch):
    """On SQLite a POST's transaction holds the database's one write lock: phones' pushes wait on it."""
    town, (east, _west) = make_town()
    office = login(make_account(town, "admin"))
    seen = []
    original = accounts.new_activations

    def spy(count):
        seen.append((count, db.session().in_transaction()))
        return original(count)

    monkeypatch.setattr(accounts, "new_activations", spy)
    response = upload(office, list_csv([["甲", "采集员", "东村", None, None], ["乙", "采集员", "东村", None, None]]))
    assert response.status_code == 200
    assert seen == [(2, False)]


def test_cli_issue_id_takes_a_phone_and_refuses_a_wrong_one(ctx, runner):
    make_town()
    wrong = runner.invoke(args=["issue-id", "--name", "甲", "--role", "supervisor", "--phone", "12345"])
    assert wrong.exit_code != 0 and "11 digits" in wrong.output
    ok = runner.invoke(args=["issue-id", "--name", "甲", "--role", "supervisor", "--phone", "+86 13812345678"])
    assert ok.exit_code == 0, ok.output
    db.session.rollback()
    assert db.session.scalar(select(Account.phone).where(Account.name == "甲")) == "13812345678"


def test_cli_letters_in_english(ctx, runner, tmp_path):
    make_town()
    source = tmp_path / "list.csv"
    source.write_bytes(list_csv([["Wang Fang", "collector", "V1", None, None]], header=["name", "role", "villages",
                                                                                         "sub-areas", "phone"]))
    letters = tmp_path / "letters.html"
    result = runner.invoke(args=["issue-ids", str(source), "--letters", str(letters), "--lang", "en",
                                 "--base-url", "https://sanshi.example.cn/"])
    assert result.exit_code == 0, result.output
    html = letters.read_text(encoding="utf-8")
    assert "Collection ID activation letter" in html and "https://sanshi.example.cn/activate" in html


def test_serials_taken_meanwhile_issue_nothing_and_say_so(ctx, login, monkeypatch):
    """Two admins issuing at once: the second list's serials collide in the unique constraint."""
    town, (east, _west) = make_town()
    office = login(make_account(town, "admin"))
    taken = make_account(town, "collector", [east], collection_id="YP-0005")
    monkeypatch.setattr(accounts, "next_collection_id", lambda prefix: "YP-0004")  # a stale read
    response = upload(office, list_csv([["甲", "采集员", "东村", None, None], ["乙", "采集员", "东村", None, None]]))
    assert response.status_code == 409
    assert 'value="甲"' in response.text  # the list is kept for another try
    db.session.rollback()
    assert db.session.scalars(select(Account.collection_id).order_by(Account.id)).all()[-1] == taken.collection_id
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action.in_(["issue_id", "issue_ids_bulk", "print_letters"]))) == 0
