"""Sessions and sign-in (issue 10): sign-out ends the session on the server, idle and absolute limits
from the server's own clock, sign-in throttling per (ID, source) and per ID that answers alike for
unknown IDs, no open redirect after sign-in or a language switch, activation codes valid 24 hours.

Clocks are forged by moving the stored timestamps back (never by sleeping)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from fieldapp import accounts
from fieldapp.extensions import db
from fieldapp.models import AuditEvent, utcnow

from .builders import PIN, make_account, make_town

IDLE_MESSAGE = "您已长时间未操作，请重新登录。"
ABSOLUTE_MESSAGE = "登录已超过12小时，请重新登录。"


def _signed_in(client) -> bool:
    return client.get("/api/session").get_json()["signed_in"]


def _session_rows():
    from fieldapp.models import LoginSession
    return LoginSession


def _audit_count(action: str) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


# 1. Sign-out ends the session on the server -------------------------------------------------------

def test_a_cookie_saved_before_sign_out_no_longer_works(app, ctx, login):
    town, (east, _west) = make_town()
    collector = make_account(town, "collector", [east])
    phone = login(collector)
    saved = phone.get_cookie("session").value
    assert _signed_in(phone)
    assert phone.post("/logout").status_code == 303
    thief = app.test_client()
    thief.set_cookie("session", saved)  # the cookie as it was before sign-out, replayed
    assert not _signed_in(thief)
    page = thief.get("/villages")
    assert page.status_code == 302 and page.location.startswith("/login")
    LoginSession = _session_rows()
    row = db.session.scalar(select(LoginSession))
    assert row.ended_at is not None and row.ended_reason == "logout"
    assert _audit_count("logout") == 1


def test_sessions_are_separate_and_store_no_address_or_cookie(app, ctx, login):
    town, (east, _west) = make_town()
    collector = make_account(town, "collector", [east])
    phone, office = login(collector), login(collector)
    phone.post("/logout")
    assert not _signed_in(phone) and _signed_in(office)  # one sign-out ends that session only
    LoginSession = _session_rows()
    rows = db.session.scalars(select(LoginSession).order_by(LoginSession.id)).all()
    assert [r.ended_reason for r in rows] == ["logout", None]
    cookie = office.get_cookie("session").value
    for row in rows:
        assert row.token_hash not in cookie and len(row.token_hash) == 64  # a hash, not the cookie's secret
        assert not hasattr(row, "ip_address")


def test_revocation_and_pin_change_still_end_every_session(app, ctx, login):
    town, (east, _west) = make_town()
    collector = make_account(town, "collector", [east])
    phone = login(collector)
    collector.session_version += 1  # what revoke() and a new PIN do
    db.session.commit()
    assert not _signed_in(phone)


# 2. Idle and absolute limits ---------------------------------------------------------------------

def _age(LoginSession, **ago):
    """Move the (only open) session's timestamps back: a forged clock, no sleeping."""
    values = {name: utcnow() - delta for name, delta in ago.items()}
    db.session.execute(update(LoginSession).where(LoginSession.ended_at.is_(None)).values(**values))
    db.session.commit()


def test_idle_session_ends_with_a_clear_message(app, ctx, login):
    town, (east, _west) = make_town()
    collector = make_account(town, "collector", [east])
    phone = login(collector)
    LoginSession = _session_rows()
    _age(LoginSession, last_seen_at=timedelta(minutes=29))
    assert _signed_in(phone)  # 29 minutes idle: still open, and the request counts as activity
    row = db.session.scalar(select(LoginSession))
    assert utcnow() - row.last_seen_at < timedelta(minutes=1)
    _age(LoginSession, last_seen_at=timedelta(minutes=31))
    page = phone.get("/villages")
    assert page.status_code == 302 and page.location.startswith("/login")
    assert IDLE_MESSAGE in phone.get(page.location).text
    db.session.rollback()
    row = db.session.scalar(select(LoginSession))
    assert row.ended_reason == "idle" and row.ended_at is not None
    assert _audit_count("session_expired") == 1
    assert not _signed_in(phone)


def test_idle_minutes_are_configurable(make_app):
    app = make_app(SESSION_IDLE_MINUTES=5)
    with app.app_context():
        town, (east, _west) = make_town()
        collector = make_account(town, "collector", [east])
        phone = app.test_client()
        phone.post("/login", data={"collection_id": collector.collection_id, "pin": PIN})
        _age(_session_rows(), last_seen_at=timedelta(minutes=6))
        assert not _signed_in(phone)


def test_absolute_limit_counts_from_sign_in_and_no_request_extends_it(app, ctx, login):
    town, (east, _west) = make_town()
    collector = make_account(town, "collector", [east])
    phone = login(collector)
    LoginSession = _session_rows()
    # Busy all day: seen a minute ago, signed in 11 h 58 min ago. Requests that write the cookie (a
    # language switch, a flash message) must not move the start.
    _age(LoginSession, created_at=timedelta(hours=11, minutes=58), last_seen_at=timedelta(minutes=1))
    assert phone.post("/language/en", data={"next": "/villages"}).status_code == 303
    assert phone.post("/language/zh_Hans_CN", data={"next": "/villages"}).status_code == 303
    assert _signed_in(phone)
    _age(LoginSession, created_at=timedelta(hours=12, minutes=1), last_seen_at=timedelta(seconds=5))
    page = phone.get("/villages")
    assert page.status_code == 302 and page.location.startswith("/login")
    assert ABSOLUTE_MESSAGE in phone.get(page.location).text
    db.session.rollback()
    assert db.session.scalar(select(LoginSession.ended_reason)) == "absolute"


