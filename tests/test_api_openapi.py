"""The OpenAPI document describes exactly the /api/ routes, and real answers match its schemas."""
from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from fieldapp.api.openapi import document

from .builders import make_account, make_house, make_person, make_town
from .sync_builders import bearer, device_token, house_new, person_new, push_http, update

IGNORED = {"HEAD", "OPTIONS"}


def test_every_api_route_and_method_is_described_and_nothing_else(app):
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            routes |= {(path, method.lower()) for method in rule.methods - IGNORED}
    described = {(path, method) for path, ops in document()["paths"].items() for method in ops}
    assert routes == described


def test_the_document_is_served(client):
    body = client.get("/api/openapi.json").json
    assert body["openapi"].startswith("3.1") and body == document()


def validator(schema_name):
    doc = document()
    registry = Registry().with_resource("urn:fieldapp-openapi", Resource.from_contents(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", **doc}))
    schema = {"$ref": f"urn:fieldapp-openapi#/components/schemas/{schema_name}"}
    return Draft202012Validator(schema, registry=registry)


def check(schema_name, body):
    errors = list(validator(schema_name).iter_errors(body))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("name", list(document()["components"]["schemas"]))
def test_schemas_are_valid_json_schema(name):
    Draft202012Validator.check_schema(document()["components"]["schemas"][name])


def test_real_answers_match_the_schemas(ctx, client, login):
    town, (east, _west) = make_town()
    house = make_house(east)
    make_person(house)
    account = make_account(town, "police", [east])
    check("Session", client.get("/api/session").json)
    check("Session", login(account).get("/api/session").json)
    registered = login(account).post("/api/devices", json={"name": "t"})
    check("Device", registered.json)
    token = device_token(account)
    check("Package", client.get("/api/sync/package", headers=bearer(token)).json)
    new = house_new(east.id)
    items = [update("house.update", new["entity_uid"], 1, owner_name="x"), new, person_new(new["entity_uid"]),
             {"uid": "bad", "op": "house.new"}]
    results = push_http(client, token, items)
    first = push_http(client, token, [update("house.update", house.uid, 1, owner_name="甲", use="owner")])
    colleague = make_account(town, "police", [east])  # someone else changed the same field meanwhile
    conflict = push_http(client, device_token(colleague), [update("house.update", house.uid, 1, owner_name="乙")])
    again = push_http(client, token, items[:2])
    statuses = {r["status"] for r in results + first + conflict + again}
    assert statuses == {"held", "accepted", "rejected", "conflict", "duplicate"}
    for body in (results, first, conflict, again):
        check("PushResponse", {"results": body})
    for response in (client.get("/api/sync/package", headers=bearer("x")),):
        check("FatalError", response.json)
    check("Error", client.post("/api/sync/push", data="x", headers=bearer(token)).json)
    check("PhotoProgress", client.get(f"/api/photos/{new['uid']}/status", headers=bearer(token)).json)
