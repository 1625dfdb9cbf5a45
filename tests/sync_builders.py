"""Builders for the sync tests: devices with tokens, pushed items, a push over HTTP."""
from __future__ import annotations

import uuid

from fieldapp import devices
from fieldapp.extensions import db

from .builders import person_data


def device_token(account, name="test phone") -> str:
    _device, token = devices.register_device(account, name)
    db.session.commit()
    return token


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def new_uid() -> str:
    return str(uuid.uuid4())


def house_new(village_id, number="7", group="3", entity_uid=None, **data) -> dict:
    return {"uid": new_uid(), "op": "house.new", "entity_uid": entity_uid or new_uid(), "house_uid": None,
            "village_id": village_id, "base_version": None,
            "data": {"group_name": group, "number": number, "use": "owner", **data},
            "known_on": "2016-05-01", "collected_at": "2016-05-02T09:30:00Z"}


def person_json_data(**overrides) -> dict:
    data = person_data(**overrides)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()
            if v is not None and k != "employer_id"}


def person_new(house_uid, entity_uid=None, **overrides) -> dict:
    return {"uid": new_uid(), "op": "person.new", "entity_uid": entity_uid or new_uid(), "house_uid": house_uid,
            "base_version": None, "data": person_json_data(**overrides), "known_on": "2016-05-01",
            "collected_at": "2016-05-02T09:30:00Z"}


def update(op, entity_uid, base_version, **data) -> dict:
    return {"uid": new_uid(), "op": op, "entity_uid": entity_uid, "base_version": base_version, "data": data,
            "known_on": "2016-05-01", "collected_at": "2016-05-02T09:30:00Z"}


def organisation_new(house_uid, entity_uid=None, **data) -> dict:
    return {"uid": new_uid(), "op": "organisation.new", "entity_uid": entity_uid or new_uid(),
            "house_uid": house_uid, "base_version": None, "data": {"name": "小卖部", "kind": "shop", **data},
            "known_on": "2016-05-01"}


def push_http(client, token, items):
    response = client.post("/api/sync/push", json={"items": items}, headers=bearer(token))
    assert response.status_code == 200, response.text[:500]
    return response.json["results"]
