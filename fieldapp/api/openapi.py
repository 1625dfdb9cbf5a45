"""The OpenAPI 3.1 description of /api/ (served at /api/openapi.json). tests/test_api_openapi.py keeps
it true: every route and method is described (and nothing else), and real answers match the schemas."""
from __future__ import annotations

from .. import moves, sync
from ..doors.labels import BIND_STATUSES
from ..push.context import OPS
from ..push.errors import REJECT_MESSAGES
from ..push.operations import TIP_VERIFY_CODES

NULLABLE_STRING = {"type": ["string", "null"]}
UID = {"type": "string", "format": "uuid", "minLength": 36, "maxLength": 36}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return _json(_ref("Error"), description)


BEARER = [{"device": []}]
FATAL = _json(_ref("FatalError"), "Fatal: the token is revoked, expired or unknown. Stop, say why, never retry.")

HOUSE_PROPS = {
    "uid": UID, "village_id": {"type": "integer"}, "door_code": {"type": "string"}, "address": {"type": "string"},
    "group_name": NULLABLE_STRING, "road": NULLABLE_STRING, "lane": NULLABLE_STRING, "number": {"type": "string"},
    "building": NULLABLE_STRING, "room": NULLABLE_STRING, "use": NULLABLE_STRING, "owner_name": NULLABLE_STRING,
    "owner_phone": NULLABLE_STRING, "tenant_name": NULLABLE_STRING, "tenant_phone": NULLABLE_STRING,
    "rental_registered": {"type": "boolean"}, "rental_record_no": NULLABLE_STRING,
    "lat": {"type": ["number", "null"]}, "lon": {"type": ["number", "null"]}, "collected": {"type": "boolean"},
    "version": {"type": "integer", "minimum": 1},
}
PERSON_PROPS = {
    "uid": UID, "house_uid": {"type": ["string", "null"]}, "name": {"type": "string"}, "sex": {"type": "string"},
    "id_type": {"type": "string"}, "id_number": {"type": "string"}, "birth_date": {**NULLABLE_STRING, "format": "date"},
    "ethnicity": NULLABLE_STRING, "nationality": NULLABLE_STRING, "phone": NULLABLE_STRING,
    "hukou_division": NULLABLE_STRING, "hukou_address": NULLABLE_STRING, "hukou_type": NULLABLE_STRING,
    "category": {"enum": ["local", "migrant", "separated", "abroad"]},
    "move_in_date": {**NULLABLE_STRING, "format": "date"}, "move_in_reason": NULLABLE_STRING,
    "away_duration": NULLABLE_STRING, "status": {"enum": ["living"]}, "version": {"type": "integer", "minimum": 1},
}
ORG_PROPS = {
    "uid": UID, "house_uid": UID, "name": {"type": "string"}, "kind": {"type": "string"}, "uscc": NULLABLE_STRING,
    "legal_rep": NULLABLE_STRING, "phone": NULLABLE_STRING, "employee_count": {"type": ["integer", "null"]},
    "status": {"enum": ["open"]}, "version": {"type": "integer", "minimum": 1},
}


def _object(props: dict, extra: bool = False) -> dict:
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": extra}


TIP_TASK_PROPS = {
    "uid": UID, "village_id": {"type": "integer"}, "house_uid": {"type": ["string", "null"]},
    "address_text": NULLABLE_STRING, "kind": {"type": "string"}, "happened_on": {**NULLABLE_STRING, "format": "date"},
    "details": NULLABLE_STRING, "received_on": {"type": "string", "format": "date"},
    "due_on": {"type": "string", "format": "date"}, "state": {"enum": ["new", "assigned"]},
    "mine": {"type": "boolean"}, "overdue": {"type": "boolean"}, "version": {"type": "integer", "minimum": 1},
}

MY_TIP_PROPS = {
    "uid": UID, "kind": {"type": "string"}, "place": {"type": "string"},
    "received_on": {"type": "string", "format": "date"},
    "state": {"enum": ["new", "assigned", "valid", "invalid", "closed"]},
    "verdict": {"enum": ["valid", "invalid", None]}, "verified_on": {**NULLABLE_STRING, "format": "date"},
}

