"""A clerk imports a people register in a real browser, on a 360 px wide screen: finds the page in
the menu, downloads the template, fills it in (as Excel would, with the dropdowns' values), checks
it, reads the report and downloads it, corrects the file and imports it; axe finds nothing on the
page with its report."""
from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import MoveRequest, Person

from ..builders import make_account, make_house, make_person, make_town, resident_id
from .conftest import axe_violations, sign_in


def _filled(template: bytes, rows: list[dict]) -> bytes:
    book = load_workbook(io.BytesIO(template))
    sheet = book.worksheets[0]
    headers = [c.value for c in sheet[1]]
    for number, values in enumerate(rows, start=2):  # typed from row 2 on, as in Excel
        for column, header in enumerate(headers, start=1):
            sheet.cell(row=number, column=column, value=values.get(header))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_clerk_imports_a_people_register(browser, live_server, tmp_path):
    live_server.app.config["REGISTER_IMPORT_REPORT_DIR"] = str(tmp_path / "reports")
    with live_server.app.app_context():
        town, (east, west) = make_town()
        make_house(east, "1", "1")
        elsewhere = make_person(make_house(west, "5", "2"), name="外村人")
        clerk = make_account(town, "reviewer", [east]).collection_id
        moved_number = elsewhere.id_number
    base = live_server.base_url
    ctx = browser.new_context(viewport={"width": 360, "height": 780}, accept_downloads=True, bypass_csp=True)
    ctx.set_default_timeout(20_000)
    page = ctx.new_page()
    sign_in(page, base, clerk)
    page.goto(base + "/")
    page.click("text=导入登记")
    page.wait_for_url("**/imports/people")
    with page.expect_download() as download:
        page.click("text=下载模板（.xlsx）")
    template = open(download.value.path(), "rb").read()
    first = resident_id()
    rows = [{"村/社区": "东村", "组": "1", "门牌号": "1", "姓名": "钱一", "证件号码": first, "民族": "汉族",
             "人员类别": "户籍人口", "与户主关系": "户主"},
            {"村/社区": "东村", "组": "1", "门牌号": "2", "姓名": "钱二", "证件号码": resident_id(), "民族": "汉族",
             "人员类别": "户籍人口", "与户主关系": "妻"},
            {"村/社区": "东村", "组": "1", "门牌号": "1", "姓名": "外村人", "证件号码": moved_number,
             "人员类别": "户籍人口"}]
    path = tmp_path / "register.xlsx"
    path.write_bytes(_filled(template, rows))
    page.set_input_files("input[type=file]", str(path))
    page.click("input[name=check_only]")
    report = page.locator("table.report")
    assert "登记中没有这个地址的房屋" in report.inner_text()  # row 3: 1组2号 is not registered
    assert "迁入待核实" in report.inner_text()  # row 4: registered in another village
    assert page.locator("[role=status]").inner_text().startswith("共读取 3 行：2 行可导入，1 行被拒绝")
    assert axe_violations(page) == []
    with page.expect_download() as download:
        page.click("text=下载检查报告（.xlsx）")
    lines = list(load_workbook(io.BytesIO(open(download.value.path(), "rb").read())).active.iter_rows(values_only=True))
    assert lines[0] == ("行", "列", "单元格内容", "问题", "处理办法", "类型")
    assert any(line[0] == 3 and "新建房屋" in line[4] for line in lines[1:]), lines
    # The clerk says the house is new, and imports.
    rows[1]["新建房屋"] = "是"
    path.write_bytes(_filled(template, rows))
    page.set_input_files("input[type=file]", str(path))
    page.click("input[name=run]")
    page.wait_for_selector(".flash.success")
    assert "新增人员 2 人" in page.locator(".flash.success").inner_text()
    with live_server.app.app_context():
        names = set(db.session.scalars(select(Person.name)))
        assert {"钱一", "钱二", "外村人"} == names
        assert db.session.scalar(select(MoveRequest.status)) == "pending"
    ctx.close()
