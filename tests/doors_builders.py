"""Builders for door-label tests: register files in the encodings and formats people upload."""
from __future__ import annotations

import io

from .builders import table_csv, table_xlsx

HEADER_ZH = ["村", "组", "路", "弄", "门牌号", "栋", "室", "纬度", "经度"]


def csv_bytes(rows: list[list], encoding: str = "utf-8", header=HEADER_ZH, delimiter: str = ",") -> bytes:
    """A register as CSV bytes; encoding 'utf-8-sig' gives a BOM, 'gb18030' what Chinese Excel saves."""
    return table_csv(rows, header, encoding, delimiter)


def xlsx_bytes(rows: list[list], header=HEADER_ZH) -> bytes:
    return table_xlsx(rows, header)


def upload(client, data: bytes, filename: str = "register.csv", action: str = "run"):
    """POST a register file to the import page; action 'run' imports, 'check_only' only checks."""
    return client.post("/doors/import", data={"file": (io.BytesIO(data), filename), action: "1"},
                       content_type="multipart/form-data")




# --- the permission matrix (tests/test_permissions.py) ------------------------------------------

def matrix_url_args(endpoint: str, target) -> dict | None:
    """URL arguments of the door-label routes for a matrix target (None: not one of ours). The door
    token is read when the row runs: a retire row earlier in the matrix replaces it."""
    from sqlalchemy import select

    from fieldapp.extensions import db
    from fieldapp.models import House

    if endpoint == "doors.door":
        token = db.session.scalar(select(House.door_token).where(House.id == target.house))
        db.session.rollback()
        return {"token": token}
    if endpoint in ("doors.village", "doors.sheet"):
        return {"village_id": target.village}
    if endpoint in ("doors.house", "doors.qr_png", "doors.qr_svg", "doors.retire"):
        return {"house_id": target.house}
    from .labels_builders import matrix_url_args as labels_url_args
    return labels_url_args(endpoint, target)


def matrix_post_data(endpoint: str, target) -> dict | None:
    """A valid POST for the door-label routes (None: not one of ours)."""
    from sqlalchemy import select

    from fieldapp.extensions import db
    from fieldapp.models import House

    if endpoint == "doors.retire":
        code = db.session.scalar(select(House.door_code).where(House.id == target.house))
        db.session.rollback()
        return {"code": code, "reason": "damaged"}
    if endpoint == "doors.import_houses":
        data = csv_bytes([["东村", "7", None, None, "77", None, None, None, None]])
        return {"file": (io.BytesIO(data), "register.csv"), "run": "1"}
    if endpoint == "doors.blank_labels_print":
        return {"count": "2"}
    return None
