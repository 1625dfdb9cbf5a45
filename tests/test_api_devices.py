"""Device credentials: registration by session + CSRF, bearer tokens, fatal 401s, sign-out."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, update

from fieldapp import accounts, devices
from fieldapp.extensions import db
from fieldapp.models import Device, utcnow

from .builders import make_account, make_town
from .sync_builders import bearer, device_token


def test_ping_needs_nothing(client):
    response = client.get("/api/ping")
    assert response.status_code == 204


def test_session_state(ctx, login, client):
    assert client.get("/api/session").json == {"signed_in": False}
    town, (east, _west) = make_town()
    account = make_account(town, "collector", [east])
    state = login(account).get("/api/session").json
    assert state["signed_in"] is True and state["collection_id"] == account.collection_id
    assert state["role"] == "collector" and state["csrf_token"]


def test_register_device_returns_a_token_shown_once(ctx, login):
    town, (east, _west) = make_town()
    account = make_account(town, "collector", [east])
    response = login(account).post("/api/devices", json={"name": "Android Chrome"})
    assert response.status_code == 201
    body = response.json
    assert body["account"]["villages"] == [{"id": east.id, "name": east.name}]
    assert len(body["token"]) >= 40 and len(body["pin_salt"]) == 24
    db.session.rollback()
    device = db.session.scalar(select(Device).where(Device.uid == body["device_id"]))
    assert device.token_hash == devices.hash_token(body["token"]) and body["token"] not in device.token_hash
    # The salt is stable per collection ID: unsent records stay readable after signing in again.
    assert login(account).post("/api/devices", json={}).json["pin_salt"] == body["pin_salt"]


def test_register_device_needs_session_csrf_and_a_collecting_role(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        town, (east, _west) = make_town()
        collector = make_account(town, "collector", [east])
        supervisor = make_account(town, "supervisor")
        client = app.test_client()
        assert client.post("/api/devices", json={}).status_code == 401
        login_page = client.get("/login").text
        token = login_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        client.post("/login", data={"collection_id": collector.collection_id, "pin": "secret-pin-1",
                                    "csrf_token": token})
        refused = client.post("/api/devices", json={})
        assert refused.status_code == 400 and refused.json["error"] == "bad_request"
        csrf = client.get("/api/session").json["csrf_token"]
        ok = client.post("/api/devices", json={"name": "x"}, headers={"X-CSRFToken": csrf})
        assert ok.status_code == 201
        other = app.test_client()
        page = other.get("/login").text.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        other.post("/login", data={"collection_id": supervisor.collection_id, "pin": "secret-pin-1", "csrf_token": page})
        csrf = other.get("/api/session").json["csrf_token"]
        forbidden = other.post("/api/devices", json={}, headers={"X-CSRFToken": csrf})
        assert forbidden.status_code == 403 and forbidden.json["error"] == "forbidden"


def _fatal(response, code):
    assert response.status_code == 401, response.text
    assert response.json["error"] == code and response.json["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_missing_or_unknown_token(ctx, client):
    _fatal(client.get("/api/sync/package"), "unknown_device")
    _fatal(client.get("/api/sync/package", headers=bearer("not-a-token")), "unknown_device")
    _fatal(client.post("/api/sync/push", json={"items": []}, headers={"Authorization": "Basic abc"}), "unknown_device")


def test_revoking_the_collection_id_takes_effect_on_the_next_request(ctx, client):
    town, (east, _west) = make_town()
    account = make_account(town, "collector", [east])
    token = device_token(account)
    assert client.get("/api/sync/package", headers=bearer(token)).status_code == 200
    accounts.revoke(account, None, "lost phone")
    db.session.commit()
    _fatal(client.get("/api/sync/package", headers=bearer(token)), "revoked")
    _fatal(client.post("/api/sync/push", json={"items": []}, headers=bearer(token)), "revoked")


def test_expired_collection_id_and_idle_device(ctx, client):
    town, (east, _west) = make_town()
    account = make_account(town, "collector", [east])
    token = device_token(account)
    account.valid_until = date.today() - timedelta(days=1)
    db.session.commit()
    _fatal(client.get("/api/sync/package", headers=bearer(token)), "expired")
    account.valid_until = None
    db.session.execute(update(Device).values(last_used_at=utcnow() - timedelta(days=31)))
    db.session.commit()
    _fatal(client.get("/api/sync/package", headers=bearer(token)), "expired")
    db.session.execute(update(Device).values(last_used_at=utcnow() - timedelta(days=29)))
    db.session.commit()
    assert client.get("/api/sync/package", headers=bearer(token)).status_code == 200
    db.session.rollback()
    assert db.session.scalar(select(Device.last_used_at)) > utcnow() - timedelta(minutes=5)


def test_sign_out_revokes_this_token_only(ctx, client):
    town, (east, _west) = make_town()
    account = make_account(town, "collector", [east])
    first, second = device_token(account), device_token(account)
    assert client.delete("/api/devices/current", headers=bearer(first)).status_code == 204
    _fatal(client.get("/api/sync/package", headers=bearer(first)), "revoked")
    _fatal(client.delete("/api/devices/current", headers=bearer(first)), "revoked")
    assert client.get("/api/sync/package", headers=bearer(second)).status_code == 200


def test_api_errors_are_json_never_html(ctx, client):
    for response, status in ((client.get("/api/nowhere"), 404), (client.post("/api/ping"), 405),
                             (client.get("/api/sync/push"), 405)):
        assert response.status_code == status
        assert response.is_json and response.json["error"] and response.json["message"]
    town, (east, _west) = make_town()
    token = device_token(make_account(town, "collector", [east]))
    bad = client.get("/api/sync/package?cursor=-1", headers=bearer(token))
    assert bad.status_code == 400 and bad.json["error"] == "bad_request"
    assert client.get("/api/sync/package?limit=0", headers=bearer(token)).status_code == 400
