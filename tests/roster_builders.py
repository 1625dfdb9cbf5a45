"""Builders for the bulk-issuing and account-list tests (fieldapp/roster): account lists as files,
sub-areas, and the permission matrix's targets for the roster routes."""
from __future__ import annotations

import io

from fieldapp.extensions import db
from fieldapp.models import Account, SubArea

from .builders import table_csv, table_xlsx

HEADER = ["姓名", "角色", "村居", "片区/楼组", "手机号码"]


def list_csv(rows: list[list], encoding: str = "utf-8", header=HEADER) -> bytes:
    """An account list as CSV bytes; 'utf-8-sig' gives a BOM, 'gbk' what Chinese Excel saves."""
    return table_csv(rows, header, encoding)


def list_xlsx(rows: list[list], header=HEADER) -> bytes:
    return table_xlsx(rows, header)


def make_sub_area(village, code: str, name: str | None = None, kind: str = "area") -> SubArea:
    sub_area = SubArea(village_id=village.id, code=code, name=name or f"{code}片区", kind=kind)
    db.session.add(sub_area)
    db.session.commit()
    return sub_area


def upload(client, data: bytes, filename: str = "list.csv", action: str = "run", **fields):
    """POST an account list to the bulk page; action 'run' issues, 'check_only' checks, 'report'
    downloads the report."""
    db.session.rollback()
    return client.post("/admin/accounts/bulk", data={"file": (io.BytesIO(data), filename), action: "1", **fields},
                       content_type="multipart/form-data")


def posted_rows(rows: list[dict], action: str = "run") -> dict:
    """The form the check page sends back: rows as r-<i>-<column> fields (no file)."""
    data = {"rows": str(len(rows)), action: "1"}
    for i, row in enumerate(rows):
        data[f"r-{i}-line"] = str(i + 2)
        for column, value in row.items():
            data[f"r-{i}-{column}"] = value
    return data


# --- the permission matrix (tests/test_permissions.py) -------------------------------------------

def add_roster_targets(world) -> None:
    """For the own town and the other town: a collector to move between villages, and a batch with
    an ID waiting for activation (its letters can be printed again)."""
    from fieldapp.models import Village
    for key, batch in (("own", "a" * 32), ("town2", "b" * 32)):
        target = world.targets[key]
        village = db.session.get(Village, target.village)
        mover = Account(collection_id=f"MV-{key[:2].upper()}01", name="调动的采集员", role="collector",
                        town_id=village.town_id, villages=[village])
        waiting = Account(collection_id=f"BT-{key[:2].upper()}01", name="待开通", role="collector",
                          town_id=village.town_id, villages=[village], issue_batch=batch)
        db.session.add_all([mover, waiting])
        db.session.flush()
        target.mover, target.batch = mover.id, batch
    db.session.commit()


def matrix_url_args(endpoint: str, target) -> dict | None:
    if endpoint == "roster.move":
        return {"account_id": target.mover}
    if endpoint == "roster.batch_letters":
        return {"batch": target.batch}
    return None


def matrix_post_data(endpoint: str, target) -> dict | None:
    if endpoint == "roster.bulk":
        return posted_rows([{"name": "矩阵新证", "role": "采集员", "villages": "东村", "sub_areas": "", "phone": ""}])
    if endpoint == "roster.move":
        return {"villages": str(target.village), "confirm": "yes"}
    if endpoint == "roster.batch_letters":
        return {}
    return None