RETURNED_PROPS = {
    "uid": UID, "entity": {"enum": ["house", "person", "organisation"]}, "record_uid": UID,
    "kind": {"type": "string"},
    "reasons": {"type": "object", "additionalProperties": {"type": "string"},
                "description": "The reviewer's reason per returned field (the form's field names)."},
    "whole": {**NULLABLE_STRING, "description": "The reason for the record as a whole, if any."},
    "returned_at": {**NULLABLE_STRING, "format": "date-time"},
    "reviewer": {**NULLABLE_STRING, "description": "The reviewer's collection ID (never a name)."},
}

RECORD_REF = _object({"uid": UID, "version": {"type": "integer", "minimum": 1}})
# A house.new's blank door label (fieldapp/doors/labels.py): bound, or why not.
LABEL_RESULT = _object({"status": {"enum": list(BIND_STATUSES)}, "reason": {"type": "string"}})
CONFLICTS = {"type": "object", "additionalProperties": _object({"base": {}, "current": {}, "submitted": {}})}

PACKAGE_PROPS = {
    "cursor": {"type": "integer", "minimum": 0}, "more": {"type": "boolean"},
    "server_time": {"type": "string", "format": "date-time"},
    "villages": {"type": "array", "items": _ref("Village")},
    "houses": {"type": "array", "items": _ref("House")},
    "people": {"type": "array", "items": _ref("Person")},
    "organisations": {"type": "array", "items": _ref("Organisation")},
    "removed": _object({"people": {"type": "array", "items": UID},
                        "organisations": {"type": "array", "items": UID}}),
}

