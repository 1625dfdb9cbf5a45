"""Builders for the people and organisation register import tests: files as clerks upload them."""
from __future__ import annotations

import io

from .builders import table_csv, table_xlsx

PEOPLE_HEADER = ["村/社区", "组", "门牌号", "新建房屋", "姓名", "证件类型", "证件号码", "性别", "出生日期", "民族", "联系电话",
                 "人员类别", "与户主关系", "迁入日期", "居住事由", "离开户籍地时间", "工作单位统一社会信用代码"]
ORG_HEADER = ["村/社区", "组", "门牌号", "新建房屋", "单位名称", "单位类别", "统一社会信用代码", "法定代表人", "联系电话",
              "从业人员数"]


def person_row(id_number: str, village="东村", group="1", number="1", create="", name="张三", id_type="",
               sex="", birth="", ethnicity="汉族", phone="", category="户籍人口", relation="户主", move_in="20160101",
               reason="", away="", employer="") -> list:
    return [village, group, number, create, name, id_type, id_number, sex, birth, ethnicity, phone, category, relation,
            move_in, reason, away, employer]


def org_row(uscc: str, village="东村", group="1", number="1", create="", name="东村超市", kind="沿街商铺",
            legal_rep="李四", phone="", employees="3") -> list:
    return [village, group, number, create, name, kind, uscc, legal_rep, phone, employees]


# The register files as uploaded: tests.builders' tables (rows, header, encoding).
csv_bytes = table_csv
xlsx_bytes = table_xlsx


def upload(client, kind: str, data: bytes, filename: str = "register.csv", action: str = "run"):
    """POST a register to /imports/<kind>; action 'run' imports, 'check_only' only checks."""
    return client.post(f"/imports/{kind}", data={"file": (io.BytesIO(data), filename), action: "1"},
                       content_type="multipart/form-data")


def make_organisation(house, uscc: str, name: str = "已登记单位"):
    """An organisation registered through records (as the web page does) at `house`."""
    from fieldapp import records
    from fieldapp.extensions import db

    org = records.add_organisation(records.Actor(None), house, {"name": name, "kind": "company", "uscc": uscc,
                                                                "legal_rep": None, "phone": None, "employee_count": 3})
    db.session.commit()
    return org


# --- the permission matrix (tests/test_permissions.py) ------------------------------------------

def matrix_url_args(endpoint: str, target) -> dict | None:
    """URL arguments of the register import routes (None: not one of ours). The report's token
    names no report of anyone's: the roles allowed get 404, the others 403."""
    if endpoint in ("imports.upload", "imports.template"):
        return {"kind": "people"}
    if endpoint == "imports.report":
        return {"token": "A" * 24}
    return None


def matrix_post_data(endpoint: str, target) -> dict | None:
    """A valid upload for the register import (None: not one of ours): a new person at a new house
    of 东村 (the house is created by the first role allowed, found by the next)."""
    from .builders import resident_id

    if endpoint == "imports.upload":
        data = csv_bytes([person_row(resident_id(), number="78", create="是")], PEOPLE_HEADER)
        return {"file": (io.BytesIO(data), "people.csv"), "run": "1"}
    return None
