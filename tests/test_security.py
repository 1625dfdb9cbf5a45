"""Confidentiality rules that cut across pages: headers, URLs, CSRF, what the audit trail stores."""
from __future__ import annotations

import re

from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent

from .builders import make_account, make_house, make_person, make_town

# Path variables that may appear in a URL: integer keys and fixed vocabularies, never personal data.
ALLOWED_VARIABLES = {"code": "language/<code>", "filename": "static",
                     "uid": "api/photos/<uid>: a random UUID the phone gave the photo",
                     "token": "d/<token>, d/<token>/tip, b/<token>: unguessable random tokens (door and badge QR)",
                     "action": "review/moves/<id>/<action>: one of the verbs confirm, acknowledge, refuse",
                     "batch": "admin/accounts/batches/<batch>/letters: a random 128-bit key of one bulk issue; "
                              "doors/villages/<id>/blank/<batch>: a blank label batch's name (date and random tail)"}


def test_no_route_puts_personal_data_in_its_path(app):
    for rule in app.url_map.iter_rules():
        for name, converter in rule._converters.items():
            # Integer keys, and any(...) vocabularies (imports/<any(people, organisations):kind>).
            if type(converter).__name__ in ("IntegerConverter", "AnyConverter"):
                continue
            assert name in ALLOWED_VARIABLES, f"{rule.rule}: <{name}> must be an integer key"


def test_signed_in_pages_are_not_stored_and_headers_are_strict(ctx, login, client):
    town, (east, _west) = make_town()
    house = make_house(east)
    collector = make_account(town, "collector", [east])
    anonymous = client.get("/login")
    assert anonymous.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in anonymous.headers["Content-Security-Policy"]
    assert anonymous.headers["Referrer-Policy"] == "no-referrer"
    page = login(collector).get(f"/houses/{house.id}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_csrf_is_enforced_on_every_form(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    with app.app_context():
        town, (east, _west) = make_town()
        collector = make_account(town, "collector", [east])
        cid = collector.collection_id
        house_id = make_house(east).id
    refused = client.post("/login", data={"collection_id": cid, "pin": "secret-pin-1"})
    # Sign-in says what to do and keeps the ID typed; any other form: reload and retry.
    assert refused.status_code == 400 and "重新输入 PIN" in refused.text and f'value="{cid}"' in refused.text
    assert "secret-pin-1" not in refused.text
    stale = client.post(f"/houses/{house_id}/edit", data={"number": "2"})
    assert stale.status_code == 400 and "刷新页面" in stale.text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").text).group(1)
    ok = client.post("/login", data={"collection_id": cid, "pin": "secret-pin-1", "csrf_token": token})
    assert ok.status_code == 303


def test_a_subresource_without_session_gets_401_not_a_sign_in_page(client):
    """An image requested after sign-out must not start a session: the sign-in form open in the same
    browser would then carry a token of the old session and fail."""
    image = client.get("/photos/00000000-0000-4000-8000-000000000000/160", headers={"Sec-Fetch-Dest": "image"})
    assert image.status_code == 401 and "Set-Cookie" not in image.headers
    page = client.get("/photos/00000000-0000-4000-8000-000000000000/160", headers={"Sec-Fetch-Dest": "document"})
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_revealing_a_number_is_audited_without_personal_data(ctx, login):
    town, (east, _west) = make_town()
    person = make_person(make_house(east), phone="13812345678")
    collector = make_account(town, "collector", [east])
    number = person.id_number
    page = login(collector).post(f"/people/{person.id}/reveal")
    assert page.status_code == 200 and number in page.text and "13812345678" in page.text
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "reveal_identifier"))
    assert event.target == f"person:{person.id}" and event.account_id == collector.id
    assert number not in (event.detail or "") and "张三" not in (event.target + (event.detail or ""))


def test_forwarded_address_is_trusted_only_behind_configured_proxies(make_app):
    """PROXY_HOPS=0 (default): X-Forwarded-For is ignored (forgeable); with 1 proxy, the client's
    address is the one the proxy saw, so per-sender limits key on the visitor, not the proxy."""
    from flask import request

    for hops, expected in ((0, "10.0.0.1"), (1, "203.0.113.9")):
        app = make_app(PROXY_HOPS=hops)
        app.add_url_rule("/_addr", "_addr", lambda: request.remote_addr)
        answer = app.test_client().get("/_addr", headers={"X-Forwarded-For": "203.0.113.9"},
                                       environ_base={"REMOTE_ADDR": "10.0.0.1"})
        assert answer.text == expected
