"""Collector badges over HTTP: the printable badge, issuing and re-issuing its QR token, the portrait,
and the public verification page (status and collection ID only)."""
from __future__ import annotations

import io
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from fieldapp import accounts
from fieldapp.extensions import db
from fieldapp.models import Account, AuditEvent, Photo

from .builders import english, make_account, make_town, send, text_of
from .tips_builders import tiny_jpeg

ROOT = Path(__file__).resolve().parents[1]








@pytest.fixture
def world(ctx):
    town, (east, west) = make_town()
    holder = make_account(town, "collector", [east, west])
    holder.name = "王芳芳"
    holder.office = "测试镇综治办"
    holder.valid_until = date.today() + timedelta(days=100)
    db.session.commit()
    return {"town": town, "holder": holder, "admin": make_account(town, "admin"),
            "supervisor": make_account(town, "supervisor")}


def issue(client, account_id):
    return send(client, "POST", f"/badges/{account_id}/issue")


def token_of(account_id) -> str | None:
    db.session.rollback()
    return db.session.get(Account, account_id).badge_token


def test_badge_page_shows_what_the_card_needs_and_its_qr(world, login, app):
    holder, admin = world["holder"], login(world["admin"])
    english(admin)
    page = text_of(send(admin, "GET", f"/badges/{holder.id}"))
    for shown in ("王芳芳", holder.collection_id, "Collector", "东村", "西村", "测试镇综治办",
                  (date.today() + timedelta(days=100)).isoformat()):
        assert shown in page, shown
    assert "<svg" not in page and "has no QR code yet" in page
    assert issue(admin, holder.id).status_code == 303
    token = token_of(holder.id)
    assert token and len(token) == 32  # secrets.token_urlsafe(24)
    page = send(admin, "GET", f"/badges/{holder.id}").get_data(as_text=True)
    from fieldapp.doors.qr import svg_element
    with app.test_request_context():
        expected = svg_element(f"http://localhost/b/{token}", "x", "qr badge-qr")
    # The page's QR is the code of exactly the verification URL (same modules as a fresh rendering).
    assert re.search(r'd="([^"]+)"', str(expected)).group(1) in page
    assert 'href="/static/css/badge.css"' in page
    events = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.target == f"account:{holder.id}")))
    assert "badge_issue" in events


def test_print_stylesheet_is_one_id1_card_per_page():
    css = (ROOT / "fieldapp" / "static" / "css" / "badge.css").read_text()
    assert re.search(r"@page\s*{\s*size:\s*85\.6mm 54mm;\s*margin:\s*0", css)
    assert "width: 85.6mm; height: 54mm" in css
    printing = css[css.index("@media print"):]
    assert ".bar, .tabs, .skip, .no-print" in printing  # only the card is printed


def test_reissue_replaces_the_token_and_the_old_qr_stops_verifying(world, login, app):
    holder, admin = world["holder"], login(world["admin"])
    issue(admin, holder.id)
    old = token_of(holder.id)
    assert send(app.test_client(), "GET", f"/b/{old}").status_code == 200
    issue(admin, holder.id)
    new = token_of(holder.id)
    assert new != old
    assert send(app.test_client(), "GET", f"/b/{old}").status_code == 404
    assert send(app.test_client(), "GET", f"/b/{new}").status_code == 200
    actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.target == f"account:{holder.id}")
                                      .order_by(AuditEvent.id)))
    assert actions[-2:] == ["badge_issue", "badge_reissue"]


@pytest.mark.parametrize("change, status, words", [
    ({}, 200, "This badge is valid"),
    ({"valid_until": date.today() - timedelta(days=1)}, 200, "This badge has expired"),
    ({"valid_from": date.today() + timedelta(days=3)}, 200, "This badge is not valid yet"),
    ("revoke", 200, "This badge was revoked"),
])
def test_public_page_tells_the_status_and_nothing_personal(world, login, app, change, status, words):
    holder = world["holder"]
    person_phone = "13812345678"
    issue(login(world["admin"]), holder.id)
    account = db.session.get(Account, holder.id)
    if change == "revoke":
        accounts.revoke(account, None, "lost")
    else:
        for name, value in change.items():
            setattr(account, name, value)
    db.session.commit()
    client = app.test_client()
    english(client)
    response = send(client, "GET", f"/b/{token_of(holder.id)}")
    assert response.status_code == status
    body = text_of(response)
    assert words in body
    assert holder.collection_id in body  # to match the card in the resident's hand
    for secret in ("王芳芳", "东村", "西村", "测试镇综治办", "Collector", "lost", person_phone):
        assert secret not in body, secret
    assert not re.search(r"\b1[3-9]\d{9}\b", body) and not re.search(r"\b\d{17}[\dX]\b", body)
    assert response.headers["Cache-Control"] == "no-store"
    assert "noindex" in response.headers["X-Robots-Tag"]