SCHEMAS = {
    "Error": {"type": "object", "required": ["error", "message"],
              "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                             "received": {"type": "integer"}, "max_items": {"type": "integer"}}},
    "FatalError": {"type": "object", "required": ["error", "message"],
                   "properties": {"error": {"enum": ["revoked", "expired", "unknown_device", "not_signed_in"]},
                                  "message": {"type": "string"}}},
    "PhotoError": {"type": "object", "required": ["error", "message"],
                   "properties": {"error": {"enum": ["not_an_image", "too_large", "too_many_pixels"]},
                                  "message": {"type": "string"}}},
    "Session": {"oneOf": [
        _object({"signed_in": {"const": False}}),
        _object({"signed_in": {"const": True}, "collection_id": {"type": "string"}, "name": {"type": "string"},
                 "role": {"type": "string"}, "csrf_token": {"type": "string"}}),
    ]},
    "Village": _object({"id": {"type": "integer"}, "name": {"type": "string"}}),
    "Device": _object({
        "device_id": UID, "token": {"type": "string", "minLength": 32},
        "account": _object({"collection_id": {"type": "string"}, "name": {"type": "string"}, "role": {"type": "string"},
                            "villages": {"type": "array", "items": _ref("Village")}}),
        "pin_salt": {"type": "string", "contentEncoding": "base64", "minLength": 24, "maxLength": 24}}),
    "House": {**_object(HOUSE_PROPS), "properties": {
        **HOUSE_PROPS, "door_token": {"type": "string", "description": "The door QR's /d/<token> (roles that "
                                                                      "write the registry only)."}}},
    "Person": _object(PERSON_PROPS),
    "Organisation": _object(ORG_PROPS),
    "TipTask": _object(TIP_TASK_PROPS),
    "MyTip": _object(MY_TIP_PROPS),
    "Returned": _object(RETURNED_PROPS),
    "Package": {**_object(PACKAGE_PROPS), "properties": {
        **PACKAGE_PROPS, "tip_tasks": {"type": "array", "items": _ref("TipTask"),
                                       "description": "Last page only (more false), roles that work tips: all "
                                                      "their tip tasks; the phone replaces its list with it."},
        "my_tips": {"type": "array", "items": _ref("MyTip"),
                    "description": "Last page only, roles that send tips: their newest 100 tips and how "
                                   "each was checked."},
        "returned": {"type": "array", "items": _ref("Returned"),
                     "description": "Last page only, roles that collect: their changes a reviewer returned "
                                    "(退回修改) and they have not corrected yet; the phone replaces its list "
                                    "with it."}}},
    "Item": {"type": "object", "required": ["uid", "op"], "properties": {
        "uid": {**UID, "description": "Client UUID v4: the idempotency key (for visit.new also the visit's uid)."},
        "op": {"enum": list(OPS)},
        "entity_uid": {**UID, "description": "The record (required for every op but visit.new); for *.new "
                                             "the client generates it; for tip.verify the tip's uid."},
        "house_uid": {"type": ["string", "null"],
                      "description": "person.new / organisation.new / visit.new: the house; tip.verify: the "
                                     "house visited (for a tip that named no known house)."},
        "visit_uid": {**UID, "description": "Record ops: the visit it was collected under (door proof when "
                                            "that visit was a scan of this house's door by this account)."},
        "method": {"enum": ["scan", "code", "list"], "description": "visit.new: how the house was opened."},
        "at": {**NULLABLE_STRING, "format": "date-time", "description": "visit.new: the phone's clock."},
        "lat": {"type": ["number", "null"], "description": "visit.new: WGS-84 latitude."},
        "lon": {"type": ["number", "null"], "description": "visit.new: WGS-84 longitude."},
        "accuracy_m": {"type": ["number", "null"], "description": "visit.new: accuracy radius in metres."},
        "village_id": {"type": ["integer", "null"], "description": "house.new only."},
        "label_token": {"type": ["string", "null"],
                        "description": "house.new: the token of a blank door label scanned while creating the "
                                       "house (bound when unbound and of the house's village; the result's "
                                       "`label` says so). visit.new: the same token on the visit to that new "
                                       "house: a scan only when the label bound to it."},
        "base_version": {"type": ["integer", "null"], "minimum": 1,
                         "description": "Updates, leave, close: the version the collector started from."},
        "data": {"type": "object", "description": "The web form's fields (person: employer_uid for the "
                                                   "employer; house: lat/lon; leave: left_date, reason; "
                                                   "close: closed_date; tip.verify: verdict valid|invalid, "
                                                   "note). Other keys are ignored."},
        "known_on": {**NULLABLE_STRING, "format": "date"},
        "collected_at": {**NULLABLE_STRING, "format": "date-time"}}},
    "PushRequest": {"type": "object", "required": ["items"], "properties": {
        "items": {"type": "array", "maxItems": sync.MAX_ITEMS, "items": _ref("Item")},
        "sent_at": {**NULLABLE_STRING, "format": "date-time",
                    "description": "The phone's clock when it sent the batch. When it differs from the "
                                   "server's by more than 10 minutes, the batch's phone moments (collected_at, "
                                   "a visit's at) are shifted by the difference."}}},
    "Result": {"oneOf": [
        _object({"uid": UID, "status": {"const": "accepted"}, "record": RECORD_REF}),
        _object({"uid": UID, "status": {"const": "accepted"}, "record": RECORD_REF, "label": LABEL_RESULT}),
        _object({"uid": UID, "status": {"const": "conflict"}, "record": RECORD_REF, "conflicts": CONFLICTS}),
        _object({"uid": UID, "status": {"const": "conflict"}, "code": {"const": "uid_reused"},
                 "reason": {"type": "string"}, "applied": {"const": False}}),
        _object({"uid": UID, "status": {"const": "held"}}),
        _object({"uid": UID, "status": {"const": "requested"}, "code": {"const": moves.REQUESTED_CODE},
                 "reason": {"type": "string"}}),
        _object({"uid": {"type": ["string", "null"]}, "status": {"const": "rejected"},
                 "code": {"enum": sorted((set(REJECT_MESSAGES) - {"uid_reused"}) | set(TIP_VERIFY_CODES)
                                         | {moves.REFUSED_CODE})}, "reason": {"type": "string"},
                 "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}}),
        _object({"uid": UID, "status": {"const": "duplicate"}, "original": {"$ref": "#/components/schemas/Result"}}),
    ]},
    "PushResponse": _object({"results": {"type": "array", "items": _ref("Result")}}),
    "PhotoProgress": {"type": "object", "required": ["received"], "additionalProperties": False, "properties": {
        "received": {"type": "integer", "minimum": 0}, "complete": {"type": "boolean"},
        "photo": _object({"uid": UID, "width": {"type": "integer"}, "height": {"type": "integer"},
                          "bytes": {"type": "integer"}})}},
}

UID_PARAM = {"name": "uid", "in": "path", "required": True, "schema": UID}

PATHS = {
    "/api/ping": {"get": {"summary": "Reachability check (no authentication).", "operationId": "ping",
                          "security": [], "responses": {"204": {"description": "The server is reachable."}}}},
    "/api/openapi.json": {"get": {"summary": "This document.", "operationId": "openapi", "security": [],
                                  "responses": {"200": {"description": "OpenAPI 3.1 document.",
                                                        "content": {"application/json": {}}}}}},
    "/api/session": {"get": {"summary": "Who is signed in by the session cookie, with a fresh CSRF token.",
                             "operationId": "session", "security": [{"session": []}],
                             "responses": {"200": _json(_ref("Session"), "Session state.")}}},
    "/api/devices": {"post": {
        "summary": "Register this phone (session cookie + X-CSRFToken header); the token is shown once.",
        "operationId": "registerDevice", "security": [{"session": []}],
        "parameters": [{"name": "X-CSRFToken", "in": "header", "required": True, "schema": {"type": "string"}}],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"name": {"type": "string", "maxLength": 128}}}}}},
        "responses": {"201": _json(_ref("Device"), "Registered."), "400": _error("Bad body or CSRF token."),
                      "401": FATAL, "403": _error("This role does not use the phone app.")}}},
    "/api/devices/current": {"delete": {
        "summary": "Sign this phone out: its token stops working.", "operationId": "signOutDevice",
        "security": BEARER, "responses": {"204": {"description": "Signed out."}, "401": FATAL}}},
    "/api/sync/package": {"get": {
        "summary": "The work package (cursor 0) or the delta after a cursor.", "operationId": "package",
        "security": BEARER,
        "parameters": [
            {"name": "cursor", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 0, "maximum": sync.MAX_CURSOR, "default": 0}},
            {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": sync.PACKAGE_MAX_LIMIT, "default": sync.PACKAGE_LIMIT}}],
        "responses": {"200": _json(_ref("Package"), "Records changed after the cursor."),
                      "400": _error("Bad cursor or limit."), "401": FATAL}}},
    "/api/sync/push": {"post": {
        "summary": "Push a batch of changes (at most 200 items, 2 MB).", "operationId": "push", "security": BEARER,
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("PushRequest")}}},
        "responses": {"200": _json(_ref("PushResponse"), "One result per item, in order."),
                      "400": _error("Not a JSON object with an items list."), "401": FATAL,
                      "413": _error("Over 200 items or 2 MB.")}}},
    "/api/photos/{uid}": {"put": {
        "summary": "Upload a chunk of a photo (resumable).", "operationId": "uploadPhoto", "security": BEARER,
        "parameters": [UID_PARAM,
                       {"name": "Content-Range", "in": "header", "required": True,
                        "schema": {"type": "string", "pattern": r"^bytes \d+-\d+/\d+$"}},
                       {"name": "X-Photo-Of", "in": "header", "required": True,
                        "schema": {"type": "string", "pattern": r"^(person|house|tip):[0-9a-fA-F-]{36}$"}}],
        "requestBody": {"required": True, "content": {"application/octet-stream": {}, "image/jpeg": {}}},
        "responses": {"200": _json(_ref("PhotoProgress"), "Bytes received; the photo once complete."),
                      "400": _error("Bad Content-Range or X-Photo-Of."), "401": FATAL,
                      "404": _error("The photo or its record is not yours."),
                      "413": _error("A chunk over 5 MB."),
                      "416": _error("The chunk starts after the bytes received (see `received`)."),
                      "422": _json(_ref("PhotoError"), "Refused: not an image, too large, too many pixels.")}}},
    "/api/photos/{uid}/status": {"get": {
        "summary": "How many bytes of a photo arrived (to resume).", "operationId": "photoStatus",
        "security": BEARER, "parameters": [UID_PARAM],
        "responses": {"200": _json(_ref("PhotoProgress"), "Bytes received."), "401": FATAL,
                      "404": _error("Not your upload.")}}},
}


def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "fieldapp phone sync API", "version": "1",
                 "description": "Contract: docs/sync-protocol.md. Errors answer {error, message}."},
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "device": {"type": "http", "scheme": "bearer", "description": "The device token from POST /api/devices."},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"}}},
    }
