"""Permission-matrix pieces for the town set-up routes (fieldapp/townsetup): a sub-area in each
target village, the routes' URL arguments and valid POST bodies."""
from __future__ import annotations

import io

from openpyxl import Workbook


def add_townsetup_targets(world) -> None:
    """A sub-area in each target's village (target.sub_area)."""
    from fieldapp.extensions import db
    from fieldapp.models import SubArea

    for key in ("own", "west", "town2"):
        target = world.targets[key]
        sub_area = SubArea(village_id=target.village, code="M1", name="矩阵片区", kind="area")
        db.session.add(sub_area)
        db.session.flush()
        target.sub_area = sub_area.id


def matrix_url_args(endpoint: str, target) -> dict | None:
    if endpoint in ("townsetup.edit_village", "townsetup.move_village", "townsetup.new_sub_area"):
        return {"village_id": target.village}
    if endpoint == "townsetup.edit_sub_area":
        return {"sub_area_id": target.sub_area}
    if endpoint == "townsetup.assign":
        return {"account_id": target.account}
    return None


def _xlsx(rows) -> bytes:
    book = Workbook()
    book.active.title = "quotas"
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def matrix_post_data(endpoint: str, target) -> dict | None:
    """A valid POST for the set-up routes (None: not one of ours)."""
    from sqlalchemy import select

    from fieldapp.extensions import db
    from fieldapp.models import SubArea, Village

    if endpoint == "townsetup.index":
        return {"name": "测试镇", "code": "T1", "office": "测试镇人民政府", "county_code": "431226"}
    if endpoint == "townsetup.new_village":
        return {"name": "矩阵新村", "code": "MX1", "kind": "village"}
    if endpoint == "townsetup.edit_village":
        name, code = db.session.execute(select(Village.name, Village.code).where(Village.id == target.village)).one()
        db.session.rollback()
        return {"name": name, "code": code, "kind": "village"}
    if endpoint == "townsetup.move_village":
        return {"direction": "down"}
    if endpoint == "townsetup.new_sub_area":
        return {"sub-name": "新片区", "sub-code": "N9", "sub-kind": "building_group"}
    if endpoint == "townsetup.edit_sub_area":
        # The target's sub-area keeps its own code (other builders add sub-areas to the same target).
        code = db.session.scalar(select(SubArea.code).where(SubArea.id == target.sub_area))
        db.session.rollback()
        return {"sub-name": "改名片区", "sub-code": code, "sub-kind": "area"}
    if endpoint == "townsetup.quotas":
        return {}
    if endpoint == "townsetup.upload_quotas":
        return {"file": (io.BytesIO("village,people,houses,organisations\n东村,100,40,\n".encode()), "q.csv"), "run": "1"}
    if endpoint == "townsetup.workbook":
        return {"file": (io.BytesIO(_xlsx([["village", "people"], ["东村", 100]])), "town.xlsx"), "run": "1"}
    if endpoint == "townsetup.assign":
        return {}
    return None