def test_unknown_badge_token_is_404_and_says_so(world, app):
    client = app.test_client()
    english(client)
    response = send(client, "GET", "/b/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert response.status_code == 404
    assert "This is not a valid badge" in text_of(response)


def test_revoked_id_gets_no_new_badge(world, login):
    holder = world["holder"]
    accounts.revoke(db.session.get(Account, holder.id), None, "left")
    db.session.commit()
    assert issue(login(world["admin"]), holder.id).status_code == 409
    assert token_of(holder.id) is None


def test_portrait_is_re_encoded_and_replaced(world, login, app, tmp_path):
    app.config["PHOTO_DIR"] = str(tmp_path)
    holder, admin = world["holder"], login(world["admin"])
    response = send(admin, "POST", f"/badges/{holder.id}/photo",
                    {"photo": (io.BytesIO(tiny_jpeg((300, 400), exif_gps=True)), "me.jpg")},
                    content_type="multipart/form-data")
    assert response.status_code == 303
    first = db.session.get(Account, holder.id).photo_uid
    stored = (tmp_path / f"{first}.jpg").read_bytes()
    assert b"PhoneMaker" not in stored
    assert send(admin, "GET", f"/badges/{holder.id}/photo").data == stored
    photo = db.session.scalar(select(Photo).where(Photo.uid == first))
    assert (photo.of_entity, photo.of_uid) == ("account", str(holder.id))
    # A new portrait replaces the old one: row and file go.
    send(admin, "POST", f"/badges/{holder.id}/photo", {"photo": (io.BytesIO(tiny_jpeg()), "me2.jpg")},
         content_type="multipart/form-data")
    second = db.session.get(Account, holder.id).photo_uid
    assert second != first and not (tmp_path / f"{first}.jpg").exists()
    assert db.session.scalar(select(Photo).where(Photo.uid == first)) is None
    # Not an image: refused, the portrait stays.
    english(admin)
    bad = send(admin, "POST", f"/badges/{holder.id}/photo", {"photo": (io.BytesIO(b"GIF89a junk"), "x.gif")},
               content_type="multipart/form-data")
    assert bad.status_code == 422
    assert "not a photo the app can read" in text_of(bad)
    assert send(admin, "POST", f"/badges/{holder.id}/photo").status_code == 422  # no file at all
    assert db.session.get(Account, holder.id).photo_uid == second


def test_badges_are_admin_only_and_town_scoped(world, login):
    holder = world["holder"]
    for who in ("supervisor",):
        client = login(world[who])
        assert send(client, "GET", "/badges").status_code == 403
        assert send(client, "GET", f"/badges/{holder.id}").status_code == 403
        assert issue(client, holder.id).status_code == 403
    from tests.builders import make_other_town
    town2, far = make_other_town()
    stranger = make_account(town2, "collector", [far])
    admin = login(world["admin"])
    assert send(admin, "GET", f"/badges/{stranger.id}").status_code == 404
    assert issue(admin, stranger.id).status_code == 404
    listing = text_of(send(admin, "GET", "/badges"))
    assert holder.collection_id in listing and stranger.collection_id not in listing


def test_validity_dates_are_set_on_the_badge_page(world, login, app):
    holder, admin = world["holder"], login(world["admin"])
    english(admin)
    issue(admin, holder.id)
    start = date.today() + timedelta(days=5)
    bad = send(admin, "POST", f"/badges/{holder.id}/validity",
               {"valid_from": start.isoformat(), "valid_until": (start - timedelta(days=1)).isoformat()})
    assert bad.status_code == 422 and "The end date must be on or after the start date." in text_of(bad)
    ok = send(admin, "POST", f"/badges/{holder.id}/validity",
              {"valid_from": start.isoformat(), "valid_until": (start + timedelta(days=180)).isoformat()})
    assert ok.status_code == 303
    account = db.session.get(Account, holder.id)
    assert (account.valid_from, account.valid_until) == (start, start + timedelta(days=180))
    page = text_of(send(admin, "GET", f"/badges/{holder.id}"))
    assert f"{start.isoformat()} – {(start + timedelta(days=180)).isoformat()}" in page
    client = app.test_client()
    english(client)
    assert "This badge is not valid yet" in text_of(send(client, "GET", f"/b/{token_of(holder.id)}"))
    # Emptying both dates: valid from issue, no end date.
    assert send(admin, "POST", f"/badges/{holder.id}/validity", {"valid_from": "", "valid_until": ""}).status_code == 303
    assert "This badge is valid" in text_of(send(client, "GET", f"/b/{token_of(holder.id)}"))
    actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.target == f"account:{holder.id}")))
    assert actions.count("badge_validity") == 2