def test_a_request_within_the_touch_interval_writes_nothing(app, ctx, login):
    """SQLite serialises writers: a page view must not write the session row every time."""
    town, (east, _west) = make_town()
    collector = make_account(town, "collector", [east])
    phone = login(collector)
    LoginSession = _session_rows()
    _age(LoginSession, last_seen_at=timedelta(seconds=20))
    before = db.session.scalar(select(LoginSession.last_seen_at))
    for _ in range(3):
        assert _signed_in(phone)
    db.session.rollback()
    assert db.session.scalar(select(LoginSession.last_seen_at)) == before


# 4. Throttling: unknown IDs alike, per (ID, source), per-ID ceiling --------------------------------

def _attempt(client, cid, pin="wrong-pin-9", addr="10.0.0.66"):
    return client.post("/login", data={"collection_id": cid, "pin": pin}, environ_base={"REMOTE_ADDR": addr})


def test_lockout_answers_alike_for_real_and_unknown_ids(app, ctx):
    town, (east, _west) = make_town()
    account = make_account(town, "collector", [east])
    answers = {}
    for cid in (account.collection_id, "T-9999"):
        client = app.test_client()
        answers[cid] = [(r.status_code, r.text.replace(cid, "<ID>")) for r in (_attempt(client, cid) for _ in range(7))]
    real, unknown = answers[account.collection_id], answers["T-9999"]
    assert [s for s, _ in real] == [401] * 5 + [429] * 2
    assert real == unknown  # same status, same page, same message, for every attempt


def test_a_stranger_elsewhere_cannot_lock_the_collector_out(app, ctx):
    town, (east, _west) = make_town()
    account = make_account(town, "collector", [east])
    cid = account.collection_id
    stranger, collector = app.test_client(), app.test_client()
    assert [_attempt(stranger, cid).status_code for _ in range(6)] == [401] * 5 + [429]
    assert _attempt(stranger, cid, pin=PIN).status_code == 429  # locked out there, right PIN or not
    assert _attempt(collector, cid, pin=PIN, addr="10.0.0.1").status_code == 303  # own phone still works
    assert _audit_count("login_failed") == 5


def test_the_per_id_ceiling_holds_across_sources(make_app):
    app = make_app(LOGIN_ID_MAX_FAILURES=8)
    with app.app_context():
        town, (east, _west) = make_town()
        cid = make_account(town, "collector", [east]).collection_id
        client = app.test_client()
        statuses = [_attempt(client, cid, addr=f"10.0.{n // 5}.{n}").status_code for n in range(10)]
        assert statuses == [401] * 8 + [429] * 2  # 2 sources x 5, but 8 checks per ID at most
        assert _attempt(client, cid, pin=PIN, addr="10.9.9.9").status_code == 429
        assert _audit_count("login_failed") == 8


def test_one_ipv6_network_counts_as_one_source(app, ctx):
    """A phone is given a whole /64: ten of its addresses are one source, not ten, so they cannot
    use up the ID's ceiling and lock the collector out from everywhere."""
    town, (east, _west) = make_town()
    cid = make_account(town, "collector", [east]).collection_id
    client = app.test_client()
    statuses = [_attempt(client, cid, addr=f"2001:db8::{n // 5 + 1}").status_code for n in range(50)]
    assert statuses == [401] * 5 + [429] * 45
    assert _attempt(client, cid, addr="2001:db8:0:1::1").status_code == 401  # another /64 is another source
    assert _attempt(client, cid, pin=PIN, addr="192.0.2.77").status_code == 303
    assert _audit_count("login_failed") == 6


def test_the_right_pin_clears_its_own_sources_count(app, ctx):
    town, (east, _west) = make_town()
    cid = make_account(town, "collector", [east]).collection_id
    client = app.test_client()
    for _ in range(4):
        assert _attempt(client, cid).status_code == 401
    assert _attempt(client, cid, pin=PIN).status_code == 303
    assert [_attempt(client, cid).status_code for _ in range(6)] == [401] * 5 + [429]


def test_throttle_rows_keep_no_address_or_id_in_plain_and_are_pruned(app, ctx, runner):
    from fieldapp.models import LoginThrottle
    town, (east, _west) = make_town()
    cid = make_account(town, "collector", [east]).collection_id
    client = app.test_client()
    _attempt(client, cid, addr="203.0.113.77")
    _attempt(client, "T-9999", addr="203.0.113.77")
    db.session.rollback()
    rows = db.session.scalars(select(LoginThrottle)).all()
    assert len(rows) == 4  # (ID, source) and ID, for each typed ID
    for row in rows:
        assert "203.0.113" not in row.key and cid not in row.key and "9999" not in row.key
    # Windows that ended long ago go; the command says how many.
    db.session.execute(update(LoginThrottle).where(LoginThrottle.key == rows[0].key)
                       .values(window_started_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    result = runner.invoke(args=["prune-sign-ins"])
    assert result.exit_code == 0, result.output
    assert "1 sign-in counter" in result.output
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(LoginThrottle)) == 3


def test_accounts_throttle_without_a_request_counts_as_one_source(ctx):
    """authenticate() called outside a request (CLI, tests) still throttles: the source is 'unknown'."""
    town, (east, _west) = make_town()
    account = make_account(town, "collector", [east])
    for _ in range(5):
        with pytest.raises(accounts.AccountError) as wrong:
            accounts.authenticate(account.collection_id, "wrong-pin")
        assert wrong.value.code == "bad_login"
    with pytest.raises(accounts.AccountError) as locked:
        accounts.authenticate(account.collection_id, PIN)
    assert locked.value.code == "locked" and 1 <= locked.value.params["minutes"] <= 15


# 5. No open redirect -----------------------------------------------------------------------------

BYPASSES = [
    "/%09/evil.example", "/%0A/x", "/%0D%0ALocation:%20https://evil.example", "//evil.example",
    "///evil.example", "////evil.example", "/%5Cevil.example", "/%5C%5Cevil.example", "%5C%5Cevil.example",
    "%2F%2Fevil.example", "/%2F/evil.example", "/%252F%252Fevil.example", "/%255Cevil.example",
    "https:evil.example", "https://evil.example", "http:/evil.example", "javascript:alert(1)",
    "JaVaScRiPt:alert(1)", "data:text/html,x", "%EF%BC%8F%EF%BC%8Fevil.example", "/%EF%BC%8Fevil.example",
    "/%EF%BC%BCevil.example", "%20//evil.example", "/%E3%80%80/evil.example", "/%00/evil.example",
    "/%20/evil.example", "evil.example", "", "/%E2%80%8B/evil.example",
]


@pytest.mark.parametrize("payload", BYPASSES)
def test_sign_in_never_redirects_off_site(app, ctx, payload):
    town, (east, _west) = make_town()
    cid = make_account(town, "collector", [east]).collection_id
    response = app.test_client().post("/login?next=" + payload, data={"collection_id": cid, "pin": PIN})
    assert response.status_code == 303, response.status_code
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("payload", BYPASSES)
def test_language_switch_never_redirects_off_site(app, ctx, payload):
    from urllib.parse import unquote
    response = app.test_client().post("/language/en", data={"next": unquote(payload)})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_same_site_paths_still_work(app, ctx):
    town, (east, _west) = make_town()
    cid = make_account(town, "collector", [east]).collection_id
    ok = app.test_client().post("/login?next=%2Fhouses%2F3%3Ftab%3Dpeople", data={"collection_id": cid, "pin": PIN})
    assert ok.headers["Location"] == "/houses/3?tab=people"
    switched = app.test_client().post("/language/en", data={"next": "/villages/2/houses?q=%E5%BC%A0"})
    assert switched.headers["Location"] == "/villages/2/houses?q=%E5%BC%A0"


# 6. Activation codes ------------------------------------------------------------------------------

def test_activation_code_is_valid_24_hours(ctx):
    town, (east, _west) = make_town()
    account, _code = accounts.issue(town.id, "王芳", "collector", [east.id], None)
    left = account.activation_expires_at - utcnow()
    assert timedelta(hours=23, minutes=59) < left <= timedelta(hours=24)


# The pure rules ----------------------------------------------------------------------------------

def test_safe_next_rule_on_decoded_payloads():
    from urllib.parse import unquote

    from fieldapp.rules.redirects import safe_next
    for payload in BYPASSES:
        assert safe_next(unquote(payload)) is None, payload
    for path in ("/", "/progress", "/houses/3?tab=people", "/villages/2/houses?q=%E5%BC%A0", "/a%2Fb"):
        assert safe_next(path) == path


def test_session_end_reasons_and_touch_interval():
    from fieldapp.rules.sessions import end_reason, needs_touch, user_agent_family, wait_minutes
    now = utcnow()
    idle, absolute = timedelta(minutes=30), timedelta(hours=12)
    assert end_reason(now - timedelta(hours=1), now - timedelta(minutes=29), now, idle, absolute) is None
    assert end_reason(now - timedelta(hours=1), now - timedelta(minutes=30), now, idle, absolute) == "idle"
    assert end_reason(now - timedelta(hours=12), now, now, idle, absolute) == "absolute"
    assert not needs_touch(now - timedelta(seconds=59), now, timedelta(seconds=60))
    assert needs_touch(now - timedelta(seconds=60), now, timedelta(seconds=60))
    assert wait_minutes(now - timedelta(minutes=14, seconds=30), timedelta(minutes=15), now) == 1
    assert wait_minutes(now, timedelta(minutes=15), now) == 15
    assert user_agent_family("Mozilla/5.0 (Linux; Android 10) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36") \
        == "Chrome on Android"
    assert user_agent_family(None) == "other on other"
